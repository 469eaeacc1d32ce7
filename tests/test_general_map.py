"""The general gradient-descent map (activation, loss, weight decay, init) and its BLAS path."""

from __future__ import annotations

import copy
import itertools
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dynnet as dn
from dynnet.maps import _gd_blas

ACTS = ["sigmoid", "tanh", "relu", "softplus"]
LOSSES = ["cross-entropy", "mse"]


def _map(**kw):
    kw.setdefault("init", "glorot")
    return dn.GradientDescentMap(**kw)


def _fd_grad(m, x, h=1e-6):
    return np.array([(m.loss(x + h * e) - m.loss(x - h * e)) / (2 * h) for e in np.eye(m.dim)])


def _fd_hess(m, x, h=1e-6):
    return np.array([(m.gradient(x + h * e) - m.gradient(x - h * e)) / (2 * h) for e in np.eye(m.dim)])


@pytest.mark.parametrize("act,loss,hidden,wd",
                         list(itertools.product(ACTS, LOSSES, [(5,), (4, 3)], [0.0, 0.1])))
def test_gradient_and_hessian_agree_with_finite_differences(act, loss, hidden, wd):
    m = _map(hidden=hidden, activation=act, loss=loss, weight_decay=wd)
    x = m.initial_state(1, seed=1)[0]
    g = m.gradient(x)
    # central differences: error O(h^2 f''') + O(eps f / h); 1e-7 relative is well above both
    np.testing.assert_allclose(g, _fd_grad(m, x), rtol=0, atol=1e-7 * np.abs(g).max())
    H = m.hessian(x)
    np.testing.assert_allclose(H, _fd_hess(m, x), rtol=0, atol=1e-7 * np.abs(H).max())
    np.testing.assert_array_equal(H, H.T)


def test_relu_hessian_is_the_almost_everywhere_one():
    """Away from the kinks, relu's Hessian has no f'' term: the R-operator equals finite differences."""
    m = _map(hidden=(6,), activation="relu")
    x = m.initial_state(1, seed=3)[0]
    H = m.hessian(x)
    np.testing.assert_allclose(H, _fd_hess(m, x, h=1e-7), rtol=0, atol=1e-6 * np.abs(H).max())


