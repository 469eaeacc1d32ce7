"""dynnet.interpretation: each computation against a known answer (issue 22 items 2-6)."""

import math
import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import dynnet as dn
from dynnet import interpretation as I

# -- Holm ------------------------------------------------------------------------------------------


def test_holm_on_a_worked_example():
    # sorted 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop; 0.04 is not rejected either
    assert I.holm([0.01, 0.04, 0.03, 0.005], alpha=0.05).tolist() == [True, False, False, True]
    assert I.holm([0.01, np.nan], alpha=0.05).tolist() == [True, False]  # NaN: not a test (m = 1)
    assert not I.holm([]).size


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8), st.floats(0.001, 0.2))
def test_holm_lies_between_bonferroni_and_no_correction(p, alpha):
    p = np.asarray(p)
    rej = I.holm(p, alpha)
    assert np.all(rej <= (p <= alpha))                 # never more than uncorrected
    assert np.all(rej >= (p <= alpha / p.size))        # never fewer than Bonferroni
    if rej.any() and not rej.all():                     # step-down: the rejected are the smallest
        assert p[rej].max() <= p[~rej].min()


def test_the_holm_level_is_the_level_of_z_below_minus_two():
    assert I.HOLM_ALPHA == pytest.approx(0.022750131948179, rel=1e-12)
    assert I.one_sided_p([-2.0, 0.0])[0] == pytest.approx(I.HOLM_ALPHA, rel=1e-12)
    assert I.one_sided_p([0.0])[0] == 0.5


def test_one_decay_just_below_minus_two_of_four_is_not_a_lowering_after_holm():
    # the uncorrected rule says yes (z = -2.1 < -2); four tries make it chance: p = 0.018 > 0.023 / 4
    s = xr.Dataset({"mle_change_z": (("weight_decay",), [np.nan, -2.1, 0.5, 0.3, -0.2])},
                   coords={"weight_decay": [0.0, 1e-3, 1e-2, 3e-2, 1e-1]})
    out = I.regularization_holm(s)
    assert out["n_tests"] == 4 and not out["rejected"].any() and np.isnan(out["lowest"])
    s["mle_change_z"][2] = -3.3         # p = 5e-4 < 0.023 / 4: lowered; next 0.018 > 0.023 / 3
    out = I.regularization_holm(s)
    assert out["rejected"].tolist() == [False, False, True, False, False] and out["lowest"] == 1e-2
    s["mle_change_z"][1] = -2.6                         # p = 0.0047 < 0.023 / 3: both
    out = I.regularization_holm(s)
    assert out["rejected"].tolist() == [False, True, True, False, False] and out["lowest"] == 1e-3


def test_paired_z():
    assert I.paired_z([1.0, 2.0, 3.0], [0.0, 1.0, 1.0]) == pytest.approx(
        (4 / 3) / (np.std([1, 1, 2], ddof=1) / math.sqrt(3)))
    assert np.isnan(I.paired_z([1.0, 1.0], [0.0, 0.0]))  # no spread: no z


