"""Learning rates as batch members: eta-per-member against fixed-eta throughput, and the Iris diagram.

Usage::

    python benchmarks/bench_eta_batch.py            # E = 512 and 3000, 200 steps; the Iris diagram
    python benchmarks/bench_eta_batch.py --smoke    # tiny sizes, seconds (CI); no timing assertions
    python benchmarks/bench_eta_batch.py --no-diagram --repeat 9
    python benchmarks/bench_eta_batch.py --no-throughput --tangent orbit       # the diagram only
    python benchmarks/bench_eta_batch.py --no-throughput --tangent jvp --values 100   # a tenth of it

1. **Throughput** (the SIMD engine, forced with ``DYNNET_GD_PATH=simd``; float64, the paper's
   Iris 4-10-3 map): ``GradientDescentMap(eta=1).iterate(X, n)`` against
   ``GradientDescentMap().batched("eta", etas).iterate(X, n)`` with ``etas`` log-spaced in
   [0.01, 20], the same ensemble ``X`` of ``E`` members. Interleaved (fixed, batched, fixed,
   ... ``--repeat`` rounds after a warm-up), medians; ratio = batched / fixed steps per second
   (the issue's target: >= 0.9). Before timing, one member of the batch is checked bitwise
   against the run at its own eta.
2. **The Iris diagram**: ``BifurcationStudy(values=np.geomspace(0.01, 20, 1000), n_init=16,
   n_transient=1500, n_keep=500, seed=0).run()`` (16,000 members, 2,000 steps, the tangent
   exponent from a seeded random tangent vector per network), wall time of the whole run,
   preflight included (the issue's target: under 2 minutes on 2 cores), for each
   ``--tangent`` mode: ``jvp`` (exact Jacobian-vector products, numpy Hessian-vector
   products) and ``orbit`` (a companion orbit, every step in the SIMD engine). ``--values``
   runs fewer learning rates (the cost is linear in the number of members). The ``loop``
   column says how the tangent loop ran: ``fused`` (``SimdEngine.tangent``, one compiled call
   per segment between the steps the study reads) or ``numpy`` (the generic per-step loop of
   ``Map._advance_tangent``); the 1-minute load average before and after the run is printed
   beside it (the machine is shared).

Timings on a shared machine are noisy; the script never asserts on them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402


def throughput(E: int, n_steps: int, repeat: int) -> list:
    """One table row: fixed-eta and eta-per-member steps/s (medians of interleaved runs)."""
    import dynnet as dn

    m = dn.GradientDescentMap(eta=1.0)
    X = m.initial_state(E, seed=0)
    etas = np.geomspace(0.01, 20.0, E)
    bm = m.batched("eta", etas)
    assert m.engine_path() == bm.engine_path() == "simd"
    # bits first: member k of the batch is the run at its own eta
    k = E // 3
    single = dn.clone(m).set_params(eta=float(etas[k])).iterate(X[k], 5)
    assert np.array_equal(bm.iterate(X, 5)[k], single), "a batched member differs from its single-eta run"
    m.iterate(X, n_steps)  # warm-up
    bm.iterate(X, n_steps)
    fixed, batched = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        m.iterate(X, n_steps)
        fixed.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bm.iterate(X, n_steps)
        batched.append(time.perf_counter() - t0)
    f = E * n_steps / statistics.median(fixed)
    b = E * n_steps / statistics.median(batched)
    return [E, n_steps, f, b, b / f]


def diagram(n_values: int, n_init: int, n_transient: int, n_keep: int, n_record: int,
            max_period: int, tangent: str) -> list:
    """One table row: the wall time of a BifurcationStudy on the Iris map (and of its parts)."""
    import dynnet as dn

    s = dn.BifurcationStudy(values=np.geomspace(0.01, 20.0, n_values), n_init=n_init,
                            n_transient=n_transient, n_keep=n_keep, n_record=n_record,
                            max_period=max_period, tangent=tangent, seed=0)
    m = s.parts()["map"]
    # the tangent loop: one compiled call per segment (SIMD engine, companion orbit) or numpy per step
    loop = "fused" if (m.engine_path() == "simd" and tangent == "orbit") else "numpy"
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    s.run()
    wall = time.perf_counter() - t0
    load = f"{load0:.2f}/{os.getloadavg()[0]:.2f}"
    S = s.summary()
    chaotic = int((S["regime"].values == "chaotic").sum())
    n_steps = n_transient + n_keep
    return [tangent, loop, n_values, n_init, n_steps, wall, n_values * n_init * n_steps / wall, chaotic,
            load]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds (medians)")
    ap.add_argument("--no-diagram", action="store_true", help="skip the Iris diagram")
    ap.add_argument("--no-throughput", action="store_true", help="skip the throughput table")
    ap.add_argument("--tangent", choices=["jvp", "orbit", "both"], default="both",
                    help="tangent mode(s) of the diagram")
    ap.add_argument("--values", type=int, default=1000, help="learning rates of the diagram")
    args = ap.parse_args(argv)
    os.environ["DYNNET_GD_PATH"] = "simd"
    import numba

    print(f"threads: {numba.get_num_threads()} (numba), cores: {os.cpu_count()}")
    if args.smoke:
        sizes, n_steps, repeat = [24], 10, 2
    else:
        sizes, n_steps, repeat = [512, 3000], 200, args.repeat
    if not args.no_throughput:
        rows = [throughput(E, n_steps, repeat) for E in sizes]
        print_table(["E", "steps", "fixed eta steps/s", "eta per member steps/s", "ratio"], rows,
                    title=f"SIMD engine, Iris 4-10-3, interleaved medians of {repeat}")
    if args.no_diagram:
        return
    os.environ.pop("DYNNET_GD_PATH")  # the study's own path choice (SIMD for Iris)
    spec = (6, 2, 40, 32, 32, 16) if args.smoke else (args.values, 16, 1500, 500, 256, 64)
    rows = [diagram(*spec, tangent) for tangent in
            (("orbit", "jvp") if args.tangent == "both" else (args.tangent,))]
    print_table(["tangent", "loop", "values", "networks", "steps", "wall s", "member-steps/s",
                 "chaotic values", "load before/after"],
                rows, title="BifurcationStudy on Iris (eta in [0.01, 20], with the tangent exponent)")


if __name__ == "__main__":
    main()
