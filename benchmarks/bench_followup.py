"""The cost of the follow-up protocol (``dynnet reproduce --followup``), per learning rate, extrapolated.

Usage::

    python benchmarks/bench_followup.py            # digits and MNIST-1D (E = 300), MNIST-shaped (E = 12)
    python benchmarks/bench_followup.py --smoke    # tiny sizes, seconds (CI); no timing assertions

One learning rate of the full protocol advances ``50 x (1 + 5)`` orbits (the perturbation
ensemble) and 50 training runs, 201 steps each: ``50 * 6 * 201 + 50 * 201 = 70,350``
orbit-steps (plus one test-set forward pass per training step). The script times (CPU time of
every thread, and wall time)
``GradientDescentMap.iterate`` on the protocol's networks (tanh, one hidden layer of 64,
inputs in [0, 1], float64): digits 64-64-10 and MNIST-1D 40-64-10 on an ensemble of
``E = 300`` members (one learning rate's perturbation ensemble) for ``--steps`` steps,
and a 784-64-10 network on random data of MNIST's shape (70,000 x 784, 60,000 training
rows) for a few steps of a small ensemble; each cost per orbit-step is multiplied by
70,350. This is an **extrapolation** from a few steps, not a timing of the full run. On a
shared machine other users' load stretches the wall time but not the CPU time the work
needs, so the extrapolation uses CPU time (CPU-hours: on 2 idle cores the wall time is
about half of it where the engine uses both); the load average is printed beside each figure.

It also prints the study's own memory estimate per worker (``LearningWindowStudy``'s
parts at ``chunk_size=50``, one learning rate's ensemble per chunk), plus the training
inputs a worker holds.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

ORBIT_STEPS = 50 * 6 * 201 + 50 * 201


def per_step(m, E: int, k: int, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds (every thread of the process) per step of ``E`` members over ``k`` steps.

    The CPU time is the one to extrapolate from on a shared machine: other users' load
    stretches the wall time, not the CPU time the work needs."""
    x = m.initial_state(E, seed=0)
    m.iterate(x[:2], 1)  # the first call compiles the engine
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        m.iterate(x, k)
        wall.append((time.perf_counter() - t) / k)
        cpu.append((time.process_time() - c) / k)
    return float(np.median(wall)), float(np.median(cpu))


def memory_per_worker(study) -> int:
    """The study's own estimate of one worker's working set, with one eta's ensemble in a chunk."""
    from dynnet.studies.base import RunContext

    parts = study._memory(RunContext(seed=np.random.SeedSequence(0), n_jobs=1, chunk_size=50))
    return int(parts["working set per job"][0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (seconds); no timing claims")
    ap.add_argument("--steps", type=int, default=5, help="steps timed for digits and MNIST-1D")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)  # saturated tanh units at N(0, 1): the protocol's

    import dynnet as dn
    from dynnet import followup as fu

    E, steps, repeat = (12, 2, 1) if args.smoke else (300, args.steps, args.repeat)
    print(f"one eta of the full protocol = {ORBIT_STEPS:,} orbit-steps")
    for name in ("digits", "mnist1d"):
        small = {"n_samples": 200, "test_size": 0.2} if args.smoke else {}
        m = fu.followup_map(name, **small)
        w, s = per_step(m, E, steps, repeat)
        per_eta = ORBIT_STEPS * s / E
        study = fu.followup_study(name)
        mem = memory_per_worker(study)
        X = m.data("train")[0]
        print(f"{name} {'-'.join(map(str, m.sizes))} ({X.shape[0]} training rows): "
              f"{1e3 * s / E:.3f} ms of CPU per orbit-step "
              f"(wall {1e3 * w / E:.3f} ms; E={E}, {steps} steps); "
              f"extrapolated {per_eta / 60:.0f} CPU-minutes per eta, {16 * per_eta / 3600:.1f} CPU-hours "
              f"for 16 etas; "
              f"memory per worker {mem / 2**20:.0f} MiB + {X.nbytes / 2**20:.1f} MiB of inputs; "
              f"load {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(0)
    n_rows = 700 if args.smoke else 70000
    X = rng.random((n_rows, 784))
    y = np.arange(n_rows) % 10
    m = dn.GradientDescentMap(eta=1.0, hidden=(64,), activation="tanh", dataset=(X, y),
                              test_size=n_rows // 7)
    E_m, k_m = (2, 1) if args.smoke else (12, 2)
    w, s = per_step(m, E_m, k_m, 1)
    per_eta = ORBIT_STEPS * s / E_m
    study = fu.followup_study("digits").set_params(map=m)
    mem = memory_per_worker(study)
    Xtr = m.data("train")[0]
    print(f"MNIST-shaped 784-64-10 ({Xtr.shape[0]} training rows, random data): "
          f"{1e3 * s / E_m:.1f} ms of CPU per orbit-step "
          f"(wall {1e3 * w / E_m:.1f} ms; E={E_m}, {k_m} steps); "
          f"extrapolated {per_eta / 3600:.1f} CPU-hours per eta, {16 * per_eta / 3600:.0f} CPU-hours "
          f"for 16 etas; "
          f"memory per worker {mem / 2**20:.0f} MiB + {X.nbytes / 2**20:.0f} MiB of inputs; "
          f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
