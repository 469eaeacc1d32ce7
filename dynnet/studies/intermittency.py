"""IntermittencyStudy: period-3 laminar phases and chaotic bursts at eta = 5 (paper section 4.2)."""

from __future__ import annotations

import numpy as np

from ..base import as_seed_sequence, check_int, check_scalar, clone, stream
from ..metrics import L1
from .base import Study

__all__ = ["IntermittencyStudy", "observe"]


def observe(map, states, n_steps, every=1, progress=False, segment=1000, desc=None):
    """Observables ``name -> (R, E)`` of each orbit, streamed (no states stored).

    The run goes in segments of about ``segment`` steps so that a progress bar
    can advance; segments continue from the exact final states, so the records
    do not depend on the segment length.
    """
    x = map.check_states(states)
    every = int(every)
    seg = max(every, (int(segment) // every) * every)
    bounds = list(range(0, n_steps - n_steps % every, seg)) + [n_steps - n_steps % every]
    bounds = sorted(set(bounds))
    parts: dict[str, list] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, desc=desc, unit="step")
    try:
        if len(bounds) == 1:  # fewer steps than one record interval
            _, obs, x = map._stream(x, 0, every, 1, L1())
            parts = {k: [v] for k, v in obs.items()}
        for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            _, obs, x = map._stream(x, b - a, every, 1, L1())
            for name, v in obs.items():
                parts.setdefault(name, []).append(v if k == 0 else v[1:])
            if bar is not None:
                bar.update(b - a)
    finally:
        if bar is not None:
            bar.close()
    return {k: np.concatenate(v, axis=0) for k, v in parts.items()}, x


def project_orbits(map, states, n_steps, v, segment=500):
    """``W(t) . v`` for each orbit at every step, ``(n_steps + 1, E)``, and the final states.

    The orbits run in segments of ``segment`` steps, so memory stays at
    ``segment x E x dim``; the states themselves are not kept.
    """
    x = map.check_states(states)
    out = [(x @ v)[None]]
    done = 0
    while done < n_steps:
        k = min(segment, n_steps - done)
        tr = map.trajectory(x, k)
        out.append(tr[1:] @ v)
        x = tr[-1]
        done += k
    return np.concatenate(out, axis=0), x


def _steps_by_period(fits, max_p=16):
    """Laminar steps per period (0..max_p) of each fitted LaminarPhases (None: zeros)."""
    out = np.zeros((len(fits), max_p + 1))
    for i, f in enumerate(fits):
        if f is not None and len(f.phases_):
            ph = np.asarray(f.phases_)
            np.add.at(out[i], np.clip(ph[:, 2], 0, max_p), ph[:, 1] - ph[:, 0])
    return out


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
    ``seed``), with ``laminar_weights``. This matters: with a class-balanced
    training set (the default stratified split, 40 samples per class), the
    loss is the same at the three steps of a period-3 weight cycle that
    permutes the classes' predictions, so the cycle shows as period 1 in the
    loss but period 3 in weight space. The authors' unbalanced split
    (``GradientDescentMap(stratify=False)``) shows it in the loss too.

    Parameters
    ----------
    map : Map, default GradientDescentMap(eta=5.0)
    n_init : int, default 20
    n_steps : int, default 10000
    transient : int, default 3000
    compare_eta : sequence of float, default (2.0, 3.0, 10.0)
    n_weight_series : int, default 1
    acf, kantz, laminar, hvg : Estimator or None
        None: the defaults of each class.
    laminar_weights : Estimator or None
        None: ``LaminarPhases(tol=1e-5, tol_mode="relative")``, for the
        weight-space projection.
    seed : int, default 0
    progress : bool, default False

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

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.2, Figs. 9-12;
    H. Kantz, Phys. Lett. A 185, 77 (1994);
    A. M. Nunez et al., Phys. Rev. E 86, 036203 (2012).
    """

    _quick_params = {"n_init": 3, "n_steps": 1500, "transient": 300, "n_weight_series": 1}

    def __init__(self, map=None, n_init=20, n_steps=10000, transient=3000,
                 compare_eta=(2.0, 3.0, 10.0), n_weight_series=1, acf=None, kantz=None,
                 laminar=None, hvg=None, laminar_weights=None, seed=0, progress=False):
        self.map = map
        self.n_init = n_init
        self.n_steps = n_steps
        self.transient = transient
        self.compare_eta = compare_eta
        self.n_weight_series = n_weight_series
        self.acf = acf
        self.kantz = kantz
        self.laminar = laminar
        self.hvg = hvg
        self.laminar_weights = laminar_weights
        self.seed = seed
        self.progress = progress

    @staticmethod
    def _component_defaults():
        from .. import estimators as E
        from ..maps.gd import GradientDescentMap

        return {"map": lambda: GradientDescentMap(eta=5.0), "acf": E.ShuffledAutocorrelation,
                "kantz": E.Kantz, "laminar": E.LaminarPhases, "hvg": E.HorizontalVisibilityGraph,
                "laminar_weights": lambda: E.LaminarPhases(tol=1e-5, tol_mode="relative")}

    def run(self):
        """Train, record, analyse each loss series; returns self."""
        self._check_saveable()
        import xarray as xr

        from ..results import study_attrs

        c = self._resolved()
        m = c["map"]
        n_init = check_int(self, "n_init", self.n_init, low=1)
        n_steps = check_int(self, "n_steps", self.n_steps, low=1)
        transient = check_int(self, "transient", self.transient, low=0, high=n_steps - 10)
        n_w = check_int(self, "n_weight_series", self.n_weight_series, low=0, high=n_init)
        etas = [check_scalar(self, "compare_eta", e, low=0.0) for e in np.atleast_1d(self.compare_eta)]
        ss = as_seed_sequence(self.seed)
        self._seed_seq = ss
        x0 = m.initial_state(n_init, seed=np.random.SeedSequence(
            ss.entropy, spawn_key=tuple(ss.spawn_key) + (0,)))
        obs, final = observe(m, x0, n_steps, progress=self.progress, desc=f"eta = {m.eta}")
        data = {k: (("step", "init"), v) for k, v in obs.items()}
        data["initial_state"] = (("init", "coord"), x0)
        data["diverged"] = (("init",), ~np.all(np.isfinite(final), axis=1))
        v = stream(ss, 2).standard_normal(x0.shape[1])
        v /= np.linalg.norm(v)
        proj, final_p = project_orbits(m, x0, n_steps, v)
        if not np.array_equal(final_p, final, equal_nan=True):  # pragma: no cover - engine promise
            raise RuntimeError("IntermittencyStudy: the two runs of the same orbits differ")
        data["projection"] = (("step", "init"), proj)
        data["projection_vector"] = (("coord",), v)
        if n_w:
            data["weights"] = (("step", "series", "coord"), m.trajectory(x0[:n_w], n_steps))
        if etas:
            comp = [observe(clone(m).set_params(eta=e), x0, n_steps, progress=self.progress,
                            desc=f"eta = {e}")[0]["loss"] for e in etas]
            data["compare_loss"] = (("compare_eta", "step", "init"), np.stack(comp))
        ds = xr.Dataset(data, coords={"step": np.arange(n_steps + 1), "init": np.arange(n_init),
                                      "compare_eta": np.asarray(etas, dtype=float)})
        ds.attrs.update(study_attrs(self))
        ds.attrs["transient"] = transient
        self.result_ = ds
        self._restore()
        return self

    def _restore(self):
        """Fit the series estimators on each loss series of ``result_`` (also after load)."""
        import xarray as xr

        c = self._resolved()
        ds = self.result_
        transient = int(self.transient)
        loss = ds["loss"].values[transient:]
        n_init = loss.shape[1]
        fits = {name: [] for name in ("acf", "kantz", "laminar", "hvg")}
        for i in range(n_init):  # a handful of series; each estimator is vectorised inside
            s = loss[:, i]
            if not np.all(np.isfinite(s)):
                for name in fits:
                    fits[name].append(None)
                continue
            for name in fits:
                fits[name].append(clone(c[name]).fit(s))
        self.estimators_ = [f for name in fits for f in fits[name] if f is not None]

        def col(name, attr, fill=np.nan, dtype=float):
            return np.array([getattr(f, attr) if f is not None else fill for f in fits[name]], dtype=dtype)

        acfs = [f for f in fits["acf"] if f is not None]
        if acfs:
            L = acfs[0].acf_.shape[0]
            acf = np.full((n_init, L), np.nan)
            band = np.full((n_init, 2, L), np.nan)
            for i, f in enumerate(fits["acf"]):
                if f is not None:
                    acf[i] = f.acf_
                    band[i] = f.band_
            ds["acf"] = xr.Variable(("init", "lag"), acf)
            ds["acf_band"] = xr.Variable(("init", "bound", "lag"), band)
            ds["acf_significant_fraction"] = xr.Variable(("init",), np.nanmean(
                (acf[:, 1:] < band[:, 0, 1:]) | (acf[:, 1:] > band[:, 1, 1:]), axis=1))
        ds["kantz_exponent"] = xr.Variable(("init",), col("kantz", "exponent_"))
        ds["kantz_pvalue"] = xr.Variable(("init",), col("kantz", "pvalue_"))
        ds["kantz_significant"] = xr.Variable(("init",), col("kantz", "significant_", False, bool))
        ds["laminar_fraction"] = xr.Variable(("init",), col("laminar", "laminar_fraction_"))
        # laminar steps per period for each series: is it period 3, as in the paper?
        ds["laminar_steps_by_period"] = xr.Variable(("init", "period"), _steps_by_period(fits["laminar"]))
        ds = ds.assign_coords(period=np.arange(ds.sizes["period"]))
        if "projection" in ds:
            proj = ds["projection"].values[transient:]
            wfits = [clone(c["laminar_weights"]).fit(proj[:, i]) if np.all(np.isfinite(proj[:, i]))
                     else None for i in range(n_init)]
            ds["laminar_steps_by_period_weights"] = xr.Variable(("init", "period"),
                                                                _steps_by_period(wfits))
            ds["laminar_fraction_weights"] = xr.Variable(
                ("init",), np.array([f.laminar_fraction_ if f is not None else np.nan for f in wfits]))
            self.estimators_ += [f for f in wfits if f is not None]
        self.result_ = ds
        ds["hvg_mean_degree"] = xr.Variable(("init",), col("hvg", "mean_degree_"))
        ds["hvg_verdict"] = xr.Variable(("init",), col("hvg", "verdict_", "", object).astype(str))
        ex = next((f for f in fits["kantz"] if f is not None and hasattr(f, "exponents_per_ref_")), None)
        if ex is not None:
            ds["kantz_ref_exponent"] = xr.Variable(("ref",), np.asarray(ex.exponents_per_ref_, float))
            ds["kantz_ref_significant"] = xr.Variable(("ref",), np.asarray(ex.significant_per_ref_, bool))

    def summary(self):
        self._check_run()
        ds = self.result_
        out = {
            "laminar_fraction_mean": float(np.nanmean(ds["laminar_fraction"].values)),
            "kantz_significant_fraction": float(np.mean(ds["kantz_significant"].values)),
            "kantz_exponent_median": float(np.nanmedian(ds["kantz_exponent"].values)),
            "hvg_mean_degree_mean": float(np.nanmean(ds["hvg_mean_degree"].values)),
            "final_loss_median": float(np.nanmedian(ds["loss"].values[-1])),
            "diverged_fraction": float(ds["diverged"].values.mean()),
        }
        if "acf_significant_fraction" in ds:
            out["acf_significant_fraction_mean"] = float(np.nanmean(ds["acf_significant_fraction"].values))
        for prefix, name in (("", "laminar_steps_by_period"), ("weights.", "laminar_steps_by_period_weights")):
            if name not in ds:
                continue
            steps = ds[name].values.sum(axis=0)
            out[f"{prefix}inits_with_period3_phases"] = int((ds[name].values[:, 3] > 0).sum())
            if steps.sum() > 0:
                out[f"{prefix}laminar_dominant_period"] = int(np.argmax(steps))
                out[f"{prefix}laminar_period3_share"] = float(steps[3] / steps.sum())
        if "kantz_ref_significant" in ds:
            out["kantz_ref_significant_fraction"] = float(ds["kantz_ref_significant"].values.mean())
        verdicts, counts = np.unique(ds["hvg_verdict"].values, return_counts=True)
        for v, n in zip(verdicts, counts):
            out[f"hvg_verdict.{v or 'none'}"] = int(n)
        return out

    def plot(self):
        """Figs. 9-12 and the eta comparison panel."""
        from .. import plotting as P

        self._check_run()
        parts = self._resolved()
        figs = [P.loss_norm_figure(self.result_),
                P.acf_figure(self.result_, quantiles=getattr(parts["acf"], "quantiles", None)),
                P.kantz_figure(self.result_)]
        if "weights" in self.result_:
            names = getattr(parts["map"], "coordinate_names", None)
            figs.append(P.weights_figure(self.result_, names=names() if names else None))
        if "compare_loss" in self.result_:
            figs.append(P.compare_eta_figure(self.result_))
        return figs
