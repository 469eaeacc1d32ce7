"""PostLearningStudy and OrbitalStabilityStudy: the numbers of issue 11, items 8 and 9.

Each number is checked against an independent computation (NumPy on the map's own
gradient and Hessian), not against the study's own code path.
"""

import numpy as np
import pytest

import dynnet as dn
from dynnet.studies.post_learning import train_to_tolerance

# ----------------------------------------------------------------------------
# PostLearningStudy
# ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def post():
    return dn.PostLearningStudy.quick().run()


def _hessian_eigs(m, x):
    return np.linalg.eigvalsh(m.hessian(x))


def test_post_learning_gradient_norm_and_negative_curvature(post):
    r, s = post.result_, post.summary()
    m = post.parts()["map"]
    x0, xs = r["start_state"].values, r["perturbed_state"].values
    # exactly n_before steps when grad_tol is None, as before
    np.testing.assert_array_equal(r["steps_before"].values, 400)
    np.testing.assert_array_equal(xs, m.iterate(x0, 400))
    gn = np.linalg.norm(m.gradient(xs), axis=1)
    np.testing.assert_allclose(r["grad_norm"].values, gn, rtol=1e-12)
    np.testing.assert_allclose(r["grad_norm_initial"].values, np.linalg.norm(m.gradient(x0), axis=1),
                               rtol=1e-12)
    # after 400 steps at eta = 0.01 the state is far from a minimum
    assert np.all(gn > 0.05)
    assert float(s["grad_norm_mean"]) == pytest.approx(gn.mean(), rel=1e-12)
    assert float(s["grad_norm_max"]) == pytest.approx(gn.max(), rel=1e-12)
    neg = np.array([(_hessian_eigs(m, x) < -1e-3).sum() for x in xs])
    neg0 = np.array([(_hessian_eigs(m, x) < -1e-3).sum() for x in x0])
    np.testing.assert_array_equal(r["n_negative_curvature"].values, neg)
    np.testing.assert_array_equal(r["n_negative_curvature_initial"].values, neg0)
    assert np.all(neg > 0)  # saddle-like: negative curvature, not a minimum
    assert float(s["n_negative_curvature_mean"]) == pytest.approx(neg.mean(), abs=1e-12)


