"""Scalar-series estimators side by side with their peers (issue 5, item 3).

    python benchmarks/bench_estimators.py            # full sizes
    python benchmarks/bench_estimators.py --smoke    # tiny sizes, missing peers skipped

Rows:

* Rosenstein / Kantz vs ``nolds.lyap_r`` on logistic series (r = 4, 5000
  points). Accuracy is the mean |estimate - ln 2| over ``n_series`` (12)
  series started from different x0; times are medians over them. nolds is
  run "matched" (emb_dim=1, lag=1, min_tsep=10, every point a reference, and
  the fit region hand-set to its linear part, trajectory_len=10, fit="poly",
  which dynnet finds by itself) and with its defaults (emb_dim=10, automatic
  lag: it fails on this series). The first two dynnet rows use every point
  as a reference like nolds; the others are dynnet's defaults (1000 sampled
  references), the paper's distance-averaged Kantz (biased up, see its
  docstring) and the paper's radius 5e-5 (few neighbours at N = 5000).
* HorizontalVisibilityGraph vs ``ts2vg.HorizontalVG`` on 10^6 iid points; the
  degree sequences must be equal. dynnet's time is the graph (edges and
  degrees, ``hvg_edges``); the full ``fit`` (plus degree law, tail fit and
  verdict) is a separate row.
* ShuffledAutocorrelation's batched FFT vs a loop of statsmodels ``acf`` calls
  on the same 1000 shuffles (accuracy: largest difference).
* LaminarPhases on 10^6 points (no peer).

Times are the best of ``repeats`` runs after a warm-up (numba compile). The
peers (nolds==0.6.2, ts2vg) are the ``bench`` extra, never runtime
dependencies.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
import warnings

import numpy as np

import dynnet as dn
from dynnet.estimators.graphs import hvg_edges
from dynnet.estimators.timeseries import _batched_acf

LN2 = math.log(2.0)


def best_time(fn, repeats):
    out, best = None, float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def logistic(n, x0, burn=100):
    x = np.empty(n + burn)
    x[0] = x0
    for t in range(1, n + burn):
        x[t] = 4.0 * x[t - 1] * (1.0 - x[t - 1])
    return x[burn:]


def peer(name):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - a broken peer is just skipped
        print(f"# peer {name} unavailable ({type(exc).__name__}: {exc}); its rows are skipped",
              file=sys.stderr)
        return None


def fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def print_table(rows):
    head = ["benchmark", "size", "dynnet s", "peer", "peer s", "speed-up", "dynnet acc",
            "peer acc"]
    cells = [[r["name"], r["size"], fmt(r["t"], ".4f"), r.get("peer", "-"),
              fmt(r.get("tp"), ".4f"),
              fmt(r["tp"] / r["t"] if r.get("tp") else None, ".1f") +
              ("x" if r.get("tp") else ""),
              r.get("acc", "-"), r.get("pacc", "-")] for r in rows]
    w = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    line = " | ".join(h.ljust(w[i]) for i, h in enumerate(head))
    print(line)
    print("-|-".join("-" * x for x in w))
    for c in cells:
        print(" | ".join(v.ljust(w[i]) for i, v in enumerate(c)))


def bench_lyapunov(rows, n, n_series, repeats):
    nolds = peer("nolds")
    series = [logistic(n, x0) for x0 in np.linspace(0.11, 0.87, n_series)]
    ests = {"Rosenstein (all refs)": lambda: dn.Rosenstein(n_ref=None),
            "Kantz (r=1e-3, all refs, log)": lambda: dn.Kantz(radius=1e-3, n_ref=None,
                                                              average="log"),
            "Rosenstein (1000 refs)": lambda: dn.Rosenstein(),
            "Kantz (r=1e-3, 1000 refs)": lambda: dn.Kantz(radius=1e-3),
            "Kantz (paper r=5e-5)": lambda: dn.Kantz()}
    nolds_cfg = {"nolds.lyap_r matched": dict(emb_dim=1, lag=1, min_tsep=10,
                                              trajectory_len=10, fit="poly"),
                 "nolds.lyap_r default": {}}
    peer_res = {}
    if nolds is not None:
        for pname, kw in nolds_cfg.items():
            ts, errs = [], []
            for x in series:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t, v = best_time(lambda x=x, kw=kw: nolds.lyap_r(x, **kw), 1)
                ts.append(t)
                errs.append(abs(v - LN2))
            peer_res[pname] = (float(np.median(ts)), float(np.mean(errs)))
    for name, make in ests.items():
        make().fit(series[0])                                 # warm-up
        ts, errs = [], []
        for x in series:
            t, e = best_time(lambda make=make, x=x: make().fit(x), repeats)
            ts.append(t)
            errs.append(abs(e.exponent_ - LN2))
        t, err = float(np.median(ts)), float(np.mean(errs))
        pnames = list(nolds_cfg) if name.startswith("Rosenstein (all") else list(nolds_cfg)[:1]
        for pname in (pnames if nolds is not None else [None]):
            row = {"name": name, "size": f"N={n}", "t": t, "acc": f"|err| {err:.4f}"}
            if pname is not None:
                tp, perr = peer_res[pname]
                row.update(peer=pname, tp=tp, pacc=f"|err| {perr:.4f}")
            rows.append(row)


def bench_hvg(rows, n, repeats):
    ts2vg = peer("ts2vg")
    x = np.random.default_rng(0).random(n)
    hvg_edges(x[:100])                                        # compile / load cache
    t, (edges, deg) = best_time(lambda: hvg_edges(x), repeats)
    row = {"name": "HVG graph (edges+degrees)", "size": f"N={n}", "t": t,
           "acc": f"<k>={2 * edges.shape[0] / n:.4f}"}
    if ts2vg is not None:
        tp, g = best_time(lambda: ts2vg.HorizontalVG().build(x), repeats)
        same = np.array_equal(np.asarray(g.degrees), deg)
        row.update(peer="ts2vg.HorizontalVG", tp=tp, pacc=f"same degrees: {same}")
    rows.append(row)
    tf, h = best_time(lambda: dn.HorizontalVisibilityGraph().fit(x), repeats)
    rows.append({"name": "HVG fit (+law, tail, verdict)", "size": f"N={n}", "t": tf,
                 "acc": f"lambda={h.lambda_:.4f} (ln1.5=0.4055)",
                 **({"peer": "ts2vg.HorizontalVG", "tp": tp} if ts2vg is not None else {})})


def bench_acf(rows, n, n_shuffles, repeats):
    from statsmodels.tsa.stattools import acf

    x = np.random.default_rng(1).normal(size=n)
    rng = np.random.default_rng(2)
    shuf = rng.permuted(np.broadcast_to(x, (n_shuffles, n)), axis=1)
    t, ours = best_time(lambda: _batched_acf(shuf, 50), repeats)
    tp, ref = best_time(lambda: np.stack([acf(s, nlags=50, fft=True) for s in shuf]), 1)
    tf, _ = best_time(lambda: dn.ShuffledAutocorrelation(n_shuffles=n_shuffles).fit(x), repeats)
    rows.append({"name": f"shuffled ACFs x{n_shuffles}", "size": f"N={n}", "t": t,
                 "peer": "statsmodels acf loop", "tp": tp,
                 "acc": f"max diff {np.abs(ours - ref).max():.1e}"})
    rows.append({"name": "ShuffledAutocorrelation fit", "size": f"N={n}", "t": tf,
                 "peer": "statsmodels acf loop", "tp": tp})


def bench_laminar(rows, n, repeats):
    rng = np.random.default_rng(3)
    seg = 500
    parts = []
    for k in range(n // seg):
        if k % 2:
            parts.append(np.tile(rng.random(3), seg // 3 + 1)[:seg])
        else:
            parts.append(rng.random(seg))
    x = np.concatenate(parts)
    t, lp = best_time(lambda: dn.LaminarPhases().fit(x), repeats)
    rows.append({"name": "LaminarPhases", "size": f"N={x.size}", "t": t,
                 "acc": f"{lp.phases_.shape[0]} phases (true {n // seg // 2})"})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = ap.parse_args(argv)
    if args.smoke:
        sizes = dict(lyap=600, n_series=1, hvg=10_000, acf=500, shuffles=50, lam=20_000,
                     repeats=1)
    else:
        sizes = dict(lyap=5000, n_series=12, hvg=1_000_000, acf=7000, shuffles=1000,
                     lam=1_000_000, repeats=3)
    rows = []
    bench_lyapunov(rows, sizes["lyap"], sizes["n_series"], sizes["repeats"])
    bench_hvg(rows, sizes["hvg"], sizes["repeats"])
    bench_acf(rows, sizes["acf"], sizes["shuffles"], sizes["repeats"])
    bench_laminar(rows, sizes["lam"], sizes["repeats"])
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
