"""Tangent dynamics without the dense Hessian: time per tangent step and memory, against JAX.

Usage::

    python benchmarks/bench_tangent.py              # iris, 9.6k and 79.5k parameters, k = 10
    python benchmarks/bench_tangent.py --smoke      # tiny sizes, seconds (CI); no timing assertions
    python benchmarks/bench_tangent.py --no-memory  # skip the memory subprocesses
    python benchmarks/bench_tangent.py --blas-threads 1   # numpy's BLAS single-threaded
    python benchmarks/bench_tangent.py --gap 0.5    # sleep before each timed call

A *tangent step* is what :class:`dynnet.LyapunovSpectrum` with ``n_exponents=k``
does per step: advance the orbit one GD step, advance ``k`` tangent vectors by
the Jacobian of that step, and re-orthonormalise them (thin QR):

* **dynnet**: ``TangentMap(map=m, k=k).tangent_step(x, Q)`` (``map.step`` and
  ``map.jvp``, i.e. ``V - eta * hvp``, one batched R-operator pass for the ``k``
  vectors) then ``numpy.linalg.qr``;
* **JAX** (the ``bench`` extra, skipped when not installed): ``jit`` of
  ``x - eta * g`` and ``Q - eta * vmap(v -> jvp(grad(loss), (x,), (v,)))(Q)``
  (the gradient comes with the first ``jvp``), then ``jnp.linalg.qr``,
  ``jax_enable_x64``. It is checked against dynnet (one tangent step,
  ``rtol=1e-10``) before it is timed.

Workloads (float64, sigmoid, softmax cross-entropy, the GradientDescentMap
defaults): the paper's Iris 4-10-3 (83 parameters; also the dense path
``jacobian(x) @ Q``), 64-128-10 on 1,437 random samples (9,610 parameters) and
784-100-10 on 10,000 random samples, 10 classes (79,510 parameters; 9,970
training samples after the default 30 held out). Timings are interleaved
(JAX, dynnet, JAX, dynnet, ... ``--repeat`` rounds, after a warm-up that
includes JAX's compile), each a block of back-to-back calls (the same number
for both, a block of about 0.2 s, as a Lyapunov loop calls the step) after
``--gap`` seconds of sleep; the table gives medians of the time per call;
ratio = JAX / dynnet (> 1: dynnet is faster).

Memory (each library in a fresh subprocess, so one does not count the other):
after a warm-up step (numba's or XLA's compile; reported apart) the kernel's
peak RSS is reset (``/proc/self/clear_refs``) and the table gives the peak of
two tangent steps above the RSS before them, and the process's overall peak;
for dynnet also ``tracemalloc``'s peak of one tangent step (every numpy
allocation). The dense path would hold the
``p x p`` Jacobian: ``8 p^2`` bytes, printed for comparison.

The script also times :class:`dynnet.Sharpness` by Lanczos on one state (its
``n_iter_`` Hessian-vector products).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import have, print_table  # noqa: E402

import dynnet as dn  # noqa: E402
from dynnet.maps.tangent import TangentMap  # noqa: E402

CHECK_RTOL = 1e-10


# ---------------------------------------------------------------------------
# workloads
# ---------------------------------------------------------------------------
def blas():
    """numpy's BLAS library and its thread count (threadpoolctl), for the record."""
    if not have("threadpoolctl"):
        return "threadpoolctl not installed"
    from threadpoolctl import threadpool_info

    return "; ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
                     for i in threadpool_info() if i.get("user_api") == "blas") or "none loaded"


def make_map(name):
    """The GradientDescentMap of a named workload (eta = 0.1, default init)."""
    if name == "iris":
        return dn.GradientDescentMap(eta=0.1)
    shapes = {"tiny": (200, 20, (8,), 3), "mid": (1437 + 30, 64, (128,), 10),
              "wide": (10_000, 784, (100,), 10)}
    n, d, hidden, c = shapes[name]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = np.arange(n) % c
    rng.shuffle(y)
    return dn.GradientDescentMap(eta=0.1, hidden=hidden, dataset=(X, y))


def start(m, k, seed=0):
    """A state and k orthonormal tangent vectors (columns)."""
    x = m.initial_state(1, seed=seed)[0]
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((m.dim, k)))
    return x, Q


def dynnet_tangent(m, k):
    """One tangent step of dynnet: (x, Q) -> (g(x), qr(J Q))."""
    tm = TangentMap(map=m, k=k)

    def step(x, Q):
        x1, Y = tm.tangent_step(x, Q)
        Q1, R = np.linalg.qr(Y)
        return x1, Q1, R

    return step


def dense_tangent(m):
    """The dense path: form the Jacobian, multiply, QR."""

    def step(x, Q):
        x1 = m.step(x[None])[0]
        Q1, R = np.linalg.qr(m.jacobian(x) @ Q)
        return x1, Q1, R

    return step