def test_post_learning_counts_at_one_at_initialisation_and_at_the_end(post):
    r, s = post.result_, post.summary()
    m = post.parts()["map"]
    tol = r["tol"].values
    pairs = (("n_unit", r["perturbed_state"].values), ("n_unit_initial", r["start_state"].values))
    for name, states in pairs:
        mu = np.array([1.0 - 0.01 * _hessian_eigs(m, x) for x in states])
        want = (np.abs(mu[:, :, None] - 1.0) <= tol).sum(axis=1)
        np.testing.assert_array_equal(r[name].values, want)
    np.testing.assert_allclose(s["eigenvalues_at_1"].values, r["n_unit"].values.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(s["eigenvalues_at_1_initial"].values,
                               r["n_unit_initial"].values.mean(axis=0), rtol=1e-15)
    assert s["eigenvalues_at_1_initial"].dims == ("tol",)
    # the counts at random initialisation are already high: measured 33.3 / 60.0 / 69.7 (quick)
    # against 34.7 / 60.3 / 74.0 after 400 steps; they are not a property of minima
    assert np.all(s["eigenvalues_at_1_initial"].values > 0.8 * s["eigenvalues_at_1"].values)
    np.testing.assert_allclose(np.sort(r["hessian_eigenvalues_initial"].values[1]),
                               _hessian_eigs(m, r["start_state"].values[1]), atol=1e-9)


def test_post_learning_d_over_d_0_at_fixed_times(post):
    r, s = post.result_, post.summary()
    d = r["distance"].values  # (eps, step, init, pert), step counted from the perturbation
    assert list(s["t_after"].values) == [1, 10, 100]  # n_after = 200: t = 1000 is not in the run
    for k, t in enumerate((1, 10, 100)):
        want = d[:, t].mean(axis=(1, 2)) / d[:, 0].mean(axis=(1, 2))
        np.testing.assert_allclose(s["d_over_d_0"].values[:, k], want, rtol=1e-13)
    # measured: a slow decay, no sharp drop (0.999 or more after one step)
    assert np.all(s["d_over_d_0"].values[:, 0] > 0.99)


def test_train_to_tolerance_stops_each_network_at_its_first_crossing():
    m = dn.GradientDescentMap(eta=0.01)
    x0 = m.initial_state(4, seed=3)
    tol, cap = 0.35, 600
    x, steps = train_to_tolerance(m, x0, tol, cap)
    gn = np.linalg.norm(m.gradient(x), axis=1)
    assert np.all((gn < tol) | (steps == cap))
    assert np.any(steps < cap) and np.any(steps > 0)
    for i in range(4):
        k = int(steps[i])
        np.testing.assert_allclose(x[i], m.iterate(x0[i:i + 1], k)[0], rtol=1e-12, atol=1e-14)
        if 0 < k < cap:
            # one step earlier the network was still above the tolerance: it did not stop late
            prev = m.iterate(x0[i:i + 1], k - 1)
            assert np.linalg.norm(m.gradient(prev)) >= tol
    # grad_tol None: exactly cap steps, bitwise the iterate path
    x2, s2 = train_to_tolerance(m, x0, None, 50)
    np.testing.assert_array_equal(x2, m.iterate(x0, 50))
    np.testing.assert_array_equal(s2, 50)


def test_post_learning_grad_tol_is_reached_or_the_cap_reported():
    s = dn.PostLearningStudy.quick(grad_tol=0.3, n_before=2000, eps=(1e-8,), n_after=20).run()
    r = s.result_
    steps, gn = r["steps_before"].values, r["grad_norm"].values
    # measured with these settings: 356, 187 and 76 steps, every norm just below 0.3
    assert np.all(gn < 0.3) and np.all(steps < 2000)
    assert len(set(steps.tolist())) > 1  # each network stops on its own
    m = s.parts()["map"]
    for i in range(r.sizes["init"]):
        x = m.iterate(r["start_state"].values[i:i + 1], int(steps[i]))[0]
        np.testing.assert_allclose(r["perturbed_state"].values[i], x, rtol=1e-12, atol=1e-14)
    out = s.summary()
    assert float(out["steps_before_max"]) == steps.max()
    assert float(out["steps_before_mean"]) == pytest.approx(steps.mean(), rel=1e-15)
    assert float(out["grad_norm_max"]) < 0.3


@pytest.mark.parametrize("grad_tol", [0.0, -1.0, "1e-3", np.inf])
def test_post_learning_grad_tol_is_validated(grad_tol):
    with pytest.raises((ValueError, TypeError), match="grad_tol"):
        dn.PostLearningStudy.quick(grad_tol=grad_tol).run(preflight=False)


def test_post_learning_grad_tol_needs_a_gradient():
    with pytest.raises(TypeError, match="grad_tol=0.1 needs a map with gradient"):
        dn.PostLearningStudy(map=dn.LogisticMap(), perturber=dn.UniformPerturber(n=2, on="all"),
                             grad_tol=0.1, n_init=2, n_before=10, n_after=5).run()


# ----------------------------------------------------------------------------
# OrbitalStabilityStudy: straightness of each weight's path
# ----------------------------------------------------------------------------

def test_orbital_straightness_matches_the_orbits():
    s = dn.OrbitalStabilityStudy.quick(n_steps=120, eps=(1e-8,)).run()
    r, out = s.result_, s.summary()
    m = s.parts()["map"]
    traj = m.trajectory(r["initial_state"].values, 120)  # (T+1, init, dim)
    w = m.mask("weights")
    net = np.abs(traj[-1] - traj[0])
    travel = np.abs(np.diff(traj, axis=0)).sum(axis=0)
    want = np.where(w[None, :], net / np.where(travel > 0, travel, np.nan), np.nan)
    np.testing.assert_allclose(r["straightness"].values, want, rtol=1e-12, equal_nan=True)
    assert r["straightness"].dims == ("init", "coord")
    np.testing.assert_array_equal(r["n_moved"].values + r["n_frozen"].values, w.sum())
    ww = want[:, w]
    np.testing.assert_array_equal(r["n_straight"].values, (ww > 0.99).sum(axis=1))
    assert float(out["fraction_straight"]) == pytest.approx(np.mean(ww > 0.99), rel=1e-15)
    assert float(out["straightness_median"]) == pytest.approx(np.median(ww), rel=1e-15)
    assert int(out["n_frozen"]) == 0 and int(out["n_moved"]) == ww.size
    # many weights turn back at least once even at eta = 0.01: the slope of the log-log fit
    # (about 1) does not say that each weight moves in one direction
    assert 0.2 < float(out["fraction_straight"]) < 0.95


def test_orbital_frozen_weights_are_counted():
    """A feature that is 0 for every sample: the 10 weights leaving it get no gradient."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[:, 2] = 0.0
    m = dn.GradientDescentMap(eta=0.01, dataset=(X, y))
    s = dn.OrbitalStabilityStudy.quick(map=m, n_steps=60, eps=(1e-8,)).run()
    r = s.result_
    np.testing.assert_array_equal(r["n_frozen"].values, 10)
    np.testing.assert_array_equal(r["n_moved"].values, 60)
    assert int(s.summary()["n_frozen"]) == 10 * r.sizes["init"]
    frozen = np.flatnonzero(np.isnan(r["straightness"].values[0]) & m.mask("weights"))
    np.testing.assert_array_equal(r["travelled"].values[0, frozen], 0.0)
    assert frozen.size == 10
