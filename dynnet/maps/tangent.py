r"""Tangent dynamics of any map with Jacobian-vector products, as a wrapper Map."""

from __future__ import annotations

import numpy as np

from ..base import check_int
from .base import Map

__all__ = ["TangentMap"]


class TangentMap(Map):
    r"""Tangent dynamics of a map, as a wrapper: :math:`(x, Q) \mapsto (g(x), J(x)\,Q)`.

    The state is ``x`` (the wrapped map's state, ``dim`` numbers) followed by
    the ``k`` deviation vectors, the columns of ``Q`` ``(dim, k)``, flattened
    row-major: ``dim * (1 + k)`` numbers. Any :class:`~dynnet.Map` that
    implements ``jvp(states, V)`` or ``jacobian(state)`` can be wrapped;
    nothing is subclassed.

    Parameters
    ----------
    map : Map or None, default None
        The map; it must implement ``jvp`` or ``jacobian``.
    k : int or None, default None
        Number of deviation vectors (None: ``map.dim``).

    Notes
    -----
    The vectors advance with the map's Jacobian-vector products,
    :meth:`Map.jvp`, all members and vectors in one call: matrix-free
    (:math:`O(\mathrm{dim}\cdot k)` memory) when the map overrides ``jvp``
    (as :class:`~dynnet.GradientDescentMap` does), through one dense
    Jacobian per member otherwise. A full set of vectors (``k == dim``) of a
    map with a ``jacobian`` uses the dense Jacobian :math:`J(x)\,Q` in
    :meth:`tangent_step` (forming :math:`J` costs no more than ``dim``
    products). The deviation vectors are not renormalised here.

    References
    ----------
    DynamicalSystemsBase.jl, ``TangentDynamicalSystem`` (tangent_space.jl).
    """

    def __init__(self, map: Map | None = None, k: int | None = None) -> None:
        self.map = map
        self.k = k

    def _base(self) -> Map:
        m = self.map
        if not isinstance(m, Map):
            raise TypeError(f"TangentMap: parameter map={m!r} must be a dynnet Map")
        if not m.has_jvp:
            raise NotImplementedError(
                f"TangentMap: {type(m).__name__} implements neither jvp(states, V) nor "
                "jacobian(state); tangent dynamics and Lyapunov spectra need one of them"
            )
        return m

    def _k(self) -> int:
        n = self._base().dim
        if self.k is None:
            return n
        return check_int(self, "k", self.k, low=1, high=n)

    @property
    def dim(self) -> int:
        """Length of a tangent state: ``map.dim * (1 + k)``."""
        return self._base().dim * (1 + self._k())

    def tangent_step(self, x: np.ndarray, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""One step of the orbit and of the deviation vectors.

        Parameters
        ----------
        x : ndarray, shape (dim,)
            A state of the wrapped map (not validated).
        Q : ndarray, shape (dim, k)
            Deviation vectors, as columns.

        Returns
        -------
        x1 : ndarray, shape (dim,)
            :math:`g(x)`.
        Y : ndarray, shape (dim, k)
            :math:`J(x)\,Q`: the dense Jacobian when ``k == dim`` and the map
            has ``jacobian``, the map's ``jvp`` otherwise.
        """
        m = self.map
        x1 = m.step(x[None, :])[0]
        if Q.shape[1] == Q.shape[0] and m.has_jacobian:
            return x1, m.jacobian(x) @ Q
        return x1, m.jvp(x[None, :], Q.T[None])[0].T

    def step(self, states: np.ndarray) -> np.ndarray:
        r"""One tangent step of each member of ``states`` ``(E, dim * (1 + k))``.

        All members and their vectors advance in one :meth:`Map.jvp` call.

        Parameters
        ----------
        states : ndarray, shape (E, dim * (1 + k))
            States ``x`` followed by the flattened vectors ``Q``.

        Returns
        -------
        ndarray, shape (E, dim * (1 + k))
            The next tangent states: :math:`g(x)` followed by the flattened
            :math:`J(x)\,Q` of each member.

        Raises
        ------
        TypeError
            If ``map`` is not a dynnet Map.
        NotImplementedError
            If ``map`` implements neither ``jvp`` nor ``jacobian``.
        """
        m = self._base()
        n, k = m.dim, self._k()
        E = states.shape[0]
        x = states[:, :n]
        bad = ~np.all(np.isfinite(x), axis=1)
        if bad.any():  # a diverged orbit is an all-NaN row (its vectors become NaN)
            x = np.where(bad[:, None], np.nan, x)
        V = np.swapaxes(states[:, n:].reshape(E, n, k), 1, 2)  # (E, k, n): the columns of Q
        out = np.empty_like(states)
        out[:, :n] = m.step(x)
        out[:, n:] = np.swapaxes(m.jvp(x, V), 1, 2).reshape(E, n * k)
        return out

    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """Groups ``"all"``, ``"state"`` (the orbit) and ``"vectors"`` (the flattened ``Q``).

        Returns
        -------
        dict of str to ndarray of int
            ``"all"``: ``arange(dim)``; ``"state"``: the first ``map.dim``
            indices; ``"vectors"``: the remaining ``map.dim * k``.
        """
        n = self._base().dim
        return {"all": np.arange(self.dim), "state": np.arange(n),
                "vectors": np.arange(n, self.dim)}
