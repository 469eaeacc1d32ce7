"""Issue 23, items 1, 2, 3 and 6: no silent wrong answer, no silent NaN, presets that do not warn."""

import warnings

import numpy as np
import pytest

import dynnet as dn

# ---------------------------------------------------------------------------
# item 1: tangent vectors start from seeded random orthonormal vectors
# ---------------------------------------------------------------------------


def _trap_map():
    """A linear map whose first two coordinates are an invariant, neutral subspace (A e_i = e_i).

    The rest is a seeded, non-normal block with eigenvalues 3, 1.5 and 0.5, so the exponents are
    ln 3, ln 1.5, 0, 0, ln 0.5: coordinate vectors e_0, e_1 never leave the neutral subspace.
    """
    rng = np.random.default_rng(7)
    P = rng.standard_normal((3, 3)) + 3.0 * np.eye(3)
    A = np.eye(5)
    A[2:, 2:] = P @ np.diag([3.0, 1.5, 0.5]) @ np.linalg.inv(P)
    return dn.LinearMap(A=A)


def test_random_start_escapes_a_neutral_invariant_coordinate_subspace():
    m = _trap_map()
    x0 = np.random.default_rng(1).standard_normal(5)
    fit = dn.LyapunovSpectrum(n_steps=200, n_transient=0, n_exponents=2).fit(x0, map=m)
    np.testing.assert_allclose(fit.exponents_, [np.log(3.0), np.log(1.5)], atol=0.02)
    # the trap itself: coordinate vectors (today's np.eye start) report the neutral subspace
    trapped = dn.LyapunovSpectrum(n_steps=200, n_transient=0, n_exponents=2,
                                  Q0=np.eye(5, 2)).fit(x0, map=m)
    np.testing.assert_allclose(trapped.exponents_, [0.0, 0.0], atol=1e-12)


def test_full_spectrum_of_the_trap_map_is_its_log_eigenvalues():
    m = _trap_map()
    x0 = np.random.default_rng(2).standard_normal(5)
    fit = dn.LyapunovSpectrum(n_steps=400, n_transient=0).fit(x0, map=m)
    want = np.log([3.0, 1.5, 1.0, 1.0, 0.5])
    np.testing.assert_allclose(fit.exponents_, want, atol=0.02)


def _issue_wine_map():
    """The issue's network: unscaled wine, hidden=(10, 10), tanh, eta = 2 (it warns: item 3)."""
    m = dn.GradientDescentMap(eta=2.0, dataset="wine", hidden=(10, 10), activation="tanh")
    with pytest.warns(RuntimeWarning, match="ranges differ"):
        assert m.dim == 283
    return m


def test_saturated_network_has_a_positive_top_exponent():
    # the issue's case: unscaled wine, two tanh layers of 10, eta = 2; at the initial state 140 of
    # the 283 Hessian columns are exactly zero (saturated units), the first three among them
    m = _issue_wine_map()
    x0 = m.initial_state(1, seed=0)[0]
    dead = np.all(m.hessian(x0) == 0.0, axis=0)
    assert dead[:3].all() and dead.sum() > 100
    fit = dn.LyapunovSpectrum(n_steps=1000, n_transient=0, n_exponents=3).fit(x0, map=m)
    # the issue's reference (full spectrum): [0.344, 0.031, 0.020]; 1000 steps from this orbit
    # give 0.335 (finite-time estimates of one orbit, so 0.02 is the honest tolerance)
    assert fit.exponents_[0] > 0.3
    assert abs(fit.exponents_[0] - 0.344) < 0.02
    assert np.all(fit.exponents_[1:] > 0.0) and np.all(fit.exponents_[1:] < 0.06)


