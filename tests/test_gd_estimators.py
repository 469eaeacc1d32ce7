"""Sharpness, WeightImportance and WeightDrift against known answers."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn


class QuadraticGD(dn.Map):
    """Gradient descent on L(x) = x^T A x / 2: x -> (I - eta A) x. Hessian A."""

    def __init__(self, A=((1.0, 0.0), (0.0, 2.0)), eta=0.1):
        self.A = A
        self.eta = eta

    @property
    def dim(self):
        return np.asarray(self.A).shape[0]

    def step(self, states):
        return states - self.eta * states @ np.asarray(self.A).T

    def hessian(self, state):
        return np.array(self.A, dtype=float)


def random_spd(rng, n, lo=0.1, hi=5.0):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = rng.uniform(lo, hi, n)
    return Q @ np.diag(lam) @ Q.T, lam.max()


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 8),
       factor=st.one_of(st.floats(0.5, 0.98), st.floats(1.02, 1.5)))
def test_sharpness_predicts_divergence_on_a_quadratic(seed, n, factor):
    rng = np.random.default_rng(seed)
    A, lmax = random_spd(rng, n)
    eta = factor * 2.0 / lmax
    m = QuadraticGD(A=A, eta=eta)
    x0 = rng.standard_normal(n)
    sh = dn.Sharpness().fit(x0, map=m)
    assert sh.sharpness_[0] == pytest.approx(lmax, rel=1e-12)
    assert sh.threshold_ == pytest.approx(2.0 / eta)
    assert sh.ratio_[0] == pytest.approx(factor, rel=1e-12)
    # GD on a quadratic diverges exactly when eta > 2 / lambda_max
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dn.DivergenceWarning)
        xn = m.iterate(x0, 2000)
    with np.errstate(over="ignore", invalid="ignore"):
        grew = not np.all(np.isfinite(xn)) or np.linalg.norm(xn) > 1e3 * np.linalg.norm(x0)
    assert grew == bool(sh.above_[0])
    if not sh.above_[0]:
        assert np.linalg.norm(xn) <= np.linalg.norm(x0) * (1 + 1e-12)


def test_sharpness_lanczos_and_exact_agree_on_quadratic():
    rng = np.random.default_rng(1)
    A, lmax = random_spd(rng, 30)
    m = QuadraticGD(A=A, eta=0.1)
    x = rng.standard_normal((3, 30))
    a = dn.Sharpness(method="exact").fit(x, map=m)
    b = dn.Sharpness(method="lanczos").fit(x, map=m)
    np.testing.assert_allclose(a.sharpness_, lmax, rtol=1e-12)
    np.testing.assert_allclose(b.sharpness_, lmax, rtol=1e-9)
    assert a.method_ == "exact" and b.method_ == "lanczos"
    assert dn.Sharpness(exact_max_dim=10).fit(x, map=m).method_ == "lanczos"


def test_sharpness_gd_map_along_a_trajectory():
    m = dn.GradientDescentMap(eta=1.0)
    traj = m.trajectory(m.initial_state(1, seed=0), 30, every=5)[:, 0]
    a = dn.Sharpness(method="exact").fit(traj, map=m)
    b = dn.Sharpness(method="lanczos").fit(traj, map=m)
    ref = np.array([np.linalg.eigvalsh(m.hessian(x))[-1] for x in traj])
    np.testing.assert_allclose(a.sharpness_, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.sharpness_, ref, rtol=1e-8)
    assert a.sharpness_.shape == (7,) and a.threshold_ == 2.0
    np.testing.assert_array_equal(a.above_, ref > 2.0)
    # a diverged state is NaN, not an error
    bad = traj.copy()
    bad[2] = np.nan
    c = dn.Sharpness().fit(bad, map=m)
    assert np.isnan(c.sharpness_[2]) and not c.above_[2]
    np.testing.assert_allclose(np.delete(c.sharpness_, 2), np.delete(ref, 2), rtol=1e-12)
    s = a.summary()
    assert s["threshold"] == 2.0 and 0.0 <= s["fraction_above"] <= 1.0


def test_sharpness_needs_hessian_and_eta():
    with pytest.raises(TypeError, match="hessian"):
        dn.Sharpness().fit([0.1, 0.1], map=dn.HenonMap())

    class NoEta(QuadraticGD):
        def __init__(self, A=((1.0, 0.0), (0.0, 2.0))):
            self.A = A

    with pytest.raises(ValueError, match="eta"):
        dn.Sharpness().fit([0.1, 0.1], map=NoEta())
    assert dn.Sharpness(eta=0.5).fit([0.1, 0.1], map=NoEta()).threshold_ == 4.0
    with pytest.raises(ValueError, match="method"):
        dn.Sharpness(method="power").fit([0.1, 0.1], map=QuadraticGD())


# ----------------------------------------------------------------------------
# WeightImportance
# ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gd_state():
    m = dn.GradientDescentMap(eta=1.0)
    return m, m.iterate(m.initial_state(1, seed=2)[0], 100)


def test_weight_importance_equals_zeroing_one_by_one(gd_state):
    m, W = gd_state
    wi = dn.WeightImportance().fit(W, map=m)
    base = m.loss(W)
    assert wi.baseline_ == base
    for j in [0, 17, 39, 50, 79]:  # weights in W1 and W2
        Wz = W.copy()
        Wz[j] = 0.0
        assert wi.values_[j] == pytest.approx(m.loss(Wz) / base, rel=1e-13)
        assert wi.losses_[j] == pytest.approx(m.loss(Wz), rel=1e-13)
    assert np.isnan(wi.values_[m.mask("biases")]).all()
    assert set(wi.importance_) == {"W1", "W2"}
    assert wi.importance_["W1"].shape == (4, 10) and wi.importance_["W2"].shape == (10, 3)
    # [i, j] is the connection from neuron i to neuron j, as in the graph view
    G = m.to_graph(W)
    for (layer, i, j) in [(1, 2, 7), (2, 9, 1)]:
        Wz = m.from_graph(G)
        G2 = m.to_graph(Wz)
        G2.edges[(layer - 1, i), (layer, j)]["weight"] = 0.0
        ratio = m.loss(m.from_graph(G2)) / base
        assert wi.importance_[f"W{layer}"][i, j] == pytest.approx(ratio, rel=1e-13)
    raw = dn.WeightImportance(relative=False).fit(W, map=m)
    np.testing.assert_allclose(raw.importance_["W2"], wi.importance_["W2"] * base, rtol=1e-14)


def test_weight_importance_known_answer_dead_neuron(gd_state):
    m, W = gd_state
    W = W.copy()
    groups = m.coordinate_groups()
    W2 = W[groups["W2"]].reshape(10, 3)
    W2[4] = 0.0  # hidden neuron 4 sends nothing: its incoming weights cannot matter
    W[groups["W2"]] = W2.ravel()
    W[groups["W1"][0]] = 0.0  # an already-zero weight
    wi = dn.WeightImportance().fit(W, map=m)
    np.testing.assert_array_equal(wi.importance_["W1"][:, 4], 1.0)
    assert wi.importance_["W1"][0, 0] == 1.0
    np.testing.assert_array_equal(wi.importance_["W2"][4], 1.0)
    assert wi.summary()["max"] > 1.0


def test_weight_importance_other_groups(gd_state):
    m, W = gd_state
    wi = dn.WeightImportance(on="W2").fit(W, map=m)
    assert set(wi.importance_) == {"W2"}
    assert np.isnan(wi.values_[m.mask("W1")]).all()
    with pytest.raises(ValueError, match="on"):
        dn.WeightImportance(on="W9").fit(W, map=m)


# ----------------------------------------------------------------------------
# WeightDrift
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_weight_drift_monotone_motion_has_slope_one(scale):
    # |w0| = scale: Delta = |v| T / scale, D = |v| T, so log10 Delta = log10 D
    # + log10(1 / scale): slope 1, intercept 0 (scale 1) or log10(0.5) = -0.30103
    # (scale 2; ln 0.5 with a natural log, 0 without the 1/|w0| normalisation)
    rng = np.random.default_rng(0)
    n, T = 50, 40
    w0 = scale * rng.choice([-1.0, 1.0], n)
    v = np.exp(rng.uniform(-6, 0, n)) * rng.choice([-1.0, 1.0], n)
    traj = w0 + v * np.arange(T + 1)[:, None]
    wd = dn.WeightDrift(on=None).fit(traj)
    np.testing.assert_allclose(wd.displacement_, np.abs(v) * T / scale, rtol=1e-10)
    np.testing.assert_allclose(wd.travelled_, np.abs(v) * T, rtol=1e-10)
    assert wd.slope_ == pytest.approx(1.0, abs=1e-10)
    assert wd.intercept_ == pytest.approx(np.log10(1.0 / scale), abs=1e-9)
    assert wd.r2_ == pytest.approx(1.0, abs=1e-10) and wd.r2_ <= 1.0
    assert wd.n_fit_ == n


@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 30), n=st.integers(2, 10))
def test_weight_drift_straightness_is_one_exactly_for_monotone_paths(seed, T, n):
    """Integer steps (exact sums): r_w = |sum of steps| / sum |steps| equals 1 exactly iff no step
    turns back, and is NaN (counted as frozen) iff every step is 0."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(-3, 4, size=(T, n)).astype(np.float64)
    steps[:, 0] = np.abs(steps[:, 0])                          # one monotone weight at least
    traj = 10.0 + np.concatenate([np.zeros((1, n)), np.cumsum(steps, axis=0)])
    wd = dn.WeightDrift(on=None).fit(traj)
    travel = np.abs(steps).sum(axis=0)
    moved = travel > 0
    monotone = np.all(steps >= 0, axis=0) | np.all(steps <= 0, axis=0)
    np.testing.assert_array_equal(np.isnan(wd.straightness_), ~moved)
    np.testing.assert_array_equal(wd.straightness_[moved] == 1.0, monotone[moved])
    np.testing.assert_array_equal(wd.straightness_[moved], np.abs(steps.sum(axis=0))[moved] / travel[moved])
    assert wd.n_frozen_ == int((~moved).sum())
    summ = wd.summary()
    assert summ["n_moved"] + summ["n_frozen"] == n
    if moved.any():
        assert summ["fraction_straight"] == pytest.approx(np.mean(monotone[moved]), abs=1e-15)
    else:
        assert np.isnan(summ["fraction_straight"]) and np.isnan(summ["straightness_median"])


