"""IntermittencyStudy: period-3 laminar phases and chaotic bursts at eta = 5 (paper section 4.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import check_int, check_scalar, clone, stream
from ..estimators.graphs import HorizontalVisibilityGraph
from ..estimators.intermittency import LaminarPhases
from ..estimators.timeseries import Kantz, ShuffledAutocorrelation
from ..maps.base import Map
from .base import Study
from .blocks import estimator_key, owns_divergence

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from ..base import SeedLike
    from ..estimators.base import Estimator

__all__ = ["IntermittencyStudy"]


def _steps_by_period(fits, max_p):
    """Laminar steps per period (0..max_p) of each fitted LaminarPhases (None: zeros)."""
    out = np.zeros((len(fits), max_p + 1))
    for i, f in enumerate(fits):
        if f is not None and len(f.phases_):
            ph = np.asarray(f.phases_)
            np.add.at(out[i], np.clip(ph[:, 2], 0, max_p), ph[:, 1] - ph[:, 0])
    return out


def _longest_gap(mask):
    """``(start, stop)`` of the longest run of False in a boolean mask ((0, 0) if none)."""
    free = np.concatenate(([False], ~np.asarray(mask, bool), [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(free))
    if edges.size == 0:
        return 0, 0
    starts, stops = edges[0::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    return int(starts[k]), int(stops[k])


def _random_like_stretch(lam_fits, loss, hvg_proto, min_length):
    """The Figs. 10-11 stretch: the longest stretch without a laminar phase, over every
    series, whose HVG verdict is not "periodic" and that is at least min_length long.

    Returns ``(init, start, stop, verdict)`` with start/stop in samples of ``loss``;
    ``(-1, 0, 0, "")`` when no series has one.
    """
    from ..base import clone

    cands = []
    for i, f in enumerate(lam_fits):
        if f is not None:
            a, b = _longest_gap(f.laminar_mask_)
            if b - a >= min_length:
                cands.append((b - a, -i, a, b))
    for _, mi, a, b in sorted(cands, reverse=True):       # longest first, then lowest init
        i = -mi
        verdict = str(clone(hvg_proto).fit(loss[a:b, i]).verdict_)
        if verdict != "periodic":
            return i, a, b, verdict
    return -1, 0, 0, ""


class IntermittencyStudy(Study):
    r"""Loss dynamics of GD far beyond the edge of stability.

    ``n_init`` networks train ``n_steps`` steps at :math:`\eta = 5`; the loss
    :math:`L(t)` and :math:`\|W(t)\|_1` are recorded at every step (and every
    weight for the first ``n_weight_series`` networks). After ``transient``
    steps each loss series is analysed with

    * :class:`~dynnet.ShuffledAutocorrelation` (ACF with a shuffled null band),
    * :class:`~dynnet.Kantz` (exponent from the scalar series, with the
      paper's significance rule),
    * :class:`~dynnet.LaminarPhases` (period-p laminar phases and bursts),
    * :class:`~dynnet.HorizontalVisibilityGraph` (degree statistics and a
      periodic/chaotic/noise verdict).

    The same initial networks are also trained at each of ``compare_eta``.

    Laminar phases are also looked for in weight space, on the projection
    :math:`W(t)\cdot v` onto a fixed random unit vector :math:`v` (from
    ``seed``), with a relative tolerance ``projection_tol``. This matters: with a class-balanced
    training set (``GradientDescentMap(stratify=True)``, 40 samples per class),
    the loss is the same at the three steps of a period-3 weight cycle that
    permutes the classes' predictions, so the cycle shows as period 1 in the
    loss but period 3 in weight space. The default, the authors' unbalanced
    split, shows it in the loss too.

    Parameters
    ----------
    map : Map or None, default None
        None: ``GradientDescentMap(eta=5.0)``. It must have a ``loss`` observable.
    n_init : int, default 20
        Networks trained.
    n_steps : int, default 10000
        Training steps; the loss is recorded at every step.
    transient : int, default 3000
        Steps skipped before the series are analysed (at most ``n_steps - 10``).
    compare_eta : sequence of float, default (2.0, 3.0, 10.0)
        Other learning rates at which the same networks are trained, for the
        comparison panel (``()``: none; a map without ``eta`` needs ``()``).
    n_weight_series : int, default 1
        Networks whose every weight is recorded at every step.
    estimators : list of Estimator or None, default None
        Fitted on each loss series after the transient. None:
        ``[ShuffledAutocorrelation(), Kantz(), LaminarPhases(),
        HorizontalVisibilityGraph()]``; the study stores the curves and numbers of
        these four under the names below. Any other estimator is fitted
        (``fit_result``) on the records of each network after the transient (its
        observables such as ``loss (step)``, ``projection``, ``initial_state``,
        ``diverged``; its needs must be among them) and its numbers stored as
        ``<class>.<key> (init)``.
    projection_tol : float, default 1e-5
        Relative tolerance of the laminar-phase search on :math:`W(t)\cdot v`
        (the study's LaminarPhases with ``tol=projection_tol, tol_mode="relative"``).
    figure_min_length : int, default 1000
        Shortest stretch accepted for Figs. 10-11. The paper shows "a typical
        time series within one of these random-like intermissions": the study
        takes the longest stretch of any loss series (after the transient)
        that lies inside no laminar phase (periods 1-64), is at least this long,
        and whose :class:`~dynnet.HorizontalVisibilityGraph` verdict is not
        "periodic" (``figure_init``, ``figure_start``, ``figure_stop``); the
        ACF and the per-reference Kantz fit of Figs. 10-11 are computed on it.
        With none, ``figure_init = -1`` and those numbers are NaN.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed (initial networks from its child 0, the projection vector
        from ``stream(seed, 2)``); None draws fresh entropy, recorded in ``seed_``.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``loss``, ``weight_norm (step, init)``, ``compare_loss (eta, step, init)``,
        ``weights (step, series, coord)``, ``projection (step, init)`` (:math:`W\cdot v`),
        ``laminar_steps_by_period`` and ``laminar_steps_by_period_weights``
        ``(init, period)`` (loss and weight space), and per initial condition the
        estimator results (``acf (init, lag)``, ``acf_band (init, bound, lag)``,
        ``kantz_exponent``, ``kantz_pvalue``, ``kantz_significant``,
        ``laminar_fraction``, ``hvg_mean_degree``, ``hvg_verdict`` ...).
        Kantz per reference point of each whole series:
        ``kantz_series_ref_pvalue (init, alternative, series_ref)`` (both
        sides), ``kantz_series_ref_exponent`` and ``kantz_series_ref_tested``
        ``(init, series_ref)``, ``kantz_ref_n_tested_per_init (init)`` and
        ``kantz_ref_significant_fraction_per_init (init, alternative)``.
        The Figs. 10-11 stretch: ``figure_init``, ``figure_start``,
        ``figure_stop`` (steps, stop exclusive), ``figure_hvg_verdict``,
        ``figure_acf (lag)``, ``figure_acf_band (bound, lag)`` and its Kantz
        fit per reference point: ``kantz_ref_exponent``,
        ``kantz_ref_significant`` (with the Kantz ``alternative``, by default
        the paper's two-sided test), ``kantz_ref_pvalue (alternative, ref)``,
        ``kantz_ref_tested``, ``kantz_ref_n_neighbors``, ``kantz_ref_time``.

    Notes
    -----
    Fig. 11's significant fraction is taken among the reference points that
    have a neighbour within the radius (and so an exponent), never among all
    sampled ones (a reference point without a neighbour is no evidence
    against divergence). The paper's test is two-sided (its caption: "a slope
    of zero ... cannot be rejected", p > 0.05, no side given: the usual
    regression p-value), so ``kantz_ref_significant_fraction_two_sided`` is
    the number comparable with Fig. 11; the one-sided
    ``kantz_ref_significant_fraction_greater`` (slope > 0, divergence only)
    is reported beside it.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.2, Figs. 9-12;
    H. Kantz, Phys. Lett. A 185, 77 (1994);
    A. M. Nunez et al., Phys. Rev. E 86, 036203 (2012).
    """

    #: The quick preset's Kantz radius is relative to each series (1e-3 standard deviations):
    #: the paper's absolute 5e-5 gives a neighbour to only 2-9% of the reference points of these
    #: short series (and a warning); 1e-3 std is the smallest radius, on a 1-3-10 grid, at
    #: which more than half of them have one in every quick series.
    _quick_params = {"n_init": 3, "n_steps": 1500, "transient": 300, "n_weight_series": 1,
                     "figure_min_length": 300,
                     "estimators": [ShuffledAutocorrelation(), Kantz(radius=1e-3, radius_units="std"),
                                    LaminarPhases(), HorizontalVisibilityGraph()]}

    def __init__(self, map: Map | None = None, n_init: int = 20, n_steps: int = 10000,
                 transient: int = 3000, compare_eta: float | Sequence[float] = (2.0, 3.0, 10.0),
                 n_weight_series: int = 1, estimators: Sequence[Estimator] | None = None,
                 projection_tol: float = 1e-5, figure_min_length: int = 1000,
                 seed: SeedLike = 0) -> None:
        self.map = map
        self.n_init = n_init
        self.n_steps = n_steps
        self.transient = transient
        self.compare_eta = compare_eta
        self.n_weight_series = n_weight_series
        self.estimators = estimators
        self.projection_tol = projection_tol
        self.figure_min_length = figure_min_length
        self.seed = seed

    @staticmethod
    def _part_defaults():
        from .. import estimators as E
        from ..maps.gd import GradientDescentMap

        return {"map": lambda: GradientDescentMap(eta=5.0),
                "estimators": lambda: [E.ShuffledAutocorrelation(), E.Kantz(), E.LaminarPhases(),
                                       E.HorizontalVisibilityGraph()]}

    def _validate(self):
        super()._validate()
        m = self.parts()["map"]
        if not isinstance(m, Map):
            raise TypeError(f"{type(self).__name__}: parameter map={m!r} must be a dynnet Map")
        n_init = check_int(self, "n_init", self.n_init, low=1)
        n_steps = check_int(self, "n_steps", self.n_steps, low=1)
        check_int(self, "transient", self.transient, low=0, high=n_steps - 10)
        check_int(self, "n_weight_series", self.n_weight_series, low=0, high=n_init)
        check_scalar(self, "projection_tol", self.projection_tol, low=0.0)
        check_int(self, "figure_min_length", self.figure_min_length, low=1)
        etas = np.atleast_1d(np.asarray(self.compare_eta, dtype=object))
        cmp = [check_scalar(self, "compare_eta", e, low=0.0) for e in etas]
        if len(set(cmp)) != len(cmp):
            raise ValueError(f"{type(self).__name__}: parameter compare_eta={tuple(cmp)} repeats a value; "
                             "give each value once")
        if etas.size and "eta" not in m._param_names():
            raise ValueError(f"{type(self).__name__}: compare_eta needs a map with an eta parameter; "
                             f"{type(m).__name__} has none (give compare_eta=())")
        if "loss" not in m.observable_names():
            raise ValueError(f"{type(self).__name__}: the map {type(m).__name__} has no 'loss' "
                             "observable, which this study analyses")

    def _fed_estimators(self):
        """Every estimator that is not one of the study's four series analyses (ShuffledAutocorrelation,
        Kantz, LaminarPhases, HorizontalVisibilityGraph): fitted on each network's records."""
        known = (ShuffledAutocorrelation, Kantz, LaminarPhases, HorizontalVisibilityGraph)
        return [e for e in self._estimator_list() if not isinstance(e, known)]

    def _estimator_variables(self):
        """What one network offers after the transient: its observables along ``step``, the
        projection ``W(t).v``, its initial state and its divergence flag."""
        return set(self.parts()["map"].observable_names()) | {"projection", "initial_state", "diverged"}

    def _tiny_params(self):
        return {"n_init": 1, "n_weight_series": min(1, int(self.n_weight_series))} if self.n_init > 1 else {}

    def _memory(self, ctx):
        m = self.parts()["map"]
        T, n = int(self.n_steps) + 1, int(self.n_init)
        n_cmp = np.atleast_1d(np.asarray(self.compare_eta)).size
        return {"recorded loss series": (8 * T * n * (3 + n_cmp), "n_steps or n_init"),
                "recorded weight series": (8 * T * int(self.n_weight_series) * m.dim,
                                           "n_weight_series or n_steps")}

    @owns_divergence
    def _compute(self, ctx):
        """Train and record: observables and W(t).v of every orbit in one pass, the weights
        of the first series, the loss at each compared eta."""
        import xarray as xr

        m = self.parts()["map"]
        n_init, n_steps = int(self.n_init), int(self.n_steps)
        n_w = int(self.n_weight_series)
        etas = [float(e) for e in np.atleast_1d(np.asarray(self.compare_eta, dtype=float))]
        x0 = m.initial_state(n_init, seed=ctx.child_seed(0))
        v = stream(ctx.seed, 2).standard_normal(x0.shape[1])
        v /= np.linalg.norm(v)
        obs, final = m.observe(x0, n_steps, project=v, progress=ctx.progress)
        proj = obs.pop("projection")
        data = {k: (("step", "init"), val) for k, val in obs.items()}
        data["initial_state"] = (("init", "coord"), x0)
        data["diverged"] = (("init",), ~np.all(np.isfinite(final), axis=1))
        data["projection"] = (("step", "init"), proj)
        data["projection_vector"] = (("coord",), v)
        if n_w:
            data["weights"] = (("step", "series", "coord"), m.trajectory(x0[:n_w], n_steps))
        if etas:
            comp = [clone(m).set_params(eta=e).observe(x0, n_steps, progress=ctx.progress)[0]["loss"]
                    for e in etas]
            data["compare_loss"] = (("compare_eta", "step", "init"), np.stack(comp))
        ds = xr.Dataset(data, coords={"step": np.arange(n_steps + 1), "init": np.arange(n_init),
                                      "compare_eta": np.asarray(etas, dtype=float)})
        ds.attrs["transient"] = int(self.transient)
        return ds

    def _analyse(self, ds):
        """Fit the series estimators on each loss series after the transient, and the
        laminar-phase search on W(t).v."""
        import xarray as xr

        from ..estimators import HorizontalVisibilityGraph, Kantz, LaminarPhases, ShuffledAutocorrelation

        ests = self._estimator_list()
        transient = int(self.transient)
        loss = ds["loss"].values[transient:]
        n_init = loss.shape[1]
        ok = np.all(np.isfinite(loss), axis=0)
        m = self.parts()["map"]
        known = (ShuffledAutocorrelation, Kantz, LaminarPhases, HorizontalVisibilityGraph)

        def fit_one(e, i):
            if not isinstance(e, known):  # fed: fit_result on the records of network i after the transient
                return clone(e).fit_result(ds.isel(init=i, step=slice(transient, None)), m)
            return clone(e).fit(loss[:, i])

        fits = [[fit_one(e, i) if ok[i] else None for i in range(n_init)] for e in ests]
        fitted = [f for row in fits for f in row if f is not None]

        def of(cls):
            return next((row for e, row in zip(ests, fits, strict=True) if isinstance(e, cls)), None)

        def col(row, attr, fill=np.nan, dtype=float):
            return np.array([getattr(f, attr) if f is not None else fill for f in row], dtype=dtype)

        acfs = of(ShuffledAutocorrelation)
        if acfs is not None and any(f is not None for f in acfs):
            L = next(f for f in acfs if f is not None).acf_.shape[0]
            acf = np.full((n_init, L), np.nan)
            band = np.full((n_init, 2, L), np.nan)
            for i, f in enumerate(acfs):
                if f is not None:
                    acf[i], band[i] = f.acf_, f.band_
            ds["acf"] = xr.Variable(("init", "lag"), acf)
            ds["acf_band"] = xr.Variable(("init", "bound", "lag"), band)
            ds["acf_significant_fraction"] = xr.Variable(("init",), np.nanmean(
                (acf[:, 1:] < band[:, 0, 1:]) | (acf[:, 1:] > band[:, 1, 1:]), axis=1))
        kz = of(Kantz)
        sides = ["greater", "two-sided"]
        if kz is not None:
            ds["kantz_exponent"] = xr.Variable(("init",), col(kz, "exponent_"))
            ds["kantz_pvalue"] = xr.Variable(("init",), col(kz, "pvalue_"))
            ds["kantz_significant"] = xr.Variable(("init",), col(kz, "significant_", False, bool))
            # per reference point of every whole series (after the transient): both sides
            n_sr = max((f.reference_times_.size for f in kz if f is not None), default=0)
            pv = np.full((n_init, 2, n_sr), np.nan)
            lam_r = np.full((n_init, n_sr), np.nan)
            tested = np.zeros((n_init, n_sr), bool)
            for i, f in enumerate(kz):
                if f is not None:
                    m = f.reference_times_.size
                    pv[i, 0, :m] = f.pvalues_per_ref_greater_
                    pv[i, 1, :m] = f.pvalues_per_ref_two_sided_
                    lam_r[i, :m] = f.exponents_per_ref_
                    tested[i, :m] = f.tested_per_ref_
            ds["kantz_series_ref_pvalue"] = xr.Variable(("init", "alternative", "series_ref"), pv)
            ds["kantz_series_ref_exponent"] = xr.Variable(("init", "series_ref"), lam_r)
            ds["kantz_series_ref_tested"] = xr.Variable(("init", "series_ref"), tested)
            ds["kantz_ref_n_tested_per_init"] = xr.Variable(("init",), tested.sum(axis=1))
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = float(next(e for e in ests if isinstance(e, Kantz)).alpha)
                sig = (pv < alpha) & tested[:, None, :]
                ds["kantz_ref_significant_fraction_per_init"] = xr.Variable(
                    ("init", "alternative"), sig.sum(axis=2) / tested.sum(axis=1)[:, None])
            ds = ds.assign_coords(alternative=sides)
        lam = of(LaminarPhases)
        proto = clone(next((e for e in ests if isinstance(e, LaminarPhases)), LaminarPhases()))
        max_p = max(3, max(proto._check_periods()))
        if lam is not None:
            ds["laminar_fraction"] = xr.Variable(("init",), col(lam, "laminar_fraction_"))
            # laminar steps per period for each series: is it period 3, as in the paper?
            ds["laminar_steps_by_period"] = xr.Variable(("init", "period"), _steps_by_period(lam, max_p))
        else:
            lam = [clone(proto).fit(loss[:, i]) if ok[i] else None for i in range(n_init)]
        wproto = clone(proto).set_params(tol=float(self.projection_tol), tol_mode="relative")
        proj = ds["projection"].values[transient:]
        wfits = [clone(wproto).fit(proj[:, i]) if np.all(np.isfinite(proj[:, i])) else None
                 for i in range(n_init)]
        ds["laminar_steps_by_period_weights"] = xr.Variable(("init", "period"),
                                                            _steps_by_period(wfits, max_p))
        ds["laminar_fraction_weights"] = xr.Variable(("init",), col(wfits, "laminar_fraction_"))
        ds = ds.assign_coords(period=np.arange(ds.sizes["period"]))
        fitted += [f for f in wfits if f is not None]
        ds, more = self._figure_stretch(ds, ests, lam, loss, transient)
        fitted += more
        hvg = of(HorizontalVisibilityGraph)
        if hvg is not None:
            ds["hvg_mean_degree"] = xr.Variable(("init",), col(hvg, "mean_degree_"))
            ds["hvg_verdict"] = xr.Variable(("init",), col(hvg, "verdict_", "", object).astype(str))
        known = (ShuffledAutocorrelation, Kantz, LaminarPhases, HorizontalVisibilityGraph)
        for e, row in zip(ests, fits, strict=True):
            if isinstance(e, known):
                continue
            keys = next((list(f.summary()) for f in row if f is not None), [])
            for k in keys:
                ds[f"{estimator_key(e)}.{k}"] = xr.Variable(("init",), np.array(
                    [f.summary()[k] if f is not None else np.nan for f in row], dtype=float))
        return ds, fitted

    def _figure_stretch(self, ds, ests, lam, loss, transient):
        """Choose the Figs. 10-11 stretch (the longest random-like one, checked aperiodic)
        and fit the ACF and Kantz on it; returns ``(ds, fitted)``."""
        import xarray as xr

        from ..estimators import HorizontalVisibilityGraph, Kantz, ShuffledAutocorrelation

        def proto(cls):
            return next((e for e in ests if isinstance(e, cls)), cls())

        i, a, b, verdict = _random_like_stretch(lam, loss, proto(HorizontalVisibilityGraph),
                                                int(self.figure_min_length))
        rule = ("the longest stretch of a loss series (after the transient) inside no laminar "
                f"phase, at least figure_min_length={int(self.figure_min_length)} steps, whose HVG "
                "verdict is not 'periodic' (-1: no series has one)")
        ds["figure_init"] = xr.Variable((), np.int64(i), attrs={"rule": rule})
        ds["figure_start"] = xr.Variable((), np.int64(transient + a if i >= 0 else -1),
                                         attrs={"units": "steps (inclusive)"})
        ds["figure_stop"] = xr.Variable((), np.int64(transient + b if i >= 0 else -1),
                                        attrs={"units": "steps (exclusive)"})
        ds["figure_hvg_verdict"] = xr.Variable((), verdict)
        if i < 0:
            return ds, []
        x = loss[a:b, i]
        fitted = []
        if any(isinstance(e, ShuffledAutocorrelation) for e in ests):
            f = clone(proto(ShuffledAutocorrelation)).fit(x)
            fitted.append(f)
            ds["figure_acf"] = xr.Variable(("lag",), f.acf_)
            ds["figure_acf_band"] = xr.Variable(("bound", "lag"), f.band_)
        if any(isinstance(e, Kantz) for e in ests):
            k = proto(Kantz)
            try:
                f = clone(k).fit(x)
            except ValueError:      # too short for the estimator's horizon: no Fig. 11
                return ds, fitted
            fitted.append(f)
            attrs = {"init": i, "alternative": str(k.alternative)}
            ds["kantz_ref_exponent"] = xr.Variable(("ref",), np.asarray(f.exponents_per_ref_, float),
                                                   attrs=attrs)
            ds["kantz_ref_significant"] = xr.Variable(("ref",), np.asarray(f.significant_per_ref_, bool),
                                                      attrs=attrs)
            ds["kantz_ref_pvalue"] = xr.Variable(("alternative", "ref"), np.stack(
                [f.pvalues_per_ref_greater_, f.pvalues_per_ref_two_sided_]))
            ds["kantz_ref_tested"] = xr.Variable(("ref",), np.asarray(f.tested_per_ref_, bool))
            ds["kantz_ref_n_neighbors"] = xr.Variable(("ref",), np.asarray(f.n_neighbors_, np.int64))
            ds["kantz_ref_time"] = xr.Variable(("ref",), transient + a + np.asarray(f.reference_times_),
                                               attrs={"units": "steps"})
            ds = ds.assign_coords(alternative=["greater", "two-sided"])
        return ds, fitted

    def _summary(self, ds):
        """Laminar fractions and periods (loss and weight space), Kantz and ACF significance,
        HVG degree and verdict counts, the final loss and the diverged fraction, and the
        Figs. 10-11 stretch with its Kantz significant fractions (both sides, among the
        ``kantz_ref_n_tested`` of ``kantz_ref_n`` reference points that have a neighbour)."""
        import xarray as xr

        out = {
            "final_loss_median": float(np.nanmedian(ds["loss"].values[-1])),
            "diverged_fraction": float(ds["diverged"].values.mean()),
        }
        if "laminar_fraction" in ds:
            out["laminar_fraction_mean"] = float(np.nanmean(ds["laminar_fraction"].values))
        if "kantz_significant" in ds:
            out["kantz_significant_fraction"] = float(np.mean(ds["kantz_significant"].values))
            out["kantz_exponent_median"] = float(np.nanmedian(ds["kantz_exponent"].values))
        if "hvg_mean_degree" in ds:
            out["hvg_mean_degree_mean"] = float(np.nanmean(ds["hvg_mean_degree"].values))
        if "acf_significant_fraction" in ds:
            out["acf_significant_fraction_mean"] = float(np.nanmean(ds["acf_significant_fraction"].values))
        for prefix, name in (("", "laminar_steps_by_period"),
                             ("weights_", "laminar_steps_by_period_weights")):
            if name not in ds:
                continue
            steps = ds[name].values.sum(axis=0)
            out[f"{prefix}inits_with_period3_phases"] = int((ds[name].values[:, 3] > 0).sum())
            out[f"{prefix}laminar_dominant_period"] = int(np.argmax(steps)) if steps.sum() > 0 else -1
            out[f"{prefix}laminar_period3_share"] = (float(steps[3] / steps.sum()) if steps.sum() > 0
                                                     else float("nan"))
        if "figure_init" in ds:
            for k in ("figure_init", "figure_start", "figure_stop"):
                out[k] = int(ds[k].values)
        if "kantz_ref_pvalue" in ds:
            # Fig. 11: among the reference points that have neighbours (and so an exponent)
            tested = ds["kantz_ref_tested"].values.astype(bool)
            alpha = self._kantz_alpha()
            n_t = int(tested.sum())
            for side, name in (("greater", "greater"), ("two-sided", "two_sided")):
                pv = ds["kantz_ref_pvalue"].sel(alternative=side).values
                out[f"kantz_ref_significant_fraction_{name}"] = (float(np.mean(pv[tested] < alpha))
                                                                if n_t else float("nan"))
            out["kantz_ref_n_tested"] = n_t
            out["kantz_ref_n"] = int(tested.size)
            lam = ds["kantz_ref_exponent"].values[tested]
            out["kantz_ref_exponent_median"] = float(np.median(lam)) if n_t else float("nan")
        summary = xr.Dataset({k: ((), v) for k, v in out.items()})
        if "hvg_verdict" in ds:
            verdicts, counts = np.unique(ds["hvg_verdict"].values, return_counts=True)
            summary["hvg_verdict_count"] = (("verdict",), counts)
            summary = summary.assign_coords(verdict=[str(v) or "none" for v in verdicts])
        return summary.merge(super()._summary(ds))

    def _kantz_alpha(self):
        from ..estimators import Kantz

        return float(next((e.alpha for e in self._estimator_list() if isinstance(e, Kantz)), Kantz().alpha))

    def _stretch_divergence(self):
        """ln d_n(t0) per reference point of the Figs. 10-11 stretch's Kantz fit (Fig. 11's example
        curves): the fitted estimator's, or for a loaded study (no fitted estimators) the study's
        Kantz fitted again on the stretch, used only if it gives the saved exponents; else None."""
        r = self.result_
        if "kantz_ref_exponent" not in r or "figure_init" not in r or int(r["figure_init"]) < 0:
            return None
        lam = r["kantz_ref_exponent"].values
        fits = [e for e in reversed(getattr(self, "estimators_", None) or []) if isinstance(e, Kantz)]
        if not fits:
            proto = next((e for e in self._estimator_list() if isinstance(e, Kantz)), None)
            if proto is None:
                return None
            x = r["loss"].values[int(r["figure_start"]):int(r["figure_stop"]), int(r["figure_init"])]
            try:
                fits = [clone(proto).fit(x)]
            except ValueError:
                return None
        for e in fits:
            per = getattr(e, "exponents_per_ref_", None)
            if per is not None and np.array_equal(per, lam, equal_nan=True):
                return e.divergence_per_ref_
        return None

    def plot(self) -> list[Figure]:
        """Figs. 9-12 and the eta comparison panel.

        Returns
        -------
        list of matplotlib.figure.Figure
            Loss and norm, ACF, Kantz, weights and the eta comparison, as recorded.
        """
        from .. import plotting as P

        self._check_run()
        from ..estimators import ShuffledAutocorrelation

        parts = self.parts()
        acf = next((e for e in self._estimator_list() if isinstance(e, ShuffledAutocorrelation)), None)
        figs = [P.loss_norm_figure(self.result_)]
        if "acf" in self.result_:
            figs.append(P.acf_figure(self.result_, quantiles=getattr(acf, "quantiles", None)))
        if "kantz_exponent" in self.result_:
            figs.append(P.kantz_figure(self.result_, divergence=self._stretch_divergence()))
        if "weights" in self.result_:
            names = getattr(parts["map"], "coordinate_names", None)
            figs.append(P.weights_figure(self.result_, names=names() if names else None))
        if "compare_loss" in self.result_:
            figs.append(P.compare_eta_figure(self.result_))
        return figs
