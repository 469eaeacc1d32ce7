"""Checks shared by every conformance suite (parameters stored unchanged, clone round trip)."""

from __future__ import annotations

import numpy as np

from ..base import ParamsObject, clone

__all__: list[str] = []


def _name(obj) -> str:
    return type(obj).__name__


def _same(a, b) -> bool:
    """Deep equality of parameter values (arrays bitwise, NaN equal to NaN)."""
    if isinstance(a, ParamsObject) or isinstance(b, ParamsObject):
        return type(a) is type(b) and _same(a.get_params(deep=False), b.get_params(deep=False))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return (a.shape == b.shape and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - objects without a usable == are compared by identity
        return a is b


def _check_init_stores_params(obj):
    """``__init__`` stores each keyword parameter unchanged (no logic in __init__)."""
    cls = type(obj)
    names = cls._param_names()  # raises TypeError on *args/**kwargs
    params = obj.get_params(deep=False)
    assert sorted(params) == names, f"{_name(obj)}: get_params() keys {sorted(params)} != {names}"
    new = cls(**params)
    for k in names:
        got, want = getattr(new, k), params[k]
        # identity; or, for a string, the same text (GradientDescentMap.loss is the parameter's text
        # bound to its method: a new str object on each access, equal to the one given)
        same = got is want or (isinstance(want, str) and isinstance(got, str) and str(got) == str(want))
        assert same, (
            f"{_name(obj)}.__init__ does not store parameter {k!r} unchanged "
            "(validation and normalisation belong in fit/run/step, not __init__)"
        )
    fitted = [k for k in vars(new) if k.endswith("_") and not k.startswith("_")]
    assert not fitted, f"{_name(obj)}.__init__ sets result attributes {fitted}"


def _check_clone(obj):
    """``clone`` round trip: same class, same parameters, same repr."""
    c = clone(obj)
    assert type(c) is type(obj), f"clone({_name(obj)}) has type {type(c).__name__}"
    p0, p1 = obj.get_params(deep=False), c.get_params(deep=False)
    bad = sorted(k for k in p0 if not _same(p0[k], p1[k]))
    assert not bad, f"clone({_name(obj)}) changed parameters {bad}"
    assert repr(c) == repr(obj), f"clone changed the repr: {c!r} != {obj!r}"
    c2 = clone(obj).set_params(**obj.get_params(deep=False))
    assert repr(c2) == repr(obj), f"{_name(obj)}: set_params(**get_params()) changed the repr"