def test_weight_drift_straightness_known_answers():
    """Three weights: monotone (r = 1), there and back (r = 0), frozen (no r; counted)."""
    t = np.arange(9.0)
    traj = np.stack([1.0 + 0.25 * t,                      # one direction: r = 1
                     -2.0 + 0.5 * np.minimum(t, 8 - t),   # out 2 and back: w(T) = w(0), D = 4
                     np.full(9, 3.0)], axis=1)            # never moves: D = 0
    wd = dn.WeightDrift(on=None).fit(traj)
    np.testing.assert_array_equal(wd.travelled_, [2.0, 4.0, 0.0])
    assert wd.straightness_[0] == 1.0 and wd.straightness_[1] == 0.0 and np.isnan(wd.straightness_[2])
    assert (wd.n_frozen_, wd.n_returned_, wd.n_weights_, wd.n_fit_) == (1, 1, 3, 1)
    s = wd.summary()
    assert s["straightness_median"] == 0.5            # median of {1, 0}
    assert s["fraction_straight"] == 0.5
    assert (s["n_moved"], s["n_frozen"], s["n_returned"]) == (2, 1, 1)
    # an ensemble (T+1, E, n) pools the counts over members
    both = dn.WeightDrift(on=None).fit(np.stack([traj, traj[:, [0, 0, 0]]], axis=1))
    assert both.straightness_.shape == (2, 3)
    assert (both.n_frozen_, both.n_weights_) == (1, 6)
    assert both.summary()["fraction_straight"] == 0.8   # 4 of the 5 that moved
    # a threshold above r = 0.9 but below 1 only counts the monotone weights
    bent = np.stack([1.0 + t, 1.0 + np.minimum(t, 7) - 0.5 * (t == 8)], axis=1)  # 7 up, 0.5 back
    wb = dn.WeightDrift(on=None, straight_min=0.8).fit(bent)
    assert wb.straightness_[1] == pytest.approx(6.5 / 7.5, rel=1e-15)
    assert wb.summary()["fraction_straight"] == 1.0
    assert dn.WeightDrift(on=None).fit(bent).summary()["fraction_straight"] == 0.5
    with pytest.raises(ValueError, match="straight_min"):
        dn.WeightDrift(on=None, straight_min=1.0).fit(bent)


