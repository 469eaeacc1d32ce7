"""Tangent dynamics without the dense Hessian: Map.jvp, LyapunovSpectrum(n_exponents=k), Sharpness.

Oracles: the dense path at 83 parameters, GD on a quadratic loss (exponents
log|1 - eta a_i| exactly), linear maps (log|eigenvalues|), Hénon's literature
values, central finite differences of the GD step, and linearity in V.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dynnet as dn
from dynnet.maps.tangent import TangentMap


class QuadraticGD(dn.Map):
    """GD on L(x) = x^T A x / 2: x -> x - eta A x, with hvp (A V) and jvp (V - eta A V) only."""

    def __init__(self, A=((1.0, 0.0), (0.0, 2.0)), eta=0.1):
        self.A = A
        self.eta = eta

    @property
    def dim(self):
        return np.asarray(self.A).shape[0]

    def step(self, states):
        return states - self.eta * states @ np.asarray(self.A).T

    def hvp(self, states, V):
        return np.asarray(V) @ np.asarray(self.A).T

    def jvp(self, states, V):
        x, W, single = self._check_tangent(states, V)
        out = W - self.eta * self.hvp(x, W)
        return out[0] if single else out


class HenonJVP(dn.Map):
    """Hénon with an analytic matrix-free jvp and no jacobian."""

    dim = 2

    def __init__(self, a=1.4, b=0.3):
        self.a = a
        self.b = b

    def step(self, states):
        x, y = states[:, 0], states[:, 1]
        return np.stack([1.0 - self.a * x * x + y, self.b * x], axis=1)

    def jvp(self, states, V):
        x, W, single = self._check_tangent(states, V)
        out = np.stack([-2.0 * self.a * x[:, None, 0] * W[..., 0] + W[..., 1], self.b * W[..., 0]], axis=-1)
        return out[0] if single else out


class NoDense(dn.GradientDescentMap):
    """A GD map whose dense Hessian and Jacobian are forbidden: the matrix-free paths must not use them."""

    def hessian(self, state, rows=None):
        raise AssertionError("the dense Hessian was formed")

    def jacobian(self, state):
        raise AssertionError("the dense Jacobian was formed")


# ----------------------------------------------------------------------------
# Map.jvp
# ----------------------------------------------------------------------------

def test_default_jvp_is_the_jacobian_on_each_vector():
    h = dn.HenonMap()
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (4, 2))
    V = rng.standard_normal((4, 3, 2))
    out = h.jvp(x, V)
    assert out.shape == (4, 3, 2) and out.dtype == np.float64
    for e in range(4):
        np.testing.assert_allclose(out[e], (h.jacobian(x[e]) @ V[e].T).T, rtol=1e-15, atol=1e-15)
    # one state with (K, dim) vectors
    np.testing.assert_array_equal(h.jvp(x[1], V[1]), out[1])
    # the analytic matrix-free Hénon agrees
    np.testing.assert_allclose(HenonJVP().jvp(x, V), out, rtol=1e-14, atol=1e-15)
    # a diverged member (all-NaN row) gives NaN products, the others are unchanged
    x[2] = np.nan
    out2 = h.jvp(x, V)
    assert np.isnan(out2[2]).all()
    np.testing.assert_array_equal(np.delete(out2, 2, axis=0), np.delete(out, 2, axis=0))


def test_jvp_shapes_are_checked():
    h = dn.HenonMap()
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"V must have shape \(E, K, 2\) with E = 3"):
        h.jvp(x, np.zeros((2, 1, 2)))
    with pytest.raises(ValueError, match=r"V must have shape"):
        h.jvp(x, np.zeros((3, 1, 5)))
    with pytest.raises(ValueError, match="V"):
        h.jvp(x, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"V must have shape \(K, 2\) for one state"):
        h.jvp(np.zeros(2), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="states"):
        h.jvp(np.zeros((3, 4)), np.zeros((3, 1, 4)))
    with pytest.raises(TypeError, match="V"):
        h.jvp(x, [[["a", "b"]]] * 3)

    class Plain(dn.Map):
        dim = 1

        def step(self, states):
            return 0.5 * states

    with pytest.raises(NotImplementedError, match="Plain implements neither jvp"):
        Plain().jvp(np.zeros((1, 1)), np.zeros((1, 1, 1)))
    with pytest.raises(NotImplementedError, match="Plain"):
        dn.LyapunovSpectrum(n_exponents=1).fit([0.1], map=Plain())


DEPTHS = [(10,), (6, 5), (4, 4, 3)]


@pytest.mark.parametrize("hidden", DEPTHS, ids=lambda h: f"depth{len(h)}")
def test_gd_jvp_is_v_minus_eta_hvp_and_the_dense_jacobian(hidden):
    m = dn.GradientDescentMap(eta=0.7, hidden=hidden)
    x = m.initial_state(3, seed=4)
    V = np.random.default_rng(1).standard_normal((3, 5, m.dim))
    J = m.jvp(x, V)
    np.testing.assert_allclose(J, V - 0.7 * m.hvp(x, V), rtol=0, atol=1e-13)
    dense = np.stack([V[e] @ m.jacobian(x[e]).T for e in range(3)])
    np.testing.assert_allclose(J, dense, rtol=0, atol=1e-12 * np.abs(dense).max())


def _central_differences(m, x, V, h):
    return np.stack([(m.step(x + h * V[:, k]) - m.step(x - h * V[:, k])) / (2 * h)
                     for k in range(V.shape[1])], axis=1)


@pytest.mark.parametrize("hidden", DEPTHS, ids=lambda h: f"depth{len(h)}")
def test_gd_jvp_equals_central_differences_of_step(hidden):
    """(g(x + h v) - g(x - h v)) / 2h = J v + O(h^2): at h = 1e-5 the truncation is ~1e-10

    relative (measured 2e-9 at depth 1, falling as h^2), rounding ~1e-16 / h = 1e-11; a wrong
    Hessian term is off by O(1).
    """
    m = dn.GradientDescentMap(eta=0.5, hidden=hidden)
    x = m.initial_state(2, seed=1)
    V = np.random.default_rng(0).standard_normal((2, 3, m.dim))
    J = m.jvp(x, V)
    fd = _central_differences(m, x, V, 1e-5)
    assert np.abs(fd - J).max() <= 2e-8 * np.abs(J).max()
    # the error shrinks like h^2: the comparison is sensitive, not a loose bound
    fd3 = _central_differences(m, x, V, 1e-3)
    assert np.abs(fd3 - J).max() > 10 * np.abs(fd - J).max()


GENERAL = [dict(activation=a, loss=lo, weight_decay=wd)
           for a in ("sigmoid", "tanh", "softplus") for lo in ("cross-entropy", "mse")
           for wd in (0.0, 0.01)]


@pytest.mark.parametrize("opts", GENERAL, ids=lambda o: "-".join(str(v) for v in o.values()))
@pytest.mark.parametrize("hidden", DEPTHS[:2], ids=lambda h: f"depth{len(h)}")
def test_general_gd_jvp_equals_central_differences(hidden, opts):
    """Every smooth activation and loss, with weight decay: J v against differences of step."""
    m = dn.GradientDescentMap(eta=0.5, hidden=hidden, **opts)
    x = m.initial_state(2, seed=3)
    V = np.random.default_rng(2).standard_normal((2, 2, m.dim))
    J = m.jvp(x, V)
    fd = _central_differences(m, x, V, 1e-5)
    assert np.abs(fd - J).max() <= 2e-8 * np.abs(J).max()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), a=st.floats(-3.0, 3.0), b=st.floats(-3.0, 3.0),
       k=st.integers(1, 4))
def test_jvp_is_linear_in_v(seed, a, b, k):
    rng = np.random.default_rng(seed)
    for m in (dn.GradientDescentMap(eta=1.0), dn.HenonMap(), HenonJVP()):
        x = m.initial_state(2, seed=seed % 1000)
        V = rng.standard_normal((2, k, m.dim))
        W = rng.standard_normal((2, k, m.dim))
        lhs = m.jvp(x, a * V + b * W)
        rhs = a * m.jvp(x, V) + b * m.jvp(x, W)
        scale = max(1.0, np.abs(m.jvp(x, V)).max() + np.abs(m.jvp(x, W)).max()) * (abs(a) + abs(b) + 1)
        np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-13 * scale)
        # each member's products depend on its own state only: batched = one by one
        one = np.stack([m.jvp(x[e], V[e]) for e in range(2)])  # one state, (K, dim) vectors
        np.testing.assert_allclose(m.jvp(x, V), one, rtol=0, atol=1e-14 * scale)


def test_tangent_map_uses_jvp_and_batches_members():
    tm = TangentMap(map=HenonJVP(), k=2)
    assert tm.dim == 6
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (3, 2))
    Q = rng.standard_normal((3, 2, 2))
    out = tm.step(np.concatenate([x, Q.reshape(3, 4)], axis=1))
    ref = TangentMap(map=dn.HenonMap(), k=2).step(np.concatenate([x, Q.reshape(3, 4)], axis=1))
    np.testing.assert_allclose(out, ref, rtol=1e-14, atol=1e-15)
    for e in range(3):
        x1, Y = tm.tangent_step(x[e], Q[e])
        np.testing.assert_array_equal(out[e, :2], x1)
        np.testing.assert_allclose(out[e, 2:].reshape(2, 2), Y, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(Y, dn.HenonMap().jacobian(x[e]) @ Q[e], rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------------------
# LyapunovSpectrum(n_exponents=k)
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("eta,k", [(1.0, 4), (4.0, 6)])
def test_top_k_spectrum_equals_the_dense_path_on_iris(eta, k):
    """The 83-parameter Iris map: matrix-free top k = the top k of the dense 83-exponent spectrum."""
    m = dn.GradientDescentMap(eta=eta)
    x0 = m.initial_state(1, seed=0)[0]
    dense = dn.LyapunovSpectrum(n_steps=150, n_transient=20).fit(x0, map=m)
    free = dn.LyapunovSpectrum(n_steps=150, n_transient=20, n_exponents=k).fit(x0, map=NoDense(eta=eta))
    assert free.exponents_.shape == (k,)
    # the first k QR columns never see the others: their exponents are k of the dense spectrum
    # to rounding (after 150 steps they need not be the k largest yet: the QR order of close
    # exponents converges slowly, and both paths sort their own)
    gap = np.abs(free.exponents_[:, None] - dense.exponents_[None, :])
    match = gap.argmin(axis=1)
    assert np.all(gap.min(axis=1) <= 1e-10)
    assert np.unique(match).size == k
    np.testing.assert_allclose(free.stderr_, dense.stderr_[match], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(free.state_, dense.state_)
    # not a vacuous comparison: the matched exponents are resolved far beyond 1e-10
    assert np.ptp(free.exponents_) > 1e-3


def _quadratic(mu, eta, seed):
    """A = U diag(a) U^T with 1 - eta a_i = mu_i, U a random rotation."""
    n = mu.size
    U, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    a = (1.0 - mu) / eta
    return U @ np.diag(a) @ U.T, a


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), top=st.floats(-1.0, 1.0),
       gaps=st.lists(st.floats(0.2, 0.8), min_size=1, max_size=5),
       signs=st.lists(st.booleans(), min_size=6, max_size=6), eta=st.floats(0.05, 2.0),
       k=st.integers(1, 6))
def test_gd_on_a_quadratic_has_exponents_log_abs_one_minus_eta_a(seed, top, gaps, signs, eta, k):
    """L = x^T A x / 2: J = I - eta A at every x, so lambda_i = log|1 - eta a_i| exactly.

    Distinct moduli (gaps >= 0.2 in log) let the vectors align in the 300-step transient
    (to e^-60), after which every QR diagonal is exactly 1 - eta a_i (up to sign).
    """
    lm = top - np.cumsum([0.0] + gaps)
    mu = np.exp(lm) * np.where(signs[:lm.size], 1.0, -1.0)
    k = min(k, mu.size)
    A, a = _quadratic(mu, eta, seed)
    m = QuadraticGD(A=A, eta=eta)
    ls = dn.LyapunovSpectrum(n_steps=100, n_transient=300, n_exponents=k).fit(np.zeros(mu.size), map=m)
    want = np.sort(np.log(np.abs(1.0 - eta * a)))[::-1][:k]
    np.testing.assert_allclose(ls.exponents_, want, rtol=0, atol=1e-10)
    # the sharpness of the same map is max a_i, by Lanczos on hvp alone
    x = np.random.default_rng(seed).standard_normal((2, mu.size))
    sh = dn.Sharpness(method="lanczos").fit(x, map=m)
    np.testing.assert_allclose(sh.sharpness_, a.max(), rtol=1e-10, atol=1e-12)


def test_henon_top_two_through_jvp():
    """Hénon (1.4, 0.3), two exponents through a matrix-free jvp: 0.4192 and -1.6232 within 0.002

    over 50 000 steps (block standard errors ~1e-3), their sum ln 0.3 to rounding; on a shorter
    run the jvp and dense-Jacobian paths follow the same orbit and agree to rounding.
    """
    free = dn.LyapunovSpectrum(n_steps=50_000, n_exponents=2).fit([0.1, 0.1], map=HenonJVP())
    short = dn.LyapunovSpectrum(n_steps=5_000, n_exponents=2).fit([0.1, 0.1], map=HenonJVP())
    dense = dn.LyapunovSpectrum(n_steps=5_000).fit([0.1, 0.1], map=dn.HenonMap())
    assert free.exponents_[0] == pytest.approx(0.4192, abs=0.002)
    assert free.exponents_[1] == pytest.approx(-1.6232, abs=0.002)
    assert np.all(free.stderr_ < 0.002)
    assert free.exponents_.sum() == pytest.approx(np.log(0.3), abs=1e-10)
    np.testing.assert_allclose(short.exponents_, dense.exponents_, rtol=0, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), top=st.floats(-1.0, 1.5),
       gaps=st.lists(st.floats(0.2, 1.0), min_size=1, max_size=4),
       signs=st.lists(st.booleans(), min_size=5, max_size=5), k=st.integers(1, 5))
def test_linear_map_top_k_are_log_abs_eigenvalues(seed, top, gaps, signs, k):
    lm = top - np.cumsum([0.0] + gaps)
    mu = np.exp(lm) * np.where(signs[:lm.size], 1.0, -1.0)
    n = mu.size
    k = min(k, n)
    rng = np.random.default_rng(seed)
    P = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    A = P @ np.diag(mu) @ np.linalg.inv(P)
    ls = dn.LyapunovSpectrum(n_steps=400, n_transient=400, n_exponents=k).fit(np.zeros(n),
                                                                            map=dn.LinearMap(A=A))
    np.testing.assert_allclose(ls.exponents_, np.log(np.abs(mu))[:k], rtol=0, atol=1e-10)


def test_top_k_spectrum_of_a_wide_network_never_forms_the_hessian():
    """p = 275 (64-4-3 on random data): 3 exponents through jvp, no Hessian formed."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 64))
    y = rng.integers(0, 3, 200)
    m = NoDense(eta=0.5, hidden=(4,), dataset=(X, y))
    assert m.dim == 275
    x0 = m.initial_state(1, seed=0)[0]
    ls = dn.LyapunovSpectrum(n_steps=8, n_transient=0, n_exponents=3).fit(x0, map=m)
    assert ls.exponents_.shape == (3,) and np.all(np.isfinite(ls.exponents_))
    assert np.all(np.diff(ls.exponents_) <= 0)
    # ||J_n ... J_1 q|| <= prod ||J_t||_2: the top exponent is at most the mean log spectral norm
    H = np.stack([dn.GradientDescentMap.hessian(m, xt)
                  for xt in m.trajectory(x0, 7)])
    norms = np.log(np.abs(np.linalg.eigvalsh(np.eye(m.dim) - 0.5 * H)).max(axis=1))
    assert ls.exponents_[0] <= norms.mean() + 1e-10


