"""Wide networks: dynnet's GradientDescentMap against JAX and PyTorch, side by side.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_wide.py
    python benchmarks/bench_wide.py --smoke        # tiny sizes, a few seconds (CI)
    python benchmarks/bench_wide.py --no-scaling   # the three tables only

Unit: trajectory-steps per second (one ensemble member advanced by one full-batch
GD step), float64, sigmoid hidden layers, softmax cross-entropy (mean over the
training samples), the defaults of :class:`dynnet.GradientDescentMap`.

Tables (issue 13, part 2), each measured in one process, interleaved (JAX run,
torch run, dynnet run, JAX run, ...; ``--repeat`` rounds), medians:

* digits 64-128-10 (9,610 parameters, 1,437 training samples), E = 8 and 64;
* 40-100-100-10 (15,210 parameters, 4,000 synthetic samples of the shape of
  MNIST-1D, 10 classes), E = 8 and 64;
* 784-100-10 (79,510 parameters, 10,000 synthetic samples), E = 4.

The ratio is dynnet against the FASTER peer (> 1 means dynnet is faster).

Peers (the ``bench`` extra; each is skipped when it is not installed):

* JAX: ``jit`` of ``lax.scan`` over steps of ``W - eta * vmap(grad(loss))(W)``,
  ``jax_enable_x64``;
* PyTorch: ``torch.func.vmap(torch.func.grad(loss))`` in float64 on the CPU, a
  Python loop over steps, ``torch.set_num_threads(<cores>)``.

Each peer is checked against dynnet (one step, ``rtol=1e-10``) before it is
timed. Then a scaling figure: cost per trajectory-step against the parameter
count for each dynnet path (the SIMD engine, the BLAS path when it exists, and
the automatic choice of ``iterate``), saved to ``benchmarks/out/wide_scaling.png``
with the crossover marked.

BLAS note: on the development machines the environment pins OpenBLAS to an
older kernel (``OPENBLAS_CORETYPE``); unset it for the benchmark command alone,
as above. The script prints the BLAS libraries and kernels that ran
(``threadpoolctl.threadpool_info()``). There are no timing assertions anywhere.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import blas_info, have, make_jax_iterate, print_table, timed  # noqa: E402

import dynnet as dn  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
CHECK_RTOL = 1e-10
CHECK_ATOL = 1e-12


# ---------------------------------------------------------------------------
# the workloads
# ---------------------------------------------------------------------------
def synthetic(n_samples, n_features, n_classes, seed):
    """Random inputs in [0, 1) (pixel-like) and balanced random labels."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, n_features))
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    return X, y


def make_map(name, smoke=False):
    """The GradientDescentMap of a named workload (default eta, init and loss)."""
    if name == "digits":
        if smoke:
            return dn.GradientDescentMap(hidden=(16,), dataset="digits", test_size=1500)
        return dn.GradientDescentMap(hidden=(128,), dataset="digits", test_size=360)
    if name == "mnist1d":
        shape = (200, 40, 10) if smoke else (4000, 40, 10)
        hidden = (12, 12) if smoke else (100, 100)
        return dn.GradientDescentMap(hidden=hidden, dataset=synthetic(*shape, seed=1), test_size=0)
    if name == "mnist":
        shape = (100, 784, 10) if smoke else (10000, 784, 10)
        hidden = (8,) if smoke else (100,)
        return dn.GradientDescentMap(hidden=hidden, dataset=synthetic(*shape, seed=2), test_size=0)
    raise ValueError(f"unknown workload {name!r}")


# (workload, label, [(E, n_steps), ...]); n_steps keeps one timed run near a second
# on a 2-core machine with the BLAS path (override with --steps-factor).
CASES = [
    ("digits", "digits 64-128-10", [(8, 40), (64, 5)]),
    ("mnist1d", "40-100-100-10 (MNIST-1D shape)", [(8, 12), (64, 2)]),
    ("mnist", "784-100-10 (MNIST shape)", [(4, 3)]),
]
SMOKE_CASES = [
    ("digits", "digits 64-16-10 (smoke)", [(8, 3)]),
    ("mnist1d", "40-12-12-10 (smoke)", [(8, 3)]),
    ("mnist", "784-8-10 (smoke)", [(4, 2)]),
]


def flops_per_step(problem):
    """Floating-point operations of one trajectory-step in its matrix products.

    Forward ``N * sum(n_in * n_out)`` multiply-adds, the weight gradients as many, the
    back-propagated errors ``N * sum(n_in * n_out)`` over every layer but the first;
    two flops per multiply-add. Element-wise work (activations, softmax) is not counted.
    """
    N = problem.X.shape[0]
    macs = [n_in * n_out for n_in, n_out in zip(problem.sizes[:-1], problem.sizes[1:], strict=True)]
    return 2.0 * N * (2 * sum(macs) + sum(macs[1:]))


