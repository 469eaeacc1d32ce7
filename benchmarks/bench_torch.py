"""TorchMap (the dynnet-torch plugin): ensemble throughput against the ways people train copies.

Usage::

    python benchmarks/bench_torch.py              # E = 8, 32, 128, 256; Iris MLP, digits MLP and CNN
    python benchmarks/bench_torch.py --workloads iris-mlp --E 8 256 --steps 10 --repeat 5
    python benchmarks/bench_torch.py --smoke      # tiny sizes, seconds (CI); no timing assertions
    python benchmarks/bench_torch.py --threads 1  # torch's intra-op threads (default: torch's own)
    python benchmarks/bench_torch.py --repeat 7 --gap 0.2 --no-memory   # the docs' record

``TorchMap.iterate(x, n_steps)`` on an ensemble of ``E`` networks (one copy of
the states into torch and one back, ``vmap(grad)`` over the members at every
step) is timed against, on the same model, data and float64:

* **torch.func loop**: the hand-written loop a user would write,
  ``W = W - eta * vmap(grad(loss))(W)`` on a torch tensor (no numpy at all):
  the cost of the bridge (target: TorchMap >= 0.95x of it);
* **GradientDescentMap**: dynnet's own compiled MLP engine on the same MLP
  (MLP workloads only; the same network in dynnet's layout);
* **one by one**: the copies trained one after another with ordinary autograd
  (``loss.backward()`` and an in-place update of the module's parameters), as
  deep-lyapunov and the follow-up paper's script do: the batching gain.

Rounds are interleaved (TorchMap, peer, TorchMap, peer, ... for every peer,
``--repeat`` rounds after a warm-up) and the table gives the medians of the
throughput in member-steps per second and ratio = peer time / TorchMap time
(> 1: TorchMap is faster); defaults 5 steps per call, 3 rounds; ``--gap``
seconds of sleep before each timed call (so that a call does not start while the
previous one's thread pools, torch's or numba's, still spin). Before timing,
each peer's final states are checked against TorchMap's (relative 1e-10). Memory per member: peak RSS of an
``iterate`` call above the RSS before it, in a fresh subprocess for the
smallest and the largest E, divided by the difference in E.

Workloads: Iris 4-10-3 sigmoid (83 parameters, 120 samples), digits 64-16-10
sigmoid (1,210 parameters, 1,407 samples) and a digits CNN (Conv2d 1->4, 3x3,
tanh, Linear 144->10: 1,490 parameters; a 330-sample subsample, 300 training
samples: a vmapped Conv2d's backward is slow on the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import have, print_table  # noqa: E402 - the benchmarks' own helpers, next to this file

WORKLOADS = ("iris-mlp", "digits-mlp", "digits-cnn")


def make(name):
    """``(TorchMap, GradientDescentMap or None)`` of a workload."""
    import torch
    from dynnet_torch import TorchMap

    import dynnet as dn

    torch.manual_seed(0)
    if name == "iris-mlp":
        net = torch.nn.Sequential(torch.nn.Linear(4, 10), torch.nn.Sigmoid(), torch.nn.Linear(10, 3))
        return TorchMap(module=net, eta=1.0), dn.GradientDescentMap(eta=1.0)
    if name == "digits-mlp":
        net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 10))
        return (TorchMap(module=net, dataset="digits", eta=0.1),
                dn.GradientDescentMap(dataset="digits", hidden=(16,), eta=0.1))
    if name == "digits-cnn":
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Tanh(), torch.nn.Flatten(),
                                  torch.nn.Linear(144, 10))
        return TorchMap(module=net, dataset="digits", input_shape=(1, 8, 8), n_samples=330, eta=0.1), None
    raise ValueError(name)


def to_gd(m, gd, x):
    """TorchMap states (Linear weights (out, in)) in GradientDescentMap's layout ((in, out) row-major)."""
    lay = m.layout()
    out = []
    for row in x:
        parts = []
        for i, shape in enumerate(lay.shapes):
            t = row[lay.offsets[i]:lay.offsets[i + 1]].reshape(shape)
            parts.append(t.T.ravel() if t.ndim == 2 else t)
        out.append(np.concatenate(parts))
    return np.stack(out)


def torch_func_loop(m):
    """The hand-written torch.func loop on the map's own module and data: ``f(x, n) -> x``."""
    import torch
    from torch.func import functional_call, grad, vmap

    X, y = m.data("train")
    shape = m.input_shape or (X.shape[1],)
    Xt = torch.as_tensor(X.copy()).reshape((X.shape[0],) + tuple(shape))
    yt = torch.as_tensor(y.copy())
    lay = m.layout()
    net = m.module
    eta = float(m.eta)

    def loss(w):
        params = {n: w[lay.offsets[i]:lay.offsets[i + 1]].view(lay.shapes[i])
                  for i, n in enumerate(lay.names)}
        return torch.nn.functional.cross_entropy(functional_call(net, params, (Xt,)), yt)

    g = vmap(grad(loss))

    def run(x, n):
        W = torch.as_tensor(x)
        for _ in range(n):
            W = W - eta * g(W)
        return W

    return run


def one_by_one(m):
    """Each copy trained alone with autograd, as deep-lyapunov and the follow-up's script do."""
    import torch

    X, y = m.data("train")
    shape = m.input_shape or (X.shape[1],)
    Xt = torch.as_tensor(X.copy()).reshape((X.shape[0],) + tuple(shape))
    yt = torch.as_tensor(y.copy())
    eta = float(m.eta)

    def run(x, n):
        out = np.empty_like(x)
        for e in range(x.shape[0]):
            net = m.module_of(x[e])
            params = list(net.parameters())
            for _ in range(n):
                for p in params:
                    p.grad = None
                torch.nn.functional.cross_entropy(net(Xt), yt).backward()
                with torch.no_grad():
                    for p in params:
                        p -= eta * p.grad
            out[e] = m.state_of(net)
        return out

    return run