def test_dead_relu_units_do_not_trap_the_start():
    # three hidden relu units killed by a bias of -100 (and unit 3 dead at this draw): the weights
    # of dead units are exactly neutral coordinates, coordinates 0-3 among them
    m = dn.GradientDescentMap(eta=1.0, activation="relu", hidden=(10,))
    x0 = m.initial_state(1, seed=0)[0].copy()
    m.problem().unpack(x0)[0][1][:3] = -100.0
    neutral = np.flatnonzero(np.all(m.hessian(x0) == 0.0, axis=0))
    assert {0, 1, 2, 3} <= set(neutral.tolist())
    trapped = dn.LyapunovSpectrum(n_steps=300, n_transient=0, n_exponents=2, Q0=np.eye(m.dim, 2))
    np.testing.assert_array_equal(trapped.fit(x0, map=m).exponents_, [0.0, 0.0])
    for seed in (0, 1, 2):
        fit = dn.LyapunovSpectrum(n_steps=300, n_transient=0, n_exponents=2, seed=seed).fit(x0, map=m)
        # the network's weakly unstable directions (top of the dense spectrum over these steps:
        # 0.0089, 0.0074), not the neutral ones
        assert fit.exponents_[0] > 0.006 and fit.exponents_[1] > 0.004


def test_edge_study_tangent_start_is_a_random_perturbation_and_escapes_saturation():
    # the edge study's tangent exponent starts each orbit from its perturbation 0 (a seeded
    # uniform box on the weights), not from a coordinate axis: on the saturated wine network it
    # finds the top exponent, where the axis e_0 (a saturated unit's weight) reports exactly 0
    from dynnet.studies.edge import tangent_log_growth

    m = _issue_wine_map()
    x0 = m.initial_state(1, seed=0)
    v0 = dn.UniformPerturber(eps=1e-14, n=1, on="weights").perturb(x0[0], map=m, seed=1) - x0[0]
    grown = tangent_log_growth(m, x0, v0, 1000)[-1, 0] / 1000
    top = dn.LyapunovSpectrum(n_steps=1000, n_transient=0, n_exponents=1).fit(x0[0], map=m).exponent_
    assert grown > 0.3 and abs(grown - top) < 0.01
    axis = np.zeros_like(x0)
    axis[0, 0] = 1.0
    assert tangent_log_growth(m, x0, axis, 200)[-1, 0] == 0.0


def test_seed_makes_the_start_reproducible_and_changes_it():
    m = dn.HenonMap()
    a = dn.LyapunovSpectrum(n_steps=50, n_transient=0, seed=3).fit([0.1, 0.1], map=m)
    b = dn.LyapunovSpectrum(n_steps=50, n_transient=0, seed=3).fit([0.1, 0.1], map=m)
    c = dn.LyapunovSpectrum(n_steps=50, n_transient=0, seed=4).fit([0.1, 0.1], map=m)
    np.testing.assert_array_equal(a.Q0_, b.Q0_)
    np.testing.assert_array_equal(a.exponents_, b.exponents_)
    assert not np.allclose(a.Q0_, c.Q0_)
    np.testing.assert_allclose(a.Q0_.T @ a.Q0_, np.eye(2), atol=1e-12)


def test_user_start_vectors_are_validated_and_orthonormalised():
    m = _trap_map()
    x0 = np.ones(5)
    Q0 = np.random.default_rng(5).standard_normal((5, 2)) * 7.0
    fit = dn.LyapunovSpectrum(n_steps=20, n_transient=0, n_exponents=2, Q0=Q0).fit(x0, map=m)
    np.testing.assert_allclose(fit.Q0_.T @ fit.Q0_, np.eye(2), atol=1e-12)
    # the same span (orthonormalisation keeps the subspace)
    np.testing.assert_allclose(fit.Q0_ @ (fit.Q0_.T @ Q0), Q0, atol=1e-10)
    with pytest.raises(ValueError, match=r"Q0 must have shape \(dim, n_exponents\) = \(5, 2\)"):
        dn.LyapunovSpectrum(n_exponents=2, Q0=np.ones((5, 3))).fit(x0, map=m)
    rank1 = np.column_stack([Q0[:, 0], 2.0 * Q0[:, 0]])
    with pytest.raises(ValueError, match="full column rank 2"):
        dn.LyapunovSpectrum(n_exponents=2, Q0=rank1).fit(x0, map=m)
    with pytest.raises(ValueError, match="Q0"):
        dn.LyapunovSpectrum(n_exponents=2, Q0=np.full((5, 2), np.nan)).fit(x0, map=m)


