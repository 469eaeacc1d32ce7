"""Conformance checks for Maps, Perturbers, Metrics and Estimators.

Each ``check_*`` function takes an instance and raises ``AssertionError``
(with a message naming the class and the broken promise) if it does not keep
dynnet's contract. The individual checks are plain functions
``check(obj)`` listed by :func:`map_checks` & co., so :func:`parametrize_with_checks`
can turn them into one pytest test each.

Estimators follow one convention, ``fit(data, *, map=None, steps=None)``
(see :class:`dynnet.Estimator`), and need example data to be fitted on. The
protocol:

* the class may define ``_check_data()`` (a ``staticmethod`` or
  ``classmethod``) returning the arguments of ``fit``: a tuple (``(data,)``)
  or a dict of keywords (``{"data": x, "map": m}``, ``{"data": d, "steps": t}``).
  Keep it small: the checks fit a few times.
* or, for a class you do not own, register a factory with
  :func:`register_check_data` (``register_check_data(MyEstimator, lambda: (series,))``).

The class's own ``_check_data`` wins over the registry.

A check that does not apply to an object (for example the map checks of an
estimator whose data need no map) raises :class:`unittest.SkipTest` with
the reason, which pytest reports as a skip; :func:`check_estimator` collects
those reasons and returns them, so a skipped check is never reported as
passed.

Maps are checked at states from ``m._check_states(n, seed)`` if the map
defines it (use it when the initial states sit on the boundary of the
domain, e.g. Adam's zero second moments, where a finite-difference step
would leave the domain), else from ``m.initial_state(n, seed)``, else at
small normal states. Two fits must give
bit-identical results; a result attribute that cannot (a wall-clock timing)
must be declared in the class attribute ``_check_nondeterministic``
(a tuple of attribute names).
"""

from __future__ import annotations

import functools
import inspect
import numbers
import unittest
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import clone, stream
from ._common import _check_clone, _check_init_stores_params, _name, _same

if TYPE_CHECKING:
    import pytest
    from numpy.typing import ArrayLike

    from ..estimators.base import Estimator
    from ..maps.base import Map
    from ..metrics import Metric
    from ..perturbers import Perturber
    from ..studies.base import Study

__all__ = [
    "check_map", "check_perturber", "check_metric", "check_estimator",
    "map_checks", "perturber_checks", "metric_checks", "estimator_checks",
    "checks_for", "parametrize_with_checks", "register_check_data", "check_data",
    "FD_RTOL",
]

#: relative tolerance of the Jacobian against central finite differences
#: (central differences with h ~ 7.6e-6 |x| are accurate to ~1e-10 for smooth maps)
FD_RTOL = 1e-6


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _snapshot(obj):
    import copy

    return copy.deepcopy(obj.get_params(deep=True))


def _assert_params_unchanged(obj, before, what):
    after = obj.get_params(deep=True)
    changed = sorted(k for k in before if not _same(before[k], after.get(k)))
    assert not changed, (
        f"{_name(obj)}: {what} changed the public parameters {changed}; parameters must be "
        "stored unchanged (put computed values in attributes ending with '_')"
    )


def _assert_bits(a, b, what):
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape, f"{what}: shapes differ, {a.shape} vs {b.shape}"
    same = np.array_equal(a, b, equal_nan=True)
    if not same:
        diff = np.nanmax(np.abs(a - b)) if a.size else 0.0
        raise AssertionError(f"{what}: not bit-identical (max abs difference {diff:.3g})")


# ---------------------------------------------------------------------------
# maps
# ---------------------------------------------------------------------------

def _has_sampler(m) -> bool:
    from ..maps.base import Map

    return type(m).sample_state is not Map.sample_state


def _map_states(m, n=4, seed=1234):
    """Example states: ``m._check_states(n, seed)`` if defined, else ``m.initial_state``
    if the map samples, else small normals."""
    hook = getattr(m, "_check_states", None)
    if hook is not None:
        x = np.asarray(hook(n, seed), dtype=np.float64)
        assert x.shape == (n, m._dim()), f"{_name(m)}._check_states gave shape {x.shape}"
        return x
    if _has_sampler(m):
        return m.initial_state(n, seed=seed)
    d = m._dim()
    return 0.1 * stream(seed, 0).standard_normal((n, d))


