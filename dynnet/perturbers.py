"""Perturbers: ensembles of states near a reference state."""

from __future__ import annotations

import numpy as np

from .base import ParamsObject, as_seed_sequence, check_array, check_int, check_option, check_scalar

__all__ = ["Perturber", "UniformPerturber", "GaussianPerturber"]


class Perturber(ParamsObject):
    """Makes ``n`` states near a reference state.

    A subclass implements ``_draw(rng, n, k)``, returning ``(n, k)`` offsets for
    the ``k`` selected coordinates; the base class selects the coordinates
    (``on``), validates, and seeds. Randomness comes only from a numpy
    Generator built from ``seed``; the global numpy RNG is never touched.

    Parameters common to all perturbers: ``eps`` (size), ``n`` (how many) and
    ``on`` (which coordinates: ``"all"``, or a group of the map, such as
    ``"weights"`` for :class:`~dynnet.GradientDescentMap`, or an array of
    indices).
    """

    def __init__(self, eps=1e-8, n=5, on="weights"):
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

    def perturb(self, state, map=None, seed=None) -> np.ndarray:
        """``n`` perturbed copies of ``state``, shape ``(n, dim)``.

        Coordinates not selected by ``on`` are bit-identical to ``state``.

        Parameters
        ----------
        state : array_like, shape (dim,)
        map : Map, optional
            Needed when ``on`` names a coordinate group.
        seed : int, SeedSequence, Generator or None
        """
        x = check_array(self, "state", state, ndim=1)
        if map is not None:
            x = map.check_state(x)
        n = check_int(self, "n", self.n, low=1)
        idx = self._indices(x.shape[0], map)
        rng = np.random.default_rng(as_seed_sequence(seed))
        out = np.repeat(x[None, :], n, axis=0)
        out[:, idx] += self._draw(rng, n, idx.size)
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
    on : str or array, default "weights"
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
    on : str or array, default "weights"
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
