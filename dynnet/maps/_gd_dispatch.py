"""Engine selection for GradientDescentMap: one interface, two engines, one rule (private).

One job: choose, in one place, which engine advances a map's orbits, and hand the map
that engine, built once per prepared problem.

Interface
---------
Both engines implement :class:`Engine`: built from the map's prepared
:class:`~dynnet.maps._gd_problem.Problem` alone, each call takes validated states
``(E, dim)`` and the per-member ``eta`` (:meth:`GradientDescentMap._etas`: a float, or
an ``(E, 1)`` column of one learning rate per member), and nothing else of the map.

* :class:`dynnet.maps._gd_engine.SimdEngine` (``"simd"``): the compiled kernel with the
  ensemble in the vector lanes; fused ``stream`` and ``observe`` loops.
* :class:`dynnet.maps._gd_blas.BlasEngine` (``"blas"``): every layer of every member as
  matrix products in fixed-size sample blocks; ``stream`` and ``observe`` are not fused
  (the map's generic loops call its ``advance`` and ``loss``).

Selection
---------
:func:`select_path` is the rule of :meth:`GradientDescentMap.engine_path`: the SIMD
engine when it supports the configuration (:func:`dynnet.maps._gd_engine.supports`) and
one member's step costs less than :data:`BLAS_MIN_WORK` (training samples times
parameters), else the BLAS path; ``DYNNET_GD_PATH=simd|blas`` forces a path. It is read
on every call (so the variable takes effect at once); :func:`engine_for` keeps the
engine of the map's current problem and path in the map's cache, which ``set_params``
and pickling drop, and closes one it replaces.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

__all__ = ["BLAS_MIN_WORK", "Engine", "engine_for", "select_path"]

#: work per member-step (training samples x parameters) from which the BLAS path runs
#: (see GradientDescentMap.engine_path; measured crossover 0.5 to 0.9 million)
BLAS_MIN_WORK = 700_000


class Engine(Protocol):
    """What a GradientDescentMap engine provides (both engines, the same inputs).

    Attributes
    ----------
    path : str
        ``"simd"`` or ``"blas"`` (:meth:`GradientDescentMap.engine_path`).
    fused : bool
        True if :meth:`stream` and :meth:`observe` are fused loops; False: the map runs
        the generic loops of :class:`~dynnet.Map` on :meth:`advance` and :meth:`loss`.
    problem : Problem
        The prepared problem the engine was built from.
    """

    path: str
    fused: bool
    problem: object

    def advance(self, states: np.ndarray, n_steps: int, eta, n_threads=None) -> np.ndarray:
        """``n_steps`` GD steps of every member; a new ``(E, dim)`` array, non-finite members all NaN."""

    def loss(self, states: np.ndarray) -> np.ndarray:
        """The objective of each member, ``(E,)`` (the observable ``"loss"``)."""

    def stream(self, states, n_steps, every, group, metric_name, eta, n_threads=None):
        """Fused :meth:`Map._stream` for ``"L1"``, ``"L2"``, ``"LInf"`` (only if ``fused``)."""

    def observe(self, states, n_steps, every, vectors, eta, n_threads=None):
        """Fused :meth:`Map._observe` (only if ``fused``)."""

    def close(self) -> None:
        """Release worker threads and buffers."""


def select_path(p) -> str:
    """``"simd"`` or ``"blas"`` for the prepared problem ``p``.

    The rule of :meth:`GradientDescentMap.engine_path` (see the module docstring).

    Raises
    ------
    ValueError
        If ``DYNNET_GD_PATH`` holds anything but ``simd``, ``blas`` or nothing, or forces
        ``simd`` on a configuration the SIMD engine does not support.
    """
    from ._gd_engine import supports

    ok = supports(p)
    forced = os.environ.get("DYNNET_GD_PATH", "").strip().lower()
    if forced:
        if forced not in ("simd", "blas"):
            raise ValueError(f"DYNNET_GD_PATH={forced!r} is not allowed; give 'simd' or 'blas' "
                             "(or leave it unset)")
        if forced == "simd" and not ok:
            raise ValueError(
                f"DYNNET_GD_PATH=simd: the SIMD engine does not support activation="
                f"{p.activation!r}, loss={p.loss!r}, weight_decay={p.weight_decay!r}"
            )
        return forced
    return "simd" if ok and p.dim * p.X.shape[0] < BLAS_MIN_WORK else "blas"


def engine_for(gd_map) -> Engine:
    """The selected engine of ``gd_map``'s current problem, built once and kept in its cache."""
    p = gd_map.problem()
    path = select_path(p)
    cache = gd_map.__dict__.setdefault("_cache", {})  # dropped by set_params and pickling
    engine = cache.get("engine")
    if engine is None or engine.problem is not p or engine.path != path:
        if engine is not None:
            engine.close()
        if path == "simd":
            from ._gd_engine import SimdEngine as build
        else:
            from ._gd_blas import BlasEngine as build
        engine = cache["engine"] = build(p)
    return engine
