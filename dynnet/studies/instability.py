r"""InstabilityStudy: where the instability of training lives (CLVs against the Hessian, along training)."""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..base import as_seed_sequence, check_int, check_scalar, clone
from ..estimators.clv import CovariantLyapunovVectors
from ..maps.base import DivergenceWarning
from .base import Study

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from ..base import SeedLike
    from ..estimators.base import Estimator
    from ..maps.base import Map

__all__ = ["InstabilityStudy", "top_hessian_pairs", "participation", "instability_groups"]


def participation(V: np.ndarray) -> np.ndarray:
    r"""Inverse participation ratio of unit vectors along the last axis.

    .. math:: \mathrm{IPR}(v) = \sum_i v_i^4, \qquad \lVert v \rVert = 1,

    1 for a vector on one coordinate, :math:`1/n` for a uniform one
    (:math:`|v_i| = n^{-1/2}`), and :math:`3/(n+2)` on average for a random
    direction in :math:`n` dimensions.

    Parameters
    ----------
    V : numpy.ndarray, shape (..., n)
        Unit vectors (not normalised here).

    Returns
    -------
    numpy.ndarray, shape (...)
        :math:`\sum_i v_i^4` of each vector.
    """
    V = np.asarray(V, dtype=np.float64)
    return np.einsum("...i,...i->...", V * V, V * V)


def instability_groups(map: Map) -> dict[str, np.ndarray]:
    """The coordinate groups the study reports shares on.

    Every group of ``map.coordinate_groups()`` except ``"all"`` and, for the
    groups whose names end in a layer number (``W1``, ``b1``, ...), one group
    ``layer<l>`` per number, the union of that layer's groups. A map with no
    groups besides ``"all"`` gives ``{"all": arange(dim)}``.

    Parameters
    ----------
    map : Map
        Any map (its ``coordinate_groups()`` and ``dim``).

    Returns
    -------
    dict of str to numpy.ndarray of int
        Group name to the indices of its coordinates.
    """
    groups = {g: np.asarray(idx, dtype=np.int64) for g, idx in map.coordinate_groups().items() if g != "all"}
    layers: dict[str, list[np.ndarray]] = {}
    for g, idx in groups.items():
        hit = re.fullmatch(r"[A-Za-z_]+(\d+)", g)
        if hit:
            layers.setdefault(f"layer{int(hit.group(1))}", []).append(idx)
    for name, parts in layers.items():
        if name not in groups:
            groups[name] = np.unique(np.concatenate(parts))
    if not groups:
        groups = {"all": np.arange(map.dim)}
    return groups


