r"""Covariant Lyapunov vectors by Ginelli's method.

:class:`CovariantLyapunovVectors` finds, along an orbit of any
:class:`~dynnet.Map` with a ``jvp`` or a ``jacobian``, the directions that
grow at each Lyapunov exponent, forward and backward in time: the covariant
(Oseledets) vectors. The Gram-Schmidt vectors of the QR iteration
(:class:`~dynnet.LyapunovSpectrum`) are orthogonal by construction and are not
these directions unless the tangent map is normal.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import as_seed_sequence, check_array, check_int, check_option
from ..maps.base import DivergenceWarning, Map
from ..maps.tangent import TangentMap
from .base import Estimator

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..base import SeedLike

__all__ = ["CovariantLyapunovVectors"]


def _unit_columns(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``C`` with unit columns, and the column norms it was divided by."""
    nu = np.sqrt(np.einsum("ij,ij->j", C, C))
    return C / nu, nu


def _triu_inverse(R: np.ndarray) -> np.ndarray:
    r"""Inverses of a stack of upper-triangular matrices ``(..., k, k)`` by back substitution.

    Row :math:`i` of :math:`X = R^{-1}` is :math:`X_{ii} = 1/R_{ii}`,
    :math:`X_{ij} = -\frac{1}{R_{ii}} \sum_{l > i} R_{il} X_{lj}`; one loop over
    the ``k`` rows, vectorised over the stack.
    """
    k = R.shape[-1]
    X = np.zeros_like(R)
    for i in range(k - 1, -1, -1):
        d = R[..., i, i]
        X[..., i, i] = 1.0 / d
        if i < k - 1:
            X[..., i, i + 1:] = -np.einsum("...l,...lj->...j", R[..., i, i + 1:],
                                           X[..., i + 1:, i + 1:]) / d[..., None]
    return X


