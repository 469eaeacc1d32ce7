"""Parameter objects: the one small base class behind every dynnet part.

Every Map, Perturber, Metric, Estimator and Study derives from
:class:`ParamsObject`. The conventions follow scikit-learn's estimator API:

* ``__init__`` takes keyword parameters and stores each unchanged under the same
  name; it does no validation and no computation.
* :meth:`ParamsObject.get_params` / :meth:`ParamsObject.set_params` read and write
  them, with ``outer__inner`` nesting into parameters that are themselves
  parameter objects.
* :func:`clone` builds an unfitted copy with the same parameters.
* Parameters are validated when the object runs (``fit``, ``run``, ``step``...),
  by the ``check_*`` helpers here, which raise ``ValueError``/``TypeError``
  naming the parameter, the value given and what is allowed.
* Computed results live in attributes whose names end with ``_``.

Seeds are normalised once by :func:`as_seed_sequence`; independent streams for
ensemble members come from :func:`stream`, keyed by index, so results never
depend on chunking or on the number of workers.
"""

from __future__ import annotations

import copy
import inspect
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TypeAlias

    from numpy.typing import DTypeLike

    #: What a ``seed`` parameter accepts (see :func:`as_seed_sequence`).
    SeedLike: TypeAlias = (
        int | Sequence[int] | np.random.SeedSequence | np.random.Generator | None
    )

__all__ = [
    "ParamsObject",
    "clone",
    "as_seed_sequence",
    "stream",
    "check_scalar",
    "check_option",
    "check_int",
    "check_array",
]


class ParamsObject:
    """Base class for objects configured by keyword parameters.

    Subclasses list their parameters as explicit keyword arguments of
    ``__init__`` and store each one unchanged as an attribute of the same
    name. Everything else (introspection, nested setting, cloning, repr) comes
    from this class.

    Notes
    -----
    Pattern from scikit-learn's ``BaseEstimator``
    (``sklearn/base.py``; "Developing scikit-learn estimators").
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        sig = inspect.signature(init)
        names = []
        for name, p in sig.parameters.items():
            if name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(
                    f"{cls.__name__}.__init__ must list its parameters explicitly; "
                    f"*args/**kwargs ({name!r}) are not allowed"
                )
            names.append(name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this object, by name.

        Parameters
        ----------
        deep : bool, default True
            Also return the parameters of nested parameter objects, as
            ``outer__inner``.

        Returns
        -------
        dict of str to object
            Each ``__init__`` parameter name mapped to its current value (the
            attribute of the same name); with ``deep=True`` also the
            ``outer__inner`` entries of nested parameter objects.
        """
        out = {}
        for name in self._param_names():
            value = getattr(self, name)
            out[name] = value
            if deep and isinstance(value, ParamsObject):
                for k, v in value.get_params(deep=True).items():
                    out[f"{name}__{k}"] = v
        return out

    def set_params(self, **params: Any) -> ParamsObject:
        """Set parameters by name; ``outer__inner`` reaches nested objects.

        Values are stored unchanged (validation happens when the object
        runs); cached computations that depend on the parameters are dropped.

        Parameters
        ----------
        **params : object
            New values keyed by parameter name; ``outer__inner`` sets the
            parameter ``inner`` of the nested parameter object ``outer``.

        Returns
        -------
        ParamsObject
            This object (``self``), so that calls can be chained.

        Raises
        ------
        ValueError
            If a name is not a parameter of this object (with the closest
            valid name, if any), or if ``outer__inner`` is given for an
            ``outer`` that is not a parameter object.
        """
        if not params:
            return self
        valid = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                import difflib

                close = difflib.get_close_matches(name, valid, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}{hint}; "
                    f"valid parameters are {valid}"
                )
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            inner = getattr(self, name)
            if not isinstance(inner, ParamsObject):
                raise ValueError(
                    f"cannot set nested parameters {sorted(sub_params)} on "
                    f"{type(self).__name__}.{name}={inner!r}: it is not a parameter object"
                )
            try:
                inner.set_params(**sub_params)
            except ValueError as exc:  # name the full path: "map__eat", not just "eat"
                raise ValueError(f"{type(self).__name__}.{name}: {exc}") from None
        self._invalidate()
        return self

    def _invalidate(self) -> None:
        """Drop caches that depend on parameters (called by set_params)."""
        self.__dict__.pop("_cache", None)

    def _cached(self, key: Any, build):
        """Return ``build()``, cached until ``key`` or the parameters change."""
        cache = self.__dict__.setdefault("_cache", {})
        entry = cache.get("entry")
        if entry is None or not _same_key(entry[0], key):
            entry = (key, build())
            cache["entry"] = entry
        return entry[1]

    def __repr__(self) -> str:
        parts = []
        sig = inspect.signature(type(self).__init__)
        for name in self._param_names():
            value = getattr(self, name, None)
            default = sig.parameters[name].default
            if default is not inspect.Parameter.empty and _same_key(value, default):
                continue
            parts.append(f"{name}={_short_repr(value)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_cache", None)
        return state