def jax_tangent(m):
    """One tangent step in JAX (jit): gradient, k Hessian-vector products by jvp(grad), QR."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    p = m.problem()
    X = jnp.asarray(p.X)
    Y = jnp.asarray(p.Y)
    offsets, sizes, eta = p.offsets, p.sizes, float(m.eta)

    def loss(w):
        a = X
        L = len(offsets)
        for lay, ((w0, b0, b1), n_in, n_out) in enumerate(zip(offsets, sizes[:-1], sizes[1:],
                                                               strict=True)):
            z = a @ w[w0:b0].reshape(n_in, n_out) + w[b0:b1]
            a = jax.nn.sigmoid(z) if lay < L - 1 else z
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(a, axis=-1), axis=-1))

    g = jax.grad(loss)

    @jax.jit
    def step(x, Q):
        def one(v):
            return jax.jvp(g, (x,), (v,))
        G, HQ = jax.vmap(one, in_axes=1, out_axes=(0, 1))(Q)
        x1 = x - eta * G[0]
        Q1, R = jnp.linalg.qr(Q - eta * HQ)
        return x1, Q1, R

    def run(x, Q):
        return jax.block_until_ready(step(x, Q))

    return run


def check(a, b, what):
    """Peer and dynnet agree on one tangent step: x, and |diag R| (QR signs may differ)."""
    for name, u, v in (("x", a[0], b[0]), ("|diag R|", np.abs(np.diagonal(a[2])),
                                          np.abs(np.diagonal(b[2])))):
        u, v = np.asarray(u), np.asarray(v)
        err = np.abs(u - v).max() / max(np.abs(v).max(), 1e-300)
        if not err <= CHECK_RTOL:
            raise AssertionError(f"{what}: {name} differs from dynnet by {err:.2e} (relative)")


# ---------------------------------------------------------------------------
# timing (interleaved, medians)
# ---------------------------------------------------------------------------
def time_interleaved(runs, x, Q, repeat, gap=0.0, block=0.2):
    """Median wall time per call of each run, in blocks interleaved round by round.

    A block is ``number`` back-to-back calls (as ``timeit`` does: the same ``number`` for
    every run, chosen at the warm-up so that the slowest run's block lasts about ``block``
    seconds), as a Lyapunov loop calls the step; the time per call is the block's time
    over ``number``. ``gap`` seconds of sleep before each block (untimed, the same for
    every run): a thread pool that spins after its work (OpenBLAS's, XLA's) then idles
    before the next library's block instead of competing with it for the 2 cores.
    """
    slowest = 0.0
    for fn in runs.values():  # warm-up (JAX compiles here), then one timed call each
        fn(x, Q)
        t0 = time.perf_counter()
        fn(x, Q)
        slowest = max(slowest, time.perf_counter() - t0)
    number = max(1, int(block / max(slowest, 1e-9)))
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            time.sleep(gap)
            t0 = time.perf_counter()
            for _ in range(number):
                fn(x, Q)
            times[name].append((time.perf_counter() - t0) / number)
    return {name: statistics.median(t) for name, t in times.items()}, times


def bench_steps(names, k, repeat, use_jax, gap=0.0):
    rows = []
    for name in names:
        m = make_map(name)
        kk = min(k, m.dim)
        x, Q = start(m, kk)
        runs = {"dynnet": dynnet_tangent(m, kk)}
        if m.dim <= 2000:
            runs["dense"] = dense_tangent(m)
        if use_jax:
            runs = {"jax": jax_tangent(m), **runs}
            check(runs["jax"](x, Q), runs["dynnet"](x, Q), f"JAX on {name}")
        if "dense" in runs:
            check(runs["dense"](x, Q), runs["dynnet"](x, Q), f"dense path on {name}")
        med, _ = time_interleaved(runs, x, Q, repeat, gap)
        jx = med.get("jax")
        rows.append([name, m.dim, kk, med["dynnet"] * 1e3, med.get("dense", None) and med["dense"] * 1e3,
                     jx and jx * 1e3, jx and jx / med["dynnet"], f"{8 * m.dim ** 2 / 2**20:,.1f}"])
    print_table(["workload", "p", "k", "dynnet ms", "dense ms", "JAX ms", "JAX/dynnet",
                 "dense J MiB"], rows,
                title=f"Time per tangent step (step + k jvp + thin QR), median of {repeat} "
                      f"interleaved rounds of back-to-back blocks, {gap:g} s gap before each block")
    return rows


def bench_sharpness(names, repeat):
    rows = []
    for name in names:
        m = make_map(name)
        x = m.initial_state(1, seed=0)
        sh = dn.Sharpness(method="lanczos")
        ts = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            sh.fit(x, map=m)
            ts.append(time.perf_counter() - t0)
        t_hvp = []
        V = np.ones((1, 1, m.dim))
        for _ in range(repeat):
            t0 = time.perf_counter()
            m.hvp(x, V)
            t_hvp.append(time.perf_counter() - t0)
        rows.append([name, m.dim, float(sh.sharpness_[0]), int(sh.n_iter_[0]),
                     statistics.median(ts) * 1e3, statistics.median(t_hvp) * 1e3])
    print_table(["workload", "p", "sharpness", "Lanczos iterations", "ms per state", "ms per hvp"],
                rows, title=f"Sharpness by Lanczos on batched hvp (one state, median of {repeat})")
    return rows


# ---------------------------------------------------------------------------
# memory (one fresh subprocess per library and workload)
# ---------------------------------------------------------------------------
def _status_mib(field):
    """A field of /proc/self/status (VmRSS, VmHWM) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak():
    """Reset the kernel's peak RSS (VmHWM) of this process (Linux >= 4.0); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(lib, name, k):
    """Run in a subprocess: the RSS peak of two tangent steps above the RSS before them.

    The warm-up step (numba's or XLA's compile, first-touch of the data) runs first and is
    reported apart; then the peak is reset (``/proc/self/clear_refs``) so that it measures the
    working set of the tangent steps alone.
    """
    m = make_map(name)
    x, Q = start(m, min(k, m.dim))
    if lib == "jax":
        run = jax_tangent(m)
    else:
        run = dynnet_tangent(m, min(k, m.dim))
    setup = _status_mib("VmRSS")
    run(x, Q)  # warm-up
    hwm = _status_mib("VmHWM")
    out = {"warmup_increase_mib": hwm - setup}
    ok = _reset_peak()
    base = _status_mib("VmRSS")
    for _ in range(2):
        run(x, Q)
    out["step_increase_mib"] = (_status_mib("VmHWM") - base) if ok else float("nan")
    out["peak_rss_mib"] = max(hwm, _status_mib("VmHWM"))  # (ru_maxrss would count the parent's)
    if lib == "dynnet":
        tracemalloc.start()
        run(x, Q)
        out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(json.dumps(out))


def bench_memory(names, k, use_jax, blas_threads=None):
    rows = []
    for name in names:
        m = make_map(name)
        row = [name, m.dim]
        for lib in ("dynnet", "jax"):
            if lib == "jax" and not use_jax:
                row += [None, None, None]
                continue
            res = subprocess.run([sys.executable, __file__, "--_memory", lib, name, "--k", str(k)]
                                 + ([] if blas_threads is None else ["--blas-threads", str(blas_threads)]),
                                 capture_output=True, text=True, check=True)
            got = json.loads(res.stdout.strip().splitlines()[-1])
            row += [got["step_increase_mib"], got["warmup_increase_mib"], got["peak_rss_mib"]]
            if lib == "dynnet":
                row.append(got["tracemalloc_peak_mib"])
        row.append(8 * m.dim ** 2 / 2**20)
        rows.append(row)
    print_table(["workload", "p", "dynnet step MiB", "dynnet warm-up MiB", "dynnet peak RSS MiB",
                 "dynnet tracemalloc MiB", "JAX step MiB", "JAX warm-up MiB", "JAX peak RSS MiB",
                 "dense J MiB"], rows,
                title=f"Memory of tangent steps, k = {k} (fresh process each; step = RSS peak of two "
                      "steps above the RSS before them; warm-up = first step incl. compile)")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    ap.add_argument("--repeat", type=int, default=None, help="interleaved rounds (default 5; 2 smoke)")
    ap.add_argument("--k", type=int, default=None, help="tangent vectors (default 10; 3 smoke)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument("--no-jax", action="store_true", help="dynnet only")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit numpy's BLAS to this many threads (threadpoolctl; default: untouched)")
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds of sleep before each timed call (default 0): lets the other "
                         "library's spinning thread pool go idle")
    ap.add_argument("--_memory", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    k = args.k or (3 if args.smoke else 10)
    if args.blas_threads is not None and have("threadpoolctl"):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")
    if args._memory:
        memory_child(*args._memory, k)
        return
    repeat = args.repeat or (2 if args.smoke else 5)
    use_jax = have("jax") and not args.no_jax
    if not use_jax:
        print("JAX not installed (or --no-jax): dynnet only")
    names = ["iris", "tiny"] if args.smoke else ["iris", "mid", "wide"]
    print(f"numpy {np.__version__}, {os.cpu_count()} cores, k = {k}, load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}, BLAS: {blas()}")
    bench_steps(names, k, repeat, use_jax, args.gap)
    bench_sharpness(["iris", "tiny"] if args.smoke else ["iris", "mid", "wide"], 1 if args.smoke else 3)
    if not args.no_memory:
        bench_memory(["tiny"] if args.smoke else ["mid", "wide"], k, use_jax, args.blas_threads)


if __name__ == "__main__":
    main()