def test_local_exponents_of_the_logistic_map_average_to_ln2():
    fit = dn.LyapunovSpectrum(n_steps=20_000, n_transient=100, window=20).fit([0.3], map=dn.LogisticMap())
    loc = fit.local_exponents_
    assert loc.shape == (1000, 1) and fit.window_ == 20
    # windows tile the run, so their mean is the exponent; the exponent is ln 2
    np.testing.assert_allclose(loc.mean(axis=0), fit.exponents_, rtol=1e-12)
    assert abs(loc.mean() - np.log(2.0)) < 5 * fit.stderr_[0] < 0.003   # measured: 7e-6, stderr 4e-4
    # a distribution, not a constant: finite-time exponents fluctuate around ln 2
    assert loc.std() > 0.05


def test_local_exponent_window_default_and_validation():
    m = dn.HenonMap()
    fit = dn.LyapunovSpectrum(n_steps=105, n_transient=0).fit([0.1, 0.1], map=m)
    assert fit.window_ == 10 and fit.local_exponents_.shape == (10, 2)
    short = dn.LyapunovSpectrum(n_steps=4, n_transient=0).fit([0.1, 0.1], map=m)
    assert short.window_ == 4 and short.local_exponents_.shape == (1, 2)
    with pytest.raises(ValueError, match="window=3 must be a multiple of renorm_every=2"):
        dn.LyapunovSpectrum(n_steps=10, renorm_every=2, window=3).fit([0.1, 0.1], map=m)
    with pytest.raises(ValueError, match="window"):
        dn.LyapunovSpectrum(n_steps=10, window=11).fit([0.1, 0.1], map=m)


def test_no_tangent_path_starts_from_coordinate_axes():
    # np.eye in the package is a Jacobian or a full Hessian, never a start of tangent vectors
    import pathlib

    root = pathlib.Path(dn.__file__).parent
    starts = [f"{p.relative_to(root)}:{i + 1}" for p in root.rglob("*.py")
              for i, line in enumerate(p.read_text().splitlines())
              if "eye(" in line and ("Q =" in line or "Q0 =" in line or "V =" in line)]
    assert starts == []


# ---------------------------------------------------------------------------
# item 2: FiniteLyapunov never returns NaN silently
# ---------------------------------------------------------------------------

def _curves(logd):
    """Distances (T, 3, 2) with the log-curve ``logd`` (T,) for every member."""
    return np.exp(logd)[:, None, None] * np.ones((1, 3, 2))


def test_no_window_fits_n_steps_warns_with_the_lengths_and_n_steps():
    # 40 steps whose growth saturates at step 20: no window of length 30-100 fits before saturation
    t = np.arange(41.0)
    d = _curves(np.log(1e-8) + 0.5 * np.minimum(t, 20.0))
    with pytest.warns(dn.NoExponentWarning, match=r"mle_ \(lambda_nMLE\) is NaN: 3 of 3 have no fit "
                                            r"\(no window fits: window lengths 30-100 against n_steps = 40"):
        f = dn.FiniteLyapunov().fit(d)
    assert np.isnan(f.mle_) and np.isnan(f.summary()["mle"]) and f.kept_fraction_ == 0.0
    assert issubclass(dn.NoExponentWarning, RuntimeWarning)


def test_every_fit_below_r2_min_warns():
    d = np.random.default_rng(0).uniform(1e-9, 1e-8, (120, 3, 2))
    with pytest.warns(RuntimeWarning, match=r"3 of 3 fit with R\^2 <= r2_min = 0.9"):
        f = dn.FiniteLyapunov(n_boot=0).fit(d)
    assert np.isnan(f.exponent_)


def test_every_lambda_below_lambda_min_warns():
    d = _curves(np.log(1e-8) + 0.01 * np.arange(150.0))
    want = r"3 of 3 fit with Lambda <= lambda_min = 0.05 \(largest Lambda 0.01\)"
    with pytest.warns(RuntimeWarning, match=want):
        f = dn.FiniteLyapunov().fit(d)
    assert np.isnan(f.mle_)


