"""SharpeningStudy: the sharpness along training against 2/eta, beside lambda_nMLE."""

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet.studies.sharpening import SharpeningStudy, sharpening_summary
from dynnet.testing import check_study

SMALL = {"etas": (0.25, 1.0), "n_init": 2, "n_steps": 100, "sharpness_every": 20,
         "perturber": dn.UniformPerturber(eps=1e-8, n=2, on="weights")}


@pytest.fixture(scope="module")
def small():
    return SharpeningStudy(**SMALL).run()


def test_conformance():
    check_study(SharpeningStudy(**{**SMALL, "etas": (1.0,), "n_steps": 60, "sharpness_every": 30}))


def test_quick_preset_runs_and_has_every_summary_key():
    s = SharpeningStudy.quick().run()
    summ = s.summary()
    for key in ("threshold", "sharpness_max", "max_ratio", "late_ratio", "crossing_step",
                "fraction_reaching", "mle", "lambda_onset_eta", "onset_max_ratio",
                "sharpness_onset_eta", "finitelyapunov.mle"):
        assert key in summ, key
    assert len(s.plot()) == 2


def test_records_shapes_and_threshold(small):
    r = small.result_
    assert r["sharpness"].dims == ("eta", "sharpness_step", "init")
    assert r["sharpness"].shape == (2, 6, 2)
    assert list(r["sharpness_step"].values) == [0, 20, 40, 60, 80, 100]
    assert r["distance"].shape == (2, 101, 2, 2)
    np.testing.assert_allclose(r["threshold"].values, [8.0, 2.0])
    assert np.all(np.isfinite(r["sharpness"].values)) and np.all(r["sharpness"].values > 0)


def test_sharpness_is_the_top_hessian_eigenvalue_along_the_reference_orbit(small):
    """An independent computation: dense Hessians of the stored trajectory, numpy eigvalsh."""
    r = small.result_
    x0 = r["initial_state"].values
    for k, eta in enumerate(r["eta"].values):
        m = dn.GradientDescentMap(eta=float(eta))
        traj = m.trajectory(x0, 100, every=20)  # (6, n_init, dim)
        for i in range(x0.shape[0]):
            top = [np.linalg.eigvalsh(m.hessian(traj[t, i]))[-1] for t in range(traj.shape[0])]
            np.testing.assert_allclose(r["sharpness"].values[k, :, i], top, rtol=1e-8)


def test_initial_sharpness_does_not_depend_on_eta(small):
    """Same initial networks at every eta, and S(0) is a property of the loss only."""
    s0 = small.result_["sharpness"].values[:, 0, :]
    np.testing.assert_allclose(s0[0], s0[1], rtol=1e-12)


def test_lambda_columns_are_finite_lyapunov_on_the_distances(small):
    r = small.result_
    for k in range(r.sizes["eta"]):
        d = r["distance"].values[k]
        f = dn.FiniteLyapunov().fit(d, steps=r["step"].values.astype(float))
        assert r["finitelyapunov.kept_fraction"].values[k] == f.kept_fraction_
        np.testing.assert_array_equal(r["exponent"].values[k], f.exponents_)
        assert np.array_equal(r["finitelyapunov.mle"].values[k], f.mle_, equal_nan=True)


def test_a_value_does_not_depend_on_the_rest_of_the_grid(small):
    alone = SharpeningStudy(**{**SMALL, "etas": (1.0,)}).run().result_
    both = small.result_.sel(eta=[1.0])
    np.testing.assert_array_equal(alone["sharpness"].values, both["sharpness"].values)
    np.testing.assert_array_equal(alone["distance"].values, both["distance"].values)


def _synthetic(S, etas, mle=None, kept=None):
    S = np.asarray(S, dtype=float)
    n_eta, n_rec, n_init = S.shape
    ds = xr.Dataset({"sharpness": (("eta", "sharpness_step", "init"), S),
                     "diverged": (("eta", "init", "member"), np.zeros((n_eta, n_init, 2), bool))},
                    coords={"eta": np.asarray(etas, float), "sharpness_step": np.arange(n_rec) * 10})
    if mle is not None:
        ds["finitelyapunov.mle"] = (("eta",), np.asarray(mle, float))
        ds["finitelyapunov.kept_fraction"] = (("eta",), np.asarray(kept, float))
    return ds