def gemm_rate(n=1000, repeat=3):
    """GFLOP/s of numpy's float64 ``n x n`` matrix product (best of ``repeat``), the BLAS roof."""
    rng = np.random.default_rng(0)
    A = rng.random((n, n))
    B = rng.random((n, n))
    A @ B
    best = min(timed(lambda: A @ B) for _ in range(repeat))
    return 2.0 * n**3 / best / 1e9


def _layers(problem):
    return list(zip(problem.offsets, problem.sizes[:-1], problem.sizes[1:], strict=True))


# ---------------------------------------------------------------------------
# peers
# ---------------------------------------------------------------------------
def make_torch_iterate(gd_map):
    """``f(W, n_steps)``: a Python loop over W - eta * torch.func.vmap(torch.func.grad(loss))(W)."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    p = gd_map.problem()
    X = torch.from_numpy(np.array(p.X, dtype=np.float64))
    Y = torch.from_numpy(np.array(p.Y, dtype=np.float64))
    eta = float(gd_map.eta)
    layers = _layers(p)

    def loss(w):
        a = X
        for k, ((w0, b0, b1), n_in, n_out) in enumerate(layers):
            z = a @ w[w0:b0].reshape(n_in, n_out) + w[b0:b1]
            a = torch.sigmoid(z) if k < len(layers) - 1 else z
        return -torch.mean(torch.sum(torch.log_softmax(a, dim=-1) * Y, dim=-1))

    grad = torch.func.vmap(torch.func.grad(loss))

    def iterate(W, n_steps):
        w = torch.from_numpy(np.array(W, dtype=np.float64))
        for _ in range(n_steps):
            w = w - eta * grad(w)
        return w.numpy()

    return iterate


PEERS = {"JAX": ("jax", make_jax_iterate), "torch": ("torch", make_torch_iterate)}


def peer_versions():
    """Versions of numpy, numba, the peers that are installed and the BLAS kernels."""
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("numba", "jax", "jaxlib", "torch"):
        if have(mod):
            out[mod] = __import__(mod).__version__
    return out


# ---------------------------------------------------------------------------
# the side-by-side tables
# ---------------------------------------------------------------------------
def check_peer(name, peer_it, gd_map, W):
    """One step of the peer against dynnet's iterate; raise if they disagree."""
    ref = gd_map.iterate(W, 1)
    got = peer_it(W, 1)
    if not np.allclose(got, ref, rtol=CHECK_RTOL, atol=CHECK_ATOL):
        err = float(np.max(np.abs(got - ref) / (np.abs(ref) + CHECK_ATOL)))
        raise AssertionError(f"{name} peer disagrees with dynnet after one step (max rel err {err:.3g})")
    upd_ref = W - ref
    scale = float(np.max(np.abs(upd_ref))) or 1.0
    return float(np.max(np.abs((W - got) - upd_ref))) / scale


def dynnet_runner(gd_map, path):
    """``f(W, n_steps)`` of dynnet: ``iterate`` (path "auto") or one forced path."""
    paths = dynnet_paths()
    key = {"auto": "automatic (iterate)", "simd": "SIMD engine", "blas": "BLAS path"}[path]
    if key not in paths:
        raise SystemExit(f"--dynnet-path {path}: this dynnet has no {key}")
    fn = paths[key]
    return lambda W, n: fn(gd_map, W, n)