def test_weight_drift_oscillation_travels_without_moving():
    T = 20
    traj = 1.0 + 0.1 * (np.arange(T + 1) % 2)[:, None] * np.ones((1, 3))
    wd = dn.WeightDrift(on=None).fit(traj)
    np.testing.assert_allclose(wd.displacement_, 0.0)
    np.testing.assert_allclose(wd.travelled_, 0.1 * T)
    assert wd.n_fit_ == 0 and np.isnan(wd.slope_)


def test_weight_drift_gd_trajectory_uses_weights(gd_state):
    m, _ = gd_state
    traj = m.trajectory(m.initial_state(2, seed=0), 50)
    one = dn.WeightDrift().fit(traj[:, 0], map=m)
    assert one.displacement_.shape == (70,)
    np.testing.assert_array_equal(one.index_, np.flatnonzero(m.mask("weights")))
    both = dn.WeightDrift().fit(traj, map=m)
    assert both.displacement_.shape == (2, 70)
    np.testing.assert_array_equal(both.displacement_[0], one.displacement_)
    assert both.n_fit_ == 140 and np.isfinite(both.slope_)
    allc = dn.WeightDrift(on=None).fit(traj[:, 0], map=m)
    assert allc.displacement_.shape == (83,)
    assert np.isinf(allc.displacement_[m.mask("biases")]).all()  # biases start at 0
    assert allc.n_fit_ == 70