def top_hessian_pairs(map: Map, states: np.ndarray, n_pairs: int, n_iter: int,
                      seed: SeedLike = 0, chunk: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The largest Hessian eigenvalues and their eigenvectors at each state, by Lanczos on ``map.hvp``.

    From the start :math:`q_1` (a seeded Gaussian unit vector, the same for
    every state) the Lanczos iteration with full reorthogonalisation (twice
    classical Gram-Schmidt) builds an orthonormal basis :math:`Q_m` of the
    Krylov space of :math:`H` and the tridiagonal :math:`T_m = Q_m^\top H Q_m`;
    the top Ritz pairs :math:`(\theta_i, Q_m s_i)` of :math:`T_m s_i = \theta_i
    s_i` approximate the top eigenpairs, with residual :math:`\lVert H u_i -
    \theta_i u_i\rVert = \beta_m |s_{m,i}|`. With :math:`m = n` (``n_iter >=
    dim``) the pairs are exact to rounding. A breakdown (an invariant Krylov
    space, :math:`\beta_j = 0`) continues from a seeded random vector
    orthogonal to the basis, so the iteration still spans the whole space.
    The states of a chunk advance together, one batched ``hvp`` per iteration.

    Parameters
    ----------
    map : Map
        A map with ``hvp(states, V)`` (``(E, dim), (E, K, dim) -> (E, K, dim)``).
    states : numpy.ndarray, shape (E, dim)
        The states; a non-finite state gives NaN.
    n_pairs : int
        Number ``p`` of top pairs (at most ``min(n_iter, dim)``).
    n_iter : int
        Lanczos iterations ``m`` (capped at ``dim``).
    seed : int, SeedSequence, Generator or None, default 0
        Seed of the start vector (and of restarts after a breakdown).
    chunk : int, default 32
        States per batched call (memory ``chunk * m * dim`` floats).

    Returns
    -------
    values : numpy.ndarray, shape (E, p)
        Ritz values, largest first.
    vectors : numpy.ndarray, shape (E, p, dim)
        Unit Ritz vectors (signs arbitrary).
    residuals : numpy.ndarray, shape (E, p)
        :math:`\beta_m |s_{m,i}|`, a bound on each pair's residual.

    References
    ----------
    B. N. Parlett, *The Symmetric Eigenvalue Problem*, SIAM (1998), chapter 13.
    """
    from scipy.linalg import eigh_tridiagonal

    x = np.asarray(states, dtype=np.float64)
    E, n = x.shape
    m = min(int(n_iter), n)
    p = int(n_pairs)
    rng = np.random.default_rng(as_seed_sequence(seed))
    q0 = rng.standard_normal(n)
    q0 /= np.linalg.norm(q0)
    restart = rng.standard_normal((m, n))   # one restart direction per iteration index, fixed by the seed
    values = np.full((E, p), np.nan)
    vectors = np.full((E, p, n), np.nan)
    residuals = np.full((E, p), np.nan)
    ok = np.flatnonzero(np.all(np.isfinite(x), axis=1))
    for s in range(0, ok.size, chunk):
        sel = ok[s:s + chunk]
        xs = x[sel]
        e = sel.size
        Q = np.zeros((e, m, n))
        a = np.zeros((e, m))
        b = np.zeros((e, m))
        Q[:, 0] = q0
        for j in range(m):
            w = np.asarray(map.hvp(xs, Q[:, j:j + 1]), dtype=np.float64)[:, 0]
            a[:, j] = np.einsum("en,en->e", w, Q[:, j])
            for _ in range(2):
                w -= np.einsum("ej,ejn->en", np.einsum("ejn,en->ej", Q[:, :j + 1], w), Q[:, :j + 1])
            nb = np.linalg.norm(w, axis=1)
            b[:, j] = nb
            if j + 1 == m:
                break
            scale = np.maximum(np.max(np.abs(a[:, :j + 1]), axis=1), np.max(b[:, :j + 1], axis=1))
            small = ~(nb > 1e-10 * np.where(scale > 0, scale, 1.0))
            nxt = w / np.where(small, 1.0, nb)[:, None]
            if np.any(small):
                r = np.broadcast_to(restart[j], (int(small.sum()), n)).copy()
                Qs = Q[small, :j + 1]
                for _ in range(2):
                    r -= np.einsum("ej,ejn->en", np.einsum("ejn,en->ej", Qs, r), Qs)
                nxt[small] = r / np.linalg.norm(r, axis=1)[:, None]
                b[small, j] = 0.0
            Q[:, j + 1] = nxt
        # the top p Ritz pairs of each tridiagonal T (LAPACK's tridiagonal solver, state by state:
        # m x m problems, cheap beside the m batched hvp calls)
        S = np.empty((e, m, p))
        for r in range(e):
            if m == 1:
                theta, Sr = a[r], np.ones((1, 1))
            else:
                theta, Sr = eigh_tridiagonal(a[r], b[r, :-1], select="i", select_range=(m - p, m - 1))
            values[sel[r]] = theta[::-1]
            S[r] = Sr[:, ::-1]
        U = np.einsum("ejn,ejp->epn", Q, S)
        vectors[sel] = U / np.linalg.norm(U, axis=2, keepdims=True)
        residuals[sel] = np.abs(b[:, m - 1, None] * S[:, m - 1, :])
    return values, vectors, residuals


def _first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first True along the last axis, -1 where there is none."""
    first = np.argmax(mask, axis=-1)
    return np.where(np.any(mask, axis=-1), first, -1)


class InstabilityStudy(Study):
    r"""Where the instability of training lives: covariant Lyapunov vectors against the Hessian.

    ``n_init`` networks train by full-batch gradient descent at the learning
    rate ``eta``. After ``n_transient`` steps, over a window of ``n_steps``
    steps recorded every ``every`` steps, the study records for each network

    * the top ``k = n_vectors`` covariant Lyapunov vectors :math:`v^{(j)}_t`
      (:class:`~dynnet.CovariantLyapunovVectors`, Ginelli's method on
      ``map.jvp``; the Jacobian of a GD step is :math:`J = I - \eta H`), unit
      vectors with :math:`J_t v^{(j)}_t = \gamma^{(j)}_t v^{(j)}_{t+1}`, and
      their local growth rates :math:`\ln \gamma^{(j)}_t` averaged over the
      ``every`` steps from each record;
    * the top ``n_hessian`` Hessian eigenpairs :math:`(\lambda_i, u_i)` of the
      loss (Lanczos on ``map.hvp``, :func:`top_hessian_pairs`), the sharpness
      :math:`S = \lambda_1` and its ratio :math:`\eta S / 2` to the stability
      threshold :math:`2/\eta`;
    * the alignment :math:`|\cos\theta_j| = |v^{(j)} \cdot u_1|` of each kept
      CLV with the top Hessian eigenvector, and of CLV 1 with each kept
      eigenvector;
    * how each kept CLV is spread over the network: its share
      :math:`\sum_{i \in g} (v_i^{(j)})^2` on each coordinate group ``g``
      (:func:`instability_groups`: the map's groups and one per layer; the
      shares of a partition sum to 1), its inverse participation ratio
      :math:`\sum_i (v_i^{(j)})^4` (:func:`participation`: 1 on one
      coordinate, :math:`1/n` uniform, :math:`3/(n+2)` for a random
      direction), and its share on the ``top_fraction`` of the coordinates
      that travel furthest over the window,
      :math:`D_i = \sum_t |x_{t+1,i} - x_{t,i}|` (the weights that carry the
      bursts at :math:`\eta = 5`).

    The linearisation suggests the answer on a quadratic: for :math:`L =
    \tfrac12 w^\top A w`, :math:`J = I - \eta A` and once :math:`\eta
    \lambda_{\max}(A) > 2` the only growing direction is the top eigenvector
    of :math:`A`, so :math:`|\cos\theta_1| = 1`. On a network the Hessian
    changes along the orbit and the question is open.

    Parameters
    ----------
    map : Map or None, default None
        None: ``GradientDescentMap()`` (the paper's 4-10-3 network on Iris).
        It must offer ``jvp`` and ``hvp`` (``map.capabilities()``).
    eta : float or None, default 1.0
        The learning rate, set on the map (``map.eta``); None keeps the map's
        own, which must then exist (the threshold is :math:`2/\eta`).
    n_init : int, default 10
        Networks (initial states from the run's seed, child 0).
    n_transient : int, default 20
        Training steps before the window (the forward Gram-Schmidt vectors
        converge during them).
    n_steps : int, default 200
        Steps of the window; records at ``n_transient + 0, every, ..., n_steps``.
    every : int, default 5
        Steps between records (a divisor of ``n_steps``).
    n_backward : int, default 50
        Training steps after the window for the backward pass to converge.
    n_vectors : int, default 3
        CLVs kept (the ``k`` largest exponents).
    n_hessian : int, default 2
        Top Hessian eigenpairs kept.
    lanczos_iter : int, default 100
        Lanczos iterations per state (capped at ``dim``: exact on the
        83-parameter network); the residual bound of each pair is recorded.
    top_fraction : float, default 0.1
        Fraction of the coordinates (at least one) ranked by the distance
        :math:`D_i` travelled over the window whose share is recorded.
    estimators : list of Estimator or None, default None
        Estimators fitted on the result (``fit_result``, offered the records
        ``cosine``, ``sharpness``, ``share``, ``ipr``, ``diverged``); their
        numbers are stored as ``<class>.<key>``. None: none.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed: initial networks from child 0, the CLV starts of
        network ``i`` from child ``(1, i)``, the Lanczos start from child 2.

    Attributes
    ----------
    result_ : xarray.Dataset
        Along ``(init, step, vector)``: ``growth``, ``cosine``, ``ipr``,
        ``top_share``; ``share (init, step, vector, group)``; along ``(init,
        step)``: ``sharpness``, ``ratio``, ``subspace_overlap``; ``hessian_value``,
        ``hessian_residual``, ``cosine_hessian (init, step, hessian)``;
        ``exponent (init, vector)``; ``drift (init, coord)`` (:math:`D_i`) and ``n_top``, the number of
        top-drift coordinates; ``initial_state (init, coord)``; ``diverged (init)``;
        ``threshold`` (:math:`2/\eta`).

    Notes
    -----
    Networks are handled one after another (the CLV's forward and backward
    passes are sequential in time; the Hessians of one network's records are
    one batched Lanczos); ``run(n_jobs=...)`` and checkpoints do not split the
    work. The vectors themselves are not kept: memory per network is the
    window's states and the CLVs at the records, see ``_memory``. The orbit the
    Hessians are taken on is ``map.trajectory`` from the same state, the same
    bits as the CLV's own orbit for a map whose step of a batch is that of
    each member.

    References
    ----------
    F. Ginelli, H. Chaté, R. Livi, A. Politi, "Covariant Lyapunov vectors",
    J. Phys. A 46, 254005 (2013).
    J. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR (2021).
    M. Danovski, M. C. Soriano, L. Lacasa, "Dynamical stability and chaos in
    artificial neural network trajectories along training", Front. Complex
    Syst. 2:1367957 (2024), sections 4.1 and 4.2.
    """

    _quick_params = {"n_init": 2, "n_transient": 10, "n_steps": 40, "every": 5, "n_backward": 10,
                     "n_vectors": 2, "n_hessian": 2}
    _records = {"cosine": (("init", "step", "vector"), "f"),
                "sharpness": (("init", "step"), "f"),
                "share": (("init", "step", "vector", "group"), "f"),
                "ipr": (("init", "step", "vector"), "f"),
                "diverged": (("init",), "b")}

    def __init__(self, map: Map | None = None, eta: float | None = 1.0, n_init: int = 10,
                 n_transient: int = 20, n_steps: int = 200, every: int = 5, n_backward: int = 50,
                 n_vectors: int = 3, n_hessian: int = 2, lanczos_iter: int = 100,
                 top_fraction: float = 0.1, estimators: Sequence[Estimator] | None = None,
                 seed: SeedLike = 0) -> None:
        self.map = map
        self.eta = eta
        self.n_init = n_init
        self.n_transient = n_transient
        self.n_steps = n_steps
        self.every = every
        self.n_backward = n_backward
        self.n_vectors = n_vectors
        self.n_hessian = n_hessian
        self.lanczos_iter = lanczos_iter
        self.top_fraction = top_fraction
        self.estimators = estimators
        self.seed = seed

    @staticmethod
    def _part_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": GradientDescentMap}

    def _map(self) -> Map:
        m = self.parts()["map"]
        if self.eta is not None:
            m = clone(m).set_params(eta=float(self.eta))
        return m

    def _eta(self) -> float:
        m = self._map()
        return float(m.eta)

    def _validate(self):
        super()._validate()
        name = type(self).__name__
        m = self.parts()["map"]
        missing = {"jvp", "hvp"} - set(m.capabilities())
        if missing:
            raise TypeError(f"{name}: the map {type(m).__name__} lacks {' and '.join(sorted(missing))} "
                            "(map.capabilities()); the CLVs need jvp and the Hessian eigenvectors hvp")
        if self.eta is not None:
            check_scalar(self, "eta", self.eta, low=0.0, low_open=True)
            if "eta" not in m._param_names():
                raise ValueError(f"{name}: the map {type(m).__name__} has no eta parameter to set")
        elif not isinstance(getattr(m, "eta", None), (int, float, np.floating, np.integer)):
            raise ValueError(f"{name}: eta=None needs a map with an eta (the threshold is 2/eta)")
        check_int(self, "n_init", self.n_init, low=1)
        check_int(self, "n_transient", self.n_transient, low=0)
        n_steps = check_int(self, "n_steps", self.n_steps, low=1)
        every = check_int(self, "every", self.every, low=1, high=n_steps)
        if n_steps % every:
            raise ValueError(f"{name}: parameter every={every} must divide n_steps={n_steps}")
        check_int(self, "n_backward", self.n_backward, low=0)
        dim = int(m.dim)
        check_int(self, "n_vectors", self.n_vectors, low=1, high=dim)
        it = check_int(self, "lanczos_iter", self.lanczos_iter, low=1)
        check_int(self, "n_hessian", self.n_hessian, low=1, high=min(it, dim))
        check_scalar(self, "top_fraction", self.top_fraction, low=0.0, high=1.0, low_open=True)

    def _tiny_params(self):
        every = int(self.every)
        return {"n_init": 1, "n_steps": every, "n_transient": min(int(self.n_transient), 2),
                "n_backward": min(int(self.n_backward), 2)}

    def _n_top(self, dim: int) -> int:
        return max(1, int(round(float(self.top_fraction) * dim)))

    def _memory(self, ctx):
        m = self.parts()["map"]
        dim = int(m.dim)
        k, p = int(self.n_vectors), int(self.n_hessian)
        n_steps, every = int(self.n_steps), int(self.every)
        R = n_steps // every + 1
        T = n_steps + 1
        it = min(int(self.lanczos_iter), dim)
        G = len(instability_groups(m))
        n_init = int(self.n_init)
        return {
            "CLVs at the records (one network)": (8 * R * k * dim, "n_steps or n_vectors (or every larger)"),
            "window states (one network)": (8 * 2 * T * dim, "n_steps"),
            "CLV factors (one network)": (8 * (2 * T + int(self.n_backward) + T * G) * k * k,
                                          "n_steps or n_backward"),
            "Lanczos bases (32 states)": (8 * min(32, R) * (it + 2) * dim, "lanczos_iter"),
            "records": (8 * n_init * R * (k * (G + 5) + 3 * p + 4) + 16 * n_init * dim, "n_init"),
        }

    def _compute(self, ctx):
        """Per network: the CLVs over the window, the Hessian pairs at the records, the statistics."""
        import xarray as xr

        m = self._map()
        eta = self._eta()
        n_init, n_tr = int(self.n_init), int(self.n_transient)
        n_steps, every, n_bw = int(self.n_steps), int(self.every), int(self.n_backward)
        k, p = int(self.n_vectors), int(self.n_hessian)
        dim = int(m.dim)
        groups = instability_groups(m)
        gmat = np.zeros((len(groups), dim))
        for g, idx in enumerate(groups.values()):
            gmat[g, idx] = 1.0
        R = n_steps // every + 1
        n_top = self._n_top(dim)
        x0 = m.initial_state(n_init, seed=ctx.child_seed(0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)
            xs = x0 if n_tr == 0 else m.trajectory(x0, n_tr, every=n_tr)[-1]

        def nan(*shape):
            return np.full((n_init,) + shape, np.nan)

        growth, cosine, ipr, top_share = nan(R, k), nan(R, k), nan(R, k), nan(R, k)
        share = nan(R, k, len(groups))
        sharp, overlap = nan(R), nan(R)
        hval, hres, cos_h = nan(R, p), nan(R, p), nan(R, p)
        exponent = nan(k)
        drift = nan(dim)
        diverged = np.zeros(n_init, dtype=bool)
        starts = np.arange(0, n_steps + 1, every)
        for i in range(n_init):
            clv = CovariantLyapunovVectors(n_vectors=k, n_steps=n_steps + 1, n_transient=n_tr,
                                           n_backward=n_bw, seed=ctx.child_seed(1, i), keep="vectors",
                                           vectors_every=every)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DivergenceWarning)
                clv.fit(x0[i], map=m)
                traj = m.trajectory(xs[i], n_steps, every=1)    # (n_steps + 1, dim)
            V = clv.vectors_                                     # (R, k, dim)
            if not (np.all(np.isfinite(V)) and np.all(np.isfinite(traj))):
                diverged[i] = True
                continue
            rec = traj[starts]
            vals, U, res = top_hessian_pairs(m, rec, p, int(self.lanczos_iter), seed=ctx.child_seed(2))
            hval[i], hres[i], sharp[i] = vals, res, vals[:, 0]
            cosine[i] = np.abs(np.einsum("rkn,rn->rk", V, U[:, 0]))
            cos_h[i] = np.abs(np.einsum("rn,rpn->rp", V[:, 0], U))
            overlap[i] = np.sqrt(np.sum(cos_h[i] ** 2, axis=1))
            V2 = V * V
            share[i] = np.einsum("rkn,gn->rkg", V2, gmat)
            ipr[i] = participation(V)
            d = np.sum(np.abs(np.diff(traj, axis=0)), axis=0)
            drift[i] = d
            top = np.argsort(-d, kind="stable")[:n_top]
            top_share[i] = V2[:, :, top].sum(axis=2)
            local = clv.local_exponents_                          # (n_steps + 1, k)
            counts = np.diff(np.append(starts, n_steps + 1))
            growth[i] = np.add.reduceat(local, starts, axis=0) / counts[:, None]
            exponent[i] = clv.exponents_
        if diverged.any():
            warnings.warn(f"{type(self).__name__}: {int(diverged.sum())} of {n_init} networks diverged "
                          f"at eta={eta:g}; their records are NaN", DivergenceWarning, stacklevel=3)
        ratio = sharp * eta / 2.0
        f3 = ("init", "step", "vector")
        data = {"growth": (f3, growth), "cosine": (f3, cosine), "ipr": (f3, ipr),
                "top_share": (f3, top_share),
                "share": (f3 + ("group",), share), "sharpness": (("init", "step"), sharp),
                "ratio": (("init", "step"), ratio), "subspace_overlap": (("init", "step"), overlap),
                "hessian_value": (("init", "step", "hessian"), hval),
                "hessian_residual": (("init", "step", "hessian"), hres),
                "cosine_hessian": (("init", "step", "hessian"), cos_h),
                "exponent": (("init", "vector"), exponent),
                "drift": (("init", "coord"), drift), "n_top": ((), np.int64(n_top)),
                "initial_state": (("init", "coord"), x0), "diverged": (("init",), diverged),
                "threshold": ((), 2.0 / eta)}
        return xr.Dataset(data, coords={"init": np.arange(n_init), "step": n_tr + starts,
                                        "vector": np.arange(1, k + 1), "hessian": np.arange(1, p + 1),
                                        "group": list(groups)})

    def _analyse(self, ds):
        """The estimators, if any, fitted on the result; their scalar numbers stored as ``<class>.<key>``."""
        from .blocks import fit_estimators

        ests = self._fed_estimators()
        if not ests:
            return ds, []
        fitted, numbers = fit_estimators(self, ests, ds, self._map())
        scalars = {k: ((), float(v)) for k, v in numbers.items()
                   if np.ndim(v) == 0 and isinstance(v, (int, float, np.integer, np.floating))}
        return ds.assign(scalars), fitted

    def _summary(self, ds):
        r"""Per network and pooled: the alignment after the sharpness passes :math:`2/\eta`, the
        localisation of CLV 1 (IPR, shares, share on the top-drift coordinates), with their nulls."""
        import xarray as xr

        coords = {c: ds[c] for c in ("init", "group", "vector")}
        return xr.Dataset(instability_summary(ds), coords=coords).merge(super()._summary(ds))

    def plot(self) -> list[Figure]:
        """Alignment and sharpness ratio against step; shares of CLV 1 per group; IPR against step.

        Returns
        -------
        list of matplotlib.figure.Figure
            The three figures.
        """
        from ..plotting.instability import (
            instability_alignment_figure,
            instability_ipr_figure,
            instability_shares_figure,
        )

        self._check_run()
        r = self.result_
        return [instability_alignment_figure(r), instability_shares_figure(r), instability_ipr_figure(r)]


def instability_summary(ds) -> dict:
    r"""The numbers of :meth:`InstabilityStudy.summary` from its result.

    * ``crossing_step (init)``: the first recorded step with :math:`\eta S/2 > 1`
      (NaN if none); ``cosine_after (init)``: the median of :math:`|v^{(1)}
      \cdot u_1|` over the records from it on; pooled ``cosine_median`` (median
      over the networks that cross), ``fraction_crossing``, and the null
      ``cosine_null`` :math:`= \sqrt{2/(\pi n)}`, the mean :math:`|\cos|` of a
      random direction in :math:`n` dimensions (large :math:`n`);
    * ``ipr_clv1 (init)`` and ``top_share (init)``: medians over the records of
      CLV 1's IPR and share on the top-drift coordinates; pooled
      ``ipr_median``, ``top_share_median``, with ``ipr_uniform`` :math:`1/n`,
      ``ipr_random`` :math:`3/(n+2)` and ``top_share_null`` :math:`m/n`;
    * ``share (init, group)``, ``share_median (group)``: CLV 1's share per group;
    * ``exponent_median (vector)``, ``ratio_median`` (:math:`\eta S/2`), ``diverged_fraction``.

    Parameters
    ----------
    ds : xarray.Dataset
        ``result_`` of an InstabilityStudy.

    Returns
    -------
    dict
        Name to ``(dims, values)`` or a scalar.
    """
    dim = int(ds.sizes["coord"])
    n_top = int(ds["n_top"].values)
    ratio = np.asarray(ds["ratio"].values)
    cos1 = np.asarray(ds["cosine"].values)[:, :, 0]
    with np.errstate(invalid="ignore"):
        crossed = ratio > 1.0
    first = _first_true(crossed)
    steps = np.asarray(ds["step"].values, dtype=np.float64)
    after = np.arange(ratio.shape[1])[None, :] >= np.where(first < 0, ratio.shape[1], first)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN, by design
        cos_after = np.nanmedian(np.where(after, cos1, np.nan), axis=1)
        ipr1 = np.nanmedian(np.asarray(ds["ipr"].values)[:, :, 0], axis=1)
        top1 = np.nanmedian(np.asarray(ds["top_share"].values)[:, :, 0], axis=1)
        share1 = np.nanmedian(np.asarray(ds["share"].values)[:, :, 0, :], axis=1)
        out = {
            "crossing_step": (("init",), np.where(first < 0, np.nan, steps[np.maximum(first, 0)])),
            "cosine_after": (("init",), cos_after),
            "cosine_median": float(np.nanmedian(cos_after)) if np.any(np.isfinite(cos_after)) else np.nan,
            "fraction_crossing": float(np.mean(first >= 0)),
            "cosine_null": float(np.sqrt(2.0 / (np.pi * dim))),
            "ipr_clv1": (("init",), ipr1),
            "ipr_median": float(np.nanmedian(ipr1)) if np.any(np.isfinite(ipr1)) else np.nan,
            "ipr_uniform": 1.0 / dim,
            "ipr_random": 3.0 / (dim + 2.0),
            "top_share": (("init",), top1),
            "top_share_median": float(np.nanmedian(top1)) if np.any(np.isfinite(top1)) else np.nan,
            "top_share_null": n_top / dim,
            "n_top": n_top,
            "share": (("init", "group"), share1),
            "share_median": (("group",), np.nanmedian(share1, axis=0)),
            "exponent_median": (("vector",), np.nanmedian(np.asarray(ds["exponent"].values), axis=0)),
            "ratio_median": float(np.nanmedian(ratio)) if np.any(np.isfinite(ratio)) else np.nan,
            "diverged_fraction": float(np.mean(np.asarray(ds["diverged"].values))),
        }
    return out
