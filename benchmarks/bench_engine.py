"""Throughput of the GradientDescentMap engine, side by side with a JAX peer.

Usage::

    python benchmarks/bench_engine.py            # full tables, figure, paper-scale run
    python benchmarks/bench_engine.py --smoke    # tiny sizes, a few seconds (CI)

Prints, in trajectory-steps per second (one member advanced by one GD step)
on the 83-parameter Iris 4-10-3 map (120 training samples):

* ``iterate`` at E = 60, 600, 3000, 30000: dynnet (compiled engine) and the JAX
  peer (``vmap`` of ``grad`` + ``jit`` + ``lax.scan``, float64) timed in
  interleaved rounds (JAX, dynnet, JAX, dynnet, ...; ``--repeat`` rounds, default
  7), their medians and best, the ratio of the medians, the numpy reference
  (:meth:`GradientDescentMap.reference_step`), the fraction of a roofline of
  800k steps/s on 2 cores (see benchmarks/README.md) and the 1-minute load
  average before and after (the machine may be shared: quote medians and the load);
* the streaming path of PerturbationStudy (L1 distances, loss and weight norm
  recorded every step), interleaved with ``iterate`` on the same states;
* the paper-scale edge-of-stability workload (14 eps x 500 initial conditions x
  6 members x 200 steps = 8.4M steps, streamed), wall time and peak RSS, in a
  child process so that its memory is its own;
* cold and warm compile time of the engine (child processes, own numba cache);
* scaling of the cost with E, T and the hidden width N, saved as
  ``benchmarks/out/engine_scaling.png``.

JAX is optional (the ``bench`` extra); without it its columns show ``-``.
There are no timing assertions anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, have, make_jax_iterate, print_table, timed  # noqa: E402

import dynnet as dn  # noqa: E402

ROOFLINE = 800_000.0
OUT = Path(__file__).resolve().parent / "out"


# ---------------------------------------------------------------------------
# the JAX peer
# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------
def _load() -> str:
    """The 1-minute load average (the machine may be shared), or ``?``."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def interleaved(fns, repeat):
    """Wall times of ``repeat`` rounds; each round calls every function of ``fns`` once, in
    order (peer, dynnet, peer, dynnet, ...), so that both see the same machine load."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            times[k].append(timed(fn))
    return [np.asarray(t) for t in times]


def throughput_table(Es, work, repeat, with_jax, numpy_work):
    m = dn.GradientDescentMap(eta=1.0)
    jax_it = make_jax_iterate(m) if with_jax else None
    rows = []
    for E in Es:
        W = m.initial_state(E, seed=0)
        n = max(2, int(work // E))
        m.iterate(W, 2)  # compile / load
        fns = [lambda W=W, n=n: m.iterate(W, n)]
        if jax_it is not None:
            jax_it(W, n)  # compile for this (E, n)
            ref = jax_it(W, 1)
            got = m.iterate(W, 1)
            assert np.allclose(ref, got, rtol=1e-10, atol=1e-12), "JAX peer disagrees"
            fns.insert(0, lambda W=W, n=n: jax_it(W, n))
        load0 = _load()
        ts = interleaved(fns, repeat)
        t_dyn = ts[-1]
        dyn = E * n / np.median(t_dyn)
        jx = E * n / np.median(ts[0]) if jax_it is not None else None
        n_np = max(1, int(numpy_work // E))

        def numpy_run(W=W, n_np=n_np):
            x = W
            for _ in range(n_np):
                x = m.reference_step(x)

        t_np = best_time(numpy_run, 1)
        rows.append([E, n, dyn, E * n / t_dyn.min(), jx,
                     None if jx is None else E * n / ts[0].min(),
                     None if jx is None else f"{dyn / jx:.2f}x",
                     E * n_np / t_np, f"{100 * dyn / ROOFLINE:.0f}%", f"{load0}/{_load()}"])
    return print_table(
        ["E", "steps", "dynnet median", "dynnet best", "JAX median", "JAX best", "ratio (medians)",
         "numpy ref", "of roofline", "load"],
        rows, title=f"iterate: trajectory-steps per second (Iris 4-10-3, float64; {repeat} interleaved "
                    "rounds JAX, dynnet; load = 1-min load average before/after on "
                    f"{os.cpu_count()} cores)")


def stream_table(Es, n_steps, repeat):
    m = dn.GradientDescentMap(eta=1.0)
    rows = []
    for E in Es:
        group = 6
        E = (E // group) * group
        W = m.initial_state(E, seed=0)
        metric = dn.L1()
        m._stream(W, 2, 1, group, metric)
        t_st, t_it = interleaved(
            [lambda W=W, group=group, metric=metric: m._stream(W, n_steps, 1, group, metric),
             lambda W=W: m.iterate(W, n_steps)], repeat)
        rows.append([E, n_steps, E * n_steps / np.median(t_st), E * n_steps / np.median(t_it),
                     f"{np.median(t_st) / np.median(t_it):.3f}",
                     f"{100 * E * n_steps / np.median(t_st) / ROOFLINE:.0f}%"])
    return print_table(
        ["E", "T", "stream median", "iterate median", "stream / iterate time", "stream of roofline"],
        rows, title="streaming path (PerturbationStudy: L1 distances + loss + weight_norm every step, "
                    "groups of 6; steps/s, interleaved)")


def eos_child(n_eps, n_init, n_steps):
    """Paper-scale edge of stability: run in a child process, print JSON."""
    import resource
    import warnings

    from dynnet.maps.base import DivergenceWarning

    eps_values = np.logspace(-12, -2, n_eps)
    m = dn.GradientDescentMap(eta=1.0)
    t0 = time.perf_counter()
    total = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        for eps in eps_values:
            s = dn.PerturbationStudy(map=m, perturber=dn.UniformPerturber(eps=float(eps), n=5),
                                     n_init=n_init, n_steps=n_steps, seed=0).run()
            total += s.result_["final_state"].shape[0] * s.result_["final_state"].shape[1] * n_steps
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"wall_s": wall, "steps": total, "peak_rss_mb": rss}))


def eos_table(n_eps, n_init, n_steps):
    out = subprocess.run([sys.executable, __file__, "--eos-child", str(n_eps), str(n_init),
                          str(n_steps)], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return print_table(
        ["workload", "steps", "wall s", "steps/s", "peak RSS MB"],
        [[f"{n_eps} eps x {n_init} init x 6 x {n_steps}", r["steps"], r["wall_s"],
          r["steps"] / r["wall_s"], r["peak_rss_mb"]]],
        title="paper-scale edge of stability (PerturbationStudy, streamed L1 + loss)")


def compile_child():
    m = dn.GradientDescentMap(eta=1.0)
    W = m.initial_state(12, seed=0)
    t0 = time.perf_counter()
    m.iterate(W, 1)
    t1 = time.perf_counter()
    m._stream(W, 1, 1, 6, dn.L1())
    t2 = time.perf_counter()
    print(json.dumps({"iterate_s": t1 - t0, "stream_s": t2 - t1}))


def compile_table():
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold (empty cache)", "warm (cache=True)"):
            out = subprocess.run([sys.executable, __file__, "--compile-child"], env=env,
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append([label, r["iterate_s"], r["stream_s"]])
    return print_table(["numba cache", "first iterate s", "first _stream s"], rows,
                       title="compile time (fresh processes)")


def scaling_figure(smoke):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = dn.GradientDescentMap(eta=1.0)
    Es = [8, 32, 128, 512] if smoke else [8, 32, 128, 512, 2048, 8192]
    Ts = [2, 4, 8] if smoke else [10, 30, 100, 300]
    Ns = [5, 10] if smoke else [5, 10, 20, 40, 80]
    work = 2_000 if smoke else 300_000
    cost_E = []
    for E in Es:
        W = m.initial_state(E, seed=0)
        n = max(2, work // E)
        m.iterate(W, 1)
        cost_E.append(best_time(lambda W=W, n=n: m.iterate(W, n), 2) / (E * n) * 1e6)
    E0 = 64 if smoke else 600
    W = m.initial_state(E0, seed=0)
    cost_T = [best_time(lambda T=T: m.iterate(W, T), 2) for T in Ts]
    cost_N = []
    for N in Ns:
        mN = dn.GradientDescentMap(eta=1.0, hidden=(N,))
        WN = mN.initial_state(E0, seed=0)
        n = max(2, work // E0 // 4)
        mN.iterate(WN, 1)
        cost_N.append(best_time(lambda mN=mN, WN=WN, n=n: mN.iterate(WN, n), 2) / (E0 * n) * 1e6)
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6))
    ax[0].loglog(Es, cost_E, "o-")
    ax[0].set(xlabel="ensemble size E", ylabel="µs per trajectory-step", title="cost vs E (T varies)")
    ax[1].plot(Ts, cost_T, "o-")
    ax[1].set(xlabel="steps T", ylabel="wall s", title=f"cost vs T (E={E0})")
    ax[2].plot(Ns, cost_N, "o-")
    ax[2].set(xlabel="hidden width N", ylabel="µs per trajectory-step", title=f"cost vs N (E={E0})")
    fig.tight_layout()
    OUT.mkdir(exist_ok=True)
    path = OUT / "engine_scaling.png"
    fig.savefig(path, dpi=110)
    print(f"\nscaling figure: {path}")
    print_table(["E", "µs/step"], list(zip(Es, cost_E, strict=True)), title="cost vs E")
    print_table(["T", "wall s"], list(zip(Ts, cost_T, strict=True)), title=f"cost vs T (E={E0})")
    print_table(["hidden N", "µs/step"], list(zip(Ns, cost_N, strict=True)), title=f"cost vs N (E={E0})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (CI)")
    ap.add_argument("--repeat", type=int, default=7,
                    help="interleaved timing rounds (medians and best are shown)")
    ap.add_argument("--E", type=str, default=None,
                    help="comma-separated ensemble sizes of the iterate table (default 60,600,3000,30000)")
    ap.add_argument("--only-throughput", action="store_true",
                    help="only the iterate and streaming tables")
    ap.add_argument("--no-eos", action="store_true", help="skip the paper-scale run")
    ap.add_argument("--no-figure", action="store_true", help="skip the scaling figure")
    ap.add_argument("--eos-child", nargs=3, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--compile-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.eos_child:
        return eos_child(*args.eos_child)
    if args.compile_child:
        return compile_child()

    from dynnet.maps._gd_engine import n_threads_default

    with_jax = have("jax")
    print(f"dynnet engine threads: {n_threads_default()}; JAX peer: "
          f"{'yes' if with_jax else 'not installed (skipped)'}")
    if args.smoke:
        throughput_table([8, 24], work=200, repeat=2, with_jax=with_jax, numpy_work=50)
        stream_table([12], n_steps=5, repeat=2)
        eos_table(2, 4, 5)
        if not args.no_figure:
            scaling_figure(smoke=True)
        return None
    Es = [int(e) for e in args.E.split(",")] if args.E else [60, 600, 3000, 30000]
    throughput_table(Es, work=300_000, repeat=args.repeat, with_jax=with_jax, numpy_work=30_000)
    stream_table([60, 600, 3000], n_steps=200, repeat=args.repeat)
    if args.only_throughput:
        return None
    compile_table()
    if not args.no_eos:
        eos_table(14, 500, 200)
    if not args.no_figure:
        scaling_figure(smoke=False)
    return None


if __name__ == "__main__":
    main()
