"""Covariant Lyapunov vectors (Ginelli's method): known answers and the conformance suite."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import dynnet as dn
from dynnet.testing import parametrize_with_checks

HENON = (0.41922, -1.62319)   # Henon (1.4, 0.3): Sprott, Chaos and Time-Series Analysis (2003)


def _same_direction(v, e):
    """Distance between unit vectors v and e up to sign."""
    e = e / np.linalg.norm(e)
    return min(np.linalg.norm(v - e), np.linalg.norm(v + e))


def _non_normal(mu, seed):
    """A matrix S diag(mu) S^-1 with a seeded random, far from orthogonal S (unit columns)."""
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((len(mu), len(mu))) + 1.5 * np.eye(len(mu))
    S /= np.linalg.norm(S, axis=0)
    return S @ np.diag(mu) @ np.linalg.inv(S), S


class Alternating(dn.Map):
    """x -> A x at even steps and B x at odd ones; the third coordinate is the phase (0 or 1)."""

    dim = 3

    def __init__(self, A=((2.0, 1.5), (0.0, 1.2)), B=((1.3, -0.7), (0.4, 1.6))):
        self.A = A
        self.B = B

    def step(self, states):
        A, B = np.asarray(self.A), np.asarray(self.B)
        x, s = states[:, :2], states[:, 2]
        out = np.empty_like(states)
        out[:, :2] = np.where((s < 0.5)[:, None], x @ A.T, x @ B.T)
        out[:, 2] = 1.0 - s
        return out

    def jacobian(self, state):
        J = np.zeros((3, 3))
        J[:2, :2] = np.asarray(self.A if state[2] < 0.5 else self.B)
        J[2, 2] = -1.0
        return J


def test_linear_non_normal_map_clvs_are_its_eigenvectors():
    mu = np.array([3.0, 1.5, 0.4])
    A, S = _non_normal(mu, seed=3)
    clv = dn.CovariantLyapunovVectors(n_steps=20, n_transient=100, n_backward=100, seed=1)
    clv.fit(np.array([0.3, -0.2, 0.5]), map=dn.LinearMap(A))
    np.testing.assert_allclose(clv.exponents_, np.log(mu), atol=1e-12)
    for t in range(clv.vectors_.shape[0]):
        for j in range(3):
            assert _same_direction(clv.vectors_[t, j], S[:, j]) < 1e-8
    np.testing.assert_allclose(clv.local_exponents_, np.broadcast_to(np.log(mu), (20, 3)), atol=1e-8)
    # the angles are those between the eigenvectors
    cos = np.abs(S.T @ S)
    want = np.arccos([cos[0, 1], cos[0, 2], cos[1, 2]])
    np.testing.assert_allclose(clv.angles_, np.broadcast_to(want, (20, 3)), atol=1e-8)
    np.testing.assert_array_equal(clv.pairs_, [[0, 1], [0, 2], [1, 2]])


@settings(max_examples=20)
@given(dim=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_clvs_of_random_non_normal_linear_maps_are_their_eigenvectors(dim, seed):
    rng = np.random.default_rng(seed)
    # moduli at least 1.3 apart (ratio), random signs: distinct exponents, so the CLVs are defined
    gaps = np.cumsum(rng.uniform(np.log(1.3), 1.0, size=dim))
    mu = np.exp(0.4 - (gaps - gaps[0]))               # decreasing, the largest e^0.4: no overflow
    mu *= rng.choice([-1.0, 1.0], size=dim)
    S = rng.standard_normal((dim, dim))
    assume(np.linalg.cond(S) < 30)
    S /= np.linalg.norm(S, axis=0)
    A = S @ np.diag(mu) @ np.linalg.inv(S)
    # ratios >= 1.3 over 120 steps: the forward and backward passes converge to 1.3^-120 = 2e-14
    clv = dn.CovariantLyapunovVectors(n_steps=5, n_transient=120, n_backward=120, seed=seed)
    clv.fit(rng.standard_normal(dim), map=dn.LinearMap(A))
    np.testing.assert_allclose(clv.exponents_, np.log(np.abs(mu)), atol=1e-10)
    for j in range(dim):
        assert _same_direction(clv.vectors_[2, j], S[:, j]) < 1e-8


def test_vectors_are_covariant_on_the_henon_map():
    """J(x_t) v_t = +- exp(local_t) v_{t+1}: the tangent dynamics carries each vector to the next."""
    m = dn.HenonMap()
    clv = dn.CovariantLyapunovVectors(n_steps=300, n_transient=200, n_backward=200).fit([0.1, 0.1], map=m)
    x = m.trajectory(np.array([0.1, 0.1]), n_steps=200 + 299)[200:]
    V, g = clv.vectors_, np.exp(clv.local_exponents_)
    JV = np.einsum("tab,tjb->tja", np.stack([m.jacobian(s) for s in x[:-1]]), V[:-1])
    sign = np.sign(np.einsum("tja,tja->tj", JV, V[1:]))
    np.testing.assert_allclose(JV, (sign * g[:-1])[..., None] * V[1:], atol=1e-12)


def test_gram_schmidt_vectors_are_not_the_clvs():
    """Skipping the backward pass would return the Gram-Schmidt vectors Q_t: far from the oracle."""
    mu = np.array([3.0, 1.5, 0.4])
    A, S = _non_normal(mu, seed=3)
    clv = dn.CovariantLyapunovVectors(n_steps=20, n_transient=100, n_backward=100, seed=1)
    clv.fit(np.array([0.3, -0.2, 0.5]), map=dn.LinearMap(A))
    Q = clv.Q0_
    for _ in range(100 + 5):   # the forward vectors at window step 5
        Q, _ = np.linalg.qr(A @ Q)
    assert _same_direction(Q[:, 0], S[:, 0]) < 1e-8        # the first one is the same
    for j in (1, 2):
        assert _same_direction(Q[:, j], S[:, j]) > 0.1
        assert _same_direction(clv.vectors_[5, j], S[:, j]) < 1e-8


def test_periodic_product_of_two_matrices():
    m = Alternating()
    A, B = np.asarray(m.A), np.asarray(m.B)
    M = B @ A                                             # two steps from phase 0
    mu, E = np.linalg.eig(M)
    order = np.argsort(-np.abs(mu))
    mu, E = np.abs(mu[order]), E[:, order].real
    assert np.all(mu > 1.0)                               # both above the phase direction's 0
    clv = dn.CovariantLyapunovVectors(n_vectors=2, n_steps=40, n_transient=200, n_backward=200, seed=2)
    clv.fit(np.array([0.4, -0.7, 0.0]), map=m)
    np.testing.assert_allclose(clv.exponents_, 0.5 * np.log(mu), atol=1e-12)
    V = clv.vectors_
    assert np.max(np.abs(V[..., 2])) < 1e-12             # nothing along the phase
    for t in range(0, 40, 2):                             # even steps: phase 0
        for j in range(2):
            assert _same_direction(V[t, j, :2], E[:, j]) < 1e-8
    # odd steps: A carries each covariant direction to the next one
    for t in range(0, 40, 2):
        for j in range(2):
            assert _same_direction(V[t + 1, j, :2], A @ V[t, j, :2]) < 1e-8


def test_henon_exponents_sum_and_near_tangencies():
    clv = dn.CovariantLyapunovVectors(n_steps=5000, n_transient=500, n_backward=500,
                                      keep="statistics").fit([0.1, 0.1], map=dn.HenonMap())
    # 0.02: about 4 block standard errors of a 5000-step mean (0.0055, measured from 20 blocks)
    np.testing.assert_allclose(clv.exponents_, HENON, atol=0.02)
    # the sum of the exponents is ln|det J| = ln b at every step, to rounding
    assert abs(clv.exponents_.sum() - np.log(0.3)) < 1e-12
    # the CLVs are covariant, not orthogonal: the area they span grows by |det J| = b times the
    # change of sin(angle): g1 g2 sin(theta_{t+1}) = b sin(theta_t), to rounding
    ln_sin = np.log(np.sin(clv.angles_[:, 0]))
    np.testing.assert_allclose(clv.local_exponents_.sum(axis=1)[:-1],
                               np.log(0.3) + ln_sin[:-1] - ln_sin[1:], atol=1e-8)
    # the mean of the CLVs' own growth rates tends to the exponents (boundary terms ~ 1/T)
    np.testing.assert_allclose(clv.local_exponents_.mean(axis=0), clv.exponents_, atol=1e-3)
    # Henon is not hyperbolic: the two vectors come close to tangency, and also stand far apart
    assert clv.angles_.min() < 0.05
    assert clv.angles_.max() > 1.0
    assert "vectors_" not in vars(clv)
    s = clv.summary()
    assert s["min_angle"] == clv.angles_.min() and s["n_vectors"] == 2


def test_gradient_descent_map_matches_the_spectrum():
    m = dn.GradientDescentMap(eta=1.0)
    x0 = m.initial_state(1, seed=0)[0]
    clv = dn.CovariantLyapunovVectors(n_vectors=2, n_steps=300, n_transient=100, n_backward=100,
                                      seed=0).fit(x0, map=m)
    ls = dn.LyapunovSpectrum(n_steps=300, n_transient=100, n_exponents=2,
                            Q0=clv.Q0_).fit(x0, map=m)
    # the same orbit and start: the same forward QR iteration, up to the rounding of the QR that
    # LyapunovSpectrum applies to Q0 (6e-11 measured; another random start moves them by 1e-2)
    np.testing.assert_allclose(clv.exponents_, ls.exponents_, rtol=0, atol=1e-9)
    V = clv.vectors_
    assert V.shape == (300, 2, m.dim) and np.all(np.isfinite(V))
    np.testing.assert_allclose(np.linalg.norm(V, axis=-1), 1.0, atol=1e-12)
    # covariant: J(x_t) v_t = +- exp(local_t) v_{t+1}, with the map's matrix-free products
    x = m.trajectory(x0, n_steps=100 + 299)[100:]
    JV = m.jvp(x[:-1], V[:-1])
    sign = np.sign(np.einsum("tja,tja->tj", JV, V[1:]))
    g = np.exp(clv.local_exponents_[:-1])
    np.testing.assert_allclose(JV, (sign * g)[..., None] * V[1:], atol=1e-12)
    # shares per coordinate group: weights + biases = 1; each is the squared norm on the group
    g = m.coordinate_groups()
    w, b = clv.groups_.index("weights"), clv.groups_.index("biases")
    np.testing.assert_allclose(clv.shares_[..., w] + clv.shares_[..., b], 1.0, atol=1e-12)
    for name in ("W1", "b2"):
        direct = (V[..., g[name]] ** 2).sum(axis=-1)
        np.testing.assert_allclose(clv.shares_[..., clv.groups_.index(name)], direct, atol=1e-12)


def test_statistics_mode_gives_the_same_numbers_and_projections():
    m = dn.HenonMap()
    rng = np.random.default_rng(5)
    P = rng.standard_normal((3, 2))
    kw = dict(n_steps=200, n_transient=100, n_backward=100, project=P)
    full = dn.CovariantLyapunovVectors(**kw).fit([0.1, 0.1], map=m)
    stats = dn.CovariantLyapunovVectors(keep="statistics", **kw).fit([0.1, 0.1], map=m)
    for name in ("exponents_", "local_exponents_", "angles_", "C_", "R_", "projections_"):
        np.testing.assert_array_equal(getattr(full, name), getattr(stats, name))
    np.testing.assert_allclose(full.projections_, full.vectors_ @ P.T, atol=1e-12)
    np.testing.assert_array_equal(full.steps_, 100 + np.arange(200))
    thin = dn.CovariantLyapunovVectors(vectors_every=7, **kw).fit([0.1, 0.1], map=m)
    np.testing.assert_array_equal(thin.vectors_, full.vectors_[::7])
    np.testing.assert_array_equal(thin.vector_steps_, full.steps_[::7])
    np.testing.assert_array_equal(thin.angles_, full.angles_)


def test_divergent_orbit_gives_nan_and_a_warning():
    clv = dn.CovariantLyapunovVectors(n_steps=50, n_transient=10, n_backward=10)
    with pytest.warns(dn.DivergenceWarning, match="CovariantLyapunovVectors"):
        clv.fit([0.0, 0.3], map=dn.HenonMap())   # escapes to infinity
    assert np.all(np.isnan(clv.exponents_)) and np.all(np.isnan(clv.vectors_))


def test_a_singular_tangent_map_is_reported():
    A = np.array([[2.0, 1.0], [0.0, 0.0]])          # sends (1, -2) to zero in one step
    with pytest.warns(RuntimeWarning, match="singular"):
        clv = dn.CovariantLyapunovVectors(n_steps=10, n_transient=5, n_backward=5).fit(
            [0.3, 0.1], map=dn.LinearMap(A))
    assert clv.exponents_[0] == pytest.approx(np.log(2.0)) and np.all(np.isnan(clv.vectors_[:, 1]))


def test_parameters_are_validated_when_fitting():
    m = dn.HenonMap()
    with pytest.raises(ValueError, match="keep"):
        dn.CovariantLyapunovVectors(keep="all").fit([0.1, 0.1], map=m)
    with pytest.raises(ValueError, match="project"):
        dn.CovariantLyapunovVectors(project=np.ones((2, 3))).fit([0.1, 0.1], map=m)
    with pytest.raises(ValueError, match="n_vectors"):
        dn.CovariantLyapunovVectors(n_vectors=3).fit([0.1, 0.1], map=m)
    with pytest.raises(TypeError, match="CovariantLyapunovVectors"):
        dn.CovariantLyapunovVectors().fit([0.1, 0.1])


@parametrize_with_checks([dn.CovariantLyapunovVectors(n_steps=200, n_transient=100, n_backward=100),
                          dn.CovariantLyapunovVectors(n_vectors=1, n_steps=100, n_transient=50,
                                                      n_backward=50, keep="statistics"),
                          dn.CovariantLyapunovVectors(n_steps=50, n_transient=20, n_backward=20,
                                                      project=np.ones((1, 2)), vectors_every=3)])
def test_conformance(obj, check):
    check(obj)