def test_weight_decay_adds_the_penalty_on_weights_only():
    m0, m1 = _map(weight_decay=0.0), _map(weight_decay=0.25)
    x = m0.initial_state(2, seed=0)
    w = m0.mask("weights")
    np.testing.assert_allclose(m1.loss(x) - m0.loss(x), 0.125 * (x[:, w] ** 2).sum(axis=1), rtol=1e-12)
    dg = m1.gradient(x) - m0.gradient(x)
    np.testing.assert_allclose(dg[:, w], 0.25 * x[:, w], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(dg[:, ~w], 0.0)
    dH = m1.hessian(x[0]) - m0.hessian(x[0])
    np.testing.assert_allclose(dH, np.diag(0.25 * w), atol=1e-12)


def test_mse_loss_value():
    m = _map(loss="mse")
    x = m.initial_state(1, seed=0)[0]
    X, y = m.data("train")
    z = m._forward(x[None], X)[3][0]
    Y = np.eye(3)[y]
    assert m.loss(x) == pytest.approx(0.5 * ((z - Y) ** 2).sum() / len(y), rel=1e-14)


def test_loss_is_the_parameter_and_the_method():
    m = dn.GradientDescentMap(loss="mse")
    assert m.loss == "mse" and isinstance(m.loss, str)
    assert type(copy.deepcopy(m.loss)) is str and type(pickle.loads(pickle.dumps(m.loss))) is str
    c = dn.clone(m)
    assert c.loss == "mse" and c.get_params()["loss"] == "mse"
    W = m.initial_state(2, seed=0)
    np.testing.assert_array_equal(c.loss(W), m.loss(W))
    m.set_params(loss="cross-entropy")
    assert m.loss == "cross-entropy"
    assert m.loss(W)[0] != c.loss(W)[0]
    assert "loss='mse'" in repr(c)


@pytest.mark.parametrize("name,value", [("activation", "gelu"), ("loss", "hinge"), ("init", "xavier"),
                                        ("weight_decay", -1.0), ("weight_decay", float("nan"))])
def test_bad_settings_are_refused_by_name(name, value):
    m = dn.GradientDescentMap(**{name: value})
    with pytest.raises(ValueError, match=name):
        m.problem()


@pytest.mark.parametrize("init,factor", [("glorot", lambda i, o: 2 / (i + o)), ("he", lambda i, o: 2 / i)])
def test_init_schemes_have_their_variance(init, factor):
    m = dn.GradientDescentMap(hidden=(64, 32), init=init, init_std=1.5, dataset="digits")
    W = m.initial_state(40, seed=0)
    for (w0, b0, b1), i, o in zip(m.problem().offsets, m.sizes[:-1], m.sizes[1:], strict=True):
        var = W[:, w0:b0].var()
        expected = 1.5**2 * factor(i, o)
        n = W[:, w0:b0].size
        assert abs(var / expected - 1) < 6 * np.sqrt(2 / n)   # six standard errors of a variance
        np.testing.assert_array_equal(W[:, b0:b1], 0.0)


def test_normal_init_is_the_papers():
    """The default draws the same initial states as v0 (one normal draw over all weights)."""
    m = dn.GradientDescentMap()
    rng = np.random.default_rng(7)
    x = m.sample_state(rng)
    w = m.mask("weights")
    np.testing.assert_array_equal(x[w], np.random.default_rng(7).normal(0.0, 1.0, size=int(w.sum())))


def test_graph_carries_the_activation():
    m = _map(hidden=(4,), activation="tanh")
    x = m.initial_state(1, seed=0)[0]
    G = m.to_graph(x)
    assert G.graph["activation"] == "tanh" and G.graph["loss"] == "cross-entropy"
    assert G.nodes[(1, 0)]["activation"] == "tanh" and G.nodes[(2, 0)]["activation"] == "identity"
    np.testing.assert_array_equal(m.from_graph(G), x)
    with pytest.raises(ValueError, match="activation"):
        _map(hidden=(4,), activation="relu").from_graph(G)


# ---- the BLAS path ---------------------------------------------------------------
@pytest.mark.parametrize("act,loss,hidden,wd",
                         list(itertools.product(ACTS, LOSSES, [(10,), (6, 5)], [0.0, 0.01])))
def test_blas_path_agrees_with_the_reference(act, loss, hidden, wd):
    m = _map(hidden=hidden, activation=act, loss=loss, weight_decay=wd, dataset="digits", test_size=0.2,
             eta=0.5)
    W = m.initial_state(5, seed=0)
    p = m.problem()
    lb, gb = _gd_blas.loss_grad(p, W)
    l0, g0 = m._loss_grad(W)
    np.testing.assert_allclose(lb, l0, rtol=1e-13)
    np.testing.assert_allclose(gb, g0, rtol=0, atol=1e-13 * np.abs(g0).max())
    ref = m.reference_step(W)  # relative to the state's size: coordinates near 0 lose their digits
    np.testing.assert_allclose(_gd_blas.advance(p, 0.5, W, 1), ref, rtol=0, atol=1e-13 * np.abs(ref).max())


def test_blas_member_equals_itself_alone_and_threads_do_not_matter():
    m = dn.GradientDescentMap(hidden=(24, 12), dataset="digits", test_size=0.2, eta=0.3)  # 1438 samples
    p = m.problem()
    W = m.initial_state(5, seed=2)
    full = _gd_blas.advance(p, 0.3, W, 3, n_threads=1)
    np.testing.assert_array_equal(_gd_blas.advance(p, 0.3, W, 3, n_threads=2), full)
    np.testing.assert_array_equal(_gd_blas.advance(p, 0.3, W, 3, n_threads=3), full)
    np.testing.assert_array_equal(_gd_blas.advance(p, 0.3, W, 3, n_threads=4), full)  # members split in 4
    for e in (0, 3):
        np.testing.assert_array_equal(_gd_blas.advance(p, 0.3, W[e:e + 1], 3, n_threads=2)[0], full[e])


@given(n_blocks=st.integers(1, 40), n_members=st.integers(1, 70), n_threads=st.integers(1, 8))
def test_blas_tasks_keep_every_thread_busy(n_blocks, n_members, n_threads):
    """The member split gives a task count that fills the threads evenly (a multiple of
    them, or at least four tasks each), or splits as far as the members allow."""
    k = _gd_blas._member_splits(n_blocks, n_members, n_threads)
    assert 1 <= k <= max(1, min(n_members, n_threads))
    tasks = n_blocks * k
    assert (n_threads == 1 or tasks % n_threads == 0 or tasks >= 4 * n_threads
            or k == min(n_members, n_threads))
    if n_blocks % n_threads == 0 or n_blocks >= 4 * n_threads:
        assert k == 1  # no split where the blocks alone fill the threads


def test_blas_iterate_is_n_steps_and_eta_zero_is_identity(monkeypatch):
    monkeypatch.setenv("DYNNET_GD_PATH", "blas")
    m = dn.GradientDescentMap(eta=0.7)
    assert m.engine_path() == "blas"
    W = m.initial_state(3, seed=0)
    x = W
    for _ in range(4):
        x = m.step(x)
    np.testing.assert_array_equal(m.iterate(W, 4), x)
    np.testing.assert_array_equal(dn.GradientDescentMap(eta=0.0).set_params().iterate(W, 5), W)


def test_paths_agree_per_step(monkeypatch):
    m = dn.GradientDescentMap(eta=1.0)
    W = m.initial_state(9, seed=0)
    monkeypatch.setenv("DYNNET_GD_PATH", "simd")
    a = m.step(W)
    monkeypatch.setenv("DYNNET_GD_PATH", "blas")
    b = m.step(W)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(a).max())


