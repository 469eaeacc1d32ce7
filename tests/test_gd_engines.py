"""GradientDescentMap's two engines behind one interface, chosen in one place (issue 18 item 7).

Both engines are built from the prepared problem alone and take the same inputs with each
call (validated states and the per-member eta); the map selects one of them in
dynnet.maps._gd_dispatch and calls it without asking the path again.
"""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dynnet as dn
from dynnet.base import clone
from dynnet.maps import _gd_blas, _gd_dispatch, _gd_engine, _gd_problem


@pytest.fixture(scope="module")
def iris():
    return dn.GradientDescentMap(eta=1.0)


ENGINES = {"simd": _gd_engine.SimdEngine, "blas": _gd_blas.BlasEngine}


def test_public_names_and_class_path_are_unchanged():
    from dynnet.maps.gd import BLAS_MIN_WORK, GradientDescentMap, Problem

    assert GradientDescentMap is dn.GradientDescentMap
    assert Problem is _gd_problem.Problem and BLAS_MIN_WORK == _gd_dispatch.BLAS_MIN_WORK == 700_000
    # saved files and plugin entry points name this path
    assert f"{GradientDescentMap.__module__}.{GradientDescentMap.__qualname__}" == \
        "dynnet.maps.gd.GradientDescentMap"
    assert isinstance(dn.GradientDescentMap().problem(), Problem)


@pytest.mark.parametrize("path", ["simd", "blas"])
def test_both_engines_implement_one_protocol(iris, path):
    engine = ENGINES[path](iris.problem())
    assert engine.path == path and engine.problem is iris.problem()
    assert engine.fused is (path == "simd")
    for name in ("advance", "loss", "stream", "observe", "close"):
        assert callable(getattr(engine, name)), name


@pytest.mark.parametrize("path", ["simd", "blas"])
def test_the_map_runs_the_selected_engine_with_its_inputs(iris, path, monkeypatch):
    """The map's iterate is the selected engine's advance on (problem, per-member eta), bitwise."""
    monkeypatch.setenv("DYNNET_GD_PATH", path)
    x = iris.initial_state(11, seed=2)
    engine = iris._engine()
    assert engine.path == iris.engine_path() == path
    assert engine is iris._engine()  # built once for this problem and path
    direct = ENGINES[path](iris.problem()).advance(x, 5, iris._etas(11))
    np.testing.assert_array_equal(iris.iterate(x, 5), direct)
    np.testing.assert_array_equal(iris.observables(x)["loss"], engine.loss(x))
    assert not np.array_equal(direct, x)


def test_the_two_engines_agree_with_the_reference(iris):
    """Same inputs, two implementations: each within 1e-12 relative of reference_step."""
    p = iris.problem()
    x = iris.initial_state(9, seed=5)
    eta = iris.batched("eta", np.linspace(0.0, 3.0, 9))._etas(9)  # an (E, 1) column, one eta at 0
    ref = x - eta * iris._loss_grad(x)[1]
    ref[0] = x[0]
    outs = {path: cls(p).advance(x, 1, eta) for path, cls in ENGINES.items()}
    for path, out in outs.items():
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-14, err_msg=path)
        np.testing.assert_array_equal(out[0], x[0])  # eta = 0: the identity, exactly
    assert not np.array_equal(outs["simd"][1:], x[1:])


def test_engine_follows_the_problem_and_the_forced_path(monkeypatch):
    m = dn.GradientDescentMap(eta=1.0)
    monkeypatch.setenv("DYNNET_GD_PATH", "blas")
    blas = m._engine()
    x = m.initial_state(3, seed=0)
    m.iterate(x, 1)
    assert blas.path == "blas" and blas._runners  # a runner for this thread was made
    monkeypatch.setenv("DYNNET_GD_PATH", "simd")
    simd = m._engine()
    assert simd.path == "simd" and not blas._runners  # the replaced engine was closed
    m.set_params(eta=2.0)  # a new problem, a new engine
    assert m._engine() is not simd and m._engine().problem is m.problem()
    monkeypatch.setenv("DYNNET_GD_PATH", "gpu")
    with pytest.raises(ValueError, match="DYNNET_GD_PATH='gpu' is not allowed"):
        m.iterate(x, 1)


def test_the_blas_engine_has_no_fused_loops(iris):
    engine = _gd_blas.BlasEngine(iris.problem())
    x = iris.initial_state(4, seed=1)
    with pytest.raises(NotImplementedError, match="no fused stream"):
        engine.stream(x, 2, 1, 2, "L2", 1.0)
    with pytest.raises(NotImplementedError, match="no fused observe"):
        engine.observe(x, 2, 1, None, 1.0)


def test_lane_etas_refuses_a_wrong_count():
    with pytest.raises(ValueError, match="3 learning rates for 2 states"):
        _gd_engine.lane_etas(np.ones((3, 1)), 2)
    np.testing.assert_array_equal(_gd_engine.lane_etas(0.5, 3), [0.5, 0.5, 0.5])


def test_pickled_and_cloned_maps_carry_no_engine_and_give_the_same_bits(iris):
    x = iris.initial_state(5, seed=4)
    ref = iris.iterate(x, 4)
    assert "engine" in iris.__dict__["_cache"]
    copy = pickle.loads(pickle.dumps(iris))
    assert "engine" not in copy.__dict__.get("_cache", {})
    np.testing.assert_array_equal(copy.iterate(x, 4), ref)
    np.testing.assert_array_equal(clone(iris).iterate(x, 4), ref)


def test_one_way_to_read_eta():
    """_eta() and _etas(n) both validate through Map.member_param: the same refusal."""
    m = dn.GradientDescentMap(eta=-1.0)
    for read in (m._eta, lambda: m._etas(2)):
        with pytest.raises(ValueError, match="eta"):
            read()
    assert dn.GradientDescentMap(eta=0.25)._eta() == 0.25
    with pytest.raises(ValueError, match="single learning rate"):
        dn.GradientDescentMap().batched("eta", [0.5, 1.0])._eta()


@settings(max_examples=10, deadline=None)
@given(E=st.integers(1, 10), n=st.integers(0, 3), seed=st.integers(0, 2**16),
       path=st.sampled_from(["simd", "blas"]))
def test_property_the_engine_is_the_map(iris, E, n, seed, path):
    """Whatever the batch, steps and path, a map step is its engine's advance, bitwise."""
    x = iris.initial_state(E, seed=seed)
    engine = ENGINES[path](iris.problem())
    y = x
    for _ in range(n):
        y = engine.advance(y, 1, iris._etas(E))
    np.testing.assert_array_equal(engine.advance(x, n, iris._etas(E)), y)
    if path == iris.engine_path():
        np.testing.assert_array_equal(iris.iterate(x, n), y)