def test_summary_on_known_series():
    # eta = 0.5 (2/eta = 4): network 0 sharpens 1 -> 5, crossing at step 30; network 1 stays at 2
    # eta = 2 (2/eta = 1): both start above 1
    S = np.array([[[1, 2], [2, 2], [3, 2], [4.5, 2], [5, 2]],
                  [[1.5, 3], [1, 1], [1, 1], [1, 1], [1, 1]]], dtype=float)
    out = sharpening_summary(_synthetic(S, (0.5, 2.0), mle=[np.nan, 0.3], kept=[0.0, 0.9]))
    np.testing.assert_allclose(out["threshold"][1], [4.0, 1.0])
    np.testing.assert_allclose(out["fraction_reaching"][1], [0.5, 1.0])
    np.testing.assert_allclose(out["fraction_sharpening"][1], [0.5, 0.0])
    # median of (30, inf) is inf -> NaN; at eta = 2 both cross at step 0
    assert np.isnan(out["crossing_step"][1][0]) and out["crossing_step"][1][1] == 0.0
    np.testing.assert_allclose(out["sharpness_max"][1], [np.median([5, 2]), np.median([1.5, 3])])
    np.testing.assert_allclose(out["max_ratio"][1], [3.5 * 0.25, 2.25 * 1.0])
    # second half (records 2..4) times eta/2, median per network, then over networks
    np.testing.assert_allclose(out["late_ratio"][1], [np.median([4.5 * 0.25, 2 * 0.25]), 1.0])
    assert out["lambda_positive"][1].tolist() == [False, True]
    assert out["lambda_onset_eta"][1] == 2.0
    assert out["onset_max_ratio"][1] == pytest.approx(2.25)
    assert out["onset_fraction_reaching"][1] == 1.0
    assert out["sharpness_onset_eta"][1] == 0.5


def test_summary_without_lambda_or_onset_gives_nan():
    S = np.ones((2, 3, 2))
    out = sharpening_summary(_synthetic(S, (0.1, 0.2)))
    assert np.all(np.isnan(out["mle"][1]))
    assert np.isnan(out["lambda_onset_eta"][1]) and np.isnan(out["onset_max_ratio"][1])
    assert np.isnan(out["sharpness_onset_eta"][1])  # 1 < 2/0.2 = 10: never reached


@given(st.lists(st.floats(0.01, 20.0), min_size=2, max_size=12), st.floats(0.05, 5.0))
def test_crossing_step_is_the_first_record_at_or_above_2_over_eta(series, eta):
    S = np.asarray(series)[None, :, None]
    out = sharpening_summary(_synthetic(S, (eta,)))
    hits = np.flatnonzero(S[0, :, 0] >= 2.0 / eta)
    if hits.size:
        assert out["crossing_step"][1][0] == hits[0] * 10
        assert out["fraction_reaching"][1][0] == 1.0
    else:
        assert np.isnan(out["crossing_step"][1][0]) and out["fraction_reaching"][1][0] == 0.0
    assert out["max_ratio"][1][0] >= out["initial_ratio"][1][0]
    assert out["max_ratio"][1][0] >= out["final_ratio"][1][0]


@pytest.mark.parametrize("params, match", [
    ({"sharpness_every": 30}, "sharpness_every=30 must divide n_steps=100"),
    ({"etas": (1.0, 1.0)}, "repeats a value"),
    ({"etas": (0.5, -1.0)}, "etas"),
    ({"etas": ()}, "etas"),
    ({"estimators": [dn.FiniteLyapunov()]}, "exactly one Sharpness"),
    ({"estimators": [dn.Sharpness(), dn.Sharpness()]}, "two estimators"),
])
def test_bad_parameters_are_refused_naming_them(params, match):
    with pytest.raises(ValueError, match=match):
        SharpeningStudy(**{**SMALL, **params}).run()


def test_a_map_without_eta_is_refused():
    with pytest.raises(ValueError, match="no eta"):
        SharpeningStudy(map=dn.HenonMap(), n_init=1, n_steps=100).run()
