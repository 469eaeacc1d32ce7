"""The Map interface: one step of a discrete dynamical system, on a batch."""

from __future__ import annotations

import numbers
import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..base import ParamsObject, check_array, check_int, stream

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..base import SeedLike

__all__ = ["Map", "DivergenceWarning"]


def check_every(owner: object, n_steps: int, every: int) -> int:
    """Validate a record interval: ``every >= 1`` and a divisor of ``n_steps``.

    Parameters
    ----------
    owner : object
        The object named in error messages.
    n_steps : int
        The number of steps of the run (already validated).
    every : int
        The record interval.

    Returns
    -------
    int
        ``every``, validated.

    Raises
    ------
    TypeError
        If ``every`` is not an integer.
    ValueError
        If ``every < 1`` or ``every`` does not divide ``n_steps``.
    """
    k = check_int(owner, "every", every, low=1)
    if n_steps % k:
        raise ValueError(
            f"{type(owner).__name__}: n_steps={n_steps} is not a multiple of every={k}; "
            "the last records would be cut short"
        )
    return k


class DivergenceWarning(RuntimeWarning):
    """Issued once per call when ensemble members overflow and become NaN."""


def _validated_dim(owner, value) -> int:
    """``value`` as a positive int, or an error naming the class and the value."""
    name = type(owner).__name__
    if value is None:
        raise NotImplementedError(
            f"{name} must declare dim (a class attribute, a property or an __init__ parameter)"
        )
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: dim={value!r} must be a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name}: dim={value!r} must be a positive int (>= 1)")
    return int(value)


class _Dim:
    """``Map.dim``: whatever a subclass declares (a class attribute, a property, or an
    ``__init__`` parameter stored on the instance), read through one validation.

    Reading ``m.dim`` on an instance always gives a positive ``int`` or raises an error
    that names the class and the value. Reading it on the class gives the declaration
    itself (``None`` when the class declares nothing).
    """

    def __init__(self, declared=None):
        self.declared = declared

    def __get__(self, obj, cls=None):
        declared = self.declared
        if obj is None:
            return declared
        if "dim" in obj.__dict__:  # an __init__ parameter
            value = obj.__dict__["dim"]
        elif hasattr(declared, "__get__"):  # a property (or another descriptor)
            value = declared.__get__(obj, cls)
        else:
            value = declared
        return _validated_dim(obj, value)

    def __set__(self, obj, value):
        if hasattr(self.declared, "__set__"):
            self.declared.__set__(obj, value)  # a property decides (AttributeError if read-only)
        else:
            obj.__dict__["dim"] = value