def check_map_interface(m: Map) -> None:
    """``dim`` is a positive int; ``step`` maps (E, dim) float64 to (E, dim) float64
    without touching its input; ``jacobian`` (if any) is (dim, dim) float64."""
    from ..maps.base import Map

    assert isinstance(m, Map), f"{_name(m)} is not a dynnet.Map"
    d = m.dim
    assert isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0, (
        f"{_name(m)}.dim must be a positive int, got {d!r}")
    x = _map_states(m)
    assert x.shape == (4, d) and x.dtype == np.float64, (
        f"{_name(m)}.initial_state gave {x.shape} {x.dtype}, expected (4, {d}) float64")
    x0 = x.copy()
    y = m.step(x)
    _assert_bits(x, x0, f"{_name(m)}.step modified its input")
    assert isinstance(y, np.ndarray) and y.shape == x.shape and y.dtype == np.float64, (
        f"{_name(m)}.step must return a float64 array {x.shape}, got "
        f"{type(y).__name__} {getattr(y, 'shape', None)} {getattr(y, 'dtype', None)}")
    assert y is not x, f"{_name(m)}.step must return a new array, not its input"
    it = m.iterate(x[0], 2)
    assert it.shape == (d,), f"{_name(m)}.iterate of one state must return ({d},), got {it.shape}"
    tr = m.trajectory(x, 4, every=2)
    assert tr.shape == (3, 4, d), f"{_name(m)}.trajectory(x, 4, every=2) has shape {tr.shape}"
    if m.has_jacobian:
        J = m.jacobian(x[0])
        assert isinstance(J, np.ndarray) and J.shape == (d, d) and J.dtype == np.float64, (
            f"{_name(m)}.jacobian must return a float64 ({d}, {d}) array, got "
            f"{getattr(J, 'shape', None)} {getattr(J, 'dtype', None)}")
    groups = m.coordinate_groups()
    assert "all" in groups, f"{_name(m)}.coordinate_groups() lacks 'all'"
    for g, idx in groups.items():
        idx = np.asarray(idx)
        assert idx.ndim == 1 and (idx.size == 0 or (idx.min() >= 0 and idx.max() < d)), (
            f"{_name(m)}.coordinate_groups()[{g!r}] is not a set of indices in [0, {d})")
    for k, v in m.observables(x).items():
        v = np.asarray(v)
        assert v.shape == (4,), f"{_name(m)}.observables()[{k!r}] has shape {v.shape}, expected (4,)"


def check_map_params_unchanged(m: Map) -> None:
    """Running the map (step, iterate, trajectory, jacobian) leaves its parameters unchanged."""
    before = _snapshot(m)
    x = _map_states(m)
    m.step(x)
    m.iterate(x, 3)
    m.trajectory(x, 2)
    if m.has_jacobian:
        m.jacobian(x[0])
    _assert_params_unchanged(m, before, "running the map")


def check_map_init(m: Map) -> None:
    """``__init__`` stores parameters unchanged and sets no results."""
    _check_init_stores_params(m)


def check_map_clone(m: Map) -> None:
    """``clone`` round trip, and the clone steps to the same bits."""
    _check_clone(m)
    x = _map_states(m)
    _assert_bits(clone(m).step(x), m.step(x), f"{_name(m)}: a clone steps differently")


def check_map_seed(m: Map) -> None:
    """``initial_state(n, seed)`` is a function of the seed; member i does not depend on n."""
    if not _has_sampler(m):
        _skip(f"{_name(m)} draws no random initial states (no sample_state)")
    a = m.initial_state(5, seed=7)
    b = m.initial_state(5, seed=7)
    _assert_bits(a, b, f"{_name(m)}.initial_state with the same seed")
    c = m.initial_state(3, seed=7)
    _assert_bits(a[:3], c, f"{_name(m)}.initial_state(n)[i] must not depend on n")
    if a.shape[1] and np.ptp(a, axis=0).max() > 0:  # a map whose states vary at all
        d = m.initial_state(5, seed=8)
        assert not np.array_equal(a, d), f"{_name(m)}.initial_state ignores the seed"


