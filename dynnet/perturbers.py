"""Perturbers: ensembles of states near a reference state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import ParamsObject, as_seed_sequence, check_array, check_int, check_option, check_scalar

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .base import SeedLike
    from .maps.base import Map

__all__ = ["Perturber", "UniformPerturber", "GaussianPerturber"]


class Perturber(ParamsObject):
    r"""Makes ``n`` states near a reference state.

    Each copy is :math:`x'_i = x_i + \delta_i` for the selected coordinates
    :math:`i \in S` (chosen by ``on``) and :math:`x'_i = x_i` otherwise; the
    subclass decides the law of the offsets :math:`\delta`.

    A subclass implements ``_draw(rng, n, k)``, returning ``(n, k)`` offsets for
    the ``k`` selected coordinates; the base class selects the coordinates
    (``on``), validates, and seeds. Randomness comes only from a numpy
    Generator built from ``seed``; the global numpy RNG is never touched.

    Parameters
    ----------
    eps : float, default 1e-8
        Size of the offsets (its meaning, half-width or standard deviation,
        is the subclass's).
    n : int, default 5
        Number of perturbed copies, >= 1.
    on : str or array_like, default "weights"
        Which coordinates to perturb: ``"all"``, a coordinate group of the
        map (such as ``"weights"`` for :class:`~dynnet.GradientDescentMap`,
        which needs ``map=`` in :meth:`perturb`), integer indices, or a
        boolean mask of shape ``(dim,)``.

    See Also
    --------
    UniformPerturber, GaussianPerturber

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 2 (ensembles of perturbed
    initial conditions).
    """

    def __init__(self, eps: float = 1e-8, n: int = 5, on: str | ArrayLike = "weights") -> None:
        self.eps = eps
        self.n = n
        self.on = on

    def _draw(self, rng, n, k):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement _draw(rng, n, k)")

    def _indices(self, dim, map):
        on = self.on
        if isinstance(on, str):
            if on == "all":
                return np.arange(dim)
            if map is None:
                raise ValueError(
                    f"{type(self).__name__}: on={on!r} needs map= to know which coordinates "
                    f"are {on!r}; pass map=... or use on='all'"
                )
            groups = map.coordinate_groups()
            check_option(self, "on", on, list(groups))
            return np.asarray(groups[on])
        idx = np.asarray(on)
        if idx.dtype == bool:
            if idx.shape != (dim,):
                raise ValueError(f"{type(self).__name__}: boolean on= must have shape ({dim},)")
            return np.flatnonzero(idx)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or (
                idx.size and (idx.min() < 0 or idx.max() >= dim)):
            raise ValueError(
                f"{type(self).__name__}: parameter on={on!r} is not allowed; give 'all', a "
                f"group name of the map, or integer indices in [0, {dim})"
            )
        return idx

    def perturb(self, state: ArrayLike, map: Map | None = None, seed: SeedLike = None) -> np.ndarray:
        """``n`` perturbed copies of ``state``, shape ``(n, dim)``.

        Coordinates not selected by ``on`` are bit-identical to ``state``.

        Parameters
        ----------
        state : array_like, shape (dim,)
            The reference state (finite; checked by ``map.check_state`` when
            ``map`` is given).
        map : Map, optional
            Needed when ``on`` names a coordinate group.
        seed : int, sequence of int, SeedSequence, Generator or None, default None
            Seed of the offsets (normalised by :func:`~dynnet.as_seed_sequence`);
            the same seed gives the same copies.

        Returns
        -------
        numpy.ndarray of float64, shape (n, dim)
            Row ``j`` is ``state`` plus the ``j``-th draw of offsets on the
            selected coordinates.

        Raises
        ------
        ValueError
            If ``n`` or ``eps`` is out of range, ``on`` is not allowed, or
            ``on`` names a group and ``map`` is None.
        """
        x = check_array(self, "state", state, ndim=1)
        if map is not None:
            x = map.check_state(x)
        n = check_int(self, "n", self.n, low=1)
        idx = self._indices(x.shape[0], map)
        rng = np.random.default_rng(as_seed_sequence(seed))
        out = np.repeat(x[None, :], n, axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            out[:, idx] += self._draw(rng, n, idx.size)
        if np.isfinite(x).all() and not np.isfinite(out).all():
            raise ValueError(f"{type(self).__name__}: parameter eps={self.eps!r} overflows float64 "
                             "when added to the state; give a smaller eps")
        return out


class UniformPerturber(Perturber):
    r"""Independent uniform offsets in a box around a state.

    :math:`x'_i = x_i + \delta_i`, :math:`\delta_i \sim U(-\varepsilon, \varepsilon)`.

    Parameters
    ----------
    eps : float, default 1e-8
        Half-width of the box, > 0.
    n : int, default 5
        Number of perturbed copies.
    on : str or array_like, default "weights"
        Which coordinates to perturb: ``"weights"`` (the paper: connection
        weights only, never biases), ``"all"``, another group name of the map,
        or indices. For maps without a ``"weights"`` group use ``"all"``.

    Notes
    -----
    Offsets are drawn as :math:`\varepsilon(2u - 1)` with :math:`u \sim U(0,1)`,
    so for the same seed, different ``eps`` give the same directions, scaled.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 2.
    """

    def _draw(self, rng, n, k):
        eps = check_scalar(self, "eps", self.eps, low=0.0, low_open=True)
        return eps * (2.0 * rng.random((n, k)) - 1.0)


class GaussianPerturber(Perturber):
    r"""Independent Gaussian offsets: :math:`\delta_i \sim N(0, \varepsilon^2)`.

    Parameters
    ----------
    eps : float, default 1e-8
        Standard deviation, > 0.
    n : int, default 5
        Number of perturbed copies.
    on : str or array_like, default "weights"
        As for :class:`UniformPerturber`.

    Notes
    -----
    Unlike the uniform box, Gaussian offsets are isotropic in the selected
    coordinates, so distances do not depend on the orientation of the box.

    References
    ----------
    G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, Meccanica 15, 9
    (1980) (random initial deviation vectors for Lyapunov exponents).
    """

    def _draw(self, rng, n, k):
        eps = check_scalar(self, "eps", self.eps, low=0.0, low_open=True)
        return eps * rng.standard_normal((n, k))
