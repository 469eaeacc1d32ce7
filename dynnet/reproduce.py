"""``dynnet reproduce``: every figure of the paper and a table of headline numbers."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ._tables import FIELDS, _fmt, read_csv, write_csv  # noqa: F401  (re-exported: the table format)

__all__ = ["reproduce", "headline_rows", "write_csv", "read_csv", "PAPER_VALUES", "RULES", "FIELDS"]

#: the paper's headline findings (Danovski, Soriano & Lacasa 2024): text, and a number where it states one
PAPER_VALUES = {
    "orbital.loss_monotone_fraction": ("1 (the loss decreases monotonically at eta = 0.01)", 1.0),
    "orbital.d_final_over_d_0": ("O(1): neither exponential growth nor decay", None),
    "post_learning.d_final_over_d_0": ("below 1: a drop, then a very slow, non-exponential decay", None),
    "post_learning.eigenvalues_at_1": ("conjectured: many Jacobian eigenvalues at 1", None),
    "post_learning.eigenvalues_at_1_initial": ("(not in the paper: the same count before learning)", None),
    "post_learning.grad_norm_mean": ("(the paper assumes a minimum is reached)", None),
    "post_learning.n_negative_curvature_mean": ("(the paper assumes a minimum is reached)", None),
    "orbital.fraction_straight": ("(not in the paper, which reads a drift slope near 1 as straight motion)",
                                  None),
    "edge.mle": ("lambda_nMLE ~ 0.33 (eps -> 0)", 0.33),
    "edge.kept_fraction": ("about 90% of fits kept", 0.90),
    "edge.long_final_loss_median": ("Fig. 7: the loss comes near zero at late times", None),
    "orbital.train_accuracy_mean": ("(Supplementary S1: performance metrics)", None),
    "orbital.test_accuracy_mean": ("(Supplementary S1: performance metrics)", None),
    "orbital.train_loss_mean": ("(Supplementary S1: performance metrics)", None),
    "orbital.test_loss_mean": ("(Supplementary S1: performance metrics)", None),
    "edge.tangent_exponent": ("(not in the paper: the eps -> 0 limit of lambda_nMLE)", None),
    "intermittency.laminar_fraction": ("period-3 laminar phases interrupted by bursts", None),
    "intermittency.kantz_significant_fraction": ("some significant, many not", None),
    "intermittency.inits_with_period3_phases": ("period-3 laminar phases", None),
    "intermittency.laminar_period3_share": ("the laminar phases are period 3", None),
    "intermittency.weights.inits_with_period3_phases": ("(weight space: not in the paper)", None),
    "intermittency.weights.laminar_period3_share": ("(weight space: not in the paper)", None),
    "eta_scan.regime": ("(beyond the paper)", None),
    "edge.mle_converges": ("lambda_nMLE converges to about 0.33 as eps -> 0", None),
    "edge.tangent_ftle": ("(not in the paper: the whole run's tangent exponent, no window)", None),
    "post_learning.unit_eigenvalues_from_learning": (
        "conjectured: many Jacobian eigenvalues at 1 at the solution reached by learning", None),
    "post_learning.sharp_drop_fraction": (
        "for many initial conditions, a relatively sharp drop of d(t), then a very slow decay", None),
    "edge.fsle_disagreement": ("(not in the paper: the robust finite-size exponent beside the best "
                               "window)", None),
    "intermittency.laminar_collapsed_share": ("(the paper reads the period-3 phases as laminar phases "
                                              "of training)", None),
    "intermittency.laminar_saturation": ("(not in the paper)", None),
    "intermittency.laminar_logit_spread": ("(not in the paper)", None),
    "intermittency.kantz_significant_fraction_aperiodic": ("some significant, many not", None),
}

#: convergence as eps -> 0: the slope of lambda_nMLE against log10 eps over the smallest eps
CONVERGENCE_EPS_MAX = 1e-11
CONVERGENCE_BOOT = 2000
CONVERGENCE_LEVEL = 0.95
#: "many Jacobian eigenvalues at 1": the tolerance, and the share of parameters learning must add
UNIT_TOL = 1e-4
UNIT_ADDED = 0.10
#: "a sharp drop, then a slow decay": the drop is measured over the first DROP_STEP steps
DROP_STEP = 10
DROP_RATIO = 10.0

#: the rule that turns a number into a verdict, per quantity with a paper number (or a qualitative claim)
RULES = {
    "orbital.loss_monotone_fraction": "equal to the paper's value",
    "edge.mle": "the paper's value lies inside our 95% bootstrap interval of lambda_nMLE",
    "edge.kept_fraction": "|dynnet - paper| <= 0.05, the precision of 'about 90%' (one significant digit)",
    # the paper's qualitative claims, each turned into a rule that can say no
    "edge.mle_converges": (f"the {CONVERGENCE_LEVEL:.0%} bootstrap interval (networks resampled, "
                           f"{CONVERGENCE_BOOT} draws) of the slope of lambda_nMLE against log10 eps over "
                           f"eps <= {CONVERGENCE_EPS_MAX:.0e} contains 0"),
    "intermittency.kantz_significant_fraction": ("'some significant, many not': more than 0 and less than "
                                                 "half of the tested reference times significant"),
    "post_learning.unit_eigenvalues_from_learning": (
        f"yes if after learning at least half of the eigenvalues lie within {UNIT_TOL:g} of 1 and learning "
        f"adds at least {UNIT_ADDED:.0%} of the parameters to that count (mean over networks, against "
        "initialisation)"),
    "edge.fsle_disagreement": (
        "a network's two exponents disagree when the best-window Lambda_i (kept fits) and the "
        "small-scale FiniteSizeLyapunov lambda_i (r = 2, the same distances) differ by more than 0.1 per "
        "step"),
    "intermittency.laminar_collapsed_share": (
        "a phase is collapsed when at least 99% of the (hidden unit, training sample) pairs are "
        "saturated (f' below 1% of its largest value) and one class is predicted for every training "
        "sample, at each of up to 20 states spread over the phase"),
    "intermittency.kantz_significant_fraction_aperiodic": (
        "'some significant, many not': more than 0 and less than half of the tested reference times "
        "significant, pooled over the bursts of at least 100 steps with no laminar phase at the "
        "tolerance 1e-3 x median |L| (and an HVG verdict other than periodic)"),
    "post_learning.sharp_drop_fraction": (
        f"yes if at least half of the (eps, network) pairs drop (d({DROP_STEP})/d(0) < 1) at a per-step rate "
        f"at least {DROP_RATIO:g} times that of the rest of the run, |ln(d(T)/d({DROP_STEP}))| / (T - "
        f"{DROP_STEP})"),
}

#: the qualitative claims' rules: verdicts need no paper number
QUALITATIVE = ("edge.mle_converges", "intermittency.kantz_significant_fraction",
               "intermittency.kantz_significant_fraction_aperiodic",
               "post_learning.unit_eigenvalues_from_learning", "post_learning.sharp_drop_fraction")

def _studies(quick: bool):
    from . import studies as S

    names = [("orbital", S.OrbitalStabilityStudy), ("post_learning", S.PostLearningStudy),
             ("edge", S.EdgeOfStabilityStudy), ("intermittency", S.IntermittencyStudy),
             ("eta_scan", S.EtaScanStudy)]
    return [(n, c.quick() if quick else c()) for n, c in names]


def _verdict(base: str, value, ci=None) -> str:
    """The verdict of one row by its stated rule (n/a where the paper states no number)."""
    if base in QUALITATIVE:
        return _qualitative_verdict(base, value, ci)
    target = PAPER_VALUES.get(base, ("", None))[1]
    if target is None or base not in RULES:
        return "n/a"
    if isinstance(value, str) or not np.isfinite(value):
        return "no"
    if base == "orbital.loss_monotone_fraction":
        return "yes" if value == target else "no"
    if base == "edge.mle":
        lo, hi = ci
        return "yes" if lo <= target <= hi else "no"
    if base == "edge.kept_fraction":
        return "yes" if abs(value - target) <= 0.05 + 1e-12 else "no"
    raise KeyError(base)  # pragma: no cover - every rule has a branch


def _qualitative_verdict(base: str, value, evidence) -> str:
    """The verdict of a qualitative claim by its rule in ``RULES`` (``evidence`` as the row gives it)."""
    if isinstance(value, str) or not np.isfinite(value):
        return "no"
    if base == "edge.mle_converges":
        lo, hi = evidence
        return "yes" if lo <= 0.0 <= hi else "no"
    if base in ("intermittency.kantz_significant_fraction",
                "intermittency.kantz_significant_fraction_aperiodic"):
        return "yes" if 0.0 < value < 0.5 else "no"
    if base == "post_learning.unit_eigenvalues_from_learning":
        after_share = evidence
        return "yes" if after_share >= 0.5 and value >= UNIT_ADDED else "no"
    if base == "post_learning.sharp_drop_fraction":
        return "yes" if value >= 0.5 else "no"
    raise KeyError(base)  # pragma: no cover - every rule has a branch


def eps_slope(result, eps_max: float = CONVERGENCE_EPS_MAX, n_boot: int = CONVERGENCE_BOOT,
              level: float = CONVERGENCE_LEVEL, seed: int = 0) -> tuple[float, float, float, int]:
    r"""The slope of lambda_nMLE against log10 eps over the smallest eps, with a paired bootstrap.

    lambda_nMLE(eps) is the mean of the kept per-network exponents at that eps; the
    slope is the least-squares slope of lambda_nMLE against :math:`\log_{10}\epsilon`
    over the values :math:`\epsilon \le` ``eps_max``. The interval resamples the
    networks (the same draw at every eps, since every eps starts from the same
    networks), so the correlation between the eps is kept.

    Parameters
    ----------
    result : xarray.Dataset
        An edge-of-stability result (``exponent`` and ``kept``, ``(eps, init)``).
    eps_max : float, default 1e-11
        The largest eps in the fit.
    n_boot : int, default 2000
        Bootstrap draws.
    level : float, default 0.95
        Confidence level of the percentile interval.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    tuple
        ``(slope, low, high, n_eps)``: the slope :math:`d\lambda / d\log_{10}\epsilon`
        (negative where lambda_nMLE grows as eps shrinks), its interval, and the number
        of eps in the fit; NaN where fewer than 3 eps qualify.
    """
    eps = np.asarray(result["eps"].values, dtype=float)
    sel = np.flatnonzero(eps <= eps_max * (1 + 1e-9))
    if sel.size < 3:
        return np.nan, np.nan, np.nan, int(sel.size)
    x = np.log10(eps[sel])
    lam = np.where(result["kept"].values[sel], result["exponent"].values[sel], np.nan)  # (k, n)
    xc = x - x.mean()

    def slope(y):  # y: (..., k) -> (...)
        return ((y - y.mean(axis=-1, keepdims=True)) * xc).sum(axis=-1) / (xc ** 2).sum()

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a draw with no kept network at some eps: NaN
        point = float(slope(np.nanmean(lam, axis=1)))
        idx = np.random.default_rng(seed).integers(0, lam.shape[1], size=(n_boot, lam.shape[1]))
        boot = slope(np.nanmean(lam[:, idx], axis=2).T)  # (n_boot,)
    boot = boot[np.isfinite(boot)]
    q = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [q, 1.0 - q]) if boot.size else (np.nan, np.nan)
    return point, float(lo), float(hi), int(sel.size)


def _sharp_drop_fraction(result) -> float:
    """The share of (eps, network) pairs with a sharp drop of d(t), then a slower change (see RULES)."""
    step = result["step"].values
    if not np.any(step == DROP_STEP) or step[-1] <= DROP_STEP:
        return np.nan
    d = result["distance"].values.mean(axis=-1)  # (eps, step, init): mean over the copies
    i = int(np.flatnonzero(step == DROP_STEP)[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        early = np.log(d[:, 0] / d[:, i]) / DROP_STEP  # > 0: a drop
        late = np.abs(np.log(d[:, -1] / d[:, i])) / (step[-1] - DROP_STEP)
    ok = np.isfinite(early) & np.isfinite(late)
    if not ok.any():
        return np.nan
    return float(np.mean((early > 0) & (early >= DROP_RATIO * late) & ok))


def headline_rows(results: dict) -> list[dict]:
    """The rows of the headline table from the studies that ran.

    Each row has a stable ``key`` (``<quantity>[<coordinate>=<value>]``), the
    number as printed (``dynnet``) and in full (``value``), the paper's
    statement, the ``rule`` of its verdict and the ``verdict`` that follows from
    it (``n/a`` where the paper gives no number).

    Parameters
    ----------
    results : dict
        Study name (``orbital``, ``post_learning``, ``edge``, ``intermittency``,
        ``eta_scan``) to a study that has run or was loaded.

    Returns
    -------
    list of dict
    """
    rows = []

    def add(base, label, value, fmt, quantity, note="", ci=None, judged=True):
        paper = PAPER_VALUES.get(base, ("", None))[0]
        rule = RULES.get(base, "no number in the paper") if judged else "the paper's number is for eps -> 0"
        rows.append({"key": base + (f"[{label}]" if label else ""), "quantity": quantity,
                     "dynnet": _fmt(value, fmt),
                     "value": value if isinstance(value, str) else repr(float(value)),
                     "paper": paper, "rule": rule,
                     "verdict": _verdict(base, value, ci) if judged else "n/a", "note": note})

    if "orbital" in results:
        s = results["orbital"].summary()
        add("orbital.loss_monotone_fraction", "", float(s["loss_monotone_fraction"]), ".3g",
            "fraction of runs whose loss decreases at every step (eta = 0.01)")
        add("orbital.d_final_over_d_0", "median", float(np.median(s["d_final_over_d_0"].values)), ".2g",
            "d(T)/d(0), median over eps")
        for key, text in (("train_accuracy_mean", "training accuracy of the trained networks, mean"),
                          ("test_accuracy_mean", "test accuracy of the trained networks, mean"),
                          ("train_loss_mean", "training loss of the trained networks, mean"),
                          ("test_loss_mean", "test loss of the trained networks, mean")):
            if key in s:
                add(f"orbital.{key}", "", float(s[key]), ".3f", text, "eta = 0.01, after the study's steps")
        if "fraction_straight" in s:
            add("orbital.fraction_straight", "", float(s["fraction_straight"]), ".2f",
                "fraction of weights that move in one direction (|w(T) - w(0)| / D_w > 0.99)")
    if "post_learning" in results:
        s = results["post_learning"].summary()
        add("post_learning.d_final_over_d_0", "median", float(np.median(s["d_final_over_d_0"].values)),
            ".2f", "d(T)/d(0) after the perturbation, median over eps")
        if "eigenvalues_at_1" in s:
            for k, tol in enumerate(s["tol"].values):
                add("post_learning.eigenvalues_at_1", f"tol={tol:g}", float(s["eigenvalues_at_1"].values[k]),
                    ".1f", f"Jacobian eigenvalues within {tol:g} of 1 (of {int(s['dim'])}) after learning, "
                    "mean over networks")
                if "eigenvalues_at_1_initial" in s:
                    add("post_learning.eigenvalues_at_1_initial", f"tol={tol:g}",
                        float(s["eigenvalues_at_1_initial"].values[k]), ".1f",
                        f"the same count at initialisation (of {int(s['dim'])})")
        res = results["post_learning"].result_
        if "n_unit" in res:
            k = int(np.argmin(np.abs(np.log10(res["tol"].values) - np.log10(UNIT_TOL))))
            dim = int(s["dim"])
            after = float(res["n_unit"].values[:, k].mean()) / dim
            added = after - float(res["n_unit_initial"].values[:, k].mean()) / dim
            add("post_learning.unit_eigenvalues_from_learning", "", added, ".3f",
                f"share of the parameters that learning adds to the Jacobian eigenvalues within "
                f"{res['tol'].values[k]:g} of 1 (mean over networks)",
                f"after learning {after:.2f} of them lie there, at initialisation {after - added:.2f}",
                ci=after)
        frac = _sharp_drop_fraction(res)
        if np.isfinite(frac):
            add("post_learning.sharp_drop_fraction", "", frac, ".2f",
                f"fraction of (eps, network) pairs whose d(t) drops over the first {DROP_STEP} steps "
                f"at least {DROP_RATIO:g} times faster than it changes afterwards")
        for key, fmt, text in (("grad_norm_mean", ".3f",
                                "gradient norm where the network is perturbed, mean"),
                               ("n_negative_curvature_mean", ".1f",
                                "Hessian eigenvalues below -1e-3 there, mean (0 at a minimum)")):
            if key in s:
                add(f"post_learning.{key}", "", float(s[key]), fmt, text)
    if "edge" in results:
        s = results["edge"].summary()
        eps = s["eps"].values
        wanted = [float(eps.min())] + [e for e in (1e-8,) if np.any(np.isclose(eps, e, rtol=1e-9, atol=0.0))]
        for k, e in enumerate(wanted):
            row = s.sel(eps=e, method="nearest")
            ci = (float(row["finitelyapunov.mle_ci_low"]), float(row["finitelyapunov.mle_ci_high"]))
            add("edge.mle", f"eps={e:.0e}", float(row["finitelyapunov.mle"]), ".3f",
                f"lambda_nMLE at eps = {e:.0e}", f"95% interval {ci[0]:.3f}-{ci[1]:.3f}", ci=ci,
                judged=k == 0)
            add("edge.kept_fraction", f"eps={e:.0e}", float(row["finitelyapunov.kept_fraction"]), ".3f",
                f"fraction of fits kept at eps = {e:.0e}", judged=k == 0)
            add("edge.pooled_mle", f"eps={e:.0e}", float(row["finitelyapunov.pooled_mle"]), ".3f",
                f"pooled exponent at eps = {e:.0e}")
        if "exponent" in results["edge"].result_:
            from .interpretation import FSLE_TOL, fsle_disagreement

            for e in wanted:
                fd = fsle_disagreement(results["edge"].result_, e, FSLE_TOL)
                add("edge.fsle_disagreement", f"eps={e:.0e}", fd["fraction"], ".2f",
                    f"fraction of networks whose best-window and finite-size exponents differ by more than "
                    f"{FSLE_TOL:g} per step, eps = {e:.0e}",
                    f"{fd['n']} networks with both; median Lambda_i - lambda_i "
                    f"{fd['median_difference']:.3f}; "
                    f"small-scale FSLE of all networks {fd['fsle']:.3f}")
            slope, lo, hi, k = eps_slope(results["edge"].result_)
            add("edge.mle_converges", "", slope, ".4f",
                "slope of lambda_nMLE against log10 eps over the smallest eps (per decade)",
                f"{CONVERGENCE_LEVEL:.0%} interval {lo:.4f} to {hi:.4f} over {k} eps; negative: "
                "lambda_nMLE still grows as eps shrinks (no plateau)", ci=(lo, hi))
        if "tangent_ftle" in s and s["tangent_ftle"].ndim == 0:
            add("edge.tangent_ftle", "", float(s["tangent_ftle"]), ".3f",
                "whole-run tangent-map exponent (no window, no fit), mean over networks",
                "below lambda_nMLE: the best-window fit selects the fastest stretch of a chaotic transient")
        if "long_final_loss_median" in s:
            add("edge.long_final_loss_median", "", float(s["long_final_loss_median"]), ".3f",
                f"loss at eta = 1 after {int(s['long_steps'])} steps (the long horizon), median",
                "the first four networks")
        if "tangent_exponent" in s:
            add("edge.tangent_exponent", "", float(s["tangent_exponent"]), ".3f",
                "finite-time tangent-map exponent (eps -> 0) on the same orbits and windows",
                f"mean over the networks kept at eps = {float(s['tangent_eps']):.0e}; "
                f"compare lambda_nMLE there")
    if "intermittency" in results:
        s = results["intermittency"].summary()
        n = results["intermittency"].result_.sizes["init"]

        def get(key, default=np.nan):
            return s[key].item() if key in s else default

        add("intermittency.laminar_fraction", "mean", float(get("laminar_fraction_mean")), ".2f",
            "laminar fraction of the loss, mean over networks")
        if "kantz_ref_significant_fraction_two_sided" in s:
            note = (f"{int(get('kantz_ref_n_tested'))} of {int(get('kantz_ref_n'))} reference times have "
                    f"neighbours; one-sided {float(get('kantz_ref_significant_fraction_greater')):.2f}; "
                    f"network {int(get('figure_init'))}, steps {int(get('figure_start'))}-"
                    f"{int(get('figure_stop')) - 1} (the longest aperiodic stretch)")
            add("intermittency.kantz_significant_fraction", "",
                float(get("kantz_ref_significant_fraction_two_sided")), ".2f",
                "fraction of tested reference times with significant Kantz divergence "
                "(two-sided, as in Fig. 11)",
                note)
        from . import interpretation as I

        study = results["intermittency"]
        if "kantz_ref_significant_fraction_two_sided" in s:
            ak = I.aperiodic_kantz(study)
            where = (f"{ak['n_bursts']} bursts of at least {I.BURST_MIN_LENGTH} steps (longest "
                     f"{ak['longest']}); {ak['n_tested']} of {ak['n']} reference times have neighbours; "
                     f"one-sided {ak['greater']:.2f}")
            lam_share = I.relative_laminar_share(study, int(get("figure_init")), int(get("figure_start")),
                                                 int(get("figure_stop")))
            rows[-1]["note"] += (f"; {lam_share:.0%} of this stretch is laminar at the tolerance "
                                 f"{I.STRETCH_REL_TOL:g} x median |L|")
            add("intermittency.kantz_significant_fraction_aperiodic", "", ak["two_sided"], ".2f",
                "fraction of tested reference times with significant Kantz divergence (two-sided) on the "
                "aperiodic bursts (no laminar phase at a tolerance relative to the series' scale)", where)
        lc = I.laminar_collapse(study)
        if lc["init"].size:
            for label, sel in (("period=3", lc["period"] == 3), ("all", np.ones(lc["init"].size, bool))):
                if not sel.any():
                    continue
                add("intermittency.laminar_collapsed_share", label, float(lc["collapsed"][sel].mean()), ".2f",
                    f"share of the laminar phases ({label.replace('=', ' ')}) in which the networks are "
                    "collapsed", f"{int(sel.sum())} phases in {np.unique(lc['init'][sel]).size} networks; "
                    f"one class predicted in {lc['single_class'][sel].mean():.0%}; mean loss "
                    f"{np.median(lc['loss'][sel]):.2f} (median over phases)")
                add("intermittency.laminar_saturation", label, float(np.median(lc["saturation"][sel])), ".3f",
                    f"saturated share of (hidden unit, training sample) pairs in the laminar phases "
                    f"({label.replace('=', ' ')}), median over phases")
                add("intermittency.laminar_logit_spread", label, float(np.median(lc["spread"][sel])), ".1e",
                    f"standard deviation of the logits across training samples in the laminar phases "
                    f"({label.replace('=', ' ')}), median over phases",
                    "about 0: the output ignores the input")
        n3 = int(get("inits_with_period3_phases", 0))
        add("intermittency.inits_with_period3_phases", "", f"{n3} of {n}", "",
            "networks with period-3 laminar phases in the loss")
        dom = int(get("laminar_dominant_period", -1))
        add("intermittency.laminar_period3_share", "", float(get("laminar_period3_share")), ".2f",
            "share of laminar steps in period 3", f"dominant period {dom if dom >= 0 else 'none'}")
        if "weights_inits_with_period3_phases" in s:
            add("intermittency.weights.inits_with_period3_phases", "",
                f"{int(get('weights_inits_with_period3_phases'))} of {n}", "",
                "networks with period-3 laminar phases of W(t).v")
            add("intermittency.weights.laminar_period3_share", "",
                float(get("weights_laminar_period3_share")), ".2f",
                "share of laminar steps of W(t).v in period 3")
    if "eta_scan" in results:
        ds = results["eta_scan"].result_
        for eta, reg in zip(ds["eta"].values, ds["regime"].values, strict=True):
            add("eta_scan.regime", f"eta={eta:.4g}", str(reg), "", f"regime at eta = {eta:.4g}")
    return rows


def _table(rows) -> list[str]:
    lines = ["| key | quantity | dynnet | paper | rule | verdict | note |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['key']} | {r['quantity']} | {r['dynnet']} | {r['paper']} | {r['rule']} | {r['verdict']} "
              f"| {r['note']} |" for r in rows]
    return lines


def reproduce(out: Path | str, quick: bool = False, n_jobs: int = 1, progress: bool = True,
              overwrite: bool = False, beyond: bool = False) -> list[dict]:
    """Run the paper's four studies and the eta scan; write results, figures and tables.

    With ``beyond=True``, run instead the studies that answer the paper's open
    questions (:mod:`dynnet.beyond`) and write ``beyond.md`` and ``beyond.csv``.

    Parameters
    ----------
    out : str or Path
        The output folder (made if missing; its parent must exist). It must not
        already hold any of the files this writes, unless ``overwrite``.
    quick : bool, default False
        The quick presets (checks the pipeline; numbers not comparable).
    n_jobs : int, default 1
        Parallel workers (see :meth:`dynnet.Study.run`).
    progress : bool, default True
        Progress bars and a line per study.
    overwrite : bool, default False
        Replace files of an earlier reproduction.
    beyond : bool, default False
        The open questions instead of the paper's analyses.

    Returns
    -------
    list of dict
        The rows of the headline table. Writes ``out/NAME.nc``,
        ``out/figures/NAME-K.png``, ``out/headline.md`` and ``out/headline.csv``
        (``beyond.md`` and ``beyond.csv`` with ``beyond=True``).
    """
    from . import beyond as _beyond
    from ._files import atomic_write, real_folder, save_figure
    from .results import check_output_path

    stem = "beyond" if beyond else "headline"
    studies = _beyond.beyond_studies if beyond else _studies

    out = Path(out)
    figdir = out / "figures"
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"cannot make {out}: folder {out.parent} does not exist")
    if out.is_dir():  # decide before computing: nothing of the user's is replaced
        for name, _ in studies(quick):
            check_output_path(out / f"{name}.nc", overwrite=overwrite)
        for f in (f"{stem}.md", f"{stem}.csv"):
            check_output_path(out / f, overwrite=overwrite)
        if figdir.is_symlink():
            raise FileExistsError(f"{figdir} is a symbolic link; dynnet writes only into real folders it "
                                  "can see (give another output folder, or remove the link)")
        if figdir.exists() and any(figdir.iterdir()) and not overwrite:
            raise FileExistsError(f"{figdir} is not empty; give another output folder, or overwrite=True")
    out.mkdir(exist_ok=True)
    real_folder(figdir)  # never a symbolic link: every figure goes through the safe writer below
    results = {}
    timings = {}
    for name, study in studies(quick):
        t0 = time.perf_counter()
        study.run(n_jobs=n_jobs, progress=progress)
        timings[name] = time.perf_counter() - t0
        study.save(out / f"{name}.nc", overwrite=overwrite)
        for k, fig in enumerate(study.plot(), start=1):
            save_figure(fig, figdir / f"{name}-{k}.png", overwrite=overwrite, dpi=100)
        results[name] = study
        if progress:
            print(f"{name}: {timings[name]:.1f} s")
    rows = _beyond.beyond_rows(results) if beyond else headline_rows(results)
    write_csv(out / f"{stem}.csv", rows, overwrite=overwrite)
    title = ("# dynnet beyond Danovski, Soriano & Lacasa (2024): the open questions" if beyond
             else "# dynnet reproduction of Danovski, Soriano & Lacasa (2024)")
    lines = [title, "",
             f"preset: {'quick' if quick else 'paper scale'}; wall time per study: "
             + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()), "",
             *(["The quick preset checks the pipeline on small sizes: its numbers are not "
                "expected to match the paper's (too few initial conditions and steps for the "
                "edge-of-stability statistics or the intermittent phases).", ""] if quick else []),
             "Each verdict follows from the row's stated rule; n/a where there is no rule (a measurement).",
             "",
             *_table(rows)]
    text = ("\n".join(lines) + "\n").encode()
    md = check_output_path(out / f"{stem}.md", overwrite=overwrite)
    atomic_write(md, lambda fh: fh.write(text), fsync=False,
                 before_replace=lambda: check_output_path(md, overwrite=overwrite))
    if progress:
        print("\n".join(lines))
    return rows
