"""The fused tangent loop of the SIMD engine (issue 21, section 2): ``SimdEngine.tangent``.

Each member's orbit and unit tangent vector advance together in one compiled call, the vector
by a companion orbit (Benettin et al. 1980), renormalised every step, with the sum of the
logarithms of its growth. Checked against the generic numpy loop ``Map._advance_tangent``
(the same GD steps, the norms summed by numpy), for bits independent of the batch and of the
thread count, and for diverging members.
"""

import numpy as np
import pytest

import dynnet as dn
from dynnet.maps import _gd_engine as eng
from dynnet.maps.base import Map

EPS = 1e-7


def _unit_vectors(n, dim, seed):
    v = np.random.default_rng(seed).standard_normal((n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _generic(m, W, V, n_steps, eps=EPS):
    return Map._advance_tangent(m, W, V, n_steps, eps)


@pytest.mark.parametrize(("kw", "n_steps"), [
    ({"eta": 0.5}, 20),                                   # the paper's map, non-chaotic eta
    ({"eta": 1.0}, 5),
    ({"eta": 0.1, "hidden": (10, 6), "activation": "tanh", "loss": "mse", "weight_decay": 0.01}, 8),
])
def test_fused_loop_equals_the_generic_loop(kw, n_steps):
    m = dn.GradientDescentMap(**kw)
    W = m.initial_state(11, seed=3)
    V = _unit_vectors(11, m.dim, seed=4)
    S1, V1, a1 = eng.tangent(m, W, V, n_steps, EPS)
    S2, V2, a2 = _generic(m, W, V, n_steps)
    # the orbit is the engine's own: the same bits as advance
    assert np.array_equal(S1, S2) and np.array_equal(S1, eng.advance(m, W, n_steps))
    # the norms are summed in another order (numpy's einsum): measured within 3e-15
    np.testing.assert_allclose(a1, a2, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(V1, V2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(V1, axis=1), 1.0, rtol=1e-14)
    assert np.all(np.isfinite(a1)) and np.ptp(a1) > 0


def test_the_map_uses_the_fused_loop_and_the_batched_map_too():
    m = dn.GradientDescentMap()
    etas = np.geomspace(0.05, 10.0, 13)
    bm = m.batched("eta", etas)
    assert bm.engine_path() == "simd"
    W = m.initial_state(13, seed=0)
    V = _unit_vectors(13, m.dim, seed=1)
    got = bm._advance_tangent(W, V, 6, EPS)
    want = eng.tangent(bm, W, V, 6, EPS)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w, equal_nan=True)
    np.testing.assert_allclose(got[2], _generic(bm, W, V, 6)[2], rtol=1e-12, atol=1e-13)


def test_a_member_of_an_eta_batch_has_the_bits_of_its_own_run():
    m = dn.GradientDescentMap()
    E = 21
    etas = np.geomspace(0.01, 20.0, E)
    W = m.initial_state(E, seed=5)
    V = _unit_vectors(E, m.dim, seed=6)
    S, Vb, a = eng.tangent(m.batched("eta", etas), W, V, 9, EPS)
    for k in (0, 7, 20):  # lanes 0 and 7 of the first tile, lane 4 of the padded last tile
        one = dn.clone(m).set_params(eta=float(etas[k]))
        s1, v1, a1 = eng.tangent(one, W[k:k + 1], V[k:k + 1], 9, EPS)
        assert np.array_equal(s1[0], S[k]) and np.array_equal(v1[0], Vb[k]) and a1[0] == a[k]


def test_bits_do_not_depend_on_threads_lanes_or_segments():
    m = dn.GradientDescentMap(eta=2.0)
    E = 40  # five tiles
    W = m.initial_state(E, seed=7)
    V = _unit_vectors(E, m.dim, seed=8)
    ref = eng.tangent(m, W, V, 7, EPS, n_threads=1)
    two = eng.tangent(m, W, V, 7, EPS, n_threads=2)
    perm = np.random.default_rng(9).permutation(E)
    shuffled = eng.tangent(m, W[perm], V[perm], 7, EPS, n_threads=2)
    for r, t, s in zip(ref, two, shuffled, strict=True):
        assert np.array_equal(r, t) and np.array_equal(r[perm], s)
    # two calls of 3 and 4 steps continue the orbits and vectors exactly; the sums add
    s3, v3, a3 = eng.tangent(m, W, V, 3, EPS, n_threads=1)
    s4, v4, a4 = eng.tangent(m, s3, v3, 4, EPS, n_threads=1)
    assert np.array_equal(s4, ref[0]) and np.array_equal(v4, ref[1])
    np.testing.assert_allclose(a3 + a4, ref[2], rtol=1e-14, atol=1e-15)


def test_a_diverging_member_is_nan_and_the_others_go_on():
    m = dn.GradientDescentMap(hidden=(10, 6), loss="mse")  # mse overflows within 30 steps at 1e6
    etas = np.full(12, 0.1)
    etas[5] = 1e6
    W = m.initial_state(12, seed=2)
    V = _unit_vectors(12, m.dim, seed=3)
    S, Vo, a = eng.tangent(m.batched("eta", etas), W, V, 30, EPS)
    assert np.all(np.isnan(S[5])) and np.isnan(a[5])
    keep = np.arange(12) != 5
    s, v, b = eng.tangent(m.batched("eta", etas[keep]), W[keep], V[keep], 30, EPS)
    assert np.array_equal(S[keep], s) and np.array_equal(Vo[keep], v) and np.array_equal(a[keep], b)
    assert np.all(np.isfinite(a[keep]))
    # the generic loop agrees on which member diverged
    g = _generic(m.batched("eta", etas), W, V, 30)
    assert np.all(np.isnan(g[0][5])) and np.isnan(g[2][5]) and np.all(np.isfinite(g[2][keep]))
    # a state that is already non-finite: all NaN at once
    W2 = W.copy()
    W2[0, 3] = np.inf
    S2, _, a2 = eng.tangent(m.batched("eta", np.full(12, 0.1)), W2, V, 2, EPS)
    assert np.all(np.isnan(S2[0])) and np.isnan(a2[0]) and np.all(np.isfinite(a2[1:]))


def test_the_growth_of_the_companion_is_the_jacobian_on_the_vector():
    """One step: log ||J v|| of the fused loop against the exact J v = v - eta H v (numpy)."""
    m = dn.GradientDescentMap(eta=1.5)
    W = m.initial_state(9, seed=11)
    V = _unit_vectors(9, m.dim, seed=12)
    S, Vo, a = eng.tangent(m, W, V, 1, EPS)
    Jv = m.jvp(W, V[:, None, :])[:, 0]
    g = np.linalg.norm(Jv, axis=1)
    # the finite difference's error is of order eps (times the curvature) plus rounding / eps
    np.testing.assert_allclose(a, np.log(g), rtol=0, atol=1e-6)
    np.testing.assert_allclose(Vo, Jv / g[:, None], rtol=0, atol=1e-6)


def test_zero_steps_and_bad_arguments():
    m = dn.GradientDescentMap()
    W = m.initial_state(3, seed=0)
    V = _unit_vectors(3, m.dim, seed=1)
    W[1, 0] = np.nan
    S, Vo, a = eng.tangent(m, W, V, 0, EPS)
    assert np.array_equal(S[[0, 2]], W[[0, 2]]) and np.all(np.isnan(S[1]))
    assert np.array_equal(Vo, V) and a[0] == 0.0 and np.isnan(a[1])
    with pytest.raises(ValueError, match="eps"):
        eng.tangent(m, W, V, 2, float("nan"))
    with pytest.raises(ValueError, match="vectors"):
        eng.tangent(m, W, V[:2], 2, EPS)


def test_the_generic_loop_on_a_looped_parameter_map():
    """The logistic map batched over r (the loop fallback): exact mode, log |r (1 - 2 x)| summed."""
    r = np.array([3.2, 3.7, 4.0])
    bm = dn.LogisticMap().batched("r", r)
    x0 = np.array([[0.31], [0.42], [0.27]])
    x, v, acc = bm._advance_tangent(x0, np.ones((3, 1)), 25, 0.0)
    want = np.zeros(3)
    y = x0[:, 0].copy()
    for _ in range(25):
        want += np.log(np.abs(r * (1.0 - 2.0 * y)))
        y = r * y * (1.0 - y)
    np.testing.assert_allclose(acc, want, rtol=1e-12)
    np.testing.assert_allclose(x[:, 0], y, rtol=1e-12)
    assert np.all(np.abs(v) == 1.0)
    # the companion orbit agrees to the order of eps
    _, _, acc_orbit = bm._advance_tangent(x0, np.ones((3, 1)), 25, 1e-9)
    np.testing.assert_allclose(acc_orbit, want, rtol=0, atol=1e-4)


def test_study_with_the_fused_loop_equals_the_generic_loop(monkeypatch):
    """The segmented study on the fused kernel and on the generic loop: the same exponents."""
    def run():
        return dn.BifurcationStudy(values=(0.3, 2.0, 9.0), n_init=2, n_transient=30, n_keep=40,
                                   n_record=32, max_period=8, accuracy_every=7, seed=0).run()

    fused = run().result_
    monkeypatch.setattr(dn.GradientDescentMap, "_advance_tangent", Map._advance_tangent)
    generic = run().result_
    for name in ("member_tangent_exponent", "member_tangent_exponent_whole"):
        np.testing.assert_allclose(fused[name].values, generic[name].values, rtol=1e-11, atol=1e-13)
    for name in ("member_period", "member_time_to_accuracy", "loss"):
        np.testing.assert_array_equal(fused[name].values, generic[name].values)