def wide_table(workload, label, runs, repeat, smoke, peers, path="auto"):
    gd_map = make_map(workload, smoke)
    p = gd_map.problem()
    shown = path
    if path == "auto" and hasattr(gd_map, "engine_path"):
        os.environ.pop("DYNNET_GD_PATH", None)
        shown = f"auto = {gd_map.engine_path()}"
    title = (f"{label}: {gd_map.dim:,} parameters, {p.X.shape[0]:,} training samples; "
             f"trajectory-steps/s, median of {repeat} interleaved rounds; dynnet path: {shown}")
    builders = {name: PEERS[name][1](gd_map) for name in peers}
    flops = flops_per_step(p)
    rows = []
    checks = []
    for E, n_steps in runs:
        W = gd_map.initial_state(E, seed=0)
        runners = {}
        for name, build in builders.items():
            build(W, n_steps)  # compile for this (E, n_steps); the check compiles n_steps = 1
            checks.append(f"{label}, E={E}: {name} one-step update, max deviation / max update = "
                          f"{check_peer(name, build, gd_map, W):.2e}")
            runners[name] = build
        dyn = dynnet_runner(gd_map, path)
        dyn(W, 1)  # compile / load dynnet
        runners["dynnet"] = dyn
        times = {name: [] for name in runners}
        for _ in range(repeat):
            for name, fn in runners.items():  # interleaved: JAX, torch, dynnet, JAX, ...
                times[name].append(timed(lambda fn=fn, W=W, n=n_steps: fn(W, n)))
        rate = {name: E * n_steps / statistics.median(ts) for name, ts in times.items()}
        best_peer = max((rate[name] for name in peers), default=None)
        row = [E, n_steps, rate["dynnet"]]
        for name in PEERS:
            row.append(rate.get(name))
        row.append(None if best_peer is None else f"{rate['dynnet'] / best_peer:.2f}x")
        row.append(1e6 / rate["dynnet"])
        roof = gemm_rate()
        row.append(f"{flops * rate['dynnet'] / 1e9:.1f} / {roof:.0f}")
        spread = (min(times["dynnet"]), max(times["dynnet"]))
        row.append(f"{E * n_steps / spread[1]:,.0f}-{E * n_steps / spread[0]:,.0f}")
        rows.append(row)
    headers = ["E", "steps", "dynnet", *PEERS, "dynnet / faster peer", "dynnet us/traj-step",
               "dynnet GFLOP/s / GEMM", "dynnet range"]
    text = print_table(headers, rows, title=title)
    for c in checks:
        print("  check:", c)
    return text


# ---------------------------------------------------------------------------
# scaling figure: cost per trajectory-step against the parameter count
# ---------------------------------------------------------------------------
def _forced(path):
    """``f(gd_map, W, n)``: ``iterate`` with ``DYNNET_GD_PATH=path`` for the call (None: unset)."""

    def run(m, W, n):
        old = os.environ.pop("DYNNET_GD_PATH", None)
        if path is not None:
            os.environ["DYNNET_GD_PATH"] = path
        try:
            return m.iterate(W, n)
        finally:
            os.environ.pop("DYNNET_GD_PATH", None)
            if old is not None:
                os.environ["DYNNET_GD_PATH"] = old

    return run


def dynnet_paths():
    """The dynnet paths: name -> f(gd_map, W, n_steps), each forced, plus the automatic choice.

    Paths are forced with ``DYNNET_GD_PATH=simd|blas`` (see
    :meth:`GradientDescentMap.engine_path`); a dynnet without it has only the SIMD engine.
    """
    if hasattr(dn.GradientDescentMap, "engine_path"):
        paths = {"SIMD engine": _forced("simd"), "BLAS path": _forced("blas")}
    else:
        from dynnet.maps import _gd_engine

        paths = {"SIMD engine": lambda m, W, n: _gd_engine.advance(m, W, n)}
    paths["automatic (iterate)"] = _forced(None)
    return paths


def crossover(dims, a, b):
    """The parameter count where path ``b`` becomes cheaper than path ``a`` (log-linear interpolation)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    for k in range(1, len(dims)):
        if d[k - 1] > 0 >= d[k]:
            t = d[k - 1] / (d[k - 1] - d[k])
            return float(np.exp(np.log(dims[k - 1]) + t * (np.log(dims[k]) - np.log(dims[k - 1]))))
    return None


def scaling(smoke, E, repeat):
    """Cost per trajectory-step of each dynnet path on digits 64-h-10 for growing h."""
    widths = [2, 8] if smoke else [2, 4, 8, 16, 32, 64, 128, 256]
    test_size = 1500 if smoke else 360
    paths = dynnet_paths()
    dims, cost = [], {name: [] for name in paths}
    rows = []
    for h in widths:
        m = dn.GradientDescentMap(hidden=(h,), dataset="digits", test_size=test_size)
        W = m.initial_state(E, seed=0)
        work = 2e9 if not smoke else 1e6  # multiply-adds per timed run, about a second of BLAS
        n_train = m.problem().X.shape[0]
        n_steps = int(max(2, min(200, work / (3 * E * n_train * m.dim))))
        for fn in paths.values():
            fn(m, W, 1)  # compile / warm up
        ref = paths["SIMD engine"](m, W, 1)
        for name, fn in paths.items():
            if not np.allclose(fn(m, W, 1), ref, rtol=1e-12, atol=1e-14):
                raise AssertionError(f"dynnet path {name!r} disagrees with the SIMD engine at hidden={h}")
        times = {name: [] for name in paths}
        for _ in range(repeat):
            for name, fn in paths.items():
                times[name].append(timed(lambda fn=fn, m=m, W=W, n=n_steps: fn(m, W, n)))
        dims.append(m.dim)
        row = [f"64-{h}-10", m.dim, n_steps]
        for name in paths:
            us = 1e6 * statistics.median(times[name]) / (E * n_steps)
            cost[name].append(us)
            row.append(us)
        rows.append(row)
    text = print_table(["network", "parameters", "steps", *(f"{k} us" for k in paths)], rows,
                       title=f"scaling: cost per trajectory-step (us), digits 64-h-10, E = {E}, "
                             f"median of {repeat} interleaved rounds")
    x = None
    if "BLAS path" in cost:
        x = crossover(dims, cost["SIMD engine"], cost["BLAS path"])
        print(f"  crossover (BLAS path cheaper than the SIMD engine from): "
              f"{'not within the range measured' if x is None else f'about {x:,.0f} parameters'}")
    else:
        print("  (no BLAS path in this dynnet: GradientDescentMap.engine_path not found; SIMD engine only)")
    rule = _rule_dim()
    if rule is not None:
        print(f"  iterate's rule: the BLAS path from {rule:,.0f} parameters here "
              "(samples x parameters >= dynnet.maps.gd.BLAS_MIN_WORK)")
    _figure(dims, cost, x, E)
    return text


def _rule_dim():
    """iterate's switch to the BLAS path, in parameters of the digits sweep (None if unknown)."""
    gd = sys.modules.get("dynnet.maps.gd")
    work = getattr(gd, "BLAS_MIN_WORK", None)
    if work is None:
        return None
    import dynnet as dn

    n = dn.GradientDescentMap(hidden=(8,), dataset="digits", test_size=360).data("train")[0].shape[0]
    return work / n


