"""BifurcationStudy (issue 21, section 2): the logistic map's known facts, and the study's contract.

The logistic map x -> r x (1 - x) over 2.8 <= r <= 4 at 1,200 values (grid spacing h = 1.2/1199):
its first period doubling is at r = 3, the second at 1 + sqrt(6), the cascade accumulates at
r = 3.5699456 (the onset of chaos), the period-3 window opens at 1 + sqrt(8) in a saddle-node
bifurcation, and lambda(4) = ln 2 (May 1976; Feigenbaum 1978).

Margins. Near a bifurcation point the orbit converges slowly (its multiplier is near 1 in
modulus), so within about MARGIN = 0.01 of the point a run of 2,000 steps has not settled within
the period tolerance and may read the old period, or none. Facts that hold on an interval are
asserted at least MARGIN away from its ends; locations are asserted to h + MARGIN (the onset of
chaos and the period-3 window, which the orbits reach faster, to h + 0.005).
"""

import numpy as np
import pytest

import dynnet as dn
from dynnet.studies.bifurcation import REGIMES, classify_orbit, detect_period

R_LO, R_HI, N_R = 2.8, 4.0, 1200
H = (R_HI - R_LO) / (N_R - 1)
MARGIN = 0.01
R_PD1 = 3.0
R_PD2 = 1.0 + np.sqrt(6.0)
R_CHAOS = 3.5699456
R_P3 = 1.0 + np.sqrt(8.0)


@pytest.fixture(scope="module", params=["orbit", "jvp"])
def logistic(request):
    r = np.linspace(R_LO, R_HI, N_R)
    s = dn.BifurcationStudy(map=dn.LogisticMap(), param="r", values=r, n_init=4, n_transient=1000,
                            n_keep=1000, n_record=256, max_period=64, tangent=request.param, seed=0).run()
    S = s.summary()
    return s, r, S["period"].values, S["tangent_exponent"].values


def test_summary_is_labelled_by_the_parameter(logistic):
    s, r, _, _ = logistic
    S = s.summary()
    assert "r" in S.coords and np.array_equal(S["r"].values, r)
    for name in ("period", "tangent_exponent", "tangent_exponent_whole", "regime", "state_late"):
        assert S[name].dims == ("r",), name
    assert s.result_["state"].dims == ("r", "init", "step")


def test_period_two_and_stable_between_the_first_two_doublings(logistic):
    _, r, period, lam = logistic
    inside = (r > R_PD1 + MARGIN) & (r < R_PD2 - MARGIN)
    assert inside.sum() > 300
    assert np.all(period[inside] == 2)
    assert np.all(lam[inside] < 0)
    below = r < R_PD1 - MARGIN
    assert np.all(period[below] == 1) and np.all(lam[below] < 0)


def test_first_and_second_period_doubling_are_located(logistic):
    _, r, period, _ = logistic
    first2 = r[np.argmax(period == 2)]
    assert abs(first2 - R_PD1) <= H + MARGIN
    assert np.all(period[r < first2] == 1)
    first4 = r[np.argmax(period == 4)]
    assert abs(first4 - R_PD2) <= H + MARGIN


def test_chaos_sets_in_near_the_accumulation_point(logistic):
    _, r, _, lam = logistic
    onset = r[np.argmax(lam > 1e-3)]
    assert R_CHAOS - H <= onset <= R_CHAOS + H + 0.005
    assert np.all(lam[r < R_CHAOS - H] <= 1e-3)  # periodic below: no positive exponent
    assert lam[(r > 3.6) & (r < 3.62)].mean() > 0.05


def test_period_three_window_opens_at_one_plus_sqrt_eight(logistic):
    _, r, period, lam = logistic
    above = r > 3.8
    opening = r[above][np.argmax(period[above] == 3)]
    assert R_P3 - H <= opening <= R_P3 + H + 0.005
    window = (r > R_P3 + 0.002) & (r < 3.84)  # the window's period doubling is at 3.8415
    assert window.sum() >= 5
    assert np.all(period[window] == 3) and np.all(lam[window] < 0)
    assert np.all(lam[(r > 3.82) & (r < R_P3 - 0.001)] > 0)  # chaos just before it opens


def test_lambda_at_four_is_ln2(logistic):
    _, r, _, lam = logistic
    assert r[-1] == 4.0
    assert abs(lam[-1] - np.log(2.0)) < 1e-2
    s, *_ = logistic
    assert abs(float(s.summary()["tangent_exponent_whole"][-1]) - np.log(2.0)) < 1e-2