def test_blas_divergence_is_a_nan_member(monkeypatch):
    monkeypatch.setenv("DYNNET_GD_PATH", "blas")
    m = dn.GradientDescentMap(eta=0.01, activation="relu", loss="mse")
    W = m.initial_state(4, seed=0)
    W[1] *= 1e100      # logits ~1e100: the squared error's gradient overflows within two steps
    W[2] = np.nan      # diverged earlier: stays NaN
    with pytest.warns(dn.DivergenceWarning):
        out = m.iterate(W, 3)
    assert np.isnan(out[1]).all() and np.isnan(out[2]).all()
    for e in (0, 3):   # the others go on, exactly as alone
        np.testing.assert_array_equal(out[e], m.iterate(W[e], 3))


def test_path_routing_and_forcing(monkeypatch):
    monkeypatch.delenv("DYNNET_GD_PATH", raising=False)
    assert dn.GradientDescentMap().engine_path() == "simd"
    assert dn.GradientDescentMap(activation="softplus").engine_path() == "blas"
    assert dn.GradientDescentMap(hidden=(128,), dataset="digits").engine_path() == "blas"
    # by the work of a step (samples x parameters), not by the parameters alone
    assert dn.GradientDescentMap(hidden=(512,)).engine_path() == "simd"              # 120 x 4099
    assert dn.GradientDescentMap(hidden=(16,), dataset="digits").engine_path() == "blas"  # 1767 x 1210
    monkeypatch.setenv("DYNNET_GD_PATH", "simd")
    with pytest.raises(ValueError, match="does not support"):
        dn.GradientDescentMap(activation="softplus").engine_path()
    monkeypatch.setenv("DYNNET_GD_PATH", "gpu")
    with pytest.raises(ValueError, match="DYNNET_GD_PATH"):
        dn.GradientDescentMap().engine_path()


@settings(max_examples=15, deadline=None)
@given(act=st.sampled_from(ACTS), loss=st.sampled_from(LOSSES), seed=st.integers(0, 2**16),
       k=st.integers(1, 3))
def test_jvp_is_linear_and_is_v_minus_eta_hv(act, loss, seed, k):
    m = _map(hidden=(4,), activation=act, loss=loss, eta=0.8)
    x = m.initial_state(2, seed=seed)
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(2, k, m.dim))
    U = rng.normal(size=(2, k, m.dim))
    J = m.jvp(x, V + 2.0 * U)
    np.testing.assert_allclose(J, m.jvp(x, V) + 2.0 * m.jvp(x, U), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.jvp(x, V), V - 0.8 * m.hvp(x, V), rtol=0, atol=1e-14)


def test_an_empty_batch_gives_empty_products():
    """Every member diverged: the derivatives of an empty batch are empty, not an error."""
    for act in ("sigmoid", "softplus"):
        m = _map(hidden=(4, 3), activation=act)
        x = np.empty((0, m.dim))
        assert m.gradient(x).shape == (0, m.dim)
        assert m.hvp(x, np.empty((0, 2, m.dim))).shape == (0, 2, m.dim)
        assert m.jvp(x, np.empty((0, 2, m.dim))).shape == (0, 2, m.dim)
        assert _gd_blas.loss_grad(m.problem(), x)[1].shape == (0, m.dim)


@pytest.mark.filterwarnings("ignore::dynnet.NoExponentWarning")  # tiny runs: no fit kept, by design
def test_edge_study_on_the_blas_path_with_every_member_diverged(monkeypatch):
    """The tangent exponent of a run whose orbits all overflow is NaN, not an error."""
    m = dn.GradientDescentMap(hidden=(8,), dataset="wine", activation="softplus", loss="mse",
                              weight_decay=1e-3, init="he", scale=True)
    s = dn.EdgeOfStabilityStudy.quick(n_init=2, eps=(1e-8,), n_steps=60, n_steps_long=0).set_params(map=m)
    with pytest.warns(dn.DivergenceWarning):
        s.run()
    assert s.result_ is not None