def check_map_iterate_equals_steps(m: Map) -> None:
    """``iterate(x, n)`` equals n calls of ``step`` (bitwise); trajectory rows too."""
    x = _map_states(m)
    n = 7
    y = x.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(n):
            y = m.step(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = m.iterate(x, n)
        tr = m.trajectory(x, n, every=1)
    _assert_bits(it, y, f"{_name(m)}.iterate(x, {n}) vs {n} steps")
    _assert_bits(tr[-1], y, f"{_name(m)}.trajectory(x, {n})[-1] vs {n} steps")
    _assert_bits(tr[0], x, f"{_name(m)}.trajectory(x, n)[0] vs x")
    _assert_bits(m.iterate(x, 0), x, f"{_name(m)}.iterate(x, 0) vs x")


def check_map_batch_equals_members(m: Map) -> None:
    """A batch gives, for each member, the bits that member gives alone (step and iterate)."""
    x = _map_states(m, n=5)
    y = m.step(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yn = m.iterate(x, 5)
        for i in range(x.shape[0]):
            _assert_bits(m.step(x[i:i + 1])[0], y[i], f"{_name(m)}.step: member {i} alone vs in a batch")
            _assert_bits(m.iterate(x[i], 5), yn[i],
                         f"{_name(m)}.iterate: member {i} alone vs in a batch")
        # a different batch order gives the same members
        perm = np.arange(x.shape[0])[::-1]
        _assert_bits(m.step(x[perm]), y[perm], f"{_name(m)}.step on a reordered batch")


def finite_difference_jacobian(m: Map, state: ArrayLike, rel_step: float = 2.0 ** -17) -> np.ndarray:
    """Central finite-difference Jacobian ``(dim, dim)`` of ``m.step`` at ``state``.

    Column j is :math:`(g(x + h_j e_j) - g(x - h_j e_j)) / (2 h_j)` with
    :math:`h_j = r\\max(1, |x_j|)`, ``r = rel_step``, evaluated in one batched
    call of ``step``; the divisor is the exactly representable
    :math:`(x_j + h_j) - (x_j - h_j)`, not :math:`2 h_j` itself.

    Parameters
    ----------
    m : Map
        The map whose ``step`` is differentiated.
    state : array_like, shape (dim,)
        Where the Jacobian is evaluated (not validated).
    rel_step : float, default 2**-17
        Relative step :math:`r` (about 7.6e-6).

    Returns
    -------
    ndarray, shape (dim, dim)
        The estimate of :math:`\\partial g_i / \\partial x_j` at ``state``.
    """
    x = np.asarray(state, dtype=np.float64)
    d = x.shape[0]
    h = rel_step * np.maximum(1.0, np.abs(x))
    plus = x + np.diag(h)
    minus = x - np.diag(h)
    h_eff = (np.diagonal(plus) - np.diagonal(minus))  # the exactly representable 2h
    g = m.step(np.concatenate([plus, minus], axis=0))
    return ((g[:d] - g[d:]) / h_eff[:, None]).T


def check_map_jacobian(m: Map) -> None:
    """The Jacobian agrees with central finite differences (relative ``FD_RTOL`` = 1e-6)."""
    if not m.has_jacobian:
        _skip(f"{_name(m)} has no jacobian")
    x = _map_states(m, n=2)
    for i in range(x.shape[0]):
        J = m.jacobian(x[i])
        F = finite_difference_jacobian(m, x[i])
        scale = max(1.0, float(np.max(np.abs(J))))
        err = float(np.max(np.abs(J - F))) / scale
        assert err <= FD_RTOL, (
            f"{_name(m)}.jacobian differs from central finite differences at state {i}: "
            f"max |J - J_fd| / max(1, max |J|) = {err:.3g} > {FD_RTOL:g}")


def map_checks() -> list[Callable[[Map], None]]:
    """The checks :func:`check_map` runs, in order.

    Returns
    -------
    list of callable
        Functions ``check(m)`` that raise ``AssertionError`` naming the broken
        promise.
    """
    return [check_map_init, check_map_params_unchanged, check_map_interface, check_map_clone,
            check_map_seed, check_map_iterate_equals_steps, check_map_batch_equals_members,
            check_map_jacobian]


def check_map(m: Map) -> dict[str, str]:
    """Run every map check on ``m``; raises AssertionError naming the broken promise.

    Checks: the interface (``dim``, ``step`` shape and dtype, ``jacobian`` shape),
    parameters stored unchanged by ``__init__`` and untouched by running,
    ``clone`` round trip, same seed -> same initial states, ``iterate(x, n)``
    equals n steps bitwise, a batch equals its members run alone bitwise, and
    the Jacobian against central finite differences (relative ``FD_RTOL``).
    The seed check does not apply to a map without ``sample_state``, nor the
    Jacobian check to a map without ``jacobian``: they are skipped and named in
    the returned dict (under pytest, :func:`parametrize_with_checks` reports them
    as skipped).

    Parameters
    ----------
    m : Map
        The map to check, configured (its parameters are used as they are).

    Returns
    -------
    dict
        The checks that did not apply, with the reason.

    Raises
    ------
    AssertionError
        At the first check that fails.
    """
    skipped = {}
    for c in map_checks():
        try:
            c(m)
        except unittest.SkipTest as exc:
            skipped[c.__name__] = str(exc)
    return skipped


# ---------------------------------------------------------------------------
# perturbers
# ---------------------------------------------------------------------------

def _default_context_map():
    """The map perturbers and metrics are checked against when none is given."""
    from ..maps.gd import GradientDescentMap

    return GradientDescentMap()


def _reference(map, seed=3):
    return map.initial_state(1, seed=seed)[0]


def check_perturber_interface(p: Perturber, map: Map | None = None) -> None:
    """``perturb`` gives (n, dim) float64 copies, finite, and leaves its input alone."""
    from ..perturbers import Perturber

    assert isinstance(p, Perturber), f"{_name(p)} is not a dynnet.Perturber"
    map = map or _default_context_map()
    x = _reference(map)
    x0 = x.copy()
    out = p.perturb(x, map=map, seed=0)
    _assert_bits(x, x0, f"{_name(p)}.perturb modified its input")
    n = int(p.n) if hasattr(p, "n") else out.shape[0]
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (n, x.shape[0]), (
        f"{_name(p)}.perturb must return a float64 ({n}, {x.shape[0]}) array, got "
        f"{getattr(out, 'shape', None)} {getattr(out, 'dtype', None)}")
    assert np.all(np.isfinite(out)), f"{_name(p)}.perturb returned non-finite states"
    assert not np.array_equal(out, np.repeat(x[None], n, axis=0)), f"{_name(p)}.perturb changed nothing"


def check_perturber_params_unchanged(p: Perturber, map: Map | None = None) -> None:
    """``perturb`` leaves the parameters unchanged."""
    map = map or _default_context_map()
    before = _snapshot(p)
    p.perturb(_reference(map), map=map, seed=0)
    _assert_params_unchanged(p, before, "perturb")


def check_perturber_init(p: Perturber, map: Map | None = None) -> None:
    """``__init__`` stores parameters unchanged and sets no results."""
    _check_init_stores_params(p)


def check_perturber_clone(p: Perturber, map: Map | None = None) -> None:
    """``clone`` round trip; the clone perturbs to the same bits."""
    _check_clone(p)
    map = map or _default_context_map()
    x = _reference(map)
    _assert_bits(clone(p).perturb(x, map=map, seed=5), p.perturb(x, map=map, seed=5),
                 f"{_name(p)}: a clone perturbs differently")


def check_perturber_seed(p: Perturber, map: Map | None = None) -> None:
    """Same seed -> same bits; another seed -> other states."""
    map = map or _default_context_map()
    x = _reference(map)
    a = p.perturb(x, map=map, seed=11)
    _assert_bits(a, p.perturb(x, map=map, seed=11), f"{_name(p)}.perturb with the same seed")
    assert not np.array_equal(a, p.perturb(x, map=map, seed=12)), f"{_name(p)}.perturb ignores the seed"


def check_perturber_box_and_selection(p: Perturber, map: Map | None = None) -> None:
    """Unselected coordinates are bit-identical; a uniform box holds its half-width."""
    from ..perturbers import UniformPerturber

    map = map or _default_context_map()
    x = _reference(map)
    params = p.get_params(deep=False)
    if "on" in params:
        d = x.shape[0]
        sel = np.arange(0, d, 3)
        q = clone(p).set_params(on=sel)
        out = q.perturb(x, map=map, seed=2)
        rest = np.setdiff1d(np.arange(d), sel)
        _assert_bits(out[:, rest], np.broadcast_to(x[rest], out[:, rest].shape),
                     f"{_name(p)}: unselected coordinates")
    if isinstance(p, UniformPerturber):
        out = p.perturb(x, map=map, seed=4)
        eps = float(p.eps)
        # x + delta is rounded once: allow one ulp of the result beyond the box
        slack = np.spacing(np.maximum(np.abs(x), np.abs(out)))
        excess = np.abs(out - x) - (eps + slack)
        assert np.all(excess <= 0), (
            f"{_name(p)}: perturbation leaves the box of half-width eps={eps:g} "
            f"(by up to {float(excess.max()):.3g})")


def perturber_checks() -> list[Callable[..., None]]:
    """The checks :func:`check_perturber` runs, in order.

    Returns
    -------
    list of callable
        Functions ``check(p, map=None)`` that raise ``AssertionError`` naming
        the broken promise.
    """
    return [check_perturber_init, check_perturber_params_unchanged, check_perturber_interface,
            check_perturber_clone, check_perturber_seed, check_perturber_box_and_selection]


def check_perturber(p: Perturber, map: Map | None = None) -> None:
    """Run every perturber check on ``p`` (against ``map``, default GradientDescentMap()).

    Checks: the interface, parameters stored unchanged and untouched by
    ``perturb``, ``clone``, same seed -> same bits, unselected coordinates
    bit-identical (when the perturber has ``on``), and the eps box of
    :class:`~dynnet.UniformPerturber` (and subclasses).

    Parameters
    ----------
    p : Perturber
        The perturber to check.
    map : Map or None, default None
        The map whose states are perturbed (and whose coordinate groups
        ``on`` names); None uses ``GradientDescentMap()``.

    Raises
    ------
    AssertionError
        At the first check that fails.
    """
    for c in perturber_checks():
        c(p, map=map)


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------

def _metric_points(map, k=6, seed=21):
    rng = stream(seed, 0)
    d = map._dim()
    return rng.standard_normal((k, d)) * rng.uniform(0.01, 10.0, size=(k, 1))


def check_metric_interface(d: Metric, map: Map | None = None) -> None:
    """``metric(a, b)`` returns float64 distances with the broadcast leading shape."""
    from ..metrics import Metric

    assert isinstance(d, Metric), f"{_name(d)} is not a dynnet.Metric"
    map = map or _default_context_map()
    P = _metric_points(map)
    r = np.asarray(d(P[0], P[1], map=map))
    assert r.shape == () and r.dtype == np.float64, (
        f"{_name(d)}(a, b) must be a float64 scalar, got {r.shape} {r.dtype}")
    r = d(P[0], P[1:], map=map)
    assert r.shape == (P.shape[0] - 1,), (
        f"{_name(d)}(a, B) must have shape ({P.shape[0] - 1},), got {r.shape}")


def check_metric_axioms(d: Metric, map: Map | None = None) -> None:
    """Non-negativity, identity, symmetry and the triangle inequality (to rounding)."""
    map = map or _default_context_map()
    P = _metric_points(map)
    A, B = P[:, None, :], P[None, :, :]
    D = np.asarray(d(A, B, map=map))
    k = P.shape[0]
    assert D.shape == (k, k), f"{_name(d)}: pairwise broadcast gave {D.shape}, expected {(k, k)}"
    assert np.all(D >= 0), f"{_name(d)}: negative distance"
    assert np.all(np.diag(D) == 0), f"{_name(d)}: d(a, a) != 0"
    tol = 1e-13 * max(1.0, float(D.max()))
    assert np.all(np.abs(D - D.T) <= tol), f"{_name(d)}: not symmetric"
    # viol[i, j, l] = d(i, j) - d(i, l) - d(l, j)
    viol = D[:, :, None] - D[:, None, :] - D.T[None, :, :]
    assert np.all(viol <= 4 * tol), (
        f"{_name(d)}: triangle inequality violated by {float(viol.max()):.3g}")


def check_metric_broadcasting(d: Metric, map: Map | None = None) -> None:
    """``d(a, B)`` equals the distances one by one, for 1-, 2- and 3-d stacks."""
    map = map or _default_context_map()
    P = _metric_points(map, k=7)
    one = np.array([d(P[0], P[i], map=map) for i in range(1, 7)])
    np.testing.assert_allclose(d(P[0], P[1:], map=map), one, rtol=1e-14, atol=0,
                               err_msg=f"{_name(d)}: broadcast over a batch")
    np.testing.assert_allclose(d(P[1:].reshape(2, 3, -1), P[0], map=map), one.reshape(2, 3),
                               rtol=1e-14, atol=0, err_msg=f"{_name(d)}: broadcast over (2, 3)")


def check_metric_init(d: Metric, map: Map | None = None) -> None:
    """``__init__`` stores parameters unchanged; ``clone`` round trip; calls keep parameters."""
    _check_init_stores_params(d)
    _check_clone(d)
    map = map or _default_context_map()
    before = _snapshot(d)
    P = _metric_points(map)
    d(P[0], P[1:], map=map)
    _assert_params_unchanged(d, before, "a distance call")


def metric_checks() -> list[Callable[..., None]]:
    """The checks :func:`check_metric` runs, in order.

    Returns
    -------
    list of callable
        Functions ``check(d, map=None)`` that raise ``AssertionError`` naming
        the broken promise.
    """
    return [check_metric_interface, check_metric_init, check_metric_axioms, check_metric_broadcasting]


def check_metric(d: Metric, map: Map | None = None) -> None:
    """Run every metric check on ``d`` (against ``map``, default GradientDescentMap()).

    Checks: float64 output with the broadcast shape, metric axioms
    (non-negativity, identity, symmetry, triangle inequality, to 1e-13
    relative) on points of very different scales, broadcasting equal to
    one-by-one calls, parameters and ``clone``.

    Parameters
    ----------
    d : Metric
        The metric to check.
    map : Map or None, default None
        The map whose ``dim`` sets the test points (and whose coordinate
        groups a per-layer metric reads); None uses ``GradientDescentMap()``.

    Raises
    ------
    AssertionError
        At the first check that fails.
    """
    for c in metric_checks():
        c(d, map=map)


# ---------------------------------------------------------------------------
# estimators
# ---------------------------------------------------------------------------

_CHECK_DATA: dict[str, Callable[[], tuple | dict]] = {}


# numpydoc takes a first parameter named ``cls`` for a classmethod's and drops it from
# the signature; here it is a real parameter, documented below.
def register_check_data(cls: type | str, factory: Callable[[], tuple | dict]) -> None:  # numpydoc ignore=PR02
    """Register example fit arguments for an estimator class you do not own.

    A registration replaces an earlier one for the same class; a class's own
    ``_check_data()`` wins over the registry. The registry is looked up along
    the MRO, so subclasses inherit a registration.

    Parameters
    ----------
    cls : type or str
        The class, or its path ``"module:QualName"`` (no import needed).
    factory : callable
        ``factory()`` returns a tuple (positional arguments of ``fit``) or a
        dict (keyword arguments).
    """
    key = cls if isinstance(cls, str) else f"{cls.__module__}:{cls.__qualname__}"
    _CHECK_DATA[key] = factory


def check_data(est: Estimator) -> tuple[tuple, dict[str, Any]]:
    """The example fit arguments of ``est``: ``(args, kwargs)``.

    From the class's ``_check_data()`` if it has one, else from the registry
    (:func:`register_check_data`).

    Parameters
    ----------
    est : Estimator
        The estimator (only its class is used).

    Returns
    -------
    args : tuple
        Positional arguments of ``fit`` (empty when the example is a dict).
    kwargs : dict of str to object
        Keyword arguments of ``fit`` (empty when the example is a tuple).

    Raises
    ------
    LookupError
        If the class has no ``_check_data()`` and nothing is registered.
    TypeError
        If the example is neither a tuple nor a dict.
    """
    cls = type(est)
    fn = getattr(cls, "_check_data", None)
    if fn is None:
        for klass in cls.__mro__:
            fn = _CHECK_DATA.get(f"{klass.__module__}:{klass.__qualname__}")
            if fn is not None:
                break
    if fn is None:
        raise LookupError(
            f"{cls.__name__} provides no example data for the conformance checks: define a "
            "staticmethod _check_data() returning the arguments of fit (a tuple, or a dict of "
            "keywords), or call dynnet.testing.register_check_data(cls, factory)")
    data = fn()
    if isinstance(data, dict):
        return (), dict(data)
    if isinstance(data, tuple):
        return data, {}
    raise TypeError(f"{cls.__name__}._check_data() must return a tuple or a dict, got {type(data).__name__}")


def _copy_data(args, kwargs):
    import copy

    return copy.deepcopy(args), copy.deepcopy(kwargs)


def _results(est) -> dict:
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}


def _fit(est):
    args, kwargs = _copy_data(*check_data(est))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return est.fit(*args, **kwargs)


def _skip(reason: str):
    """Mark the running check as not applicable (pytest reports a skip)."""
    raise unittest.SkipTest(reason)


def check_estimator_init(e: Estimator) -> None:
    """``__init__`` stores parameters unchanged and sets no results; ``clone`` round trip."""
    _check_init_stores_params(e)
    _check_clone(e)


def check_estimator_fit_signature(e: Estimator) -> None:
    """``fit`` has the one signature ``fit(data, *, map=None, steps=None)``."""
    P = inspect.Parameter
    params = list(inspect.signature(type(e).fit).parameters.values())[1:]   # without self
    want = "fit(data, *, map=None, steps=None)"
    var = [p.name for p in params if p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD)]
    assert not var, f"{_name(e)}.fit takes *{var[0]}; the convention is {want}"
    pos = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    assert len(pos) == 1 and pos[0].default is P.empty, (
        f"{_name(e)}.fit takes positional parameters {[p.name for p in pos]}; the convention is "
        f"{want} (one required positional argument, the data)")
    kw = {p.name: p.default for p in params if p.kind == P.KEYWORD_ONLY}
    assert kw == {"map": None, "steps": None}, (
        f"{_name(e)}.fit has keyword-only parameters {kw}; the convention is {want}")