def _same_key(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(
            _same_key(x, y) for x, y in zip(a, b, strict=True)
        )
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - objects with odd __eq__ are simply different
        return False


def _short_repr(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"<array shape={value.shape} dtype={value.dtype}>"
    if isinstance(value, range):
        return repr(value)
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"<{type(value).__name__} of {len(value)}>"
    return repr(value)


def clone(obj: Any, *, safe: bool = True) -> Any:
    """An unfitted copy of a parameter object, with the same parameters.

    Nested parameter objects (and lists or tuples of them) are cloned too;
    other parameter values are deep-copied. Results (``*_`` attributes) are not
    carried over.

    Parameters
    ----------
    obj : ParamsObject or list or tuple of ParamsObject
        The object to copy; a list or tuple is cloned element by element
        into a container of the same type.
    safe : bool, default True
        If False, objects that are not parameter objects are deep-copied
        instead of raising ``TypeError``.

    Returns
    -------
    ParamsObject or list or tuple
        A new object of the same type built from ``obj.get_params(deep=False)``
        (each value cloned), without any fitted ``*_`` attributes; for a list
        or tuple, a container of the same type holding the clones.

    Raises
    ------
    TypeError
        If ``safe`` is True and ``obj`` (or an element of it) is not a
        parameter object.
    """
    if isinstance(obj, (list, tuple)):
        return type(obj)(clone(o, safe=safe) for o in obj)
    if not isinstance(obj, ParamsObject):
        if safe:
            raise TypeError(
                f"cannot clone {obj!r} of type {type(obj).__name__}: it is not a "
                "dynnet parameter object (no get_params)"
            )
        return copy.deepcopy(obj)
    params = obj.get_params(deep=False)
    new = {k: clone(v, safe=False) for k, v in params.items()}
    return type(obj)(**new)


# ----------------------------------------------------------------------------
# seeds
# ----------------------------------------------------------------------------

def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Normalise a seed to a :class:`numpy.random.SeedSequence`.

    Parameters
    ----------
    seed : None, int, sequence of int, SeedSequence or Generator
        ``None`` draws fresh entropy (recorded in ``.entropy`` so a run can be
        repeated); a Generator contributes 128 bits drawn from it (advancing
        it); a SeedSequence is returned as it is. Integers must be >= 0.

    Returns
    -------
    numpy.random.SeedSequence
        The normalised seed.

    Raises
    ------
    TypeError
        If ``seed`` is a bool or of a type not listed above.
    ValueError
        If ``seed`` is a negative integer.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=2).tolist())
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed={seed!r} is a bool; give an int >= 0, None, a SeedSequence or a Generator")
    if isinstance(seed, numbers.Integral):
        if seed < 0:
            raise ValueError(f"seed={seed!r} must be >= 0")
        return np.random.SeedSequence(int(seed))
    if isinstance(seed, Iterable) and not isinstance(seed, (str, bytes)):
        vals = list(seed)
        if all(isinstance(v, numbers.Integral) and v >= 0 for v in vals):
            return np.random.SeedSequence([int(v) for v in vals])
    raise TypeError(
        f"seed={seed!r} of type {type(seed).__name__} is not allowed; give an int >= 0, "
        "None, a sequence of ints, a numpy SeedSequence or a numpy Generator"
    )


def stream(seed: SeedLike, *key: int) -> np.random.Generator:
    """An independent Generator for the member with index ``key`` of ``seed``.

    ``stream(seed, i)`` is the stream of the i-th child that
    ``SeedSequence(seed).spawn`` would give, but addressed by index, so it does
    not depend on how many streams were made before.

    Parameters
    ----------
    seed : None, int, sequence of int, SeedSequence or Generator
        The parent seed, normalised by :func:`as_seed_sequence` (so ``None``
        or a Generator gives a different parent on every call).
    *key : int
        Index path of the child below ``seed``: ``stream(seed, i, j)`` is
        child ``j`` of child ``i``.

    Returns
    -------
    numpy.random.Generator
        A generator seeded by the ``SeedSequence`` with the parent's entropy
        and pool size and spawn key ``parent.spawn_key + key``.
    """
    ss = as_seed_sequence(seed)
    child = np.random.SeedSequence(
        ss.entropy, spawn_key=tuple(ss.spawn_key) + tuple(int(k) for k in key),
        pool_size=ss.pool_size,
    )
    return np.random.default_rng(child)


# ----------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------

def _owner(obj: Any) -> str:
    return type(obj).__name__ if obj is not None else "dynnet"


