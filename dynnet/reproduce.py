"""``dynnet reproduce``: every figure of the paper and a table of headline numbers."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

__all__ = ["reproduce", "PAPER_VALUES"]

#: the paper's headline findings (Danovski, Soriano & Lacasa 2024), for the table
PAPER_VALUES = {
    "orbital.loss_monotone_fraction": ("1 (loss decreases monotonically at eta = 0.01)", 1.0),
    "orbital.d_final/d_0": ("O(1)-O(100): neither exponential growth nor decay", None),
    "post_learning.d_final/d_0": ("< 1: sharp drop, then very slow decay (not exponential)", None),
    "post_learning.eigenvalues_at_1": ("conjectured: many Jacobian eigenvalues at 1", None),
    "edge.mle": ("lambda_nMLE ~ 0.33 (eps -> 0)", 0.33),
    "edge.kept_fraction": ("about 90% of fits kept", 0.90),
    "intermittency.laminar_fraction": ("period-3 laminar phases interrupted by bursts", None),
    "intermittency.kantz_significant_fraction": ("some significant, many not", None),
    "intermittency.inits_with_period3_phases": ("period-3 laminar phases (most initial conditions)", None),
    "intermittency.laminar_period3_share": ("the laminar phases are period 3", None),
    "intermittency.weights.inits_with_period3_phases": ("(weight space: not in the paper)", None),
    "intermittency.weights.laminar_period3_share": ("(weight space: not in the paper)", None),
}


def _studies(quick: bool):
    from . import studies as S

    names = [("orbital", S.OrbitalStabilityStudy), ("post_learning", S.PostLearningStudy),
             ("edge", S.EdgeOfStabilityStudy), ("intermittency", S.IntermittencyStudy),
             ("eta_scan", S.EtaScanStudy)]
    return [(n, c.quick() if quick else c()) for n, c in names]


def headline_rows(results: dict) -> list[dict]:
    """Rows (quantity, dynnet, paper, agrees) from the fitted studies."""
    rows = []

    def add(key, value, note=""):
        text, target = PAPER_VALUES.get(key, ("", None))
        agree = "n/a (no number in the paper)"
        if target is not None and isinstance(value, float) and np.isfinite(value):
            agree = "yes" if abs(value - target) <= 0.1 * max(abs(target), 1e-12) + 0.03 else "no"
        rows.append({"quantity": key, "dynnet": f"{value:.4g}" if isinstance(value, float) else str(value),
                     "paper": text, "within tolerance": agree, "note": note})

    if "orbital" in results:
        s = results["orbital"].summary()
        add("orbital.loss_monotone_fraction", s["loss_monotone_fraction"])
        ratios = [v for k, v in s.items() if k.startswith("d_final/d_0@")]
        add("orbital.d_final/d_0", float(np.median(ratios)), "median over eps")
    if "post_learning" in results:
        s = results["post_learning"].summary()
        ratios = [v for k, v in s.items() if k.startswith("d_final/d_0@")]
        add("post_learning.d_final/d_0", float(np.median(ratios)), "median over eps")
        unit = [(k, v) for k, v in s.items() if k.startswith("eigenvalues_at_1")]
        for k, v in unit:
            add("post_learning.eigenvalues_at_1", float(v),
                f"{k.split('(')[1].rstrip(')')} of {s['dim']}, mean over initial conditions")
    if "edge" in results:
        s = results["edge"].summary()
        add("edge.mle", s["mle"], f"eps = {s['eps']:.0e}; pooled {s['pooled_mle']:.3f}")
        add("edge.kept_fraction", s["kept_fraction"], f"eps = {s['eps']:.0e}")
        e8 = [k for k in s if k.startswith("mle@1e-08")]
        if e8:
            add("edge.mle", s[e8[0]], "eps = 1e-08 (the paper's P(Lambda))")
            add("edge.kept_fraction", s["kept@1e-08"], "eps = 1e-08")
    if "intermittency" in results:
        s = results["intermittency"].summary()
        add("intermittency.laminar_fraction", s["laminar_fraction_mean"], "mean over initial conditions")
        add("intermittency.kantz_significant_fraction", s.get("kantz_ref_significant_fraction", np.nan),
            "per reference time, first series")
        n = results["intermittency"].result_.sizes["init"]
        add("intermittency.inits_with_period3_phases", f"{s.get('inits_with_period3_phases', 0)} of {n}")
        add("intermittency.laminar_period3_share", s.get("laminar_period3_share", np.nan),
            f"share of laminar steps; dominant period {s.get('laminar_dominant_period', 'none')}")
        if "weights.inits_with_period3_phases" in s:
            add("intermittency.weights.inits_with_period3_phases",
                f"{s['weights.inits_with_period3_phases']} of {n}",
                "laminar phases of W(t).v: period-3 weight cycles that a balanced training "
                "set hides in the loss")
            add("intermittency.weights.laminar_period3_share", s.get("weights.laminar_period3_share", np.nan))
    if "eta_scan" in results:
        ds = results["eta_scan"].result_
        for eta, reg in zip(ds["eta"].values, ds["regime"].values):
            rows.append({"quantity": f"eta_scan.regime@{eta:g}", "dynnet": str(reg),
                         "paper": "(beyond the paper)", "within tolerance": "", "note": ""})
    return rows


def reproduce(out, quick=False, n_jobs=1, progress=True):
    """Run the paper's four studies and the eta scan; write results, figures and tables.

    Writes ``out/NAME.nc``, ``out/figures/NAME-K.png``, ``out/headline.md`` and
    ``out/headline.csv``. Returns the table rows.
    """
    out = Path(out)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    results = {}
    timings = {}
    for name, study in _studies(quick):
        names = study._param_names()
        study.set_params(**{k: v for k, v in {"n_jobs": n_jobs, "progress": progress}.items()
                            if k in names})
        t0 = time.perf_counter()
        study.run()
        timings[name] = time.perf_counter() - t0
        study.save(out / f"{name}.nc")
        for k, fig in enumerate(study.plot(), start=1):
            fig.savefig(figdir / f"{name}-{k}.png", dpi=100)
        results[name] = study
        if progress:
            print(f"{name}: {timings[name]:.1f} s")
    rows = headline_rows(results)
    with open(out / "headline.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lines = ["# dynnet reproduction of Danovski, Soriano & Lacasa (2024)", "",
             f"preset: {'quick' if quick else 'paper scale'}; wall time per study: "
             + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()), "",
             *(["The quick preset checks the pipeline on small sizes: its numbers are not "
                "expected to match the paper's (too few initial conditions and steps for the "
                "edge-of-stability statistics or the intermittent phases).", ""] if quick else []),
             "\"within tolerance\": |dynnet - paper| <= 10% of the paper's value + 0.03, where the "
             "paper states a number.", "",
             "| quantity | dynnet | paper | within tolerance | note |", "|---|---|---|---|---|"]
    lines += [f"| {r['quantity']} | {r['dynnet']} | {r['paper']} | {r['within tolerance']} | {r['note']} |"
              for r in rows]
    (out / "headline.md").write_text("\n".join(lines) + "\n")
    if progress:
        print("\n".join(lines))
    return rows