class CovariantLyapunovVectors(Estimator):
    r"""Covariant Lyapunov vectors (CLVs) along an orbit, by Ginelli's method.

    Along an orbit :math:`x_{t+1} = g(x_t)` with Jacobians :math:`J_t =
    J(x_t)`, the covariant vectors :math:`v_t^{(j)}` are the directions that
    the tangent dynamics carry into each other, :math:`J_t v_t^{(j)} =
    \gamma_t^{(j)} v_{t+1}^{(j)}`, and that grow at the :math:`j`-th
    Lyapunov exponent both forward and backward in time. They are found in
    two passes (Ginelli et al. 2007, 2013).

    **Forward.** ``k`` deviation vectors, started from seeded random
    orthonormal directions, are advanced and re-orthonormalised every step,

    .. math::

        J_t Q_t = Q_{t+1} R_{t+1},

    and the upper-triangular :math:`R_{t+1}` (``k x k``) are stored. The
    exponents are :math:`\lambda_j = \frac{1}{T} \sum_t \ln |(R_{t+1})_{jj}|`
    over the ``n_steps`` steps of the window, as in
    :class:`~dynnet.LyapunovSpectrum`.

    **Backward.** In the basis of the Gram-Schmidt vectors the CLVs are
    :math:`V_t = Q_t C_t`, with :math:`C_t` upper triangular. Started from a
    seeded random upper-triangular matrix ``n_backward`` steps after the
    window, the coefficients are iterated backwards,

    .. math::

        \tilde C_{t} = R_{t+1}^{-1} C_{t+1}, \qquad
        C_t = \tilde C_t \, \mathrm{diag}(\nu_t)^{-1}, \quad
        \nu_t^{(j)} = \lVert \tilde c_t^{(j)} \rVert,

    which converges onto the covariant directions (the backward dynamics
    contracts onto them at the gaps between exponents). The vectors
    :math:`V_t = Q_t C_t` have unit norm (:math:`Q_t` is orthonormal), and
    since :math:`J_t V_t = Q_{t+1} R_{t+1} C_t = V_{t+1}\,
    \mathrm{diag}(\nu_t)^{-1}`, the finite-time (one-step) exponent of
    vector :math:`j` is :math:`\ln \gamma_t^{(j)} = -\ln \nu_t^{(j)}`.

    Fit with ``fit(state, map=m)``: ``state`` ``(dim,)`` starts the orbit
    and ``map`` (required) is any Map with ``jvp`` or ``jacobian``.

    Parameters
    ----------
    n_vectors : int or None, default None
        Number ``k`` of vectors, for the ``k`` largest exponents. None: all
        ``map.dim`` of them (through the dense Jacobian, when the map has
        one). With ``k < dim`` the vectors advance by ``map.jvp``, matrix
        free when the map has its own ``jvp``.
    n_steps : int, default 1000
        Length ``T`` of the window over which vectors, angles and exponents
        are reported (states :math:`x_{t_0}, \dots, x_{t_0+T-1}`,
        :math:`t_0` = ``n_transient``).
    n_transient : int, default 1000
        Forward steps run first (orbit and vectors, renormalised, nothing
        stored): the orbit settles and the Gram-Schmidt vectors converge.
    n_backward : int, default 1000
        Forward steps run after the window, whose :math:`R` factors the
        backward iteration uses to converge before it reaches the window.
    seed : int, SeedSequence, Generator or None, default 0
        Seed of the random starts: the forward vectors are the QR factor of a
        ``(dim, k)`` standard normal matrix drawn column by column (so the
        first columns do not depend on ``k``), then the backward start is
        the upper triangle of a ``(k, k)`` standard normal matrix, columns
        normalised. :class:`~dynnet.LyapunovSpectrum` given ``Q0=Q0_`` runs
        the same forward iteration and gives the same exponents.
    keep : {"vectors", "statistics"}, default "vectors"
        ``"vectors"``: store ``vectors_`` ``(T / e, k, dim)`` (memory
        :math:`O(T k\,\mathrm{dim} / e)`, :math:`e` = ``vectors_every``).
        ``"statistics"``: no vectors, only what
        the coefficients give: angles, finite-time exponents, projections
        (``project``) and coordinate-group shares, in
        :math:`O(T k^2 + \mathrm{dim}\,k)` memory (plus :math:`O(T k m)` for
        ``m`` projection vectors and :math:`O(T G k^2)` for ``G`` groups).
    project : array_like of shape (m, dim) or (dim,), or None, default None
        Vectors :math:`p_i` on which to project the CLVs: ``projections_``
        holds :math:`p_i \cdot v_t^{(j)}`, computed as :math:`(P Q_t) C_t`
        without forming :math:`v_t`. None: no projections.
    vectors_every : int, default 1
        With ``keep="vectors"``, store the vectors of every
        ``vectors_every``-th step of the window only (steps
        ``vector_steps_``); the other results keep every step.

    Attributes
    ----------
    vectors_ : ndarray, shape (n_records, k, dim)
        The unit CLVs at ``vector_steps_``, in the order of ``exponents_``
        (only with ``keep="vectors"``; signs are arbitrary; ``n_records =
        ceil(n_steps / vectors_every)``).
    vector_steps_ : ndarray of int, shape (n_records,)
        Only with ``keep="vectors"``: the step of each row of ``vectors_``.
    exponents_ : ndarray, shape (k,)
        The Lyapunov exponents, per step, from the forward :math:`R`
        factors over the window, in QR order: decreasing once the vectors
        have converged (they are not sorted, so that column ``j`` of every
        result stays the ``j``-th covariant direction; exponents out of order
        say that ``n_transient`` or ``n_steps`` is too short).
    exponent_ : float
        The largest exponent, ``exponents_[0]``.
    local_exponents_ : ndarray, shape (n_steps, k)
        The one-step growth rate :math:`\ln \lVert J_t v_t^{(j)} \rVert` of each
        CLV; their mean over the window tends to ``exponents_`` as
        :math:`1/T`.
    angles_ : ndarray, shape (n_steps, n_pairs)
        The angle, in radians in :math:`[0, \pi/2]`, between each pair of
        vectors: :math:`\arccos |v^{(i)} \cdot v^{(j)}| = \arccos
        |c^{(i)} \cdot c^{(j)}|`.
    pairs_ : ndarray of int, shape (n_pairs, 2)
        The pairs ``(i, j)``, ``i < j``, of the columns of ``angles_``.
    projections_ : ndarray, shape (n_steps, k, m)
        Only with ``project``: :math:`p_i \cdot v_t^{(j)}`.
    shares_ : ndarray, shape (n_steps, k, n_groups)
        The share :math:`\sum_{i \in g} (v_{t,i}^{(j)})^2` of each CLV on each
        coordinate group of ``map.coordinate_groups()`` other than ``"all"``
        (for a GD map: each layer's weights and biases, all weights, all
        biases).
    groups_ : list of str
        The group names, the last axis of ``shares_``.
    steps_ : ndarray of int, shape (n_steps,)
        The step of each record (``n_transient + arange(n_steps)``).
    R_ : ndarray, shape (n_steps, k, k)
        The forward :math:`R_{t+1}` factors of the window.
    C_ : ndarray, shape (n_steps, k, k)
        The coefficients :math:`C_t` of the CLVs in the Gram-Schmidt basis.
    Q0_ : ndarray, shape (dim, k)
        The random orthonormal vectors the forward pass started from.
    state_ : ndarray, shape (dim,)
        The final state of the orbit (after the backward-convergence steps).

    Notes
    -----
    The loop over time steps is inherent (one tangent step per step); the
    work inside a step is one batched ``jvp`` (or a dense Jacobian product)
    and a thin QR; the backward pass multiplies by one ``k x k``
    triangular inverse per step (the inverses of all steps are formed at
    once, by back substitution). Without the backward pass the Gram-Schmidt vectors
    :math:`Q_t` would be returned, which differ from the CLVs whenever the
    tangent map is not normal (a test checks that on a non-normal linear
    map, whose CLVs are its eigenvectors). A divergent orbit gives NaN
    results and a :class:`~dynnet.DivergenceWarning`; a tangent map that
    sends a direction exactly to zero (a singular :math:`R` factor) gives
    an exponent of :math:`-\infty`, NaN vectors behind it and a
    ``RuntimeWarning``.

    References
    ----------
    F. Ginelli, P. Poggi, A. Turchi, H. Chaté, R. Livi, A. Politi,
    "Characterizing dynamics with covariant Lyapunov vectors", Phys. Rev.
    Lett. 99, 130601 (2007).
    F. Ginelli, H. Chaté, R. Livi, A. Politi, "Covariant Lyapunov vectors",
    J. Phys. A 46, 254005 (2013).
    P. V. Kuptsov, U. Parlitz, "Theory and computation of covariant Lyapunov
    vectors", J. Nonlinear Sci. 22, 727 (2012).

    Examples
    --------
    >>> import dynnet as dn
    >>> clv = dn.CovariantLyapunovVectors(n_steps=500, n_transient=200, n_backward=200)
    >>> clv = clv.fit([0.1, 0.1], map=dn.HenonMap())
    >>> clv.vectors_.shape, clv.angles_.shape
    ((500, 2, 2), (500, 1))
    """

    def __init__(self, n_vectors: int | None = None, n_steps: int = 1000, n_transient: int = 1000,
                 n_backward: int = 1000, seed: SeedLike = 0, keep: str = "vectors",
                 project: ArrayLike | None = None, vectors_every: int = 1) -> None:
        self.n_vectors = n_vectors
        self.n_steps = n_steps
        self.n_transient = n_transient
        self.n_backward = n_backward
        self.seed = seed
        self.keep = keep
        self.project = project
        self.vectors_every = vectors_every

    def fit(self, data: ArrayLike, *, map: Map | None = None,
            steps: None = None) -> CovariantLyapunovVectors:
        """Run the forward and backward passes from the state ``data``; returns self.

        Parameters
        ----------
        data : array_like, shape (dim,)
            The initial state of the orbit.
        map : Map
            Required: a map that implements ``jvp(states, V)`` or
            ``jacobian(state)``.
        steps : None
            Not used (TypeError if given).

        Returns
        -------
        CovariantLyapunovVectors
            ``self``.
        """
        self._no_steps(steps)
        name = type(self).__name__
        m = self._need_map(map, "the vectors are those of the map's tangent dynamics "
                                "(any dynnet Map with jvp(states, V) or jacobian(state))")
        if not isinstance(m, Map):
            raise TypeError(f"{name}: map={m!r} must be a dynnet Map")
        if not m.has_jvp:
            raise NotImplementedError(
                f"{name}: {type(m).__name__} implements neither jvp(states, V) nor jacobian(state); "
                "the tangent dynamics and the vectors need one of them"
            )
        n = m.dim
        k = n if self.n_vectors is None else check_int(self, "n_vectors", self.n_vectors, low=1, high=n)
        T = check_int(self, "n_steps", self.n_steps, low=1)
        n_tr = check_int(self, "n_transient", self.n_transient, low=0)
        n_bw = check_int(self, "n_backward", self.n_backward, low=0)
        keep = check_option(self, "keep", self.keep, ("vectors", "statistics"))
        every = check_int(self, "vectors_every", self.vectors_every, low=1)
        P = None
        if self.project is not None:
            P = np.atleast_2d(check_array(self, "project", self.project, ndim=(1, 2)))
            if P.shape[1] != n or P.shape[0] == 0:
                raise ValueError(
                    f"{name}: parameter project must have shape ({n},) or (m, {n}) with m >= 1, "
                    f"got {np.shape(self.project)}"
                )
        x = m.check_state(data)
        groups = {g: np.asarray(idx) for g, idx in m.coordinate_groups().items() if g != "all"}
        tangent = TangentMap(map=m, k=k)

        rng = np.random.default_rng(as_seed_sequence(self.seed))
        Q, _ = np.linalg.qr(rng.standard_normal((k, n)).T)   # column by column: the same for every k
        self.Q0_ = Q.copy()
        C, _ = _unit_columns(np.triu(rng.standard_normal((k, k))))

        Rs = np.empty((T, k, k))
        Rb = np.empty((n_bw, k, k))
        QT = np.empty((-(-T // every), k, n)) if keep == "vectors" else None
        PQ = np.empty((T, P.shape[0], k)) if P is not None else None
        grams = np.empty((T, len(groups), k, k))
        diverged = False

        def advance(x, Q):
            x, Y = tangent.tangent_step(x, Q)
            ok = bool(np.all(np.isfinite(x)) and np.all(np.isfinite(Y)))
            return x, Y, ok

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for _ in range(n_tr):
                x, Y, ok = advance(x, Q)
                if not ok:
                    diverged = True
                    break
                Q, _ = np.linalg.qr(Y)
            for t in range(T if not diverged else 0):
                if QT is not None and t % every == 0:
                    QT[t // every] = Q.T
                if PQ is not None:
                    PQ[t] = P @ Q
                for i, idx in enumerate(groups.values()):
                    Qg = Q[idx]
                    grams[t, i] = Qg.T @ Qg
                x, Y, ok = advance(x, Q)
                if not ok:
                    diverged = True
                    break
                Q, Rs[t] = np.linalg.qr(Y)
            for b in range(n_bw if not diverged else 0):
                x, Y, ok = advance(x, Q)
                if not ok:
                    diverged = True
                    break
                Q, Rb[b] = np.linalg.qr(Y)
        self.state_ = x
        self.steps_ = n_tr + np.arange(T)
        self.groups_ = list(groups)
        self.pairs_ = np.array([(i, j) for i in range(k) for j in range(i + 1, k)],
                               dtype=np.int64).reshape(-1, 2)
        if diverged:
            warnings.warn(
                f"{name}: the orbit of {type(m).__name__} diverged (non-finite state or vectors); "
                "the results are NaN", DivergenceWarning, stacklevel=2,
            )
            self._set_nan(T, k, n, keep, P, every)
            return self

        # backward pass: C_{t} = R_{t+1}^{-1} C_{t+1}, columns normalised
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            Rb_inv = _triu_inverse(Rb)
            for b in range(n_bw - 1, -1, -1):
                C, _ = _unit_columns(Rb_inv[b] @ C)
            R_inv = _triu_inverse(Rs)
            Cs = np.empty((T, k, k))
            local = np.empty((T, k))
            for t in range(T - 1, -1, -1):
                C, nu = _unit_columns(R_inv[t] @ C)
                Cs[t] = C
                local[t] = -np.log(nu)
                if QT is not None and t % every == 0:  # V_t = Q_t C_t, rows (k, dim), in place of Q_t^T
                    QT[t // every] = C.T @ QT[t // every]
        if not np.all(np.isfinite(Cs)):
            warnings.warn(
                f"{name}: a forward R factor of {type(m).__name__} is singular (the tangent map sent a "
                "direction to zero); the vectors from there back are NaN",
                RuntimeWarning, stacklevel=2,
            )
        self.R_ = Rs
        self.C_ = Cs
        with np.errstate(divide="ignore"):   # a singular factor: -inf, reported above
            self.exponents_ = np.log(np.abs(np.diagonal(Rs, axis1=1, axis2=2))).mean(axis=0)
        self.exponent_ = float(self.exponents_[0])
        self.local_exponents_ = local
        cos = np.abs(np.einsum("tai,taj->tij", Cs, Cs))
        i, j = self.pairs_[:, 0], self.pairs_[:, 1]
        self.angles_ = np.arccos(np.clip(cos[:, i, j], 0.0, 1.0))
        if QT is not None:
            self.vectors_ = QT
            self.vector_steps_ = self.steps_[::every]
        if PQ is not None:
            self.projections_ = np.swapaxes(PQ @ Cs, 1, 2)
        # share of group g in v_j: c_j^T (Q_g^T Q_g) c_j (c_j unit, Q orthonormal: shares of "all" sum to 1)
        self.shares_ = np.einsum("taj,tgab,tbj->tjg", Cs, grams, Cs)
        return self

    def _set_nan(self, T, k, n, keep, P, every):
        self.R_ = np.full((T, k, k), np.nan)
        self.C_ = np.full((T, k, k), np.nan)
        self.exponents_ = np.full(k, np.nan)
        self.exponent_ = float("nan")
        self.local_exponents_ = np.full((T, k), np.nan)
        self.angles_ = np.full((T, self.pairs_.shape[0]), np.nan)
        if keep == "vectors":
            self.vectors_ = np.full((-(-T // every), k, n), np.nan)
            self.vector_steps_ = self.steps_[::every]
        if P is not None:
            self.projections_ = np.full((T, k, P.shape[0]), np.nan)
        self.shares_ = np.full((T, k, len(self.groups_)), np.nan)

    def summary(self) -> dict[str, Any]:
        """Headline numbers: the exponents' extremes and sum, and the angles between the vectors.

        Returns
        -------
        dict
            ``exponent`` (the largest), ``exponent_min``, ``sum``,
            ``n_vectors``, and with two or more vectors ``min_angle`` and
            ``median_angle`` (radians, over all pairs and times).
        """
        self._check_fitted("exponents_")
        out: dict[str, Any] = {"exponent": self.exponent_,
                               "exponent_min": float(self.exponents_[-1]),
                               "sum": float(np.sum(self.exponents_)),
                               "n_vectors": int(self.exponents_.size)}
        if self.angles_.shape[1]:
            out["min_angle"] = float(np.min(self.angles_))
            out["median_angle"] = float(np.median(self.angles_))
        return out

    @staticmethod
    def _check_data():
        from ..maps.classic import HenonMap

        return {"data": np.array([0.1, 0.1]), "map": HenonMap()}