def test_regimes_follow_the_rule(logistic):
    s, r, period, lam = logistic
    regime = s.summary()["regime"].values
    assert np.all(regime[r < R_PD1 - MARGIN] == "fixed point")
    assert np.all(regime[(r > R_PD1 + MARGIN) & (r < R_PD2 - MARGIN)] == "periodic")
    assert regime[-1] == "chaotic"
    for k in np.random.default_rng(0).choice(r.size, 50, replace=False):
        assert regime[k] == classify_orbit(0.0, lam[k], int(period[k]), 1e-3)


def test_detect_period_finds_long_periods():
    rng = np.random.default_rng(1)
    base = rng.standard_normal(37)
    series = np.stack([np.tile(base, 10)[:300], np.full(300, 0.25), rng.standard_normal(300)], axis=1)
    series[:, 1] += 1e-9 * (-1.0) ** np.arange(300)  # a fixed point within the tolerance
    assert detect_period(series, max_period=64).tolist() == [37, 1, 0]
    assert detect_period(series[:, :1], max_period=36).tolist() == [0]  # above the max: none found
    with pytest.raises(ValueError, match="at least 128"):
        detect_period(series[:100], max_period=64)


def test_classify_orbit_rule_order():
    assert classify_orbit(0.6, 0.5, 0) == "divergent"
    assert classify_orbit(0.0, 0.5, 3) == "chaotic"
    assert classify_orbit(0.0, -0.1, 3) == "periodic"
    assert classify_orbit(0.0, -0.1, 1) == "fixed point"
    assert classify_orbit(0.0, 0.0, 0) == "aperiodic"


def test_gd_quick_preset_runs_saves_and_plots(tmp_path):
    s = dn.BifurcationStudy.quick(values=(0.5, 3.0, 12.0), n_init=3).run()
    S = s.summary()
    assert "eta" in S.coords and S.sizes["eta"] == 3
    for name in ("period", "tangent_exponent", "time_to_accuracy", "reached_fraction", "loss_late"):
        assert name in S, name
    assert np.all(np.isfinite(S["tangent_exponent"].values))
    assert set(S["regime"].values) <= set(REGIMES)
    # the members of the one batched ensemble are the runs at a single eta
    m = dn.GradientDescentMap(eta=3.0)
    x0 = m.initial_state(3, seed=dn.studies.base.RunContext(seed=s.seed_).child_seed(0))
    n, n_rec = int(s.n_transient) + int(s.n_keep), int(s.n_record)
    rec, _ = m.observe(m.iterate(x0, n - n_rec), n_rec)
    assert np.array_equal(s.result_["loss"].sel(eta=3.0).values, rec["loss"].T)
    path = tmp_path / "bif.nc"
    s.save(path)
    t = dn.load(path)
    assert np.array_equal(t.summary()["period"].values, S["period"].values)
    figs = t.plot()
    axes = figs[0].axes
    assert axes[-1].get_xlabel() == r"$\eta$"
    assert axes[1].get_ylabel().startswith(r"$\lambda$")


def test_series_estimators_are_fitted_value_by_value():
    s = dn.BifurcationStudy(map=dn.LogisticMap(), param="r", values=(3.2, 3.83, 4.0), n_init=3,
                            n_transient=500, n_keep=1000, n_record=1000,
                            estimators=[dn.ZeroOneTest(variable="state")], seed=0).run()
    K = s.summary()["zeroonetest.K"]
    assert K.dims == ("r",)
    assert abs(float(K.sel(r=3.2))) < 0.1 and abs(float(K.sel(r=3.83))) < 0.1  # periods 2 and 3
    assert float(K.sel(r=4.0)) > 0.9  # chaos


@pytest.mark.parametrize("case", ["logistic", "gd"])
def test_companion_orbit_tangent_agrees_with_the_exact_jvp(case):
    if case == "logistic":
        m, param, values = dn.LogisticMap(), "r", np.linspace(3.0, 4.0, 11)
    else:
        m, param, values = dn.GradientDescentMap(), "eta", (0.5, 2.0, 8.0)
    lam = {}
    for tangent in ("jvp", "orbit"):
        s = dn.BifurcationStudy(map=m, param=param, values=values, n_init=3, n_transient=200, n_keep=200,
                                n_record=64, max_period=16, tangent=tangent, seed=0).run()
        lam[tangent] = s.summary()["tangent_exponent"].values
    assert np.all(np.isfinite(lam["jvp"]))
    # measured: 8e-7 (logistic) and 3e-7 (gd); the finite difference's error is of order orbit_eps
    np.testing.assert_allclose(lam["orbit"], lam["jvp"], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="tangent"):
        dn.BifurcationStudy(map=m, param=param, values=values, tangent="qr").run()