def test_matched_training_time_reproduces_the_studys_final_accuracy():
    """Trained again from the saved initial networks: the accuracy at the end is the study's own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st_ = dn.RegularizationStudy.quick().run(progress=False)
        out = I.regularization_matched(st_, step=100)
    assert out["step"] == 100
    np.testing.assert_array_equal(out["test_accuracy_final"],
                                  st_.result_["test_accuracy"].mean("init").values)
    assert np.all(out["grad_norm_final"] >= 0)
    sizes = st_.result_.sizes
    assert out["test_accuracy_at_per_init"].shape == (sizes["weight_decay"], sizes["init"])
    assert I.regularization_matched(st_)["step"] == min(200, st_.n_steps)  # the end of the fit windows


# -- sharpening ------------------------------------------------------------------------------------


def _sharpening_ds(S, eta):
    S = np.asarray(S, dtype=float)  # (rec, init)
    return xr.Dataset({"sharpness": (("eta", "sharpness_step", "init"), S[None])},
                      coords={"eta": [eta], "sharpness_step": np.arange(S.shape[0]) * 10})


def test_sharpening_splits_from_below_from_above_and_the_t0_record():
    thr = 4.0  # eta = 0.5
    t = np.arange(21)
    below_hover = np.minimum(1.0 + 0.5 * t, thr * (1.02 + 0.01 * (-1.0) ** t))   # sharpens, hovers
    above = np.full(21, 6.0)                                                     # catapult: starts above
    only_t0 = np.r_[4.5, np.full(20, 2.0)]                                       # above at t = 0 only
    below_never = np.full(21, 3.0)
    diverged = np.full(21, np.nan)
    S = np.stack([below_hover, above, only_t0, below_never, diverged], axis=1)
    out = I.sharpening_split(_sharpening_ds(S, 0.5))
    assert out["progressive_mask"][0].tolist() == [True, False, False, False, False]
    assert out["starts_above_mask"][0].tolist() == [False, True, True, False, False]
    assert out["reaches_after_start"][0] == pytest.approx(2 / 5)  # the t = 0 record is not reaching
    assert out["progressive"][0] == pytest.approx(1 / 5)
    assert out["starts_above"][0] == pytest.approx(2 / 5)


def test_exponents_with_windows_in_eta_time_are_the_same_at_every_eta():
    """d = 1e-8 exp(0.3 eta t), saturating at 1: 0.3 per unit of eta t at eta = 0.25 and 1, exactly."""
    etas = np.array([0.25, 1.0])
    step = np.arange(1001)
    rng = np.random.default_rng(0)
    d = np.empty((2, step.size, 4, 3))
    for k, eta in enumerate(etas):
        d[k] = np.minimum(1e-8 * np.exp(0.3 * eta * step), 1.0)[:, None, None] * rng.uniform(1, 2, (4, 3))
    ds = xr.Dataset({"distance": (("eta", "step", "init", "pert"), d),
                     "diverged": (("eta", "init", "member"), np.zeros((2, 4, 4), bool))},
                    coords={"eta": etas, "step": step})
    out = I.eta_time_exponents(ds)
    np.testing.assert_allclose(out["mle"], [0.3, 0.3], rtol=1e-9)
    np.testing.assert_allclose(out["mle_per_step"], [0.075, 0.3], rtol=1e-9)
    assert out["kept_fraction"].tolist() == [1.0, 1.0]
    # in steps, the windows of eta = 0.25 see 0.075 per step: the onset of "lambda > 0.05" moves
    assert I.onset_eta(etas, out["mle"], out["kept_fraction"]) == 0.25
    assert I.onset_eta(etas, [0.04, 0.3], [1.0, 1.0]) == 1.0
    assert np.isnan(I.onset_eta(etas, [0.3, 0.3], [0.4, 0.4]))
    assert np.isnan(I.onset_eta(etas, [0.3, 0.3], [1.0, 1.0], diverged=[0.6, 0.6]))


# -- collapsed and dead networks -------------------------------------------------------------------


def _constant_state(m, logits):
    """A network whose hidden weights are zero and whose output bias is ``logits``: a constant output."""
    x = np.zeros(m.dim)
    w0, b0, b1 = m.problem().offsets[-1]
    x[b0:b1] = logits
    return x


def test_the_prior_entropy_is_the_loss_of_the_best_constant_predictor():
    m = dn.GradientDescentMap()
    _, y = m.data("train")
    p = np.bincount(y) / y.size
    h = I.prior_entropy(m)
    assert h == pytest.approx(-(p * np.log(p)).sum(), rel=1e-15)
    assert h == pytest.approx(1.0978, abs=5e-5)                 # the Iris number
    dead = _constant_state(m, np.log(p))
    assert float(m.observables(dead[None])["loss"][0]) == pytest.approx(h, rel=1e-12)
    alive = m.initial_state(3, seed=0)
    assert I.dead_networks(m, np.vstack([dead, alive])).tolist() == [True, False, False, False]
    wrong = _constant_state(m, np.array([5.0, 0.0, 0.0]))       # constant, loss far from the priors'
    assert float(m.observables(wrong[None])["loss"][0]) > h + 1.0
    assert not I.dead_networks(m, wrong[None])[0]


def test_saturation_and_logit_spread_of_known_networks():
    m = dn.GradientDescentMap()
    zero = np.zeros((1, m.dim))                                 # sigmoid at z = 0: f' is largest
    assert I.hidden_saturation(m, zero)[0] == 0.0
    assert I.logit_spread(m, zero)[0] == 0.0                    # zero hidden-to-output weights: flat
    big = np.zeros(m.dim)
    w0, b0, b1 = m.problem().offsets[0]
    big[b0:b1] = 50.0                                           # every hidden unit at sigmoid(50)
    assert I.hidden_saturation(m, big[None])[0] == 1.0
    assert I.logit_spread(m, m.initial_state(2, seed=1)).min() > 1e-3
    r = dn.GradientDescentMap(activation="relu")
    neg = np.zeros(r.dim)
    w0, b0, b1 = r.problem().offsets[0]
    neg[b0:b1] = -1.0                                           # relu off everywhere: a dead layer
    assert I.hidden_saturation(r, neg[None])[0] == 1.0


def test_grid_regime_rule_in_order():
    h = 1.0978
    assert I.grid_regime(1.0982, h, 0.0, np.nan) == "dead"
    assert I.grid_regime(1.0982, h, 0.9, 0.3) == "dead"          # dead first, whatever the fits
    assert I.grid_regime(1.1, h, 0.9, 0.3) == "sensitive"
    assert I.grid_regime(0.2, h, 0.4, 0.3) == "insensitive"
    assert I.grid_regime(0.2, h, 0.9, 0.04) == "insensitive"


def test_laminar_collapse_reads_the_studys_phases():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = dn.IntermittencyStudy.quick().run(progress=False)
    out = I.laminar_collapse(s)
    n = out["init"].size
    assert n > 0 and all(v.shape == (n,) for v in out.values())
    assert np.all((out["start"] >= s.transient) & (out["stop"] <= s.n_steps + 1))
    assert np.all(out["start"] < out["stop"])
    assert np.all((out["saturation"] >= 0) & (out["saturation"] <= 1))
    # the recorded loss of a phase is the loss of the states examined there: the orbits are the study's
    i, a = int(out["init"][0]), int(out["start"][0])
    x = s.parts()["map"].trajectory(s.result_["initial_state"].values[i], a)[-1]
    # (observe() records the loss in the engine, observables() in numpy: equal to rounding)
    assert float(s.parts()["map"].observables(x[None])["loss"][0]) == pytest.approx(
        s.result_["loss"].values[a, i], rel=1e-12)


# -- aperiodic stretches ---------------------------------------------------------------------------


def test_a_slowly_drifting_cycle_is_laminar_at_a_relative_tolerance():
    """A period-6 cycle drifting by 7e-5 per period (absolute tolerance 1e-5: "aperiodic"), then a
    logistic-map burst: the relative tolerance picks the burst."""
    cycle = np.array([3.0, 5.0, 4.0, 8.0, 6.0, 7.0])
    n_cyc, n_burst = 3000, 1200
    t = np.arange(n_cyc)
    drift = cycle[t % 6] + 7e-5 * (t // 6)
    x = np.empty(n_burst)
    x[0] = 0.3
    for k in range(1, n_burst):
        x[k] = 4.0 * x[k - 1] * (1.0 - x[k - 1])
    series = np.r_[drift, 3.0 + 5.0 * x]
    loss = np.stack([series, series[::-1].copy()], axis=1)
    assert dn.LaminarPhases().fit(drift).laminar_fraction_ < 0.1   # the fixed 1e-5 misses the cycle
    i, a, b, tol = I.aperiodic_stretch(loss, 0, 1000)
    assert tol == pytest.approx(1e-3 * np.median(np.abs(series)))
    assert (i, a, b) == (0, n_cyc, n_cyc + n_burst) or (i, a, b) == (1, 0, n_burst)
    assert I.aperiodic_stretch(loss, 0, 1300)[0] == -1               # no burst is that long


# -- FSLE against the best window ------------------------------------------------------------------


def test_fsle_disagreement_counts_networks_apart_by_more_than_the_tolerance():
    step = np.arange(201)
    rates = np.array([0.2, 0.3, 0.4, 0.5])
    d = np.minimum(1e-8 * np.exp(rates[None, :] * step[:, None]), 1.0)[:, :, None] * np.ones(3)
    fl = dn.FiniteLyapunov().fit(d, steps=step)
    np.testing.assert_allclose(fl.exponents_, rates, rtol=1e-9)
    exponent = np.stack([fl.exponents_, fl.exponents_ + np.array([0.0, 0.05, 0.2, -0.3])])
    ds = xr.Dataset({"distance": (("eps", "step", "init", "pert"), np.stack([d, d])),
                     "exponent": (("eps", "init"), exponent),
                     "kept": (("eps", "init"), np.ones((2, 4), bool))},
                    coords={"eps": [1e-14, 1e-8], "step": step})
    fsle = dn.FiniteSizeLyapunov().fit(d, steps=step).exponents_
    assert np.max(np.abs(fsle - rates)) < 0.02                      # the same exponential: they agree
    same = I.fsle_disagreement(ds, 1e-14)
    assert same["fraction"] == 0.0 and same["n"] == 4
    moved = I.fsle_disagreement(ds, 1e-8)
    assert moved["fraction"] == 0.5                                 # 0.2 and -0.3 exceed 0.1; 0.05 does not
    ds["kept"][1, 3] = False
    assert I.fsle_disagreement(ds, 1e-8)["fraction"] == pytest.approx(1 / 3)


def test_bursts_are_every_aperiodic_stretch_longest_first():
    cycle = np.array([3.0, 5.0, 4.0, 8.0, 6.0, 7.0])
    x = np.empty(700)
    x[0] = 0.3
    for k in range(1, x.size):
        x[k] = 4.0 * x[k - 1] * (1.0 - x[k - 1])
    burst = 3.0 + 5.0 * x
    series = np.r_[cycle[np.arange(600) % 6], burst[:400], cycle[np.arange(600) % 6], burst[400:]]
    loss = series[:, None]
    out = I.aperiodic_stretches(loss, 0, 100)
    assert [(b - a) for _, a, b in out] == [400, 300]                # both bursts, longest first
    assert out[0][1] == 600 and out[1][1] == 1600
    assert I.aperiodic_stretches(loss, 0, 350) == out[:1]
