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
        add("orbital.loss_monotone_fraction", float(s["loss_monotone_fraction"]))
        add("orbital.d_final/d_0", float(np.median(s["d_final_over_d_0"].values)), "median over eps")
    if "post_learning" in results:
        s = results["post_learning"].summary()
        add("post_learning.d_final/d_0", float(np.median(s["d_final_over_d_0"].values)), "median over eps")
        if "eigenvalues_at_1" in s:
            for tol, v in zip(s["tol"].values, s["eigenvalues_at_1"].values, strict=True):
                add("post_learning.eigenvalues_at_1", float(v),
                    f"|mu-1|<{tol:g} of {int(s['dim'])}, mean over initial conditions")
    if "edge" in results:
        s = results["edge"].summary()
        k = int(np.argmin(s["eps"].values))
        eps = float(s["eps"].values[k])
        add("edge.mle", float(s["finitelyapunov.mle"].values[k]),
            f"eps = {eps:.0e}; pooled {float(s['finitelyapunov.pooled_mle'].values[k]):.3f}")
        add("edge.kept_fraction", float(s["finitelyapunov.kept_fraction"].values[k]), f"eps = {eps:.0e}")
        e8 = np.flatnonzero(np.isclose(s["eps"].values, 1e-8, rtol=1e-9, atol=0.0))
        if e8.size:
            add("edge.mle", float(s["finitelyapunov.mle"].values[e8[0]]),
                "eps = 1e-08 (the paper's P(Lambda))")
            add("edge.kept_fraction", float(s["finitelyapunov.kept_fraction"].values[e8[0]]), "eps = 1e-08")
    if "intermittency" in results:
        s = results["intermittency"].summary()

        def get(key, default=np.nan):
            return s[key].item() if key in s else default

        add("intermittency.laminar_fraction", float(get("laminar_fraction_mean")),
            "mean over initial conditions")
        add("intermittency.kantz_significant_fraction", float(get("kantz_ref_significant_fraction")),
            "per reference time, first series")
        n = results["intermittency"].result_.sizes["init"]
        add("intermittency.inits_with_period3_phases", f"{int(get('inits_with_period3_phases', 0))} of {n}")
        dom = int(get("laminar_dominant_period", -1))
        add("intermittency.laminar_period3_share", float(get("laminar_period3_share")),
            f"share of laminar steps; dominant period {dom if dom >= 0 else 'none'}")
        if "weights_inits_with_period3_phases" in s:
            add("intermittency.weights.inits_with_period3_phases",
                f"{int(get('weights_inits_with_period3_phases'))} of {n}",
                "laminar phases of W(t).v: period-3 weight cycles that a balanced training "
                "set hides in the loss")
            add("intermittency.weights.laminar_period3_share", float(get("weights_laminar_period3_share")))
    if "eta_scan" in results:
        ds = results["eta_scan"].result_
        for eta, reg in zip(ds["eta"].values, ds["regime"].values, strict=True):
            rows.append({"quantity": f"eta_scan.regime@{eta:g}", "dynnet": str(reg),
                         "paper": "(beyond the paper)", "within tolerance": "", "note": ""})
    return rows


def reproduce(out, quick=False, n_jobs=1, progress=True, overwrite=False):
    """Run the paper's four studies and the eta scan; write results, figures and tables.

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

    Returns
    -------
    list of dict
        The rows of the headline table. Writes ``out/NAME.nc``,
        ``out/figures/NAME-K.png``, ``out/headline.md`` and ``out/headline.csv``.
    """
    from .results import check_output_path

    out = Path(out)
    figdir = out / "figures"
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"cannot make {out}: folder {out.parent} does not exist")
    if out.is_dir():  # decide before computing: nothing of the user's is replaced
        for name, _ in _studies(True):
            check_output_path(out / f"{name}.nc", overwrite=overwrite)
        for f in ("headline.md", "headline.csv"):
            check_output_path(out / f, overwrite=overwrite)
        if figdir.exists() and any(figdir.iterdir()) and not overwrite:
            raise FileExistsError(f"{figdir} is not empty; give another --out, or --force")
    figdir.mkdir(parents=True, exist_ok=True)
    results = {}
    timings = {}
    for name, study in _studies(quick):
        t0 = time.perf_counter()
        study.run(n_jobs=n_jobs, progress=progress)
        timings[name] = time.perf_counter() - t0
        study.save(out / f"{name}.nc", overwrite=overwrite)
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
