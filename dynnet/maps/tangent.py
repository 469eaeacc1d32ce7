r"""Tangent dynamics of any map with a Jacobian, as a wrapper Map."""

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
    implements ``jacobian(state)`` can be wrapped; nothing is subclassed.

    Parameters
    ----------
    map : Map or None, default None
        The map; it must implement ``jacobian``.
    k : int or None, default None
        Number of deviation vectors (None: ``map.dim``).

    Notes
    -----
    :meth:`step` evaluates one Jacobian per ensemble member (the Map
    interface gives Jacobians of single states), so use it with small
    ensembles; :class:`~dynnet.LyapunovSpectrum` uses :meth:`tangent_step`
    on one orbit. The deviation vectors are not renormalised here.

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
        if not m.has_jacobian:
            raise NotImplementedError(
                f"TangentMap: {type(m).__name__} does not implement jacobian(state); "
                "tangent dynamics and Lyapunov spectra need it"
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
        """One step of the orbit and of the deviation vectors.

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
            :math:`J(x)\\,Q`.
        """
        m = self.map
        return m.step(x[None, :])[0], m.jacobian(x) @ Q

    def step(self, states: np.ndarray) -> np.ndarray:
        r"""One tangent step of each member of ``states`` ``(E, dim * (1 + k))``.

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
            If ``map`` does not implement ``jacobian``.
        """
        m = self._base()
        n, k = m.dim, self._k()
        out = np.empty_like(states)
        for e in range(states.shape[0]):  # one Jacobian per member: see Notes
            x1, Y = self.tangent_step(states[e, :n], states[e, n:].reshape(n, k))
            out[e, :n] = x1
            out[e, n:] = Y.ravel()
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