class Map(ParamsObject):
    r"""A discrete dynamical system :math:`x_{t+1} = g(x_t)` acting on a batch.

    A state is a float64 vector of length ``dim``; an ensemble of ``E`` states
    is an array of shape ``(E, dim)``. Every Map works on ensembles, so a whole
    cloud of nearby orbits advances in one vectorised call.

    **A subclass must**

    * declare ``dim`` (a class attribute, a property, or an ``__init__``
      parameter), and
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
      ``weight_norm``); :meth:`observe` records them.
    * ``coordinate_groups()``: named index sets of the coordinates (for
      example ``"weights"`` and ``"biases"``), used by perturbers (``on=``) and
      layer metrics. The default has one group, ``"all"``.
    * ``batch_params``: a class attribute, the names of the parameters that
      may hold **one value per ensemble member** (``GradientDescentMap``
      declares ``("eta",)``, ``LogisticMap`` ``("r",)``). Such a parameter
      may be set to a 1-d float64 array of length ``E``; then member ``e`` of
      every batch of ``E`` states advances at the ``e``-th value, and the
      map's ``step`` (and ``jvp``, ``_advance``...) reads the value through
      :meth:`member_param`. A member of such a batch must give the same bits
      as a run of the map with that single value. Users call
      :meth:`batched`, which works for every map: for a parameter that is
      not declared it falls back to a loop over the distinct values (one
      copy of the map per value, so correct but not faster).
    * ``_advance(states, n_steps)``: a fused fast path for many steps at once;
      the default loops over :meth:`step`. ``_observe(states, n_steps, every,
      vectors)``: a fused path for :meth:`observe` (records of one segment).

    **Map provides** :meth:`iterate`, :meth:`trajectory`, :meth:`observe`,
    :meth:`initial_state` and validation: these check shapes, dtype and
    finiteness of their input here, once, and then call the subclass's
    unchecked ``step`` / ``_advance``.

    Attributes
    ----------
    dim : int
        The length of a state. Read on an instance it is always validated: a
        positive int, or a ``NotImplementedError`` (not declared) /
        ``TypeError`` / ``ValueError`` naming the class and the value.

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

    dim = _Dim()

    #: Parameters that may hold one value per ensemble member (see :meth:`batched`).
    batch_params: tuple[str, ...] = ()

    #: Steps per segment of :meth:`observe` (the progress bar advances once per segment;
    #: the records do not depend on it).
    _observe_segment = 1000

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("dim", None)
        if "dim" in cls.__dict__ and not isinstance(declared, _Dim):
            cls.dim = _Dim(declared)  # every declaration is read through one validation

    # ---- the interface ---------------------------------------------------
    def step(self, states: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """One step of the map on a batch.

        Parameters
        ----------
        states : ndarray, shape (E, dim)
            Validated float64 states (a subclass does no checking here).

        Returns
        -------
        ndarray, shape (E, dim)
            The next states, a new array.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement step(states)")

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        r"""The Jacobian matrix :math:`\partial g_i / \partial x_j` of one step at ``state``.

        Parameters
        ----------
        state : array_like, shape (dim,)
            One state.

        Returns
        -------
        ndarray, shape (dim, dim)
            The Jacobian; not implemented by default (``NotImplementedError``).
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement jacobian(state); "
            "Lyapunov spectra need it"
        )

    def jvp(self, states: ArrayLike, V: ArrayLike) -> np.ndarray:
        r"""Jacobian-vector products of one step: :math:`J(x_e)\, v_{ek}` for ``K`` vectors per member.

        .. math::

            (J V)_{ek} = \frac{\partial g}{\partial x}\Big|_{x_e} v_{ek}
            = \lim_{h \to 0} \frac{g(x_e + h v_{ek}) - g(x_e)}{h}.

        This is the tangent dynamics of the map: it advances deviation vectors
        along an orbit (:class:`~dynnet.TangentMap`,
        :class:`~dynnet.LyapunovSpectrum` with ``n_exponents=k``).

        The default forms the dense Jacobian of each member with
        :meth:`jacobian` and multiplies: :math:`O(\mathrm{dim}^2)` memory per
        member. A map with a matrix-free product overrides this method (for
        :class:`~dynnet.GradientDescentMap`, :math:`J v = v - \eta H v` with
        exact Hessian-vector products), so that tangent dynamics cost
        :math:`O(\mathrm{dim}\cdot K)` memory. An override keeps this
        signature, these shapes and the validation (``check_states``).

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            The points where the Jacobian is taken. All-NaN rows (diverged
            members) are allowed and give all-NaN products.
        V : array_like, shape (E, K, dim) or (K, dim)
            ``K`` tangent vectors per member; ``(K, dim)`` goes with a single
            state ``(dim,)``.

        Returns
        -------
        ndarray, shape (E, K, dim) (or (K, dim) for a single state)
            The products, a new float64 array.

        Raises
        ------
        ValueError
            If the shapes of ``states`` and ``V`` do not match.
        NotImplementedError
            If the map implements neither ``jvp`` nor ``jacobian``.

        References
        ----------
        A. Griewank, A. Walther, *Evaluating Derivatives*, 2nd ed., SIAM
        (2008), chapter 3 (the tangent mode).
        """
        x, W, single = self._check_tangent(states, V)
        if not self.has_jacobian:
            raise NotImplementedError(
                f"{type(self).__name__} implements neither jvp(states, V) nor jacobian(state); "
                "tangent dynamics and Lyapunov spectra need one of them"
            )
        d = x.shape[1]
        out = np.full(W.shape, np.nan)
        for e in range(x.shape[0]):  # one dense Jacobian per member
            if not np.all(np.isfinite(x[e])):
                continue
            J = np.asarray(self.jacobian(x[e]), dtype=np.float64)
            if J.shape != (d, d):
                raise ValueError(
                    f"{type(self).__name__}.jacobian returned shape {J.shape}, expected ({d}, {d})"
                )
            out[e] = W[e] @ J.T
        return out[0] if single else out

    def _check_tangent(self, states: ArrayLike, V: ArrayLike) -> tuple[np.ndarray, np.ndarray, bool]:
        """Validate the arguments of :meth:`jvp`: ``(states (E, dim), V (E, K, dim), single)``."""
        single = np.ndim(states) == 1
        x = self.check_states(states)
        self._numeric("V", V)
        W = check_array(self, "V", V, ndim=2 if single else 3, finite=False)
        d = x.shape[1]
        want = f"(K, {d}) for one state" if single else f"(E, K, {d}) with E = {x.shape[0]}"
        if single:
            W = W[None]
        if W.shape[0] != x.shape[0] or W.shape[2] != d:
            raise ValueError(
                f"{type(self).__name__}: V must have shape {want} (K tangent vectors per member), "
                f"got {np.shape(V)}"
            )
        return x, W, single

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One random initial state drawn from ``rng``.

        The default is uniform on :math:`[-0.1, 0.1]^{dim}`, small states near
        the origin; a map whose domain is elsewhere overrides it.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (dim,)
            One state.
        """
        return rng.uniform(-0.1, 0.1, size=self.dim)

    def observables(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """Scalars per member to record along orbits; none by default.

        Parameters
        ----------
        states : ndarray, shape (E, dim)
            Validated states (diverged members are all-NaN rows).

        Returns
        -------
        dict of str to ndarray of shape (E,)
            One array per observable; empty by default.
        """
        return {}

    def observable_names(self) -> tuple[str, ...]:
        """The names of :meth:`observables`, in order, without evaluating a state if it can.

        Studies call this to size their records before they run. The default
        evaluates :meth:`observables` on one zero state; a map whose single
        evaluation is costly (a wide network) overrides it with the fixed names.

        Returns
        -------
        tuple of str
            The keys that :meth:`observables` returns.
        """
        return tuple(self.observables(np.zeros((1, self.dim))))

    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """Named index sets of the coordinates.

        Returns
        -------
        dict of str to ndarray of int
            ``{"all": arange(dim)}`` by default.
        """
        return {"all": np.arange(self.dim)}

    def coordinate_names(self) -> list[str]:
        """A readable name per coordinate, for figures and labels.

        Returns
        -------
        list of str
            ``["x0", "x1", ...]`` by default, ``dim`` names.
        """
        return [f"x{i}" for i in range(self.dim)]

    @property
    def has_jacobian(self) -> bool:
        """True if the subclass implements :meth:`jacobian`."""
        return type(self).jacobian is not Map.jacobian

    @property
    def has_jvp(self) -> bool:
        """True if :meth:`jvp` works: the subclass implements it, or :meth:`jacobian`.

        Tangent dynamics (spectra, tangent exponents, covariant vectors) need only this.
        """
        return type(self).jvp is not Map.jvp or self.has_jacobian

    def capabilities(self) -> frozenset[str]:
        """What this map can do beyond :meth:`step`, by name.

        ``"jvp"`` (:attr:`has_jvp`), ``"jacobian"`` (:attr:`has_jacobian`),
        ``"hvp"`` and ``"hessian"`` (it has those methods: the Hessian of its
        loss), ``"groups"`` (:meth:`coordinate_groups` names a group besides ``"all"``).
        Studies and estimators ask for capabilities, never for a map's type
        (see :class:`dynnet.estimators.base.Needs`).

        Returns
        -------
        frozenset of str
            The names of the capabilities this map has.
        """
        caps = set()
        if self.has_jvp:
            caps.add("jvp")
        if self.has_jacobian:
            caps.add("jacobian")
        for name in ("hvp", "hessian"):
            if callable(getattr(self, name, None)):
                caps.add(name)
        try:
            if set(self.coordinate_groups()) - {"all"}:
                caps.add("groups")
        except Exception:  # noqa: BLE001 - a map whose groups cannot be built has none to offer
            pass
        return frozenset(caps)

    # ---- parameters as batch members -------------------------------------
    def batched(self, param: str, values: ArrayLike) -> Map:
        r"""This map with ``param`` taking one value per ensemble member.

        The returned map advances batches of exactly ``E = len(values)``
        states; member ``e`` runs at ``values[e]``, with the same bits as a
        run of ``clone(self).set_params(**{param: values[e]})``. So one call
        advances many values of a parameter at once (a bifurcation diagram
        over thousands of learning rates is one ensemble).

        If ``param`` is in the class's ``batch_params``, the result is a copy
        of this map whose ``param`` is the float64 array ``values`` (the map
        computes all members in one pass). Otherwise it is a wrapper that
        loops over the distinct values, one copy of the map each (for any
        map, at the cost of that loop).

        Parameters
        ----------
        param : str
            The name of a parameter of this map (an ``__init__`` argument).
        values : array_like, shape (E,)
            Finite real values, one per member.

        Returns
        -------
        Map
            A map of the same ``dim`` for batches of ``E`` states.

        Raises
        ------
        ValueError
            If ``param`` is not a parameter of this map or ``values`` is not a
            non-empty 1-d array of finite numbers.

        Examples
        --------
        >>> import numpy as np, dynnet as dn
        >>> m = dn.LogisticMap().batched("r", [3.2, 3.9])
        >>> m.iterate(np.full((2, 1), 0.3), 100).shape
        (2, 1)
        """
        from ..base import clone

        if param not in self._param_names():
            raise ValueError(f"{type(self).__name__}.batched: {param!r} is not a parameter of this map "
                             f"(parameters: {sorted(self._param_names())})")
        self._numeric("values", values)
        v = check_array(self, "values", values, ndim=1).copy()
        if v.size == 0:
            raise ValueError(f"{type(self).__name__}.batched: values must hold at least one value")
        v.setflags(write=False)
        if param in type(self).batch_params:
            return clone(self).set_params(**{param: v})
        return _LoopedParam(map=self, param=param, values=v)

    def member_param(self, name: str, n_members: int, **bounds: Any) -> float | np.ndarray:
        """The value of parameter ``name`` for a batch of ``n_members`` states, validated.

        For a map's own use in ``step`` and friends, on a parameter listed in
        ``batch_params``. A scalar is returned as a float; an array of one
        value per member as a float64 ``(n_members, 1)`` column (it broadcasts
        over a state's coordinates, and each member's arithmetic is that of
        the scalar case, so its bits are those of a single-value run).

        Parameters
        ----------
        name : str
            The parameter's name.
        n_members : int
            The number of states ``E`` of the batch.
        **bounds
            ``low``, ``high``, ``low_open``, ``high_open`` of
            :func:`dynnet.base.check_scalar`, applied to every value.

        Returns
        -------
        float or ndarray of shape (n_members, 1)
            The value, or one value per member.

        Raises
        ------
        ValueError
            If a value is out of bounds, or the number of values is not
            ``n_members``.
        """
        from ..base import check_scalar

        value = getattr(self, name)
        if np.ndim(value) == 0:
            return check_scalar(self, name, value, **bounds)
        self._numeric(name, value)
        v = check_array(self, name, value, ndim=1)
        if v.shape[0] != n_members:
            raise ValueError(
                f"{type(self).__name__}: parameter {name} holds {v.shape[0]} values (one per member) "
                f"but the batch has {n_members} states"
            )
        if v.size:  # every value is within the bounds when the smallest and the largest are
            check_scalar(self, name, float(v.min()), **bounds)
            check_scalar(self, name, float(v.max()), **bounds)
        return v[:, None]

    # ---- provided --------------------------------------------------------
    def _dim(self) -> int:
        """The validated ``dim`` (kept for callers written before ``dim`` was validated)."""
        return self.dim

    def _numeric(self, name: str, value):
        """Refuse inputs that numpy would silently turn into NaN (None) or truncate."""
        if isinstance(value, np.ndarray):
            kind = value.dtype.kind
        else:
            try:
                kind = np.asarray(value).dtype.kind
            except (TypeError, ValueError) as exc:  # ragged nesting
                raise TypeError(
                    f"{type(self).__name__}: {name} must be a numeric array (float64), "
                    f"got {type(value).__name__} ({exc})"
                ) from None
        if kind not in "iuf":
            what = "None or non-numeric entries" if kind == "O" else f"dtype kind {kind!r}"
            raise TypeError(
                f"{type(self).__name__}: {name} must be a numeric array of real numbers "
                f"(float64), got {what}; a diverged state is a row of float NaN, not None"
            )

    def check_states(self, states: ArrayLike, name: str = "states",
                     finite: bool | Literal["rows"] = "rows") -> np.ndarray:
        """Validate a batch of states and return it as a float64 ``(E, dim)`` array.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Real numbers; a single state is returned as ``(1, dim)``. ``None``
            entries, strings, complex numbers and objects are refused
            (``TypeError``).
        name : str, default "states"
            The argument's name, used in error messages.
        finite : {"rows", True, False}, default "rows"
            True requires every value finite; ``"rows"`` also accepts all-NaN
            rows, the members that diverged earlier, which stay NaN
            (divergence is data); False accepts any float.

        Returns
        -------
        ndarray, shape (E, dim)
            float64 (the input itself when it already is).
        """
        self._numeric(name, states)
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
        d = self.dim
        if arr.shape[1] != d:
            raise ValueError(
                f"{type(self).__name__}: {name} must have shape (E, {d}) or ({d},), "
                f"got {np.shape(states)}"
            )
        return arr

    def check_state(self, state: ArrayLike, name: str = "state") -> np.ndarray:
        """Validate one finite state and return it as a float64 ``(dim,)`` array.

        Parameters
        ----------
        state : array_like, shape (dim,)
            Finite real numbers.
        name : str, default "state"
            The argument's name, used in error messages.

        Returns
        -------
        ndarray, shape (dim,)
            float64.
        """
        self._numeric(name, state)
        arr = check_array(self, name, state, ndim=1)
        d = self.dim
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

    def _advance_tangent(self, states: np.ndarray, vectors: np.ndarray, n_steps: int,
                         eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Advance each member's orbit and unit tangent vector ``n_steps`` steps, renormalising.

        The tangent loop of :class:`~dynnet.BifurcationStudy` (Benettin et al. 1980), vectorised
        over the members. Per step, with :math:`x_t` a member's state and :math:`\hat v_t` its
        unit vector, :math:`w_t = J(x_t)\,\hat v_t` is either exact (``eps == 0``:
        :meth:`jvp`) or by a companion orbit (``eps > 0``: two calls of ``_advance``, the orbits
        and the companions, so that a batched map keeps its own batch size),

        .. math::

            d_t = \epsilon \max(1, \lVert x_t\rVert_2), \qquad
            w_t \approx \frac{g(x_t + d_t \hat v_t) - g(x_t)}{d_t},

        then :math:`\hat v_{t+1} = w_t / \lVert w_t\rVert_2` and the sum
        :math:`\Lambda = \sum_t \ln\lVert w_t\rVert_2`. A map with a fused engine overrides
        this (the same arithmetic per step; the sums over coordinates may be rounded differently).

        Parameters
        ----------
        states : numpy.ndarray, shape (E, dim)
            Validated states.
        vectors : numpy.ndarray, shape (E, dim)
            Unit tangent vectors, one per member.
        n_steps : int
            Steps, >= 0.
        eps : float
            :math:`\epsilon` of the companion orbit, > 0; 0: exact Jacobian-vector products.

        Returns
        -------
        states : numpy.ndarray, shape (E, dim)
            The states after ``n_steps`` steps (diverged members all NaN).
        vectors : numpy.ndarray, shape (E, dim)
            The unit tangent vectors after ``n_steps`` steps.
        log_growth_sum : numpy.ndarray, shape (E,)
            :math:`\Lambda` per member; NaN for a member that diverged.

        References
        ----------
        G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, Meccanica 15, 9 (1980).
        """
        x = np.array(states, dtype=np.float64, copy=True)
        v = np.array(vectors, dtype=np.float64, copy=True)
        acc = np.zeros(x.shape[0])
        eps = float(eps)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            x[~np.all(np.isfinite(x), axis=1)] = np.nan
            for _ in range(int(n_steps)):
                if eps > 0.0:
                    d = eps * np.maximum(1.0, np.sqrt(np.einsum("ij,ij->i", x, x)))
                    companion = self._advance(x + d[:, None] * v, 1)
                    x = self._advance(x, 1)
                    w = (companion - x) / d[:, None]
                else:
                    w = self.jvp(x, v[:, None, :])[:, 0]
                    x = self._advance(x, 1)
                bad = ~np.all(np.isfinite(x), axis=1)
                if bad.any():  # a new array: never write into what _advance returned
                    x = np.where(bad[:, None], np.nan, x)
                g = np.sqrt(np.einsum("ij,ij->i", w, w))
                v = w / g[:, None]
                acc += np.log(g)
        acc[~np.all(np.isfinite(x), axis=1)] = np.nan
        return x, v, acc

    def stream_distances(self, states: np.ndarray, n_steps: int, every: int, group: int,
                         metric) -> tuple[np.ndarray, dict, np.ndarray]:
        r"""Advance groups of orbits and record, streamed, what a perturbation ensemble needs.

        ``states`` is ``(G * group, dim)``: ``G`` groups, each a reference
        orbit :math:`x_g` followed by ``group - 1`` perturbed copies
        :math:`x'_{g,j}`. At :math:`t = 0, k, 2k, \dots, n` (``k = every``,
        ``n = n_steps``) it records the distance of each copy to its reference,

        .. math:: d_{g,j}(t) = \operatorname{metric}\big(x'_{g,j}(t), x_g(t)\big),

        and the :meth:`observables` of the references; the states themselves are
        never stored, so memory is that of the batch and of the records. This is
        the engine of :func:`dynnet.studies.blocks.run_ensemble`. A map with a
        fused engine overrides the private ``_stream`` (same records, same
        bits as this reference loop for its fused metrics).

        Parameters
        ----------
        states : numpy.ndarray, shape (G * group, dim)
            The groups' states, float64, validated by the caller (no checks here).
        n_steps : int
            Steps to advance, a multiple of ``every``.
        every : int
            Record interval, >= 1.
        group : int
            Orbits per group (a reference and ``group - 1`` copies), >= 2.
        metric : Metric
            The distance (called as ``metric(copies, reference, map=self)``).

        Returns
        -------
        distance : numpy.ndarray, shape (R, G, group - 1)
            ``R = n_steps // every + 1``.
        observables : dict of str to numpy.ndarray, shape (R, G)
            The references' observables.
        final : numpy.ndarray, shape (G * group, dim)
            The final states (diverged rows are not flagged).
        """
        return self._stream(states, int(n_steps), int(every), int(group), metric)

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

    def _observe(self, states: np.ndarray, n_steps: int, every: int,
                 vectors: np.ndarray | None) -> tuple[dict, np.ndarray]:
        """Records of one segment of :meth:`observe`, at ``t = 0, every, ..., n_steps``.

        ``states`` is validated ``(E, dim)``; ``vectors`` is ``(K, dim)`` or None.
        Returns ``(records, final)``: ``records`` maps each observable to
        ``(R, E)`` and, with ``vectors``, ``"projection"`` to ``(R, E, K)``;
        ``final`` are the states after ``n_steps`` steps, not flagged. A subclass
        with a fused engine overrides this; the records must be those of
        :meth:`observables` and of :func:`projections` at the recorded states.
        """
        n_rec = n_steps // every + 1
        out: dict[str, np.ndarray] = {}
        x = states
        for r in range(n_rec):
            if r:
                x = self._advance(x, every)
            ok = np.all(np.isfinite(x), axis=-1)
            xr = x if ok.all() else np.where(ok[:, None], x, np.nan)
            with np.errstate(over="ignore", invalid="ignore"):
                rec = dict(self.observables(xr))
                if vectors is not None:
                    rec["projection"] = projections(xr, vectors)
            for name, val in rec.items():
                val = np.asarray(val, dtype=np.float64)
                out.setdefault(name, np.empty((n_rec,) + val.shape))[r] = val
        return out, x

    def observe(self, states: ArrayLike, n_steps: int, *, every: int = 1,
                project: ArrayLike | None = None,
                progress: bool | str = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
        r"""Observables (and projections) along orbits, streamed: states are never stored.

        One pass over the orbits records, at :math:`t = 0, k, 2k, \dots, n`
        (``k = every``, ``n = n_steps``), every observable of
        :meth:`observables` and, if ``project`` is given, the projections

        .. math::

            p_{e,j}(t) = x_e(t) \cdot v_j = \sum_i x_{e,i}(t)\, v_{j,i}

        of each orbit on the given vectors. Memory is that of the states
        ``(E, dim)`` and of the records; the orbits advance in segments of
        whole record intervals so a progress bar can move, and the records do
        not depend on the segment length. The final states are bitwise those
        of :meth:`iterate`; the records equal :meth:`observables` and the
        projections of :meth:`trajectory`'s states (up to the rounding of a
        fused engine). Diverged members are all-NaN rows and give NaN records;
        one :class:`DivergenceWarning` is issued if any member diverged.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Initial states (all-NaN rows: members that diverged earlier).
        n_steps : int
            Number of steps, >= 0.
        every : int, default 1
            Record interval, >= 1; must divide ``n_steps``.
        project : array_like, shape (dim,) or (k, dim), optional
            Finite vectors :math:`v_j` to project the states on (not normalised
            here). None (the default) records no projection.
        progress : bool or str, default False
            Show a ``tqdm`` progress bar over the steps; a string is used as
            the bar's label.

        Returns
        -------
        records : dict of str to ndarray
            Records on axis 0, ``R = n_steps // every + 1`` of them: each
            observable ``(R, E)``, and ``"projection"`` ``(R, E)`` for one
            vector ``(dim,)`` or ``(R, E, k)`` for ``(k, dim)``. For a single
            state ``(dim,)`` the member axis is dropped.
        final_states : ndarray, shape (E, dim) (or (dim,) for a single state)
            The states after ``n_steps`` steps, as :meth:`iterate` returns them.

        Examples
        --------
        >>> import dynnet as dn
        >>> m = dn.GradientDescentMap(eta=5.0)
        >>> x0 = m.initial_state(4, seed=0)
        >>> rec, final = m.observe(x0, 100, project=x0[0] / abs(x0[0]).sum())
        >>> rec["loss"].shape, rec["projection"].shape, final.shape
        ((101, 4), (101, 4), (4, 83))
        """
        single = np.ndim(states) == 1
        x = self.check_states(states)
        n = check_int(self, "n_steps", n_steps, low=0)
        k = check_every(self, n, every)
        vectors = None
        one_vector = False
        if project is not None:
            self._numeric("project", project)
            V = check_array(self, "project", project, ndim=(1, 2))
            one_vector = V.ndim == 1
            V = np.ascontiguousarray(np.atleast_2d(V))
            if V.shape[1] != x.shape[1] or V.shape[0] == 0:
                raise ValueError(
                    f"{type(self).__name__}: project must have shape ({x.shape[1]},) or "
                    f"(k, {x.shape[1]}) with k >= 1, got {np.shape(project)}"
                )
            vectors = V
        if not isinstance(progress, (bool, np.bool_, str)):
            raise TypeError(
                f"{type(self).__name__}: progress={progress!r} must be a bool or a str (the label)"
            )
        seg = max(k, (int(self._observe_segment) // k) * k)
        n_rec = n // k + 1
        records: dict[str, np.ndarray] | None = None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=progress if isinstance(progress, str) else None, unit="step")
        cur = np.array(x, copy=True)
        done, r0 = 0, 0
        try:
            while True:
                m = min(seg, n - done)
                rec, cur = self._observe(cur, m, k, vectors)
                skip = 0 if done == 0 else 1  # a segment's first record ends the previous one
                if records is None:
                    if vectors is None and "projection" in rec:
                        raise ValueError(
                            f"{type(self).__name__}: an observable is named 'projection', "
                            "the name observe() gives the projections; rename it"
                        )
                    records = {name: np.empty((n_rec,) + v.shape[1:]) for name, v in rec.items()}
                for name, v in rec.items():
                    records[name][r0:r0 + v.shape[0] - skip] = v[skip:]
                r0 += m // k + 1 - skip
                done += m
                if bar is not None:
                    bar.update(m)
                if done >= n:
                    break
        finally:
            if bar is not None:
                bar.close()
        assert records is not None and r0 == n_rec
        if one_vector:
            records["projection"] = records["projection"][..., 0]
        final = self._flag_divergence(cur, before=x)
        if single:
            return {name: v[:, 0] for name, v in records.items()}, final[0]
        return records, final

    def iterate(self, states: ArrayLike, n_steps: int) -> np.ndarray:
        """Final states after ``n_steps`` steps of each member of the batch.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Initial states (all-NaN rows: members that diverged earlier).
        n_steps : int
            Number of steps, >= 0.

        Returns
        -------
        ndarray, shape (E, dim) (or (dim,) for a single state)
            The final states; members that diverged are all-NaN rows (one
            :class:`DivergenceWarning` per call).
        """
        single = np.ndim(states) == 1
        x = self.check_states(states)
        n = check_int(self, "n_steps", n_steps, low=0)
        out = self._advance(np.array(x, copy=True), n)
        out = self._flag_divergence(out, before=x)
        return out[0] if single else out

    def trajectory(self, states: ArrayLike, n_steps: int, every: int = 1) -> np.ndarray:
        """Stored states at ``t = 0, every, 2*every, ..., n_steps``.

        Memory grows with ``n_steps // every``; use :meth:`observe` to record
        observables or projections of long orbits without storing them.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Initial states.
        n_steps : int
            Number of steps, >= 0.
        every : int, default 1
            Record interval, >= 1; must divide ``n_steps``.

        Returns
        -------
        ndarray, shape (n_steps // every + 1, E, dim)
            (or ``(n_steps // every + 1, dim)`` for a single state ``(dim,)``);
            diverged members are all-NaN rows.
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

    def initial_state(self, n: int, seed: SeedLike = None) -> np.ndarray:
        """``n`` random initial states, each from its own stream.

        Member ``i`` is drawn by :meth:`sample_state` from
        ``dynnet.base.stream(seed, i)``, so ``initial_state(n, seed)[i]`` does
        not depend on ``n``.

        Parameters
        ----------
        n : int
            Number of states, >= 1.
        seed : None, int, SeedSequence or Generator, default None
            The seed (None: fresh entropy).

        Returns
        -------
        ndarray, shape (n, dim)
            The states.
        """
        n = check_int(self, "n", n, low=1)
        out = np.empty((n, self.dim))
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


def projections(states: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    r"""Row-wise projections :math:`x_e \cdot v_j` of states on vectors, ``(E, K)``.

    Each member's value is a sum over its own row (no BLAS product over the
    batch), so it does not depend on the other members.

    Parameters
    ----------
    states : ndarray, shape (E, dim)
        States.
    vectors : ndarray, shape (K, dim)
        Vectors.

    Returns
    -------
    ndarray, shape (E, K)
        The projections.
    """
    out = np.empty((states.shape[0], vectors.shape[0]))
    for j, v in enumerate(vectors):
        out[:, j] = np.multiply(states, v).sum(axis=-1)
    return out


class _LoopedParam(Map):
    """The fallback of :meth:`Map.batched` for a parameter the map does not declare batchable.

    Member ``e`` of a batch of ``len(values)`` states advances with a copy of ``map`` whose
    ``param`` is ``values[e]``: one call of the copy per distinct value, on its members.

    Parameters
    ----------
    map : Map or None, default None
        The wrapped map.
    param : str, default ""
        The parameter that varies over the members.
    values : array_like, shape (E,), default ()
        One value per member.
    """

    def __init__(self, map: Map | None = None, param: str = "", values: ArrayLike = ()) -> None:
        self.map = map
        self.param = param
        self.values = values

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Length of a state: the wrapped map's ``dim``."""
        return self.map.dim

    def _groups(self, n: int) -> list[tuple[Map, np.ndarray]]:
        """``(copy of the map at one value, member indices)`` for each distinct value."""
        from ..base import clone

        v = np.asarray(self.values, dtype=np.float64)
        if v.shape != (n,):
            raise ValueError(f"{type(self.map).__name__}.batched({self.param!r}): {v.size} values "
                             f"(one per member) but the batch has {n} states")
        cache = self.__dict__.setdefault("_copies", {})
        out = []
        for value in np.unique(v):
            copy = cache.get(float(value))
            if copy is None:
                copy = cache[float(value)] = clone(self.map).set_params(**{self.param: float(value)})
            out.append((copy, np.flatnonzero(v == value)))
        return out

    def step(self, states: np.ndarray) -> np.ndarray:
        """One step of each member at its own value.

        Parameters
        ----------
        states : ndarray, shape (E, dim)
            Validated states.

        Returns
        -------
        ndarray, shape (E, dim)
            The next states.
        """
        out = np.empty_like(states)
        for copy, idx in self._groups(states.shape[0]):
            out[idx] = copy.step(states[idx])
        return out

    def _advance(self, states: np.ndarray, n_steps: int) -> np.ndarray:
        out = np.empty_like(states)
        for copy, idx in self._groups(states.shape[0]):
            out[idx] = copy._advance(states[idx], n_steps)
        return out

    def jvp(self, states: ArrayLike, V: ArrayLike) -> np.ndarray:
        """Jacobian-vector products of each member at its own value (see :meth:`Map.jvp`).

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            The points where the Jacobian is taken.
        V : array_like, shape (E, K, dim) or (K, dim)
            Tangent vectors.

        Returns
        -------
        ndarray, shape (E, K, dim) (or (K, dim) for a single state)
            The products.
        """
        x, W, single = self._check_tangent(states, V)
        out = np.empty_like(W)
        for copy, idx in self._groups(x.shape[0]):
            out[idx] = copy.jvp(x[idx], W[idx])
        return out[0] if single else out

    def observables(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """The wrapped map's observables, each member's at its own value.

        Parameters
        ----------
        states : ndarray, shape (E, dim)
            States.

        Returns
        -------
        dict of str to ndarray of shape (E,)
            One array per observable.
        """
        out: dict[str, np.ndarray] = {}
        for copy, idx in self._groups(states.shape[0]):
            for name, val in copy.observables(states[idx]).items():
                out.setdefault(name, np.empty(states.shape[0]))[idx] = val
        return out

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One initial state of the wrapped map.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (dim,)
            One state.
        """
        return self.map.sample_state(rng)

    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """The wrapped map's coordinate groups.

        Returns
        -------
        dict of str to ndarray of int
            Group name to indices.
        """
        return self.map.coordinate_groups()

    def coordinate_names(self) -> list[str]:
        """The wrapped map's coordinate names.

        Returns
        -------
        list of str
            One name per coordinate.
        """
        return self.map.coordinate_names()