def check(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    err = float(np.max(np.abs(a - b)) / max(1e-300, np.max(np.abs(b))))
    if not err <= 1e-10:
        raise AssertionError(f"{what}: final states differ from TorchMap's by {err:.3g} (relative)")


def bench(names, Es, n_steps, repeat, gap=0.0):
    rows = []
    for name in names:
        m, gd = make(name)
        for E in Es:
            x = m.initial_state(E, seed=0)
            loop, seq = torch_func_loop(m), one_by_one(m)
            peers = {"torch.func loop": lambda x=x, loop=loop: loop(x, n_steps).numpy(),
                     "one by one": lambda x=x, seq=seq: seq(x, n_steps)}
            if gd is not None:
                xg = to_gd(m, gd, x)
                peers["GradientDescentMap"] = lambda xg=xg, gd=gd: gd.iterate(xg, n_steps)
            ours = m.iterate(x, n_steps)
            check(peers["torch.func loop"](), ours, f"torch.func loop on {name}")
            check(peers["one by one"](), ours, f"one by one on {name}")
            if gd is not None:
                check(peers["GradientDescentMap"](), to_gd(m, gd, ours), f"GradientDescentMap on {name}")
            times = {"TorchMap": [], **{k: [] for k in peers}}
            for _ in range(repeat):
                for k, fn in peers.items():
                    time.sleep(gap)  # untimed: the last call's thread pools go idle
                    t0 = time.perf_counter()
                    m.iterate(x, n_steps)
                    times["TorchMap"].append(time.perf_counter() - t0)
                    time.sleep(gap)
                    t0 = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) for k, v in times.items()}
            us = med["TorchMap"]
            tp = E * n_steps / us
            gdr = med.get("GradientDescentMap")
            rows.append([name, m.dim, E, tp, med["torch.func loop"] / us,
                         None if gdr is None else gdr / us, med["one by one"] / us])
    print_table(["workload", "p", "E", "TorchMap member-steps/s", "vs torch.func loop",
                 "vs GradientDescentMap", "vs one by one"], rows,
                title=f"TorchMap.iterate throughput ({n_steps} steps), medians of {repeat} interleaved "
                      f"rounds, {gap:g} s gap before each call; "
                      "ratio = peer time / TorchMap time (> 1: TorchMap faster)")
    return rows


def _rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def memory_child(name, E, n_steps):
    """In a fresh process: peak RSS of one iterate call above the RSS before it (KiB)."""
    m, _ = make(name)
    x = m.initial_state(E, seed=0)
    m.iterate(x[:1], 1)  # warm-up: data preparation, first vmap trace
    base = _rss_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    except OSError:
        pass
    m.iterate(x, n_steps)
    print(json.dumps({"peak_kib": _rss_kib("VmHWM") - base}))


def bench_memory(names, Es, n_steps):
    if not Path("/proc/self/status").exists():
        print("\n(memory: /proc not available, skipped)")
        return []
    rows = []
    for name in names:
        peaks = {}
        for E in (Es[0], Es[-1]):
            out = subprocess.run([sys.executable, __file__, "--_memory", name, str(E), str(n_steps)],
                                 capture_output=True, text=True, check=True, env=os.environ.copy())
            peaks[E] = json.loads(out.stdout.strip().splitlines()[-1])["peak_kib"]
        lo, hi = Es[0], Es[-1]
        per = (peaks[hi] - peaks[lo]) / max(1, hi - lo)
        rows.append([name, peaks[lo] / 1024, peaks[hi] / 1024, per])
    print_table(["workload", f"peak MiB (E={Es[0]})", f"peak MiB (E={Es[-1]})", "KiB per member"], rows,
                title="Memory of one iterate call above the RSS before it (fresh process each)")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    ap.add_argument("--repeat", type=int, default=None, help="interleaved rounds (default 3; 1 smoke)")
    ap.add_argument("--steps", type=int, default=None, help="steps per call (default 5; 2 smoke)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument("--workloads", nargs="+", default=None, choices=WORKLOADS,
                    help="which workloads (default: all; smoke: iris-mlp, digits-cnn)")
    ap.add_argument("--E", nargs="+", type=int, default=None, help="ensemble sizes (default 8 32 128 256)")
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds of sleep before each timed call (default 0): the last "
                         "call's thread pools (torch's, numba's) go idle first")
    ap.add_argument("--_memory", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not (have("torch") and have("dynnet_torch")):
        print("bench_torch: torch or dynnet-torch not installed (pip install torch==2.13.0 "
              "./plugins/dynnet-torch); skipped")
        return
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args._memory:
        name, E, n = args._memory
        memory_child(name, int(E), int(n))
        return
    repeat = args.repeat or (1 if args.smoke else 3)
    n_steps = args.steps or (2 if args.smoke else 5)
    Es = tuple(args.E or ((4,) if args.smoke else (8, 32, 128, 256)))
    names = args.workloads or (["iris-mlp", "digits-cnn"] if args.smoke else list(WORKLOADS))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, float64")
    bench(names, Es, n_steps, repeat, args.gap)
    if not args.no_memory:
        bench_memory(["iris-mlp"] if args.smoke else names, (2, 8) if args.smoke else (Es[0], Es[-1]),
                     n_steps)


if __name__ == "__main__":
    main()
