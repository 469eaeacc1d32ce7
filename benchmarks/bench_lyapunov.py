"""Lyapunov estimators: speed, and the paper's headline number (issue 3, items 1-2).

    python benchmarks/bench_lyapunov.py            # timings at full size
    python benchmarks/bench_lyapunov.py --smoke    # tiny sizes, seconds
    python benchmarks/bench_lyapunov.py --paper    # + the paper's eta = 1 run (heavy)

Rows:

* FiniteLyapunov window search: 500 initial conditions x 5 perturbations x
  201 records, the paper's grid (starts 0..100 step 5, lengths 30..100 step 5:
  15 x 21 = 315 windows), on synthetic capped exponential distances whose
  exponents are known (accuracy: largest |estimate - truth|). Time of a
  whole ``fit`` (window search, saturation, pooled fit, 1000-resample
  bootstrap), best of ``repeats``.
* LyapunovSpectrum cost per step (tangent step + QR; the wall time of a
  whole ``fit`` divided by its steps) on the 83-dim GradientDescentMap
  (eta = 1, a full 83-exponent spectrum, and the top exponent alone,
  ``n_exponents=1``), split into its parts (exact Jacobian I - eta H, one GD
  step, 83 x 83 QR), and on Hénon; Hénon's accuracy against
  (0.4192, -1.6232) and its sum against ln 0.3.
* ``--paper``: FiniteLyapunov through PerturbationStudy on
  GradientDescentMap(eta=1) with UniformPerturber(eps=1e-8, n=5,
  on="weights"), 500 initial conditions, 200 steps (paper section 4.1:
  MLE ~0.33, ~90% of initial conditions kept), with the pooled exponent
  beside it. About 3e6 GD steps.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, print_table  # noqa: E402

import dynnet as dn  # noqa: E402


def bench_window_search(n_init, repeats):
    rng = np.random.default_rng(0)
    T, n_pert = 201, 5
    lam = rng.uniform(0.1, 0.6, n_init)
    t = np.arange(T)[:, None, None]
    c = rng.uniform(0.5, 2.0, (1, n_init, n_pert))
    D = np.minimum(c * 1e-8 * np.exp(lam[None, :, None] * t), 10.0)
    fl = dn.FiniteLyapunov()
    fl.fit(D)  # warm-up
    sec = best_time(lambda: fl.fit(D), repeats)
    n_win = len(fl.starts) * len(fl.lengths)
    err = float(np.nanmax(np.abs(fl.exponents_ - lam)))
    return [f"FiniteLyapunov fit, {n_init} inits x {n_win} windows", sec * 1e3, err]


def _ms_per_step(est, state, m, n_steps):
    """Wall time of one ``est.fit(state, map=m)`` per counted step, in ms (and the estimator)."""
    t0 = time.perf_counter()
    est.fit(state, map=m)
    sec = time.perf_counter() - t0
    return sec / (n_steps + est.n_transient) * 1e3, est


def bench_spectrum(n_steps):
    rows = []
    m = dn.GradientDescentMap(eta=1.0)
    W = m.initial_state(1, seed=0)[0]
    dn.LyapunovSpectrum(n_steps=2, n_transient=0).fit(W, map=m)  # warm-up
    ms, _ = _ms_per_step(dn.LyapunovSpectrum(n_steps=n_steps, n_transient=0), W, m, n_steps)
    rows.append([f"LyapunovSpectrum GD 83-dim, all 83 exponents ({n_steps} steps)", ms, "-"])
    ms, _ = _ms_per_step(dn.LyapunovSpectrum(n_steps=n_steps, n_transient=0, n_exponents=1),
                         W, m, n_steps)
    rows.append([f"LyapunovSpectrum GD 83-dim, n_exponents=1 ({n_steps} steps)", ms, "-"])
    reps = max(3, n_steps // 4)
    m.jacobian(W), m.step(W[None])  # warm-up (compiled engine, caches)
    t0 = time.perf_counter()
    for _ in range(reps):
        m.jacobian(W)
    rows.append(["  of which: exact Jacobian I - eta H", (time.perf_counter() - t0) / reps * 1e3, "-"])
    t0 = time.perf_counter()
    for _ in range(reps):
        m.step(W[None])
    rows.append(["  of which: one GD step (1 member)", (time.perf_counter() - t0) / reps * 1e3, "-"])
    Y = np.random.default_rng(0).standard_normal((83, 83))
    t0 = time.perf_counter()
    for _ in range(reps):
        np.linalg.qr(Y)
    rows.append(["  of which: QR 83 x 83", (time.perf_counter() - t0) / reps * 1e3, "-"])
    n_h = 50 * n_steps
    ms, h = _ms_per_step(dn.LyapunovSpectrum(n_steps=n_h), np.array([0.1, 0.1]), dn.HenonMap(), n_h)
    err = max(abs(h.exponents_[0] - 0.4192), abs(h.exponents_[1] + 1.6232))
    rows.append([f"LyapunovSpectrum Henon ({n_h} steps): max |err|", ms, err])
    rows.append(["  Henon: |sum - ln 0.3|", "-", abs(h.exponents_.sum() - np.log(0.3))])
    return rows


def paper_run(n_init, n_steps, n_jobs):
    study = dn.PerturbationStudy(
        map=dn.GradientDescentMap(eta=1.0),
        perturber=dn.UniformPerturber(eps=1e-8, n=5, on="weights"),
        metric=dn.L1(), estimators=[dn.FiniteLyapunov()],
        n_init=n_init, n_steps=n_steps, seed=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dn.DivergenceWarning)
        study.run(n_jobs=n_jobs)
    sec = time.perf_counter() - t0
    fl = study.estimators_[0]
    rows = [
        ["MLE (mean of kept exponents)", fl.exponent_, "~0.33"],
        ["  95% bootstrap CI", f"[{fl.mle_ci_[0]:.4f}, {fl.mle_ci_[1]:.4f}]", "-"],
        ["  std of kept exponents", fl.mle_std_, "-"],
        ["kept fraction (R^2 > 0.9, Lambda > 0.05)", fl.kept_fraction_, "~0.90"],
        ["pooled exponent (mean of ln d)", fl.pooled_mle_, "-"],
        ["  pooled R^2 / window", f"{fl.pooled_r2_:.4f} / {fl.pooled_window_.tolist()}", "-"],
        ["median saturation step", float(np.nanmedian(fl.saturation_)), "-"],
        ["excluded (diverged) members", fl.n_excluded_, "-"],
        ["run time (s), GD steps", f"{sec:.1f}, {n_init * 6 * n_steps:,}", "-"],
    ]
    print_table(["quantity", "dynnet", "paper"], rows,
                title=f"Paper run: GD eta=1, eps=1e-8, {n_init} inits x 5 perturbations, "
                      f"{n_steps} steps")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    ap.add_argument("--paper", action="store_true", help="also the paper's eta=1 run (heavy)")
    ap.add_argument("--n-init", type=int, default=500, help="initial conditions of --paper")
    ap.add_argument("--n-jobs", type=int, default=1, help="workers of --paper")
    args = ap.parse_args(argv)
    n_init = 50 if args.smoke else 500
    n_steps = 20 if args.smoke else 200
    rows = [bench_window_search(n_init, repeats=2 if args.smoke else 5)]
    rows += bench_spectrum(n_steps)
    print_table(["benchmark", "ms", "accuracy"], rows, title="Lyapunov estimators")
    if args.paper:
        paper_run(10 if args.smoke else args.n_init, 200, args.n_jobs)


if __name__ == "__main__":
    main()
