r"""Estimators specific to gradient-descent maps: sharpness, weight importance, drift.

* :class:`Sharpness`: the largest Hessian eigenvalue along a trajectory
  against the stability threshold :math:`2/\eta` (edge of stability).
* :class:`WeightImportance`: the loss after zeroing each weight (paper Fig. 5 left).
* :class:`WeightDrift`: displacement against distance travelled per weight
  (paper Fig. 5 right).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .._regression import ols
from ..base import check_array, check_int, check_option, check_scalar
from .base import Estimator

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..maps.base import Map

__all__ = ["Sharpness", "WeightImportance", "WeightDrift"]


def _as_trajectory(owner, states, dim):
    """States ``(T, dim)`` (or one state ``(dim,)``) as a float64 ``(T, dim)`` array."""
    x = check_array(owner, "states", states, ndim=(1, 2), finite=False)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[1] != dim:
        raise ValueError(
            f"{type(owner).__name__}: states must have shape (T, {dim}) or ({dim},), got {x.shape}"
        )
    return x


def _lanczos_top(apply, n_ops: int, dim: int, m: int, tol: float):
    r"""Largest eigenvalue of ``n_ops`` symmetric operators by Lanczos, side by side.

    ``apply(active, V)`` returns the products :math:`H_a v_a` ``(A, dim)`` of
    the operators ``active`` (indices) with the rows of ``V`` ``(A, dim)``: one
    batched call per iteration for all operators not yet converged.

    Returns
    -------
    top : ndarray, shape (n_ops,)
        The largest Ritz value of each operator.
    n_iter : ndarray of int, shape (n_ops,)
        Iterations (products) used.
    converged : ndarray of bool, shape (n_ops,)
        Whether the residual bound was met (or the Krylov space exhausted).
    """
    from scipy.linalg import eigh_tridiagonal

    q0 = np.random.default_rng(20240611).standard_normal(dim)
    q0 /= np.linalg.norm(q0)
    Q = np.empty((n_ops, m, dim))  # the Krylov bases (pages touched as they fill)
    Q[:, 0] = q0
    alpha = np.zeros((n_ops, m))
    beta = np.zeros((n_ops, m))
    top = np.full(n_ops, np.nan)
    n_iter = np.zeros(n_ops, dtype=np.int64)
    converged = np.zeros(n_ops, dtype=bool)
    active = np.arange(n_ops)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for j in range(m):
            W = np.array(apply(active, Q[active, j]), dtype=np.float64)
            keep = np.ones(active.size, dtype=bool)
            for r, a in enumerate(active):
                w = W[r]
                basis = Q[a, :j + 1]  # a view: rows are the basis vectors
                alpha[a, j] = basis[j] @ w
                for _ in range(2):  # full reorthogonalisation, twice is enough
                    w -= (basis @ w) @ basis
                b = float(np.linalg.norm(w))
                beta[a, j] = b
                n_iter[a] = j + 1
                if not (np.isfinite(alpha[a, j]) and np.isfinite(b)):
                    keep[r] = False  # a non-finite product: NaN, not converged
                    continue
                if j == 0:
                    theta, s_last = alpha[a, 0], 1.0
                else:
                    ev, U = eigh_tridiagonal(alpha[a, :j + 1], beta[a, :j],
                                             select="i", select_range=(j, j))
                    theta, s_last = ev[0], U[-1, 0]
                top[a] = theta
                scale = max(abs(theta), float(np.max(np.abs(alpha[a, :j + 1]))), np.finfo(float).tiny)
                if b * abs(s_last) <= tol * scale or b <= 1e-14 * scale or j + 1 == dim:
                    converged[a] = True  # residual bound met, or the Krylov space is invariant
                    keep[r] = False
                elif j + 1 < m:
                    Q[a, j + 1] = w / b
            active = active[keep]
            if active.size == 0:
                break
    return top, n_iter, converged


class Sharpness(Estimator):
    r"""Sharpness, the largest Hessian eigenvalue, along a trajectory, against :math:`2/\eta`.

    .. math::

        S(W_t) = \lambda_{\max}\big(\nabla^2 L(W_t)\big), \qquad
        \text{threshold} = \frac{2}{\eta}.

    On a quadratic loss :math:`L = \tfrac12 W^\top A W`, gradient descent
    :math:`W \mapsto (I - \eta A) W` is stable iff every eigenvalue of
    :math:`I - \eta A` lies in :math:`(-1, 1)`, i.e. (for :math:`A` positive
    definite) iff :math:`S < 2/\eta`: it diverges exactly when
    :math:`\eta > 2/\lambda_{\max}`. On neural networks, full-batch GD drives
    the sharpness up to :math:`2/\eta` and then hovers there ("edge of
    stability").

    Fit with ``fit(states, map=m)``: ``states`` ``(T, dim)`` or ``(dim,)``,
    and ``m`` (required) a map with a batched ``hvp(states, V)`` or
    ``hessian(state)``.

    Parameters
    ----------
    method : {"auto", "exact", "lanczos"}, default "auto"
        "exact": ``numpy.linalg.eigvalsh`` of the full Hessian of each state.
        "lanczos": the Lanczos iteration on Hessian-vector products, all the
        states of a chunk at once, never forming a Hessian (see Notes).
        "auto": exact when ``dim <= exact_max_dim``, Lanczos above.
    exact_max_dim : int, default 500
        Largest ``dim`` for which "auto" picks the exact method.
    eta : float or None, default None
        Learning rate of the threshold; None reads ``map.eta``.
    chunk : int, default 4
        States handled in one batched call: Hessians built at once (exact
        method, memory ``chunk * dim**2``) or Lanczos iterations run side by
        side (memory ``chunk * lanczos_max_iter * dim`` at most).
    lanczos_tol : float, default 1e-10
        Lanczos stops for a state when the residual of its top Ritz pair,
        :math:`\|H u - \theta u\| = \beta_j |s_j|`, is at most
        ``lanczos_tol`` times the scale of :math:`H` (the largest of
        :math:`|\theta|` and the :math:`|\alpha_i|` of :math:`T_j`); the
        eigenvalue is then accurate to that bound or better (to about its
        square over the gap to the next eigenvalue).
    lanczos_max_iter : int, default 100
        Most Lanczos iterations per state (the Krylov dimension; at most
        ``dim``, where the result is exact). A state that has not converged
        by then keeps its best estimate, a lower bound, and a
        ``RuntimeWarning`` names this parameter.

    Attributes
    ----------
    sharpness_ : (T,) largest Hessian eigenvalue at each state (NaN for a
        non-finite state)
    threshold_ : float, :math:`2/\eta`
    above_ : (T,) bool, ``sharpness_ > threshold_``
    ratio_ : (T,) :math:`\eta S / 2` (1 at the edge of stability)
    method_ : the method used
    n_iter_ : (T,) int, Lanczos iterations (Hessian-vector products) used
        per state (0 for the exact method and for non-finite states)

    Notes
    -----
    Works with any map that has ``hvp(states, V)`` (``(E, dim), (E, K, dim)
    -> (E, K, dim)``, as :class:`~dynnet.GradientDescentMap`) or
    ``hessian(state)`` (``(dim,) -> (dim, dim)``, symmetric) and, for the
    threshold, ``eta`` (or pass ``eta=``). With ``hvp`` the exact method
    builds the Hessians of ``chunk`` states in one call and the Lanczos
    method never forms one.

    The Lanczos iteration (with full reorthogonalisation, twice classical
    Gram-Schmidt) builds an orthonormal Krylov basis :math:`q_1, \dots, q_j`
    of :math:`H` from a fixed start :math:`q_1` (a seeded Gaussian vector,
    the same for every state, so results are deterministic), and the
    tridiagonal :math:`T_j = Q_j^\top H Q_j`; the largest eigenvalue
    :math:`\theta` of :math:`T_j` converges to :math:`\lambda_{\max}(H)`
    from below. One step of all the states of a chunk is one batched
    ``hvp`` call. For a network, each ``hvp`` costs about two gradients, and
    a few dozen iterations suffice, so recording the sharpness along a
    trajectory costs a few dozen gradient evaluations per recorded state.

    References
    ----------
    J. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR (2021).
    C. Lanczos, "An iteration method for the solution of the eigenvalue
    problem of linear differential and integral operators", J. Res. Nat.
    Bur. Standards 45, 255 (1950).
    B. N. Parlett, *The Symmetric Eigenvalue Problem*, SIAM (1998), chapter 13
    (the residual bound).
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
    Computation 6, 147 (1994).
    """

    def __init__(self, method: str = "auto", exact_max_dim: int = 500, eta: float | None = None,
                 chunk: int = 4, lanczos_tol: float = 1e-10, lanczos_max_iter: int = 100) -> None:
        self.method = method
        self.exact_max_dim = exact_max_dim
        self.eta = eta
        self.chunk = chunk
        self.lanczos_tol = lanczos_tol
        self.lanczos_max_iter = lanczos_max_iter

    def fit(self, data: ArrayLike, *, map: Map | None = None, steps: None = None) -> Sharpness:
        """Sharpness of ``map`` at each state; returns self.

        Parameters
        ----------
        data : array_like, shape (T, dim) or (dim,)
            The states (a non-finite state gives NaN).
        map : Map
            Required: a map with ``hvp(states, V)`` or ``hessian(state)`` (and
            ``eta``, unless the parameter ``eta`` is set).
        steps : None
            Not used (TypeError if given).

        Returns
        -------
        Sharpness
            ``self``.
        """
        self._no_steps(steps)
        self._need_map(map, "the sharpness is the largest eigenvalue of the map's Hessian")
        states = data
        has_hvp = callable(getattr(map, "hvp", None))
        if not has_hvp and not callable(getattr(map, "hessian", None)):
            raise TypeError(
                f"Sharpness: {type(map).__name__} has neither hvp(states, V) nor hessian(state); "
                "Sharpness needs one of them"
            )
        method = check_option(self, "method", self.method, ["auto", "exact", "lanczos"])
        max_dim = check_int(self, "exact_max_dim", self.exact_max_dim, low=1)
        chunk = check_int(self, "chunk", self.chunk, low=1)
        ltol = check_scalar(self, "lanczos_tol", self.lanczos_tol, low=0.0)
        max_iter = check_int(self, "lanczos_max_iter", self.lanczos_max_iter, low=1)
        eta = self.eta if self.eta is not None else getattr(map, "eta", None)
        if eta is None:
            raise ValueError(
                f"Sharpness: {type(map).__name__} has no eta; pass Sharpness(eta=...)"
            )
        eta = check_scalar(self, "eta", eta, low=0.0, low_open=True)
        dim = int(map.dim)
        x = _as_trajectory(self, states, dim)
        if method == "auto":
            method = "exact" if dim <= max_dim else "lanczos"
        ok = np.all(np.isfinite(x), axis=1)
        out = np.full(x.shape[0], np.nan)
        n_iter = np.zeros(x.shape[0], dtype=np.int64)
        idx = np.flatnonzero(ok)
        unconverged = 0
        for s in range(0, idx.size, chunk):  # chunks bound the memory
            sel = idx[s:s + chunk]
            if method == "exact":
                if has_hvp:
                    eye = np.broadcast_to(np.eye(dim), (sel.size, dim, dim))
                    H = map.hvp(x[sel], eye)
                    H = 0.5 * (H + np.swapaxes(H, -1, -2))
                else:
                    H = np.stack([np.asarray(map.hessian(x[i]), dtype=np.float64) for i in sel])
                out[sel] = np.linalg.eigvalsh(H)[:, -1]
                continue
            if has_hvp:
                xs = x[sel]

                def apply(active, V, xs=xs):
                    return map.hvp(xs[active], V[:, None, :])[:, 0]
            else:
                Hs = np.stack([np.asarray(map.hessian(x[i]), dtype=np.float64) for i in sel])

                def apply(active, V, Hs=Hs):
                    return np.einsum("aij,aj->ai", Hs[active], V)
            top, its, conv = _lanczos_top(apply, sel.size, dim, min(max_iter, dim), ltol)
            out[sel] = top
            n_iter[sel] = its
            unconverged += int(np.sum(~conv))
        if unconverged:
            warnings.warn(
                f"Sharpness: Lanczos did not reach lanczos_tol={ltol:g} within "
                f"lanczos_max_iter={max_iter} iterations for {unconverged} of {idx.size} states; "
                "their sharpness_ is a lower bound (raise lanczos_max_iter)",
                RuntimeWarning, stacklevel=2,
            )
        self.sharpness_ = out
        self.threshold_ = 2.0 / eta
        with np.errstate(invalid="ignore"):
            self.above_ = out > self.threshold_
        self.ratio_ = out * eta / 2.0
        self.method_ = method
        self.n_iter_ = n_iter
        return self

    def summary(self) -> dict[str, Any]:
        """Headline numbers along the trajectory.

        Returns
        -------
        dict
            ``sharpness_max``, ``sharpness_final``, ``threshold``, ``fraction_above``.
        """
        self._check_fitted("sharpness_")
        s = self.sharpness_
        return {
            "sharpness_max": float(np.nanmax(s)) if np.any(np.isfinite(s)) else np.nan,
            "sharpness_final": float(s[-1]),
            "threshold": float(self.threshold_),
            "fraction_above": float(np.mean(self.above_)),
        }

    @staticmethod
    def _check_data():
        from ..maps.gd import GradientDescentMap

        m = GradientDescentMap()
        return {"data": m.initial_state(2, seed=0), "map": m}


def _batched_loss(map):
    """The map's batched loss: its ``loss(states)`` method, else its ``"loss"`` observable, else None."""
    loss = getattr(map, "loss", None)
    if callable(loss):
        return loss
    if "loss" in map.observable_names():
        return lambda states: map.observables(states)["loss"]
    return None


class WeightImportance(Estimator):
    r"""Loss after zeroing each weight in turn, relative to the loss (paper Fig. 5 left).

    .. math::

        I_w = \frac{L(W \,|\, w = 0)}{L(W)}

    :math:`I_w = 1`: the weight does not matter; :math:`I_w \gg 1`: the
    network relies on it. All zeroed copies are evaluated as one batch.

    Fit with ``fit(state, map=m)``: ``state`` ``(dim,)`` and ``m`` (required)
    a map with a batched ``loss(states)`` (or a ``"loss"`` observable) and
    ``coordinate_groups()``.

    Parameters
    ----------
    on : str, default "weights"
        Coordinate group of the map whose entries are zeroed one at a time.
    relative : bool, default True
        Report :math:`L_w / L` (the paper's); False reports :math:`L_w`.

    Attributes
    ----------
    importance_ : dict name -> 2-D array
        Per weight matrix, e.g. ``"W1"`` ``(4, 10)`` and ``"W2"`` ``(10, 3)``
        for the 4-10-3 network: entry ``[i, j]`` is the connection from neuron
        ``i`` to neuron ``j`` (the map's flat layout and graph view). Only
        matrices inside ``on`` appear; bias groups are 1-D.
    values_ : (dim,) the same numbers in the flat layout (NaN where not zeroed)
    baseline_ : float, :math:`L(W)`
    losses_ : (dim,) :math:`L_w` (NaN where not zeroed)

    Notes
    -----
    Needs a map with a batched ``loss(states)``, or else a ``"loss"``
    observable, and ``coordinate_groups()`` (as
    :class:`~dynnet.GradientDescentMap`); the per-matrix arrangement uses
    ``map.sizes``.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), Fig. 5 (left).
    """

    def __init__(self, on: str = "weights", relative: bool = True) -> None:
        self.on = on
        self.relative = relative

    def fit(self, data: ArrayLike, *, map: Map | None = None, steps: None = None) -> WeightImportance:
        """Zero each coordinate of group ``on`` of the state in turn; returns self.

        Parameters
        ----------
        data : array_like, shape (dim,)
            The state.
        map : Map
            Required: a map with ``loss(states)`` and the group ``on``.
        steps : None
            Not used (TypeError if given).

        Returns
        -------
        WeightImportance
            ``self``.
        """
        self._no_steps(steps)
        self._need_map(map, f"the importance is the map's loss with one weight zeroed, over "
                            f"its coordinate group on={self.on!r}")
        state = data
        loss = _batched_loss(map)
        if loss is None:
            raise TypeError(f"WeightImportance: {type(map).__name__} has neither loss(states) nor a "
                            "'loss' observable")
        if not isinstance(self.relative, (bool, np.bool_)):
            raise TypeError(f"WeightImportance: parameter relative={self.relative!r} must be a bool")
        x = map.check_state(state)
        groups = map.coordinate_groups()
        check_option(self, "on", self.on, list(groups))
        idx = np.asarray(groups[self.on])
        batch = np.repeat(x[None, :], idx.size, axis=0)
        batch[np.arange(idx.size), idx] = 0.0
        base = float(np.asarray(loss(x[None, :]))[0])
        lw = np.asarray(loss(batch), dtype=np.float64)
        vals = lw / base if self.relative else lw
        losses = np.full(x.shape[0], np.nan)
        losses[idx] = lw
        flat = np.full(x.shape[0], np.nan)
        flat[idx] = vals
        self.baseline_ = base
        self.losses_ = losses
        self.values_ = flat
        self.importance_ = self._arrange(map, groups, flat, set(idx.tolist()))
        return self

    @staticmethod
    def _arrange(map, groups, flat, chosen):
        sizes = getattr(map, "sizes", None)
        out = {}
        for name, g in groups.items():
            g = np.asarray(g)
            if name in ("all", "weights", "biases") or g.size == 0:
                continue
            if not set(g.tolist()) <= chosen:
                continue
            if sizes is not None and name[0] == "W" and name[1:].isdigit():
                layer = int(name[1:])
                out[name] = flat[g].reshape(sizes[layer - 1], sizes[layer])
            else:
                out[name] = flat[g]
        return out

    def summary(self) -> dict[str, Any]:
        """Headline numbers of the importances.

        Returns
        -------
        dict
            ``baseline_loss``, ``max``, ``median``, ``fraction_above_2``.
        """
        self._check_fitted("values_")
        v = self.values_[np.isfinite(self.values_)]
        return {
            "baseline_loss": self.baseline_,
            "max": float(v.max()),
            "median": float(np.median(v)),
            "fraction_above_2": float(np.mean(v > 2.0)),
        }

    @staticmethod
    def _check_data():
        from ..maps.gd import GradientDescentMap

        m = GradientDescentMap()
        return {"data": m.initial_state(1, seed=0)[0], "map": m}


class WeightDrift(Estimator):
    r"""Per-weight displacement against distance travelled (paper Fig. 5 right).

    From a trajectory :math:`w(0), \dots, w(T)` of each coordinate,

    .. math::

        \Delta_w = \frac{|w(T) - w(0)|}{|w(0)|}, \qquad
        D_w = \sum_{t=1}^{T} |w(t) - w(t-1)|,

    and the least-squares line :math:`\log_{10}\Delta_w = a + b\,\log_{10} D_w`
    (``slope_`` = b, with its :math:`R^2`; dynnet's one OLS, so equal
    :math:`\Delta_w` give :math:`R^2 = 0`), the paper's view. That line does
    not tell whether a weight moves in one direction: :math:`\Delta_w` is
    relative (divided by :math:`|w(0)|`) and :math:`D_w` absolute, so the
    scatter mixes the spread of :math:`|w(0)|` with the motion, and a slope
    near 1 is no proof of monotone motion. The direct measure is the
    straightness of each weight's path,

    .. math::

        r_w = \frac{|w(T) - w(0)|}{D_w} \in [0, 1],

    exactly 1 when the weight moves monotonically (never turns back), 0 when
    it returns to where it started, and in between otherwise (the triangle
    inequality gives :math:`r_w \le 1`). ``straightness_`` holds it per
    weight; :meth:`summary` gives its median and the fraction of weights with
    :math:`r_w >` ``straight_min``. A weight that never moved
    (:math:`D_w = 0`) has no :math:`r_w` (NaN): it is counted in
    ``n_frozen_``, not dropped silently.

    Fit with ``fit(trajectory, map=m)``. The map is needed to read the
    coordinate group ``on``; with ``on=None`` every coordinate is used and
    the map is optional (a trajectory of any system).

    Parameters
    ----------
    on : str or None, default "weights"
        Coordinate group of the map to use (biases start at 0, so their
        :math:`\Delta_w` is infinite). None: all coordinates. A group
        without a map raises TypeError.
    straight_min : float, default 0.99
        Threshold of :math:`r_w` above which a weight counts as moving in one
        direction (``fraction_straight`` of :meth:`summary`), in ``[0, 1)``.

    Attributes
    ----------
    displacement_ : (n,) or (E, n), :math:`\Delta_w`
    travelled_ : (n,) or (E, n), :math:`D_w`
    straightness_ : (n,) or (E, n), :math:`r_w = |w(T) - w(0)| / D_w`
        (NaN where :math:`D_w = 0` or the trajectory is not finite)
    index_ : (n,) the coordinates used
    slope_, intercept_, r2_ : the log-log fit over every finite, positive pair
        (pooled over members for an ensemble)
    n_fit_ : number of pairs in the fit
    n_frozen_ : number of weights (over members) with :math:`D_w = 0`
        exactly: they never moved, and have no :math:`r_w` and no place in
        the log-log fit
    n_returned_ : number of weights with :math:`D_w > 0` but
        :math:`w(T) = w(0)` exactly (:math:`r_w = 0`; :math:`\Delta_w = 0`
        has no logarithm, so they are not in the log-log fit either)
    n_weights_ : number of weights (over members) with a finite trajectory

    Notes
    -----
    Pass a trajectory recorded at every step (``every=1``): with coarser
    records :math:`D_w` undercounts back-and-forth motion (and
    :math:`r_w` is overestimated).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), Fig. 5 (right).
    """

    def __init__(self, on: str | None = "weights", straight_min: float = 0.99) -> None:
        self.on = on
        self.straight_min = straight_min

    def fit(self, data: ArrayLike, *, map: Map | None = None, steps: None = None) -> WeightDrift:
        """Fit from a trajectory; returns self.

        Parameters
        ----------
        data : array_like, shape (T+1, dim) or (T+1, E, dim)
            The trajectory, recorded at every step.
        map : Map or None, default None
            Required unless ``on=None``: the map whose coordinate group ``on``
            is used.
        steps : None
            Not used (TypeError if given).

        Returns
        -------
        WeightDrift
            ``self``.
        """
        self._no_steps(steps)
        if self.on is not None:
            self._need_map(map, f"on={self.on!r} names a coordinate group of the map "
                                "(use on=None for every coordinate of a trajectory without a map)")
        x = check_array(self, "trajectory", data, ndim=(2, 3), finite=False)
        if x.shape[0] < 2:
            raise ValueError(
                f"WeightDrift: trajectory needs at least 2 records, got shape {x.shape}"
            )
        if map is not None and x.shape[-1] != int(map.dim):
            raise ValueError(
                f"WeightDrift: trajectory last axis must be map.dim={map.dim}, got {x.shape}"
            )
        if self.on is not None:
            groups = map.coordinate_groups()
            check_option(self, "on", self.on, list(groups))
            idx = np.asarray(groups[self.on])
        else:
            idx = np.arange(x.shape[-1])
        check_scalar(self, "straight_min", self.straight_min, low=0.0, high=1.0, high_open=True)
        w = x[..., idx]
        finite = np.all(np.isfinite(w), axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            net = np.abs(w[-1] - w[0])
            disp = net / np.abs(w[0])
            trav = np.abs(np.diff(w, axis=0)).sum(axis=0)
            moved = finite & (trav > 0)
            # min(., 1): rounding in the sum of steps must not put a monotone path above 1
            straight = np.where(moved, np.minimum(net / np.where(moved, trav, 1.0), 1.0), np.nan)
            ok = np.isfinite(disp) & np.isfinite(trav) & (disp > 0) & (trav > 0)
            lx = np.log10(trav[ok])
            ly = np.log10(disp[ok])
        self.displacement_ = disp
        self.travelled_ = trav
        self.straightness_ = straight
        self.index_ = idx
        self.n_fit_ = int(ok.sum())
        self.n_frozen_ = int((finite & (trav == 0)).sum())
        self.n_returned_ = int((moved & (net == 0)).sum())
        self.n_weights_ = int(finite.sum())
        if self.n_fit_ >= 2 and np.ptp(lx) > 0:
            fit = ols(lx, ly)
            self.slope_ = float(fit.slope)
            self.intercept_ = float(fit.intercept)
            self.r2_ = float(fit.r2)
        else:
            self.slope_ = self.intercept_ = self.r2_ = np.nan
        return self

    def summary(self) -> dict[str, Any]:
        """Headline numbers of the log-log fit.

        Returns
        -------
        dict
            ``slope``, ``intercept``, ``r2``, ``n_fit`` (int) of the log-log
            fit; ``straightness_median`` (median :math:`r_w` over the weights
            that moved), ``fraction_straight`` (fraction of them with
            :math:`r_w >` ``straight_min``), ``n_moved``, ``n_frozen`` and
            ``n_returned`` (ints, see the attributes).
        """
        self._check_fitted("slope_")
        r = self.straightness_[np.isfinite(self.straightness_)]
        return {"slope": float(self.slope_), "intercept": float(self.intercept_),
                "r2": float(self.r2_), "n_fit": int(self.n_fit_),
                "straightness_median": float(np.median(r)) if r.size else np.nan,
                "fraction_straight": float(np.mean(r > float(self.straight_min))) if r.size else np.nan,
                "n_moved": int(r.size), "n_frozen": int(self.n_frozen_),
                "n_returned": int(self.n_returned_)}

    @staticmethod
    def _check_data():
        from ..maps.gd import GradientDescentMap

        m = GradientDescentMap()
        return {"data": m.trajectory(m.initial_state(1, seed=0)[0], 20), "map": m}
