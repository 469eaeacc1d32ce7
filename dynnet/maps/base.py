"""The Map interface: one step of a discrete dynamical system, on a batch."""

from __future__ import annotations

import warnings

import numpy as np

from ..base import ParamsObject, check_array, check_int, stream


def check_every(owner, n_steps: int, every) -> int:
    """Validate a record interval: ``every >= 1`` and a divisor of ``n_steps``."""
    k = check_int(owner, "every", every, low=1)
    if n_steps % k:
        raise ValueError(
            f"{type(owner).__name__}: n_steps={n_steps} is not a multiple of every={k}; "
            "the last records would be cut short"
        )
    return k


__all__ = ["Map", "DivergenceWarning"]


class DivergenceWarning(RuntimeWarning):
    """Issued once per call when ensemble members overflow and become NaN."""


class Map(ParamsObject):
    r"""A discrete dynamical system :math:`x_{t+1} = g(x_t)` acting on a batch.

    A state is a float64 vector of length ``dim``; an ensemble of ``E`` states
    is an array of shape ``(E, dim)``. Every Map works on ensembles, so a whole
    cloud of nearby orbits advances in one vectorised call.

    **A subclass must**

    * declare ``dim`` (a class attribute or a property), and
    * implement ``step(states)``: ``(E, dim) -> (E, dim)``, float64, with no
      validation (it receives arrays that :class:`Map` has already checked).

    **A subclass may implement**

    * ``jacobian(state)``: ``(dim,) -> (dim, dim)``, the matrix
      :math:`\partial g_i / \partial x_j`. It unlocks Lyapunov spectra and the
      tangent dynamics.
    * ``sample_state(rng)``: one random initial state, drawn from a numpy
      Generator, used by :meth:`initial_state` and so by the default initial
      conditions of every Study (default: uniform on :math:`[-0.1, 0.1]^{dim}`).
    * ``observables(states)``: a dict ``name -> (E,)`` array of scalars to
      record along orbits (``GradientDescentMap`` records ``loss`` and
      ``weight_norm``).
    * ``coordinate_groups()``: named index sets of the coordinates (for
      example ``"weights"`` and ``"biases"``), used by perturbers (``on=``) and
      layer metrics. The default has one group, ``"all"``.
    * ``_advance(states, n_steps)``: a fused fast path for many steps at once;
      the default loops over :meth:`step`.

    **Map provides** :meth:`iterate`, :meth:`trajectory`,
    :meth:`initial_state` and validation: :meth:`iterate` and
    :meth:`trajectory` check shapes, dtype and finiteness of their input here,
    once, and then call the subclass's unchecked ``step`` / ``_advance``.

    Notes
    -----
    **For developers.** Implement ``dim`` and ``step`` (vectorised over the first axis, float64)
    and every tool in dynnet works on your map unchanged: perturbers, metrics,
    :class:`~dynnet.PerturbationStudy`, :class:`~dynnet.FiniteLyapunov`, the
    time-series estimators on its observables. Add ``jacobian`` and you also
    get :class:`~dynnet.LyapunovSpectrum`. ``dynnet.testing.check_map(m)``
    checks that a map keeps this contract (batch members equal single runs,
    ``iterate(n)`` equals ``n`` steps, the Jacobian matches finite
    differences). Keep parameters as keyword arguments of ``__init__`` stored
    unchanged, like every dynnet object.

    Divergence is data: a member that overflows becomes NaN (rows are never
    dropped), :meth:`iterate` issues one :class:`DivergenceWarning`, and the
    other members go on.

    References
    ----------
    The interface follows DynamicalSystemsBase.jl's ``DynamicalSystem``
    interface, adapted to batches of states.
    """

    dim: int = None  # type: ignore[assignment]

    # ---- the interface ---------------------------------------------------
    def step(self, states: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """One step of the map on a batch ``(E, dim)``; returns ``(E, dim)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement step(states)")

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        """The Jacobian matrix ``(dim, dim)`` of one step at ``state``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement jacobian(state); "
            "Lyapunov spectra need it"
        )

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One random initial state ``(dim,)`` drawn from ``rng``.

        The default is uniform on :math:`[-0.1, 0.1]^{dim}`, small states near
        the origin; a map whose domain is elsewhere overrides it.
        """
        return rng.uniform(-0.1, 0.1, size=self._dim())

    def observables(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """Scalars per member to record along orbits; none by default."""
        return {}

    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """Named index sets of the coordinates; ``{"all": arange(dim)}`` by default."""
        return {"all": np.arange(self._dim())}

    def coordinate_names(self) -> list[str]:
        """A readable name per coordinate, for figures and labels (``x0, x1, ...``)."""
        return [f"x{i}" for i in range(self._dim())]

    @property
    def has_jacobian(self) -> bool:
        """True if the subclass implements :meth:`jacobian`."""
        return type(self).jacobian is not Map.jacobian

    # ---- provided --------------------------------------------------------
    def _dim(self) -> int:
        d = self.dim
        if d is None:
            raise NotImplementedError(f"{type(self).__name__} must declare dim")
        return int(d)

    def check_states(self, states, name: str = "states", finite="rows") -> np.ndarray:
        """Validate a batch of states and return it as a float64 ``(E, dim)`` array.

        A single state ``(dim,)`` is accepted and returned as ``(1, dim)``.

        ``finite``: True requires every value finite; ``"rows"`` (the default)
        also accepts all-NaN rows, the members that diverged earlier, which
        stay NaN (divergence is data); False accepts anything.
        """
        arr = check_array(self, name, states, ndim=(1, 2), finite=finite is True)
        if finite == "rows" and arr.size:
            bad = ~np.isfinite(arr)
            if bad.any() and not np.all(np.isnan(arr[bad.any(axis=-1)])):
                raise ValueError(
                    f"{type(self).__name__}: {name} contains NaN or infinite values in a row "
                    "that is not all NaN (all-NaN rows are diverged members and are allowed)"
                )
        if arr.ndim == 1:
            arr = arr[None, :]
        d = self._dim()
        if arr.shape[1] != d:
            raise ValueError(
                f"{type(self).__name__}: {name} must have shape (E, {d}) or ({d},), "
                f"got {np.shape(states)}"
            )
        return arr

    def check_state(self, state, name: str = "state") -> np.ndarray:
        """Validate one state and return it as a float64 ``(dim,)`` array."""
        arr = check_array(self, name, state, ndim=1)
        d = self._dim()
        if arr.shape != (d,):
            raise ValueError(
                f"{type(self).__name__}: {name} must have shape ({d},), got {arr.shape}"
            )
        return arr

    def _advance(self, states: np.ndarray, n_steps: int) -> np.ndarray:
        """Advance an already validated batch ``n_steps``; no checks here."""
        x = states
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(n_steps):
                x = self.step(x)
        return x

    def _stream(self, states: np.ndarray, n_steps: int, every: int, group: int,
                metric) -> tuple[np.ndarray, dict, np.ndarray]:
        """Advance groups of orbits and record what a perturbation study needs.

        ``states`` is ``(G * group, dim)``: ``G`` groups, each a reference
        followed by ``group - 1`` perturbed copies. At ``t = 0, every, ...,
        n_steps`` it records the distance of each copy to its reference and the
        observables of the references; it never stores the states themselves.

        Returns
        -------
        distance : (R, G, group - 1)
        observables : dict name -> (R, G)
        final : (G * group, dim) final states
        """
        G = states.shape[0] // group
        n_rec = n_steps // every + 1
        dist = np.empty((n_rec, G, group - 1))
        obs: dict[str, np.ndarray] = {}
        x = states
        for r in range(n_rec):
            if r:
                x = self._advance(x, every)
            v = x.reshape(G, group, -1)
            with np.errstate(over="ignore", invalid="ignore"):
                dist[r] = metric(v[:, 1:], v[:, :1], map=self)
                for name, val in self.observables(v[:, 0]).items():
                    obs.setdefault(name, np.empty((n_rec, G)))[r] = val
        return dist, obs, x

    def iterate(self, states, n_steps: int) -> np.ndarray:
        """Final states after ``n_steps`` steps of each member of the batch.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
        n_steps : int >= 0

        Returns
        -------
        ndarray, shape (E, dim) (or (dim,) for a single state)
        """
        single = np.ndim(states) == 1
        x = self.check_states(states)
        n = check_int(self, "n_steps", n_steps, low=0)
        out = self._advance(np.array(x, copy=True), n)
        out = self._flag_divergence(out, before=x)
        return out[0] if single else out

    def trajectory(self, states, n_steps: int, every: int = 1) -> np.ndarray:
        """Stored states at ``t = 0, every, 2*every, ..., n_steps``.

        Returns
        -------
        ndarray, shape (n_steps // every + 1, E, dim)
            (or ``(n_steps // every + 1, dim)`` for a single state ``(dim,)``)
        """
        single = np.ndim(states) == 1
        x = self.check_states(states)
        n = check_int(self, "n_steps", n_steps, low=0)
        k = check_every(self, n, every)
        n_rec = n // k + 1
        out = np.empty((n_rec,) + x.shape)
        out[0] = x
        cur = np.array(x, copy=True)
        for r in range(1, n_rec):
            cur = self._advance(cur, k)
            out[r] = cur
        out[~np.all(np.isfinite(out), axis=-1)] = np.nan
        self._flag_divergence(out[-1], before=x)
        return out[:, 0] if single else out

    def initial_state(self, n: int, seed=None) -> np.ndarray:
        """``n`` random initial states ``(n, dim)``.

        Member ``i`` is drawn from its own stream (``dynnet.base.stream(seed, i)``),
        so ``initial_state(n, seed)[i]`` does not depend on ``n``.
        """
        n = check_int(self, "n", n, low=1)
        out = np.empty((n, self._dim()))
        for i in range(n):  # initialisation only, never a hot path
            out[i] = self.sample_state(stream(seed, i))
        return out

    def _flag_divergence(self, states: np.ndarray, before=None) -> np.ndarray:
        """Turn non-finite members into all-NaN rows; warn once if any member
        diverged during this call (``before``: the input, whose NaN rows had
        diverged already)."""
        bad = ~np.all(np.isfinite(states), axis=-1)
        new = bad if before is None else bad & np.all(np.isfinite(before), axis=-1)
        states[bad] = np.nan
        if np.any(new):
            warnings.warn(
                f"{type(self).__name__}: {int(new.sum())} of {new.size} ensemble members "
                "diverged (overflow); they are NaN from then on and the others go on",
                DivergenceWarning, stacklevel=3,
            )
        return states