# ----------------------------------------------------------------------------
# Sharpness by Lanczos
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("eta", [1.0, 4.0])
def test_lanczos_sharpness_equals_the_dense_path_on_iris(eta):
    m = dn.GradientDescentMap(eta=eta)
    traj = m.trajectory(m.initial_state(3, seed=0), 40, every=8).reshape(-1, m.dim)
    exact = dn.Sharpness(method="exact").fit(traj, map=m)
    free = dn.Sharpness(method="lanczos", chunk=5).fit(traj, map=NoDense(eta=eta))
    ref = np.array([np.linalg.eigvalsh(m.hessian(x))[-1] for x in traj])
    np.testing.assert_allclose(exact.sharpness_, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(free.sharpness_, ref, rtol=1e-10, atol=0)
    assert free.method_ == "lanczos" and np.all(free.n_iter_ >= 1) and np.all(free.n_iter_ <= m.dim)
    assert np.all(exact.n_iter_ == 0)
    # chunking does not change the result (each state's iteration is its own)
    one = dn.Sharpness(method="lanczos", chunk=1).fit(traj, map=m)
    np.testing.assert_allclose(one.sharpness_, free.sharpness_, rtol=1e-13, atol=0)


def test_lanczos_sharpness_of_a_wide_network_is_auto_and_matrix_free():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((150, 40))
    y = rng.integers(0, 4, 150)
    m = NoDense(eta=1.0, hidden=(16,), dataset=(X, y))
    assert m.dim == 40 * 16 + 16 + 16 * 4 + 4
    traj = m.trajectory(m.initial_state(1, seed=0)[0], 4)
    sh = dn.Sharpness(exact_max_dim=500).fit(traj, map=m)
    assert sh.method_ == "lanczos"
    ref = np.array([np.linalg.eigvalsh(dn.GradientDescentMap.hessian(m, x))[-1] for x in traj])
    np.testing.assert_allclose(sh.sharpness_, ref, rtol=1e-10)
    assert np.all(sh.n_iter_ < m.dim)  # converged well before the Krylov space is full


def test_lanczos_not_converged_warns_and_gives_a_lower_bound():
    rng = np.random.default_rng(2)
    A = np.diag(np.linspace(1.0, 2.0, 60))  # a flat spectrum converges slowly
    m = QuadraticGD(A=A, eta=0.1)
    with pytest.warns(RuntimeWarning, match="lanczos_max_iter=3"):
        sh = dn.Sharpness(method="lanczos", lanczos_max_iter=3).fit(rng.standard_normal(60), map=m)
    assert sh.sharpness_[0] <= 2.0 + 1e-12 and sh.n_iter_[0] == 3
    with pytest.raises(ValueError, match="lanczos_max_iter"):
        dn.Sharpness(lanczos_max_iter=0).fit(rng.standard_normal(60), map=m)


def test_sharpness_with_hvp_only_exact_and_lanczos_and_nan_states():
    rng = np.random.default_rng(3)
    mu = np.array([0.9, -0.5, 0.3, 0.1, -0.05])
    A, a = _quadratic(mu, 0.5, 3)
    m = QuadraticGD(A=A, eta=0.5)
    x = rng.standard_normal((4, 5))
    x[1] = np.nan
    for method in ("exact", "lanczos"):
        sh = dn.Sharpness(method=method, chunk=3).fit(x, map=m)
        assert np.isnan(sh.sharpness_[1]) and not sh.above_[1]
        np.testing.assert_allclose(np.delete(sh.sharpness_, 1), a.max(), rtol=1e-12)
        assert sh.n_iter_[1] == 0

    class Neither(dn.Map):
        dim = 2
        eta = 0.1

        def step(self, states):
            return states

    with pytest.raises(TypeError, match=r"neither hvp\(states, V\) nor hessian\(state\)"):
        dn.Sharpness().fit([0.1, 0.1], map=Neither())


# ----------------------------------------------------------------------------
# The stacked R-operator: bits independent of the batch, the thread count and the split
# ----------------------------------------------------------------------------

def _wide_random_map(activation="sigmoid", loss="cross-entropy"):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((330, 24))
    y = np.arange(330) % 5
    rng.shuffle(y)
    return dn.GradientDescentMap(eta=0.4, hidden=(16, 9), activation=activation, loss=loss,
                                 dataset=(X, y))


@pytest.mark.parametrize("activation,loss", [("sigmoid", "cross-entropy"), ("relu", "mse"),
                                             ("tanh", "cross-entropy")])
def test_hvp_bits_do_not_depend_on_threads_split_or_batch(monkeypatch, activation, loss):
    from dynnet.maps import _gd_rop

    m = _wide_random_map(activation, loss)
    monkeypatch.setattr(_gd_rop, "SMALL_WORK", 0)  # the stacked pass, not the small loop
    x = m.initial_state(3, seed=4)
    V = np.random.default_rng(5).standard_normal((3, 6, m.dim))
    base = m.hvp(x, V)  # 330 samples: one block, one thread
    # blocks of 64 samples on 2 threads, then in the calling thread: the same bits
    monkeypatch.setattr(_gd_rop, "SAMPLE_BLOCK", 64)
    monkeypatch.setattr(_gd_rop, "HVP_THREADED_WORK", 0)
    monkeypatch.setenv("DYNNET_NUM_THREADS", "2")
    blocked = m.hvp(x, V)
    assert _gd_rop.hvp_threads(m.problem(), 3, 6, 330) == 2
    monkeypatch.setenv("DYNNET_NUM_THREADS", "1")
    assert np.array_equal(m.hvp(x, V), blocked)
    # (the blocks' sums are added in another order than one block's products: rounding only)
    np.testing.assert_allclose(blocked, base, rtol=1e-12, atol=1e-12 * np.abs(base).max())
    # a member alone, and one vector alone, give the bits they have in the batch
    assert np.array_equal(m.hvp(x[1:2], V[1:2])[0], blocked[1])
    # (one vector of K: the same products, the stacked column block of a wider GEMM, so
    # only agreement to rounding is promised)
    np.testing.assert_allclose(m.hvp(x[1:2], V[1:2, 2:3])[0, 0], blocked[1, 2], rtol=1e-13,
                               atol=1e-13 * np.abs(blocked[1, 2]).max())
    # not vacuous: the products are far from zero and differ between vectors
    assert np.abs(base).max() > 1e-3 and not np.allclose(base[:, 0], base[:, 1])


def test_hvp_equals_the_per_vector_products_of_the_hessian():
    """The stacked pass equals H @ v for the dense Hessian built one coordinate at a time."""
    m = _wide_random_map()
    x = m.initial_state(1, seed=6)[0]
    V = np.random.default_rng(7).standard_normal((5, m.dim))
    H = m.hessian(x)
    np.testing.assert_allclose(m.hvp(x[None], V[None])[0], V @ H, rtol=1e-12,
                               atol=1e-12 * np.abs(V @ H).max())


@pytest.mark.parametrize("kw", [{}, {"activation": "tanh"}, {"activation": "relu", "loss": "mse"},
                                {"activation": "softplus", "loss": "mse"},
                                {"hidden": (6, 5), "weight_decay": 1e-3}])
def test_the_small_compiled_pass_equals_the_stacked_pass(monkeypatch, kw):
    """Up to SMALL_WORK (Iris) the R-operator is one compiled loop: it gives the stacked
    pass's products to rounding, and a member's (and a vector's) bits alone and in a batch."""
    from dynnet.maps import _gd_rop

    m = dn.GradientDescentMap(eta=0.3, **kw)
    assert m.dim * m.problem().X.shape[0] <= _gd_rop.SMALL_WORK  # the small loop runs here
    x = m.initial_state(3, seed=8)
    V = np.random.default_rng(9).standard_normal((3, 7, m.dim))
    small = m.hvp(x, V)
    monkeypatch.setattr(_gd_rop, "SMALL_WORK", 0)
    stacked = m.hvp(x, V)
    np.testing.assert_allclose(small, stacked, rtol=1e-12, atol=1e-12 * np.abs(stacked).max())
    monkeypatch.undo()
    assert np.array_equal(m.hvp(x[2:3], V[2:3])[0], small[2])
    assert np.array_equal(m.hvp(x[2:3], V[2:3, 4:5])[0, 0], small[2, 4])
    # the Hessian of the dense path, column by column, from the same loop
    H = m.hessian(x[0])
    np.testing.assert_allclose(V[0] @ H, small[0], rtol=1e-10, atol=1e-10 * np.abs(small[0]).max())
    assert np.abs(small).max() > 1e-3 and not np.allclose(small[:, 0], small[:, 1])
