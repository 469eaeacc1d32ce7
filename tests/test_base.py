"""The parameter-object base: get/set params, clone, repr, validation, seeds."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet.base import ParamsObject, as_seed_sequence, check_int, check_option, check_scalar, stream


class Inner(ParamsObject):
    def __init__(self, a=1, b="x"):
        self.a = a
        self.b = b


class Outer(ParamsObject):
    def __init__(self, inner=None, c=2.0, items=()):
        self.inner = inner
        self.c = c
        self.items = items


def test_get_params_shallow_and_deep():
    o = Outer(inner=Inner(a=3), c=4.0)
    assert set(o.get_params(deep=False)) == {"inner", "c", "items"}
    deep = o.get_params()
    assert deep["inner__a"] == 3 and deep["inner__b"] == "x" and deep["c"] == 4.0


def test_set_params_nested_and_returns_self():
    o = Outer(inner=Inner())
    assert o.set_params(inner__a=7, c=1.5) is o
    assert o.inner.a == 7 and o.c == 1.5


def test_set_params_rejects_unknown_names():
    with pytest.raises(ValueError, match="invalid parameter 'zz'.*Outer"):
        Outer().set_params(zz=1)
    with pytest.raises(ValueError, match="not a parameter object"):
        Outer(inner=None).set_params(inner__a=1)


def test_init_stores_values_unchanged():
    arr = np.arange(3.0)
    o = Outer(inner=arr, c="not validated yet")
    assert o.inner is arr and o.c == "not validated yet"


def test_clone_is_deep_and_unfitted():
    o = Outer(inner=Inner(a=[1, 2]), items=[Inner(a=5)])
    o.result_ = 42
    c = dn.clone(o)
    assert c is not o and c.inner is not o.inner and c.items[0] is not o.items[0]
    assert c.get_params(deep=True).keys() == o.get_params(deep=True).keys()
    assert c.inner.a == [1, 2] and c.inner.a is not o.inner.a
    assert not hasattr(c, "result_")
    with pytest.raises(TypeError, match="not a dynnet parameter object"):
        dn.clone(object())


def test_repr_shows_non_default_params_only():
    assert repr(Inner()) == "Inner()"
    assert repr(Inner(a=2)) == "Inner(a=2)"
    assert repr(Outer(inner=Inner(b="y"))) == "Outer(inner=Inner(b='y'))"


def test_kwargs_constructors_are_refused():
    class Bad(ParamsObject):
        def __init__(self, **kw):
            pass

    with pytest.raises(TypeError, match=r"\*\*kwargs"):
        Bad().get_params()


@pytest.mark.parametrize("value,exc,msg", [
    ("a", TypeError, "must be a real number"),
    (True, TypeError, "must be a real number"),
    (-1.0, ValueError, r"out of range; allowed: \[0.0, inf\]"),
    (np.nan, ValueError, "must be finite"),
])
def test_check_scalar_errors_name_parameter_value_and_range(value, exc, msg):
    with pytest.raises(exc, match=msg) as info:
        check_scalar(Inner(), "eta", value, low=0.0)
    assert "eta=" in str(info.value) and "Inner" in str(info.value)


def test_check_int_and_option():
    assert check_int(None, "n", 3, low=1) == 3
    with pytest.raises(TypeError, match="must be an integer"):
        check_int(None, "n", 2.5)
    with pytest.raises(ValueError, match=r"n=0 is out of range"):
        check_int(None, "n", 0, low=1)
    with pytest.raises(ValueError, match=r"on='bias' is not allowed; allowed values are \['all'\]"):
        check_option(None, "on", "bias", ["all"])


def test_seed_normalisation():
    assert as_seed_sequence(5).entropy == 5
    ss = np.random.SeedSequence(1)
    assert as_seed_sequence(ss) is ss
    with pytest.raises(TypeError):
        as_seed_sequence("five")
    with pytest.raises(ValueError):
        as_seed_sequence(-1)


@given(st.integers(0, 2**32), st.integers(0, 50))
def test_stream_is_addressed_by_index(seed, i):
    """stream(seed, i) equals the i-th child of SeedSequence(seed).spawn."""
    children = np.random.SeedSequence(seed).spawn(i + 1)
    a = stream(seed, i).random(4)
    b = np.random.default_rng(children[i]).random(4)
    np.testing.assert_array_equal(a, b)


def test_global_rng_untouched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    m = dn.GradientDescentMap()
    m.initial_state(3, seed=0)
    dn.UniformPerturber(eps=1e-3, n=4).perturb(np.zeros(83), map=m, seed=2)
    np.testing.assert_array_equal(before, np.random.get_state()[1])
