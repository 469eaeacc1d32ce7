r"""BifurcationStudy: the bifurcation and Lyapunov diagrams of a map over one of its parameters."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..base import check_array, check_int, check_option, check_scalar, stream
from ..maps.base import DivergenceWarning
from .base import Study
from .blocks import warn_divergence

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from ..base import SeedLike
    from ..estimators.base import Estimator
    from ..maps.base import Map

__all__ = ["BifurcationStudy", "detect_period", "classify_orbit", "REGIMES"]

#: The regime labels of :func:`classify_orbit`, in the order its rule tries them.
REGIMES = ("divergent", "chaotic", "periodic", "fixed point", "aperiodic")


def detect_period(series: ArrayLike, max_period: int = 64, tol: float = 1e-6) -> np.ndarray:
    r"""The smallest period of each late-time series, or 0 where none is found.

    With :math:`p_t`, :math:`t = 0, \dots, R - 1`, the late-time values of one
    orbit and :math:`Q` = ``max_period``, the period is the smallest
    :math:`q \in \{1, \dots, Q\}` with

    .. math::

        \max_{Q \le t < R} \lvert p_t - p_{t-q} \rvert \le
        \mathrm{tol}\cdot\Big(1 + \max_{Q \le t < R} \lvert p_t \rvert\Big),

    the same :math:`R - Q` comparisons for every :math:`q`. It is 0 where no
    :math:`q \le Q` qualifies (chaos, a period above :math:`Q`, an orbit not
    yet converged, or a diverged orbit).

    Parameters
    ----------
    series : array_like, shape (R, n)
        Late-time values of ``n`` orbits on axis 0 (NaN: a diverged orbit).
    max_period : int, default 64
        The largest period looked for, :math:`Q \ge 1`; needs :math:`R \ge 2Q`.
    tol : float, default 1e-6
        Relative tolerance of a return, > 0.

    Returns
    -------
    ndarray of int, shape (n,)
        The period of each orbit (0: none found).

    Raises
    ------
    ValueError
        If ``series`` has fewer than ``2 * max_period`` values.
    """
    p = np.asarray(series, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    Q = check_int(None, "max_period", max_period, low=1)
    tol = check_scalar(None, "tol", tol, low=0.0, low_open=True)
    R = p.shape[0]
    if R < 2 * Q:
        raise ValueError(f"detect_period: {R} late-time values, but max_period={Q} needs at least {2 * Q}")
    ref = p[Q:]
    with np.errstate(invalid="ignore"):
        scale = tol * (1.0 + np.abs(ref).max(axis=0))
        out = np.zeros(p.shape[1], dtype=np.int64)
        for q in range(Q, 0, -1):  # downwards: the smallest qualifying q is written last
            err = np.abs(ref - p[Q - q:R - q]).max(axis=0)
            out[err <= scale] = q
    return out


def classify_orbit(diverged_fraction: float, tangent_exponent: float, period: int,
                   lambda_tol: float = 1e-3) -> str:
    r"""The regime of one parameter value, by a rule applied in order.

    1. ``"divergent"``: more than half of the orbits diverged.
    2. ``"chaotic"``: the late-time tangent exponent exceeds ``lambda_tol``.
    3. ``"periodic"``: a period :math:`q \ge 2` was found.
    4. ``"fixed point"``: period 1.
    5. ``"aperiodic"`` otherwise (no period up to ``max_period`` and
       :math:`\lambda \le` ``lambda_tol``: a long period, quasi-periodic
       motion, or an orbit still converging).

    Parameters
    ----------
    diverged_fraction : float
        Fraction of the orbits that overflowed.
    tangent_exponent : float
        Mean late-time tangent exponent of the live orbits.
    period : int
        The detected period (0: none).
    lambda_tol : float, default 1e-3
        The exponent above which the motion counts as chaotic.

    Returns
    -------
    str
        One of :data:`REGIMES`.
    """
    if diverged_fraction > 0.5:
        return "divergent"
    if tangent_exponent > lambda_tol:
        return "chaotic"
    if period >= 2:
        return "periodic"
    if period == 1:
        return "fixed point"
    return "aperiodic"


def _mode_period(periods: np.ndarray, live: np.ndarray) -> np.ndarray:
    """The most common period of the live orbits of each value (ties: the smallest; 0 if none live)."""
    out = np.zeros(periods.shape[0], dtype=np.int64)
    for i in range(periods.shape[0]):  # summary only, after the run
        p = periods[i][live[i]]
        if p.size:
            vals, counts = np.unique(p, return_counts=True)
            out[i] = vals[np.argmax(counts)]
    return out


class BifurcationStudy(Study):
    r"""The bifurcation and Lyapunov diagrams of a map over one parameter, in one batched ensemble.

    For every value :math:`\mu_i` of ``values`` the same ``n_init`` initial
    states (:meth:`Map.initial_state`) run ``n_transient + n_keep`` steps of
    the map at :math:`\mu_i`, all values and networks as **one ensemble** of
    ``len(values) * n_init`` members (:meth:`Map.batched`: one engine call
    advances every value at once). Along each orbit a tangent vector, from a
    seeded random direction, advances with the map's Jacobian (by a
    companion orbit, or exactly by Jacobian-vector products: ``tangent``)
    and is renormalised every step (Benettin et al. 1980), giving

    .. math::

        \lambda_{\mathrm{whole}} = \frac{1}{T}\sum_{t=0}^{T-1}
            \ln\lVert J(x_t)\,\hat v_t\rVert_2, \qquad
        \lambda = \frac{1}{n_\mathrm{keep}}\sum_{t=n_\mathrm{transient}}^{T-1}
            \ln\lVert J(x_t)\,\hat v_t\rVert_2,

    with :math:`T = n_\mathrm{transient} + n_\mathrm{keep}`: the whole-run and
    the late-time tangent exponents. The last ``n_record`` steps are recorded
    (:meth:`Map.observe`): the map's chosen observables (for
    :class:`~dynnet.GradientDescentMap` the loss) and the state, projected on
    a seeded random unit vector (for a one-dimensional map, the state
    itself). The period of each orbit is detected on the projection
    (:func:`detect_period`, any period up to ``max_period``), and each value
    gets a regime label (:func:`classify_orbit`). For a map with a test split
    (``accuracy(states, split="test")``) the time to a test accuracy of
    ``accuracy_threshold`` is measured as well, every ``accuracy_every``
    steps.

    Parameters
    ----------
    map : Map or None, default None
        None: ``GradientDescentMap()`` (the paper's Iris network). It must
        have a Jacobian or Jacobian-vector products.
    param : str, default "eta"
        The parameter to vary: any parameter of ``map``. One declared in the
        map's ``batch_params`` advances every value in one pass; any other
        through the loop of :meth:`Map.batched`.
    values : array_like of float or None, default None
        The values of ``param`` (distinct, finite). None: 1,000 values
        log-spaced in [0.01, 20] (for ``param="eta"`` only).
    n_init : int, default 16
        Initial states (the same for every value), >= 1.
    n_transient : int, default 1500
        Steps before the late-time window, >= 0.
    n_keep : int, default 500
        Steps of the late-time window (the late-time tangent exponent), >= ``n_record``.
    n_record : int, default 256
        Recorded late-time steps (the last ones of the window; ``n_record + 1``
        values per orbit), >= ``2 * max_period``.
    max_period : int, default 64
        The largest period detected (:func:`detect_period`).
    period_tol : float, default 1e-6
        Relative tolerance of a return of the orbit (:func:`detect_period`).
    lambda_tol : float, default 1e-3
        Exponent above which a value counts as chaotic (:func:`classify_orbit`).
    observables : sequence of str or None, default None
        Observables of the map to record (names of :meth:`Map.observables`).
        None: ``("loss",)`` for a map that has a loss, none otherwise.
    accuracy_threshold : float, default 0.9
        Test accuracy whose first crossing is timed (maps with ``accuracy``).
    accuracy_every : int, default 10
        Steps between test-accuracy checks (the time resolution), >= 1.
    tangent : {"orbit", "jvp"}, default "orbit"
        How the tangent vector advances: ``"jvp"``, exactly, by the map's
        Jacobian-vector products (:meth:`Map.jvp`; for gradient descent
        :math:`v - \eta H v`, a batched Hessian-vector product in numpy,
        measured about 30 times the cost of a step of the SIMD engine on the
        Iris map); ``"orbit"``, by a companion orbit at distance
        :math:`d = \epsilon \max(1, \lVert x\rVert_2)` along the vector,
        :math:`J v \approx (g(x + d v) - g(x)) / d`, renormalised every step
        (Benettin's two-orbit method: only steps of the map, so the whole
        ensemble of ``2E`` members runs in the map's engine, at about twice
        the cost of the orbits alone; its relative error is of order
        :math:`\epsilon` plus rounding over :math:`\epsilon`).
    orbit_eps : float, default 1e-7
        :math:`\epsilon` of ``tangent="orbit"``, in (0, 1e-2].
    estimators : list of Estimator or None, default None
        Estimators fitted value by value on the late-time records (their
        ``fit_result`` sees the records of one value, ``(init, step)``), for
        example ``ZeroOneTest(variable="state")``, the 0-1 test for chaos;
        their numbers go into the summary as ``<class>.<number>`` along
        ``param``. None: none.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed: initial states from its child 0, the tangent vector of
        initial state ``j`` from ``stream(child 1, j)``, the projection vector
        from child 2. None draws fresh entropy, recorded in ``seed_``.

    Notes
    -----
    Cost: per step, one step of the map on the ensemble and its companions
    (``tangent="orbit"``; with ``"jvp"``, one step and one batched
    Jacobian-vector product), all inside ``Map._advance_tangent``, one
    call per segment between the steps where the study reads the states (the
    accuracy checks, the end of the transient, the start of the records):
    for :class:`~dynnet.GradientDescentMap` on the SIMD engine with
    ``tangent="orbit"`` each segment is one compiled loop. Then ``n_record`` fused steps of
    :meth:`Map.observe`. Memory: the ensemble's states and vectors and
    ``(n_record + 1) * len(values) * n_init`` numbers per recorded variable.
    Near a bifurcation point the convergence to the new orbit is slow
    (critical slowing down), so its period may read 0 within about
    :math:`1/T` of the point. The run is one ensemble, threaded inside the
    map's engine: ``run(n_jobs=...)``, ``chunk_size`` and ``checkpoint`` do
    not split it.

    References
    ----------
    G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, Meccanica 15, 9 (1980).
    R. M. May, "Simple mathematical models with very complicated dynamics",
    Nature 261, 459 (1976).
    P. Jiménez-González, M. C. Soriano, L. Lacasa, arXiv:2506.08523 (2025).
    """

    _quick_params = {"values": tuple(float(v) for v in np.geomspace(0.1, 20.0, 12)), "n_init": 2,
                     "n_transient": 100, "n_keep": 80, "n_record": 64, "max_period": 16}

    def __init__(self, map: Map | None = None, param: str = "eta", values: ArrayLike | None = None,
                 n_init: int = 16, n_transient: int = 1500, n_keep: int = 500, n_record: int = 256,
                 max_period: int = 64, period_tol: float = 1e-6, lambda_tol: float = 1e-3,
                 observables: Sequence[str] | None = None, accuracy_threshold: float = 0.9,
                 accuracy_every: int = 10, tangent: str = "orbit", orbit_eps: float = 1e-7,
                 estimators: Sequence[Estimator] | None = None, seed: SeedLike = 0) -> None:
        self.map = map
        self.param = param
        self.values = values
        self.n_init = n_init
        self.n_transient = n_transient
        self.n_keep = n_keep
        self.n_record = n_record
        self.max_period = max_period
        self.period_tol = period_tol
        self.lambda_tol = lambda_tol
        self.observables = observables
        self.accuracy_threshold = accuracy_threshold
        self.accuracy_every = accuracy_every
        self.tangent = tangent
        self.orbit_eps = orbit_eps
        self.estimators = estimators
        self.seed = seed

    @staticmethod
    def _part_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": GradientDescentMap}

    # ---- validation -----------------------------------------------------------------------
    def _values(self) -> np.ndarray:
        if self.values is None:
            if self.param != "eta":
                raise ValueError(f"{type(self).__name__}: values=None is the default for param='eta' only; "
                                 f"give the values of {self.param!r}")
            return np.geomspace(0.01, 20.0, 1000)
        v = check_array(self, "values", self.values, ndim=1)
        if v.size == 0:
            raise ValueError(f"{type(self).__name__}: parameter values must hold at least one value")
        if np.unique(v).size != v.size:
            raise ValueError(f"{type(self).__name__}: parameter values must be distinct")
        return v

    def _estimator_variables(self):
        """What one value offers: the late-time records ``(init, step)`` and the per-member results."""
        m = self.parts()["map"]
        out = {"state" if m.dim == 1 else "projection", "member_period", "member_tangent_exponent",
               "member_tangent_exponent_whole", "diverged"} | set(self._observable_names(m))
        if _has_test_accuracy(m):
            out.add("member_time_to_accuracy")
        return out

    def _observable_names(self, m) -> tuple:
        available = tuple(m.observable_names())
        if self.observables is None:
            return ("loss",) if "loss" in available else ()
        if isinstance(self.observables, str):
            raise TypeError(f"{type(self).__name__}: observables must be a sequence of names, "
                            f"got the string {self.observables!r}")
        names = tuple(self.observables)
        bad = [n for n in names if n not in available]
        if bad:
            raise ValueError(f"{type(self).__name__}: observables {bad} are not observables of "
                             f"{type(m).__name__} (it has {list(available)})")
        return names

    def _validate(self):
        super()._validate()
        m = self.parts()["map"]
        if not isinstance(self.param, str) or self.param not in m._param_names():
            raise ValueError(f"{type(self).__name__}: param={self.param!r} is not a parameter of "
                             f"{type(m).__name__} (parameters: {sorted(m._param_names())})")
        if self.tangent == "jvp" and not m.has_jvp:
            raise ValueError(f"{type(self).__name__}: {type(m).__name__} has neither jvp nor jacobian; "
                             "tangent='jvp' needs one of them (tangent='orbit' needs neither)")
        self._values()
        check_int(self, "n_init", self.n_init, low=1)
        check_int(self, "n_transient", self.n_transient, low=0)
        q = check_int(self, "max_period", self.max_period, low=1)
        n_rec = check_int(self, "n_record", self.n_record, low=2 * q)
        check_int(self, "n_keep", self.n_keep, low=n_rec)
        check_scalar(self, "period_tol", self.period_tol, low=0.0, low_open=True)
        check_scalar(self, "lambda_tol", self.lambda_tol, low=0.0)
        check_scalar(self, "accuracy_threshold", self.accuracy_threshold, low=0.0, high=1.0)
        check_int(self, "accuracy_every", self.accuracy_every, low=1)
        check_option(self, "tangent", self.tangent, ["jvp", "orbit"])
        check_scalar(self, "orbit_eps", self.orbit_eps, low=0.0, low_open=True, high=1e-2)
        self._observable_names(m)

    def _tiny_params(self):
        q = min(int(self.max_period), 4)
        return {"values": tuple(self._values()[:2]), "n_init": 1, "n_transient": 0,
                "n_keep": 32, "n_record": 32, "max_period": q}

    def _memory(self, ctx):
        m = self.parts()["map"]
        E = self._values().size * int(self.n_init)
        n_var = 1 + len(self._observable_names(m))
        return {"ensemble states and tangent vectors": (8 * E * m.dim * 8, "values or n_init"),
                "late-time records": (8 * E * (int(self.n_record) + 1) * n_var, "n_record")}

    # ---- the run --------------------------------------------------------------------------
    def _compute(self, ctx):
        """One ensemble over every value: the tangent loop, then the late-time records."""
        import xarray as xr

        m = self.parts()["map"]
        param = str(self.param)
        values = self._values()
        n_val, n_init = values.size, int(self.n_init)
        n_tr, n_keep, n_rec = int(self.n_transient), int(self.n_keep), int(self.n_record)
        total = n_tr + n_keep
        E = n_val * n_init
        names = self._observable_names(m)
        x0 = m.initial_state(n_init, seed=ctx.child_seed(0))
        v0 = np.stack([stream(ctx.child_seed(1), j).standard_normal(m.dim) for j in range(n_init)])
        v0 /= np.linalg.norm(v0, axis=1, keepdims=True)
        if m.dim == 1:
            u = np.ones(1)
        else:
            u = np.random.default_rng(ctx.child_seed(2)).standard_normal(m.dim)
            u /= np.linalg.norm(u)
        # member e = i * n_init + j: value i, initial state j
        x = np.ascontiguousarray(np.tile(x0, (n_val, 1)))
        v = np.ascontiguousarray(np.tile(v0, (n_val, 1)))
        per_member = np.repeat(values, n_init)
        bm = m.batched(param, per_member)
        eps = float(self.orbit_eps) if self.tangent == "orbit" else 0.0
        timed = _has_test_accuracy(m)
        thr, every = float(self.accuracy_threshold), int(self.accuracy_every)
        t_acc = np.full(E, np.nan)
        whole = np.zeros(E)
        late = np.zeros(E)
        x_rec = x if total == n_rec else None
        # segments between the times where the state is needed: the accuracy checks, the end of
        # the transient (the late sum starts) and the start of the records
        cuts = {0, total, n_tr, total - n_rec}
        if timed:
            cuts.update(range(0, total + 1, every))
        cuts = sorted(c for c in cuts if 0 <= c <= total)
        bar = None
        if ctx.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=type(self).__name__, unit="step")
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                    if timed and a % every == 0:
                        self._time_accuracy(m, x, a, thr, t_acc)
                    x, v, lg = bm._advance_tangent(x, v, b - a, eps)
                    whole += lg
                    if a >= n_tr:
                        late += lg
                    if b == total - n_rec:
                        x_rec = x.copy()
                    if bar is not None:
                        bar.update(b - a)
                if timed and total % every == 0:
                    self._time_accuracy(m, x, total, thr, t_acc)
        finally:
            if bar is not None:
                bar.close()
        with warnings.catch_warnings():  # divergence is counted once, below, for the whole run
            warnings.simplefilter("ignore", DivergenceWarning)
            rec, final = bm.observe(x_rec, n_rec, project=u)
        diverged = ~np.all(np.isfinite(final), axis=1)
        late[diverged] = np.nan
        whole[diverged] = np.nan
        shape = (n_val, n_init)
        key = "state" if m.dim == 1 else "projection"
        p = np.asarray(rec["projection"]).reshape(n_rec + 1, n_val, n_init)
        period = detect_period(p.reshape(n_rec + 1, E), int(self.max_period),
                               float(self.period_tol)).reshape(shape)
        data = {
            key: ((param, "init", "step"), np.ascontiguousarray(np.moveaxis(p, 0, -1))),
            "member_period": ((param, "init"), period),
            "member_tangent_exponent": ((param, "init"), (late / n_keep).reshape(shape)),
            "member_tangent_exponent_whole": ((param, "init"), (whole / total).reshape(shape)),
            "diverged": ((param, "init"), diverged.reshape(shape)),
        }
        for name in names:
            r = np.asarray(rec[name]).reshape(n_rec + 1, n_val, n_init)
            data[name] = ((param, "init", "step"), np.ascontiguousarray(np.moveaxis(r, 0, -1)))
        if timed:
            data["member_time_to_accuracy"] = ((param, "init"), t_acc.reshape(shape))
        warn_divergence(self, diverged)
        coords = {param: values, "init": np.arange(n_init),
                  "step": np.arange(total - n_rec, total + 1)}
        ds = xr.Dataset(data, coords=coords)
        ds.attrs["diagram_variable"] = names[0] if names else key
        return ds

    @staticmethod
    def _time_accuracy(m, x, t, thr, t_acc):
        """Write ``t`` where a live, not yet timed member first reaches test accuracy ``thr``."""
        todo = np.isnan(t_acc) & np.all(np.isfinite(x), axis=1)
        if todo.any():
            acc = np.asarray(m.accuracy(x[todo], split="test"), dtype=np.float64)
            idx = np.flatnonzero(todo)[acc >= thr]
            t_acc[idx] = t

    def _analyse(self, ds):
        """Per value: the period, the exponents, the regime and the other columns of the summary."""
        param = str(self.param)
        live = ~ds["diverged"].values
        n_live = live.sum(axis=1)
        with np.errstate(invalid="ignore"), _quiet_nanmean():
            lam = np.nanmean(np.where(live, ds["member_tangent_exponent"].values, np.nan), axis=1)
            lam_w = np.nanmean(np.where(live, ds["member_tangent_exponent_whole"].values, np.nan), axis=1)
        period = _mode_period(ds["member_period"].values, live)
        div = 1.0 - n_live / live.shape[1]
        ds["period"] = ((param,), period)
        ds["tangent_exponent"] = ((param,), lam)
        ds["tangent_exponent_whole"] = ((param,), lam_w)
        ds["diverged_fraction"] = ((param,), div)
        tol = float(self.lambda_tol)
        ds["regime"] = ((param,), np.array([classify_orbit(d, lv if np.isfinite(lv) else -np.inf, int(q), tol)
                                            for d, lv, q in zip(div, lam, period, strict=True)], dtype=str))
        if "member_time_to_accuracy" in ds:
            t = ds["member_time_to_accuracy"].values
            with _quiet_nanmean():
                ds["time_to_accuracy"] = ((param,), np.nanmedian(t, axis=1))
            ds["reached_fraction"] = ((param,), np.isfinite(t).mean(axis=1))
        ests = self._fed_estimators()
        if not ests:
            return ds, []
        from ..base import clone
        from .blocks import fit_over

        m = self.parts()["map"]
        maps = [clone(m).set_params(**{param: float(v)}) for v in ds[param].values]
        return fit_over(ds, param, ests, maps, per_init_records=False)

    def _summary(self, ds):
        """Per value: period, tangent exponents, regime, late-time means, time to accuracy."""
        import xarray as xr

        out = {k: ds[k] for k in ("period", "tangent_exponent", "tangent_exponent_whole", "regime",
                                  "diverged_fraction", "time_to_accuracy", "reached_fraction") if k in ds}
        out.update({k: ds[k] for k in ds.data_vars if "." in k})
        for name in ds.data_vars:
            if ds[name].dims[-1:] == ("step",):
                out[f"{name}_late"] = ds[name].mean(dim=("init", "step"), skipna=True)
        return xr.Dataset(out)

    def plot(self) -> list[Figure]:
        """The bifurcation diagram over the Lyapunov diagram, on a shared parameter axis.

        Returns
        -------
        list of matplotlib.figure.Figure
            One figure (see :func:`dynnet.plotting.bifurcation.bifurcation_figure`).
        """
        from ..plotting.bifurcation import bifurcation_figure

        self._check_run()
        return [bifurcation_figure(self.result_)]


class _quiet_nanmean:
    """Silence numpy's warnings on all-NaN slices (a value whose every orbit diverged gives NaN)."""

    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def _has_test_accuracy(m) -> bool:
    """Whether the map can time learning: it has ``accuracy(states, split="test")`` and a
    held-out split (``data("test")``), whatever its type (GradientDescentMap, a TorchMap...)."""
    if not callable(getattr(m, "accuracy", None)) or not callable(getattr(m, "data", None)):
        return False
    try:
        return len(m.data("test")[0]) > 0
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return False
