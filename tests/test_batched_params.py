"""Map parameters as batch members (issue 21, section 1): Map.batched and batch_params.

A member of a batch whose parameter varies over the members must give the same bits as a run
of the map at that single value, on every path (SIMD engine, BLAS path, numpy reference).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet.base import clone
from dynnet.maps.base import _LoopedParam

N_STEPS = 7


@pytest.fixture(scope="module")
def gd():
    return dn.GradientDescentMap(eta=1.0)


def _etas(n, seed=0):
    """Seeded random learning rates spread over [0.01, 20] (log-uniform), and an exact zero."""
    rng = np.random.default_rng(seed)
    etas = np.exp(rng.uniform(np.log(0.01), np.log(20.0), size=n))
    etas[n // 2] = 0.0  # the identity map, inside a block of moving members
    return etas


def _single(m, param, value):
    return clone(m).set_params(**{param: float(value)})


@pytest.mark.parametrize("path", ["simd", "blas"])
def test_gd_eta_per_member_is_bitwise_the_single_eta_run(gd, path, monkeypatch):
    monkeypatch.setenv("DYNNET_GD_PATH", path)
    etas = _etas(11)  # 11 members: a full block of 8 lanes and a padded one
    x0 = gd.initial_state(11, seed=3)
    bm = gd.batched("eta", etas)
    assert bm.engine_path() == path
    out = bm.iterate(x0, N_STEPS)
    for e, eta in enumerate(etas):
        single = _single(gd, "eta", eta)
        assert np.array_equal(out[e], single.iterate(x0[e], N_STEPS)), (path, e, eta)
    assert not np.array_equal(out[0], out[1])  # the members did run at different etas


def test_gd_eta_per_member_observe_records_are_bitwise(gd, monkeypatch):
    monkeypatch.setenv("DYNNET_GD_PATH", "simd")
    etas = _etas(9, seed=1)
    x0 = gd.initial_state(9, seed=4)
    u = np.random.default_rng(5).standard_normal(gd.dim)
    rec, final = gd.batched("eta", etas).observe(x0, 12, every=3, project=u)
    for e, eta in enumerate(etas):
        r1, f1 = _single(gd, "eta", eta).observe(x0[e:e + 1], 12, every=3, project=u)
        assert np.array_equal(final[e], f1[0])
        for name in ("loss", "weight_norm", "projection"):
            assert np.array_equal(rec[name][:, e], r1[name][:, 0]), (name, e)


def test_gd_eta_per_member_reference_step_and_jvp_are_bitwise(gd):
    etas = _etas(6, seed=2)
    x0 = gd.initial_state(6, seed=6)
    V = np.random.default_rng(7).standard_normal((6, 2, gd.dim))
    bm = gd.batched("eta", etas)
    ref = bm.reference_step(x0)
    J = bm.jvp(x0, V)
    for e, eta in enumerate(etas):
        single = _single(gd, "eta", eta)
        assert np.array_equal(ref[e], single.reference_step(x0[e])[0])
        assert np.array_equal(J[e], single.jvp(x0[e], V[e]))


@given(etas=st.lists(st.floats(0.0, 20.0, allow_nan=False), min_size=1, max_size=12),
       seed=st.integers(0, 2**16))
def test_property_any_etas_give_the_single_eta_bits(etas, seed):
    m = dn.GradientDescentMap(eta=1.0)
    x0 = m.initial_state(len(etas), seed=seed)
    out = m.batched("eta", etas).iterate(x0, 3)
    for e, eta in enumerate(etas):
        assert np.array_equal(out[e], _single(m, "eta", eta).iterate(x0[e], 3), equal_nan=True)


def test_logistic_r_per_member_is_bitwise():
    rs = np.random.default_rng(8).uniform(2.5, 4.0, size=10)
    lm = dn.LogisticMap()
    assert "r" in dn.LogisticMap.batch_params
    x0 = lm.initial_state(10, seed=9)
    bm = lm.batched("r", rs)
    out = bm.iterate(x0, 50)
    V = np.random.default_rng(10).standard_normal((10, 3, 1))
    J = bm.jvp(x0, V)
    for e, r in enumerate(rs):
        single = _single(lm, "r", r)
        assert np.array_equal(out[e], single.iterate(x0[e], 50))
        # the vectorised jvp equals the generic product with the 1x1 Jacobian
        assert np.array_equal(J[e], V[e] @ single.jacobian(x0[e]).T)


def test_undeclared_parameter_falls_back_to_a_loop_over_values():
    h = dn.HenonMap()
    assert "a" not in dn.HenonMap.batch_params
    a = np.array([1.4, 1.2, 1.4, 1.05])
    bm = h.batched("a", a)
    assert isinstance(bm, _LoopedParam)
    x0 = h.initial_state(4, seed=11)
    out = bm.iterate(x0, 20)
    V = np.random.default_rng(12).standard_normal((4, 2, 2))
    J = bm.jvp(x0, V)
    for e, value in enumerate(a):
        single = _single(h, "a", value)
        assert np.array_equal(out[e], single.iterate(x0[e], 20))
        assert np.array_equal(J[e], single.jvp(x0[e], V[e]))


def test_batched_validates():
    lm = dn.LogisticMap()
    with pytest.raises(ValueError, match="not a parameter"):
        lm.batched("q", [1.0])
    with pytest.raises(ValueError, match="at least one"):
        lm.batched("r", [])
    with pytest.raises(ValueError, match="3 states"):
        lm.batched("r", [3.0, 3.5]).iterate(np.full((3, 1), 0.3), 2)
    with pytest.raises(ValueError, match="r"):
        lm.batched("r", [3.0, 4.5]).iterate(np.full((2, 1), 0.3), 2)
    m = dn.GradientDescentMap().batched("eta", [0.5, 1.0])
    with pytest.raises(ValueError, match="single learning rate"):
        m.jacobian(m.initial_state(1, seed=0)[0])
    with pytest.raises(ValueError, match="eta"):
        dn.GradientDescentMap().batched("eta", [0.5, -1.0]).iterate(m.initial_state(2, seed=0), 1)
