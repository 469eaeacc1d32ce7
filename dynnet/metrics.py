"""Metrics: distances between states, broadcasting over leading axes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import ParamsObject, check_option

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .maps.base import Map

__all__ = ["Metric", "L1", "L2", "LInf", "PerLayer"]


class Metric(ParamsObject):
    """A distance between states.

    ``metric(a, b)`` takes arrays whose last axis is the state and broadcasts
    the others (``L1()(W[0], W[1:])`` gives one distance per row of ``W[1:]``).
    A subclass implements ``_distance(diff)`` on ``diff = a - b``. Metrics that
    look at a part of the state receive the map through ``map=``.
    """

    def _distance(self, diff):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement _distance(diff)")

    def __call__(self, a: ArrayLike, b: ArrayLike, map: Map | None = None) -> np.ndarray | np.float64:
        """Distance between ``a`` and ``b``, broadcast over the leading axes.

        Parameters
        ----------
        a, b : array_like, shape (..., dim)
            States (last axis); the leading axes broadcast against each other.
        map : Map, optional
            The map the states belong to; needed by metrics that look at a
            coordinate group (:class:`PerLayer`).

        Returns
        -------
        numpy.ndarray or numpy.float64
            The distances, with the broadcast shape of the leading axes (a
            numpy float64 scalar for two single states).

        Raises
        ------
        ValueError
            If the last axes of ``a`` and ``b`` differ.
        """
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.shape[-1:] != b.shape[-1:]:
            raise ValueError(
                f"{type(self).__name__}: states must have the same last axis, got {a.shape} and {b.shape}"
            )
        return self._distance(self._select(a - b, map))

    def _select(self, diff, map):
        return diff

    def fused_norm(self) -> str | None:
        """The plain norm a compiled engine may compute inside its own loop: ``"L1"``,
        ``"L2"`` or ``"LInf"`` for exactly those classes, None otherwise (a subclass, or
        any other metric, goes through :meth:`__call__`).

        Returns
        -------
        str or None
            The norm's name, or None.
        """
        return _FUSED.get(type(self))


class L1(Metric):
    r"""Manhattan distance :math:`d(a, b) = \sum_i |a_i - b_i|` (the paper's).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), Eq. 2.
    """

    def __init__(self) -> None:
        pass

    def _distance(self, diff):
        return np.abs(diff).sum(axis=-1)


class L2(Metric):
    r"""Euclidean distance :math:`d(a, b) = \sqrt{\sum_i (a_i - b_i)^2}`.

    Computed scaled by the largest entry, so differences of 1e-200 do not
    underflow to 0 when squared. No parameters.

    References
    ----------
    The usual norm of Lyapunov analyses: G. Benettin et al., Meccanica 15, 9 (1980).
    """

    def __init__(self) -> None:
        pass

    def _distance(self, diff):
        # scaled by the largest entry, so tiny differences do not underflow to 0
        # when squared (and huge ones do not overflow)
        m = np.abs(diff).max(axis=-1, keepdims=True)
        safe = np.where((m > 0) & np.isfinite(m), m, 1.0)
        r = diff / safe
        out = m[..., 0] * np.sqrt(np.einsum("...i,...i->...", r, r))
        # an infinite difference is an infinite distance (as for L1 and LInf), not inf/inf = NaN
        return np.where(np.isposinf(m[..., 0]) & ~np.isnan(diff).any(axis=-1), np.inf, out)


class LInf(Metric):
    r"""Chebyshev distance :math:`d(a, b) = \max_i |a_i - b_i|`. No parameters.

    References
    ----------
    Any text on normed spaces, e.g. E. Kreyszig, *Introductory Functional
    Analysis with Applications*, Wiley (1978), section 2.2.
    """

    def __init__(self) -> None:
        pass

    def _distance(self, diff):
        return np.abs(diff).max(axis=-1)


_BASES = {"l1": L1, "l2": L2, "linf": LInf}


class PerLayer(Metric):
    r"""A distance restricted to one coordinate group (a layer) of a map.

    :math:`d(a, b) = \| a_S - b_S \|` over the indices :math:`S` of group
    ``layer`` (for :class:`~dynnet.GradientDescentMap`: ``"W1"``, ``"b1"``,
    ``"W2"``, ..., ``"weights"``, ``"biases"``).

    Parameters
    ----------
    layer : str, default "W1"
        Group name (resolved through ``map.coordinate_groups()``, so the call
        needs ``map=``).
    norm : {"l1", "l2", "linf"}, default "l1"
        The norm applied to the group's differences (:class:`L1`,
        :class:`L2` or :class:`LInf`).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.1: a few weights carry the
    dynamics, so distances per weight matrix separate them.
    """

    def __init__(self, layer: str = "W1", norm: str = "l1") -> None:
        self.layer = layer
        self.norm = norm

    def _select(self, diff, map):
        if map is None:
            raise ValueError(
                f"PerLayer: needs map= to resolve layer={self.layer!r} to coordinates"
            )
        groups = map.coordinate_groups()
        check_option(self, "layer", self.layer, list(groups))
        return diff[..., groups[self.layer]]

    def _distance(self, diff):
        check_option(self, "norm", self.norm, list(_BASES))
        return _BASES[self.norm]()._distance(diff)


#: the metrics a compiled engine may fuse, by exact class (see :meth:`Metric.fused_norm`)
_FUSED = {L1: "L1", L2: "L2", LInf: "LInf"}