def check_scalar(obj: Any, name: str, value: Any, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False,
                 high_open: bool = False, finite: bool = True) -> float:
    """Validate a real scalar parameter and return it as float.

    Parameters
    ----------
    obj : object or None
        The object the parameter belongs to; its class name starts the error
        message (``"dynnet"`` if None).
    name : str
        Parameter name, for the error message.
    value : object
        The value to check: a real number (not a bool).
    low, high : float or None, default None
        Bounds of the allowed interval; None means unbounded on that side.
    low_open, high_open : bool, default False
        Whether the corresponding bound is excluded (open interval end).
    finite : bool, default True
        Reject NaN and infinities.

    Returns
    -------
    float
        ``float(value)``.

    Raises
    ------
    TypeError
        If ``value`` is not a real number, or is a bool.
    ValueError
        If ``value`` is not finite (with ``finite=True``) or outside the
        interval; the message names the interval.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{_owner(obj)}: parameter {name}={value!r} must be a real number, "
            f"got {type(value).__name__}"
        )
    v = float(value)
    if finite and not np.isfinite(v):
        raise ValueError(f"{_owner(obj)}: parameter {name}={value!r} must be finite")
    lo_ok = low is None or (v > low if low_open else v >= low)
    hi_ok = high is None or (v < high if high_open else v <= high)
    if not (lo_ok and hi_ok):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        raise ValueError(
            f"{_owner(obj)}: parameter {name}={value!r} is out of range; "
            f"allowed: {lb}{lo}, {hi}{hb}"
        )
    return v


def check_int(obj: Any, name: str, value: Any, *, low: int | None = None,
              high: int | None = None) -> int:
    """Validate an integer parameter and return it as int.

    Parameters
    ----------
    obj : object or None
        The object the parameter belongs to; its class name starts the error
        message (``"dynnet"`` if None).
    name : str
        Parameter name, for the error message.
    value : object
        The value to check: an integral number (not a bool).
    low, high : int or None, default None
        Inclusive bounds; None means unbounded on that side.

    Returns
    -------
    int
        ``int(value)``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer, or is a bool.
    ValueError
        If ``value`` is outside ``[low, high]``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{_owner(obj)}: parameter {name}={value!r} must be an integer, "
            f"got {type(value).__name__}"
        )
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(
            f"{_owner(obj)}: parameter {name}={value!r} is out of range; allowed: [{lo}, {hi}]"
        )
    return v


def check_option(obj: Any, name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Validate that a parameter is one of ``allowed``.

    Parameters
    ----------
    obj : object or None
        The object the parameter belongs to; its class name starts the error
        message (``"dynnet"`` if None).
    name : str
        Parameter name, for the error message.
    value : object
        The value to check (compared with ``in``; unhashable or
        incomparable values are rejected).
    allowed : iterable
        The allowed values, listed in the error message.

    Returns
    -------
    object
        ``value``, unchanged.

    Raises
    ------
    ValueError
        If ``value`` is not in ``allowed``.
    """
    allowed = list(allowed)
    try:
        ok = value in allowed
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{_owner(obj)}: parameter {name}={value!r} is not allowed; "
            f"allowed values are {allowed}"
        )
    return value


def check_array(obj: Any, name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None,
                finite: bool = True, dtype: DTypeLike = np.float64, copy: bool = False) -> np.ndarray:
    """Validate an array argument: numeric, the given ndim, finite; cast to dtype.

    Parameters
    ----------
    obj : object or None
        The object the argument belongs to; its class name starts the error
        message (``"dynnet"`` if None).
    name : str
        Argument name, for the error message.
    value : array_like
        The value to convert.
    ndim : int or tuple of int or None, default None
        Allowed number(s) of dimensions; None allows any.
    finite : bool, default True
        Reject arrays containing NaN or infinities.
    dtype : data-type, default numpy.float64
        The dtype to convert to.
    copy : bool, default False
        Always return a new array (otherwise ``value`` itself may be returned
        when it already has the dtype).

    Returns
    -------
    numpy.ndarray
        ``value`` as an array of ``dtype``.

    Raises
    ------
    TypeError
        If ``value`` cannot be converted to ``dtype``.
    ValueError
        If the number of dimensions is not allowed, or (with ``finite=True``)
        the array holds NaN or infinite values.
    """
    try:
        arr = np.array(value, dtype=dtype, copy=copy) if copy else np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{_owner(obj)}: {name} must be a numeric array convertible to "
            f"{np.dtype(dtype).name}, got {type(value).__name__} ({exc})"
        ) from None
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in dims:
            raise ValueError(
                f"{_owner(obj)}: {name} must have ndim in {list(dims)}, got shape {arr.shape}"
            )
    if finite and arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{_owner(obj)}: {name} contains NaN or infinite values")
    return arr