def test_mixed_reasons_are_counted_in_one_warning():
    t = np.arange(150.0)
    d = np.ones((150, 3, 1))
    d[:, 0, 0] = 1e-8 * np.exp(0.01 * t)
    d[:, 1, 0] = np.random.default_rng(1).uniform(1e-9, 1e-8, 150)
    d[:, 2, 0] = np.nan
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        dn.FiniteLyapunov(n_boot=0).fit(d)
    msgs = [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]
    assert len(msgs) == 1
    assert "1 of 3 initial conditions have no valid member" in msgs[0]
    assert "1 of 3 fit with R^2" in msgs[0] and "1 of 3 fit with Lambda" in msgs[0]


def test_a_kept_fit_does_not_warn():
    d = _curves(np.log(1e-8) + 0.2 * np.arange(150.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        f = dn.FiniteLyapunov().fit(d)
    assert f.mle_ == pytest.approx(0.2, rel=1e-9)


# ---------------------------------------------------------------------------
# item 6: the quick presets do not warn about their own settings
# ---------------------------------------------------------------------------

def test_intermittency_quick_preset_does_not_warn_about_its_kantz_radius():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s = dn.IntermittencyStudy.quick(compare_eta=()).run(progress=False)
    kantz = next(e for e in s.estimators if isinstance(e, dn.Kantz))
    assert kantz.radius_units == "std"
    # most reference points of the Figs. 10-11 stretch have a neighbour (the paper's absolute
    # radius gave 86 of 1000)
    assert int(s.summary()["kantz_ref_n_tested"]) > 500


def test_kantz_radius_in_standard_deviations_is_scale_free():
    x = np.empty(3000)
    x[0] = 0.3
    for t in range(1, x.size):
        x[t] = 4.0 * x[t - 1] * (1.0 - x[t - 1])
    a = dn.Kantz(radius=1e-2, radius_units="std").fit(x)
    b = dn.Kantz(radius=1e-2, radius_units="std").fit(1e-6 * x)
    assert a.radius_ == pytest.approx(1e-2 * np.std(x), rel=1e-12)
    assert b.radius_ == pytest.approx(1e-8 * np.std(x), rel=1e-12)
    np.testing.assert_array_equal(a.n_neighbors_, b.n_neighbors_)
    assert a.exponent_ == pytest.approx(b.exponent_, abs=1e-9)
    assert dn.Kantz(radius=1e-2).fit(x).radius_ == 1e-2
    with pytest.raises(ValueError, match="radius_units"):
        dn.Kantz(radius_units="relative").fit(x)


# ---------------------------------------------------------------------------
# item 3: unscaled features and saturated units do not pass silently
# ---------------------------------------------------------------------------

def _build(**kw):
    m = dn.GradientDescentMap(**kw)
    assert m.dim > 0  # builds the problem (the data preparation)
    return m


def test_the_paper_iris_default_does_not_warn():
    # unscaled Iris: feature ranges 2.4 to 5.9 (factor 2.5), a few saturated units
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        m = _build()
        _build(scale=True)
        _build(dataset="wine", scale=True)
        _build(dataset="breast_cancer", scale=True, activation="tanh", hidden=(10, 10))
    span = np.ptp(m.data("train")[0], axis=0)
    assert span.max() / span.min() < 3.0


def test_unscaled_wine_warns_naming_the_ranges_and_scale_true():
    with pytest.warns(RuntimeWarning, match=r"dataset='wine'\): the features' ranges differ by a factor "
                                            r"[0-9.e+]+ .*and scale=False.*scale=True") as rec:
        _build(dataset="wine", hidden=(10, 10), activation="tanh", eta=2.0)
    assert len([r for r in rec if "ranges differ" in str(r.message)]) == 1   # once
    assert rec[0].filename == __file__     # points at the user's line, not inside dynnet


def test_saturated_units_at_the_initial_state_warn_whatever_the_scaling():
    # standardised Iris with weights of standard deviation 100: |z| ~ 200, sigmoid flat
    with pytest.warns(RuntimeWarning, match=r"9[0-9]% of the hidden units are saturated at the initial "
                                            r"state") as rec:
        _build(init_std=100.0, scale=True)
    assert not any("ranges differ" in str(r.message) for r in rec)
    with pytest.warns(RuntimeWarning, match="hidden units are saturated"):
        _build(dataset="digits", activation="tanh")