def test_weight_drift_flat_displacements_have_r2_zero():
    """Equal displacements over different travel: a flat log-log cloud has R^2 = 0 (one rule
    for every fit in dynnet) and slope 0."""
    h = np.array([0.25, 0.5, 1.0])                      # exact in binary
    traj = np.stack([np.ones(3), np.full(3, 1.5), 1.5 - h, np.full(3, 1.5)])
    wd = dn.WeightDrift(on=None).fit(traj)
    np.testing.assert_array_equal(wd.displacement_, 0.5)
    np.testing.assert_array_equal(wd.travelled_, 0.5 + 2 * h)
    assert wd.r2_ == 0.0 and wd.slope_ == 0.0 and wd.n_fit_ == 3
    assert wd.intercept_ == pytest.approx(np.log10(0.5), abs=1e-15)


# ----------------------------------------------------------------------------
# the fit convention
# ----------------------------------------------------------------------------

def test_gd_estimators_need_their_map(gd_state):
    m, W = gd_state
    with pytest.raises(TypeError, match=r"Sharpness.fit needs map=.*Hessian"):
        dn.Sharpness().fit(W)
    with pytest.raises(TypeError, match=r"WeightImportance.fit needs map=.*on='weights'"):
        dn.WeightImportance().fit(W)
    traj = m.trajectory(W, 5)
    # on= names a group of the map: without a map it must not be silently ignored
    with pytest.raises(TypeError, match=r"WeightDrift.fit needs map=.*on='weights'"):
        dn.WeightDrift().fit(traj)
    assert dn.WeightDrift(on=None).fit(traj).displacement_.shape == (83,)
    for est, data in [(dn.Sharpness(), W), (dn.WeightImportance(), W), (dn.WeightDrift(), traj)]:
        with pytest.raises(TypeError, match=f"{type(est).__name__}.fit takes no steps"):
            est.fit(data, map=m, steps=np.arange(3.0))
    with pytest.raises(ValueError, match="map.dim=83"):
        dn.WeightDrift(on=None).fit(traj[:, :10], map=m)


def test_conformance_check_catches_an_ignored_on():
    """check_estimator_without_map fails an estimator that ignores on= without a map, and
    is skipped (not passed) for one whose data have no map."""
    import unittest

    from dynnet.testing.checks import check_estimator_without_map

    class Sloppy(dn.Estimator):
        def __init__(self, on="weights"):
            self.on = on

        def fit(self, data, *, map=None, steps=None):
            idx = map.coordinate_groups()[self.on] if map is not None else slice(None)
            self.total_ = float(np.asarray(data)[idx].sum())
            return self

        @staticmethod
        def _check_data():
            m = dn.GradientDescentMap()
            return {"data": m.initial_state(1, seed=0)[0], "map": m}

    with pytest.raises(AssertionError, match=r"Sloppy\(on='weights'\).fit without a map succeeded"):
        check_estimator_without_map(Sloppy())
    check_estimator_without_map(Sloppy(on=None))
    check_estimator_without_map(dn.WeightDrift())
    with pytest.raises(unittest.SkipTest, match="no map"):
        check_estimator_without_map(dn.Kantz())
    skipped = dn.testing.check_estimator(dn.Kantz(n_ref=50))
    assert set(skipped) == {"check_estimator_without_map"}