_NUMBER = (numbers.Real, np.floating, np.integer, np.bool_)


def check_estimator_fit(e: Estimator) -> None:
    """``fit`` returns self, sets results ending in ``_``, keeps its data and parameters,
    and ``summary()`` is a flat dict of floats, ints and bools with string keys."""
    from ..estimators.base import Estimator

    assert isinstance(e, Estimator), f"{_name(e)} is not a dynnet.Estimator"
    est = clone(e)
    args, kwargs = check_data(est)
    a0, k0 = _copy_data(args, kwargs)
    before = _snapshot(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = est.fit(*args, **kwargs)
    assert out is est, f"{_name(e)}.fit must return self, got {type(out).__name__}"
    _assert_params_unchanged(est, before, "fit")
    for i, (x, y) in enumerate(zip(args, a0, strict=True)):
        if isinstance(y, np.ndarray):
            _assert_bits(x, y, f"{_name(e)}.fit modified its argument {i}")
    for k in kwargs:
        if isinstance(k0[k], np.ndarray):
            _assert_bits(kwargs[k], k0[k], f"{_name(e)}.fit modified its argument {k!r}")
    assert _results(est), f"{_name(e)}.fit set no result attributes (names ending with '_')"
    s = est.summary()
    assert isinstance(s, dict), f"{_name(e)}.summary() must return a dict, got {type(s).__name__}"
    for k, v in s.items():
        assert isinstance(k, str) and isinstance(v, _NUMBER), (
            f"{_name(e)}.summary()[{k!r}] = {v!r} is not a float, int or bool")


def check_estimator_without_map(e: Estimator) -> None:
    """Without its map, ``fit`` raises an error naming the class, or (if it does not need
    the map) succeeds; an estimator with a coordinate group ``on`` must raise.

    Skipped when the example data have no map.
    """
    args, kwargs = check_data(e)
    if kwargs.get("map") is None:
        _skip(f"{_name(e)}: its example fit data have no map")
    kwargs = {k: v for k, v in kwargs.items() if k != "map"}
    est = clone(e)
    on = getattr(est, "on", None) if "on" in est.get_params(deep=False) else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            est.fit(*args, **kwargs)
    except (TypeError, ValueError, NotImplementedError) as exc:
        assert _name(e) in str(exc), (
            f"{_name(e)}.fit without a map raised {type(exc).__name__}({exc}), which does not "
            "name the estimator")
        return
    assert on is None, (
        f"{_name(e)}(on={on!r}).fit without a map succeeded: the coordinate group on= was "
        "silently ignored; it must raise an error naming the estimator")


def check_estimator_result_conventions(e: Estimator) -> None:
    """``exponent_`` is a float reported as ``summary()["exponent"]``; ``significant_`` is a bool.

    Skipped for estimators with neither attribute.
    """
    est = _fit(clone(e))
    has_exp, has_sig = hasattr(est, "exponent_"), hasattr(est, "significant_")
    if not (has_exp or has_sig):
        _skip(f"{_name(e)} has no exponent_ or significant_")
    s = est.summary()
    if has_exp:
        x = est.exponent_
        assert isinstance(x, float), (
            f"{_name(e)}.exponent_ = {x!r} must be a float, got {type(x).__name__}")
        assert "exponent" in s, f"{_name(e)}.summary() lacks the key 'exponent'"
        y = s["exponent"]
        assert (np.isnan(x) and np.isnan(y)) or x == y, (
            f"{_name(e)}.summary()['exponent'] = {y!r} differs from exponent_ = {x!r}")
    if has_sig:
        v = est.significant_
        assert isinstance(v, (bool, np.bool_)), (
            f"{_name(e)}.significant_ = {v!r} must be a bool (the test rejected its null), "
            f"got {type(v).__name__}")


def check_estimator_deterministic(e: Estimator) -> None:
    """Two fits (of clones, on the same data, with the same seed) give the same bits.

    Result attributes that are honestly not reproducible are exempt only if
    the class lists them in ``_check_nondeterministic`` (dynnet's own
    estimators list none: they report no wall-clock times).
    """
    r1 = _results(_fit(clone(e)))
    r2 = _results(_fit(clone(e)))
    assert r1.keys() == r2.keys(), f"{_name(e)}: two fits set different attributes"
    exempt = set(getattr(type(e), "_check_nondeterministic", ()))
    for k in r1:
        if k in exempt:
            continue
        a, b = r1[k], r2[k]
        if isinstance(a, np.ndarray) or isinstance(a, (numbers.Number, np.number)):
            _assert_bits(np.asarray(a), np.asarray(b), f"{_name(e)}.{k} of two identical fits")
        else:
            _same_or_equal(a, b, f"{_name(e)}.{k} of two identical fits")


def _same_or_equal(a, b, what):
    try:
        import networkx as nx

        if isinstance(a, nx.Graph):
            assert nx.utils.graphs_equal(a, b), f"{what}: graphs differ"
            return
    except ImportError:  # pragma: no cover - networkx is a dependency
        pass
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{what}: keys differ"
        for k in a:
            _same_or_equal(a[k], b[k], f"{what}[{k!r}]")
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{what}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_or_equal(x, y, f"{what}[{i}]")
        return
    if isinstance(a, (np.ndarray, numbers.Number, np.number)):
        _assert_bits(np.asarray(a), np.asarray(b), what)
        return
    assert _same(a, b), f"{what}: {a!r} != {b!r}"


def estimator_checks() -> list[Callable[[Estimator], None]]:
    """The checks :func:`check_estimator` runs, in order.

    Returns
    -------
    list of callable
        Functions ``check(e)`` that raise ``AssertionError`` naming the broken
        promise, or :class:`unittest.SkipTest` when they do not apply.
    """
    return [check_estimator_init, check_estimator_fit_signature, check_estimator_fit,
            check_estimator_without_map, check_estimator_result_conventions,
            check_estimator_deterministic]


def check_estimator(e: Estimator) -> dict[str, str]:
    """Run every estimator check on ``e``.

    Checks: parameters stored unchanged by ``__init__``, ``clone`` round
    trip, the signature ``fit(data, *, map=None, steps=None)``, ``fit``
    returns self, sets ``*_`` results, leaves its data and parameters
    untouched, ``summary()`` is a flat dict of numbers, a missing map gives
    an error naming the class (never a silently ignored ``on=``),
    ``exponent_`` / ``significant_`` follow their conventions, and two fits
    of clones give bit-identical results. The fit data come from the class's
    ``_check_data()`` or :func:`register_check_data`.

    Parameters
    ----------
    e : Estimator
        The estimator to check.

    Returns
    -------
    dict
        The checks that did not apply, ``{check name: reason}`` (empty when
        every check ran). A failing check raises ``AssertionError``.
    """
    skipped = {}
    for c in estimator_checks():
        try:
            c(e)
        except unittest.SkipTest as exc:
            skipped[c.__name__] = str(exc)
    return skipped


# ---------------------------------------------------------------------------
# pytest
# ---------------------------------------------------------------------------

def checks_for(obj: Map | Perturber | Metric | Estimator | Study) -> list[Callable[..., None]]:
    """The checks that apply to ``obj`` (a Map, Perturber, Metric, Estimator or Study).

    Parameters
    ----------
    obj : Map, Perturber, Metric, Estimator or Study
        The object to be checked; its kind picks the list.

    Returns
    -------
    list of callable
        :func:`map_checks`, :func:`perturber_checks`, :func:`metric_checks`,
        :func:`estimator_checks` or :func:`~dynnet.testing.study_checks`.

    Raises
    ------
    TypeError
        If ``obj`` is none of these kinds.
    """
    from ..estimators.base import Estimator
    from ..maps.base import Map
    from ..metrics import Metric
    from ..perturbers import Perturber
    from ..studies.base import Study
    from ._study_checks import study_checks

    if isinstance(obj, Map):
        return map_checks()
    if isinstance(obj, Perturber):
        return perturber_checks()
    if isinstance(obj, Metric):
        return metric_checks()
    if isinstance(obj, Estimator):
        return estimator_checks()
    if isinstance(obj, Study):
        return study_checks()
    raise TypeError(f"no conformance checks for {obj!r}: give a dynnet Map, Perturber, Metric, Estimator "
                    "or Study")


def _bind(check: Callable[..., None]) -> functools.partial:
    """``check`` as a one-argument callable with a readable name."""
    sig = inspect.signature(check)
    name = check.__name__
    if len(sig.parameters) == 1:
        fn = functools.partial(check)
    else:
        fn = functools.partial(check, map=None)
    fn.__name__ = name  # type: ignore[attr-defined]
    return fn


def parametrize_with_checks(
    objects: Iterable[Map | Perturber | Metric | Estimator | Study],
) -> pytest.MarkDecorator:
    """A pytest decorator running every applicable check on every object.

    The decorated test receives ``(obj, check)`` and should call ``check(obj)``;
    ids read ``HenonMap()-check_map_jacobian``. Each ``check`` gets a fresh
    clone, so checks do not share state.

    Parameters
    ----------
    objects : iterable of Map, Perturber, Metric, Estimator or Study
        Configured objects; each is cloned once per check (perturber and
        metric checks run against ``GradientDescentMap()``).

    Returns
    -------
    pytest.MarkDecorator
        ``pytest.mark.parametrize("obj, check", ...)`` over every (object,
        check) pair.

    Examples
    --------
    >>> from dynnet.testing import parametrize_with_checks
    >>> @parametrize_with_checks([MyMap(), MyMap(a=2.0)])      # doctest: +SKIP
    ... def test_conformance(obj, check):
    ...     check(obj)
    """
    import pytest

    params = []
    for obj in objects:
        for check in checks_for(obj):
            fn = _bind(check)
            params.append(pytest.param(clone(obj), fn, id=f"{obj!r}-{check.__name__}"))
    return pytest.mark.parametrize("obj, check", params)