def _figure(dims, cost, x, E):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {"SIMD engine": "o-", "BLAS path": "s-", "automatic (iterate)": "x--"}
    for name, ys in cost.items():
        ax.loglog(dims, ys, styles.get(name, "^-"), label=name)
    if x is not None:
        ax.axvline(x, color="grey", ls=":", label=f"measured crossover ~{x:,.0f}")
    rule = _rule_dim()
    if rule is not None:
        ax.axvline(rule, color="C2", ls="-.", lw=0.8, label=f"iterate's rule: BLAS from {rule:,.0f}")
    ax.set_xlabel("parameters (digits 64-h-10)")
    ax.set_ylabel("µs per trajectory-step")
    ax.set_title(f"dynnet GD cost per trajectory-step, E = {E}, float64")
    ax.legend()
    fig.tight_layout()
    path = OUT / "wide_scaling.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"  figure: {path}")


# ---------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI)")
    ap.add_argument("--repeat", type=int, default=None, help="interleaved rounds (default 7; smoke 1)")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling figure")
    ap.add_argument("--only", choices=[c[0] for c in CASES], action="append",
                    help="run only this workload (repeatable)")
    ap.add_argument("--no-tables", action="store_true", help="skip the three tables (scaling figure only)")
    ap.add_argument("--scaling-E", type=int, default=64, help="ensemble size of the scaling sweep")
    ap.add_argument("--scaling-repeat", type=int, default=3, help="interleaved rounds of the scaling sweep")
    ap.add_argument("--omp-passive", action="store_true",
                    help="set OMP_WAIT_POLICY=PASSIVE before the peers load (their OpenMP threads then "
                         "sleep instead of spinning between calls; matters on a busy machine)")
    ap.add_argument("--dynnet-path", choices=["auto", "simd", "blas"], default="auto",
                    help="dynnet side of the tables: iterate's automatic choice (default) or a forced path")
    args = ap.parse_args(argv)
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    repeat = args.repeat or (1 if args.smoke else 7)
    peers = [name for name, (mod, _) in PEERS.items() if have(mod)]
    t0 = time.perf_counter()
    print(f"dynnet {dn.__version__}; {os.cpu_count()} cores; {platform.machine()}; "
          f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in peer_versions().items()))
    missing = [name for name in PEERS if name not in peers]
    if missing:
        print("peers not installed (skipped):", ", ".join(missing), "(pip install -e '.[bench]')")
    print("OMP_WAIT_POLICY:", os.environ.get("OMP_WAIT_POLICY", "unset"),
          "; load average:", " ".join(f"{v:.1f}" for v in os.getloadavg()))
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if k in os.environ:
            print(f"note: {k}={os.environ[k]} is set; BLAS figures are then not a user's machine's "
                  "(run with env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)")
    for name, (mod, _) in PEERS.items():  # import the peers first so their BLAS shows below
        if name in peers:
            __import__(mod)
    for case in (SMOKE_CASES if args.smoke else CASES):
        if args.no_tables or (args.only and case[0] not in args.only):
            continue
        wide_table(*case, repeat=repeat, smoke=args.smoke, peers=peers, path=args.dynnet_path)
    if not args.no_scaling:
        scaling(args.smoke, 8 if args.smoke else args.scaling_E, 1 if args.smoke else args.scaling_repeat)
    print("\nBLAS:", blas_info())
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
