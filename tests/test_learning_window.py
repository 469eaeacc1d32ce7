"""LearningWindowStudy (the paper's Supplementary S2): lambda_nMLE and time-to-accuracy against eta."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet.estimators import FiniteLyapunov
from dynnet.studies.learning_window import LearningWindowStudy, locate_window, time_to_accuracy
from dynnet.testing import check_study


def _small(**kw):
    params = {"etas": (0.1, 1.0), "n_init": 2, "n_steps": 40, "lyapunov_steps": 60,
              "accuracy_every": 10, "threshold": 0.6}
    params.update(kw)
    return LearningWindowStudy.quick(**params)


@pytest.fixture(scope="module")
def quick_run():
    return LearningWindowStudy.quick().run()


def test_check_study_conformance():
    check_study(_small(etas=(1.0,), n_steps=20, lyapunov_steps=40))


def test_quick_preset_is_iris_and_small():
    s = LearningWindowStudy.quick()
    assert s.map.dataset == "iris"
    assert tuple(s.etas) == (0.1, 1.0, 5.0) and s.n_init == 3
    assert LearningWindowStudy().parts()["map"].dataset == "mnist1d"  # the offline default


def test_default_map_is_mnist1d_generated_offline():
    pytest.importorskip("mnist1d")
    m = LearningWindowStudy().parts()["map"]
    assert m.sizes == (40, 32, 10)
    assert m.data("train")[0].shape == (4000, 40) and m.data("test")[0].shape == (1000, 40)


def test_accuracy_records_and_time_to_accuracy_match_a_direct_computation(quick_run):
    s = quick_run
    ds = s.result_
    x0 = ds["initial_state"].values
    steps = ds["step"].values
    thr = s.threshold
    for k, eta in enumerate(ds["eta"].values):
        m = dn.GradientDescentMap(dataset="iris", eta=float(eta))
        traj = m.trajectory(x0, int(steps[-1]), every=int(steps[1] - steps[0]))  # (R, init, dim)
        acc = np.stack([m.accuracy(traj[r], split="test") for r in range(traj.shape[0])])
        np.testing.assert_allclose(ds["test_accuracy"].values[k], acc, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ds["train_loss"].values[k], np.stack([m.loss(t) for t in traj]),
                                   rtol=1e-10)
        for i in range(x0.shape[0]):
            hit = np.flatnonzero(acc[:, i] >= thr)
            expected = steps[hit[0]] if hit.size else np.inf
            assert ds["time_to_accuracy"].values[k, i] == expected
    tta = ds["time_to_accuracy"].values
    np.testing.assert_array_equal(ds["median_time"].values, np.median(tta, axis=1))
    np.testing.assert_array_equal(ds["reached_fraction"].values, np.isfinite(tta).mean(axis=1))
    assert np.isfinite(tta).any() and not np.isfinite(tta).all()  # the preset exercises both cases


def test_distances_are_those_of_a_perturbation_study(quick_run):
    s = quick_run
    k = 1  # eta = 1
    ps = dn.PerturbationStudy(map=dn.GradientDescentMap(dataset="iris", eta=1.0), perturber=s.perturber,
                              n_init=s.n_init, n_steps=s.lyapunov_steps, estimators=[], seed=s.seed)
    ps.run(preflight=False)
    np.testing.assert_array_equal(s.result_["distance"].values[k], ps.result_["distance"].values)
    np.testing.assert_array_equal(s.result_["initial_state"].values, ps.result_["initial_state"].values)
    f = FiniteLyapunov(n_boot=0).fit(ps.result_["distance"].values, steps=ps.result_["step"].values)
    assert s.result_["mle"].values[k] == pytest.approx(f.mle_, rel=1e-12)
    assert s.result_["kept_fraction"].values[k] == f.kept_fraction_


def test_quick_run_finds_chaos_at_eta_1_on_iris(quick_run):
    ds = quick_run.result_
    mle = dict(zip(ds["eta"].values.tolist(), ds["mle"].values.tolist(), strict=True))
    assert mle[1.0] > 0.05  # the paper's edge of stability: sensitive dependence at eta = 1
    assert bool(ds["sensitive"].sel(eta=1.0))
    assert not bool(ds["sensitive"].sel(eta=0.1))
    summ = quick_run.summary()
    for key in ("mle", "median_time", "fastest_eta", "window_low", "window_high", "fastest_is_sensitive"):
        assert key in summ
    assert float(summ["fastest_eta"]) in ds["eta"].values


def test_plots(quick_run):
    from matplotlib.figure import Figure

    figs = quick_run.plot()
    assert len(figs) == 2 and all(isinstance(f, Figure) for f in figs)
    top, bottom = figs[0].axes[0], figs[0].axes[1]
    assert bottom.get_xscale() == "log"
    # one "no lambda_nMLE" note per eta without a kept fit
    n_nan = int(np.sum(~np.isfinite(quick_run.result_["mle"].values)))
    assert sum(t.get_gid() == "no-mle-note" for t in top.texts) == n_nan
    n_never = int(np.sum(~np.isfinite(quick_run.result_["median_time"].values)))
    assert sum(t.get_gid() == "not-reached-note" for t in bottom.texts) == n_never
    curves = figs[1].axes[0].get_lines()
    assert len(curves) == quick_run.result_.sizes["eta"] + 1  # one per eta and the threshold


# ---- locate_window ------------------------------------------------------------------

def test_locate_window_by_hand():
    etas = np.array([0.1, 0.3, 1.0, 3.0, 10.0])
    mle = np.array([np.nan, 0.1, 0.3, 0.4, 0.5])
    kept = np.array([0.0, 0.3, 0.8, 0.9, 1.0])
    div = np.array([0.0, 0.0, 0.0, 0.0, 0.9])
    t = np.array([900.0, 400.0, 120.0, 100.0, np.inf])
    w = locate_window(etas, mle, kept, div, t)
    np.testing.assert_array_equal(w["sensitive"], [False, False, True, True, False])
    np.testing.assert_array_equal(w["fast"], [False, False, True, True, False])
    np.testing.assert_array_equal(w["in_window"], [False, False, True, True, False])
    assert w["fastest_eta"] == 3.0 and w["fastest_is_sensitive"]
    assert (w["window_low"], w["window_high"]) == (1.0, 3.0)
    assert (w["sensitive_low"], w["sensitive_high"]) == (1.0, 3.0)
    w = locate_window(etas, mle, kept, div, t, fast_factor=1.1)
    assert (w["window_low"], w["window_high"]) == (3.0, 3.0)
    w = locate_window(etas, mle, kept, div, np.array([50.0, 400.0, 120.0, 100.0, np.inf]))
    assert w["fastest_eta"] == 0.1 and not w["fastest_is_sensitive"]
    assert np.isnan(w["window_low"]) and np.isnan(w["window_high"])
    w = locate_window(etas, mle, kept, div, np.full(5, np.inf))
    assert np.isnan(w["fastest_eta"]) and not w["fast"].any()


@given(data=st.data(), k=st.integers(1, 8))
def test_locate_window_invariants(data, k):
    etas = np.cumsum(data.draw(st.lists(st.floats(0.01, 5), min_size=k, max_size=k)))
    floats = st.one_of(st.floats(-1, 2), st.just(np.nan))
    mle = np.array(data.draw(st.lists(floats, min_size=k, max_size=k)))
    kept = np.array(data.draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
    div = np.array(data.draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
    t = np.array(data.draw(st.lists(st.one_of(st.floats(0, 1e4), st.just(np.inf)), min_size=k,
                                    max_size=k)))
    w = locate_window(etas, mle, kept, div, t)
    np.testing.assert_array_equal(w["in_window"], w["sensitive"] & w["fast"])
    assert not (w["sensitive"] & ~(mle > 0.05)).any()
    if w["in_window"].any():
        assert w["sensitive_low"] <= w["window_low"] <= w["window_high"] <= w["sensitive_high"]
    if np.isfinite(w["fastest_eta"]):
        j = int(np.flatnonzero(etas == w["fastest_eta"])[0])
        assert w["fast"][j] and t[j] == np.min(t)
        assert w["fastest_is_sensitive"] == bool(w["sensitive"][j])
    else:
        assert not np.isfinite(t).any()


# ---- validation ---------------------------------------------------------------------

@pytest.mark.parametrize("params,exc,msg", [
    ({"etas": (1.0, 0.5)}, ValueError, r"etas=\(1.0, 0.5\) must be strictly increasing"),
    ({"etas": (0.0, 1.0)}, ValueError, r"etas"),
    ({"threshold": 0.0}, ValueError, r"threshold"),
    ({"threshold": 1.5}, ValueError, r"threshold"),
    ({"accuracy_every": 7}, ValueError, r"every"),
    ({"fast_factor": 0.5}, ValueError, r"fast_factor"),
    ({"min_kept": 2.0}, ValueError, r"min_kept"),
    ({"estimators": []}, ValueError, r"exactly one FiniteLyapunov"),
    ({"map": dn.LogisticMap()}, ValueError, r"no eta parameter"),
])
def test_bad_parameters_are_refused_before_running(params, exc, msg):
    with pytest.raises(exc, match=msg):
        _small(**params).run()


def test_time_to_accuracy_first_crossing_never_and_diverged():
    steps = np.array([0, 10, 20, 30])
    acc = np.array([[0.1, 0.2, 0.0, 0.9],
                    [0.5, 0.9, np.nan, 0.1],
                    [0.7, 0.4, np.nan, 0.2],
                    [0.9, 0.9, np.nan, 0.3]])
    np.testing.assert_array_equal(time_to_accuracy(acc, steps, 0.7), [20.0, 10.0, np.inf, 0.0])
    np.testing.assert_array_equal(time_to_accuracy(acc, steps, 0.9), [30.0, 10.0, np.inf, 0.0])
    stacked = time_to_accuracy(np.stack([acc, acc]), steps, 0.7)  # leading axes (eta, ...)
    assert stacked.shape == (2, 4)
    np.testing.assert_array_equal(stacked[1], [20.0, 10.0, np.inf, 0.0])


def test_refit_with_other_windows_rederives_the_window_without_rerunning():
    s = _small(etas=(1.0, 2.0), n_steps=20, lyapunov_steps=60).run()
    dist = s.result_["distance"].values.copy()
    tta = s.result_["time_to_accuracy"].values.copy()
    short = FiniteLyapunov(n_boot=0, lengths=range(10, 41, 5))
    s.set_params(estimators=[short]).refit()
    np.testing.assert_array_equal(s.result_["distance"].values, dist)  # records untouched
    np.testing.assert_array_equal(s.result_["time_to_accuracy"].values, tta)
    for k in range(2):
        f = FiniteLyapunov(n_boot=0, lengths=range(10, 41, 5)).fit(dist[k], steps=s.result_["lstep"].values)
        np.testing.assert_array_equal(s.result_["exponent"].values[k], f.exponents_)
        assert s.result_["kept_fraction"].values[k] == f.kept_fraction_
    w = locate_window(s.result_["eta"].values, s.result_["mle"].values, s.result_["kept_fraction"].values,
                      s.result_["diverged_fraction"].values, s.result_["median_time"].values)
    np.testing.assert_array_equal(s.result_["in_window"].values, w["in_window"])
