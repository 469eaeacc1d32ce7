"""The bifurcation and Lyapunov diagrams of gradient descent on Iris and on digits.

    python examples/bifurcation_diagrams.py --quick             # seconds: tiny sizes
    python examples/bifurcation_diagrams.py --out docs/img       # the figures of the docs

Iris 4-10-3 (the paper's network): 1,000 learning rates in [0.01, 20] (log-spaced),
16 networks, 1,500 transient and 500 kept steps, the study's defaults. Digits 64-10-10
(760 parameters, 1,767 training images): 100 learning rates in the same range, 4
networks, 600 transient and 200 kept steps. Each diagram is one BifurcationStudy whose
ensemble holds every (eta, network) pair, with the tangent exponent of the late-time
orbit (a companion orbit, renormalised every step).

Writes ``<name>-bifurcation.png`` (the bifurcation diagram over the Lyapunov diagram)
and ``<name>-bifurcation.json`` (the command, its wall time, the machine's load before
and after, the sizes and the number of values in each regime) per diagram; the
studies' results are not kept (``--keep`` saves them as ``<name>-bifurcation.nc``).
Existing files are not replaced unless ``--overwrite`` is given.
"""

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

import dynnet as dn

SIZES = {
    # name: (map parameters, n_values, n_init, n_transient, n_keep, n_record)
    "iris": ({}, 1000, 16, 1500, 500, 256),
    "digits": ({"dataset": "digits", "hidden": (10,)}, 100, 4, 600, 200, 128),
}
QUICK = {"iris": (12, 2, 100, 80, 64), "digits": (4, 1, 20, 40, 32)}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("which", nargs="*", metavar="{iris,digits}",
                    help="the diagrams to draw (default: both)")
parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
parser.add_argument("--out", default=".", help="folder of the figures (default: here)")
parser.add_argument("--keep", action="store_true", help="also save each study as .nc")
parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
args = parser.parse_args()
which = args.which or ["iris", "digits"]
if set(which) - set(SIZES):
    parser.error(f"unknown diagram(s) {sorted(set(which) - set(SIZES))}; choose from {sorted(SIZES)}")

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
for name in which:
    targets = [out / f"{name}-bifurcation.{ext}" for ext in ("png", "json", "nc")[: 3 if args.keep else 2]]
    clash = [str(t) for t in targets if t.exists()]
    if clash and not args.overwrite:
        sys.exit(f"not replacing {', '.join(clash)}; give --overwrite to replace them")

for name in which:
    params, n_values, n_init, n_transient, n_keep, n_record = SIZES[name]
    if args.quick:
        n_values, n_init, n_transient, n_keep, n_record = QUICK[name]
    kwargs = {"max_period": n_record // 2} if args.quick else {}
    m = dn.GradientDescentMap(**params)
    forced = name == "digits" and "DYNNET_GD_PATH" not in os.environ
    if forced:
        # 760 x 1,767 is above the BLAS path's crossover for plain steps, but the fused
        # tangent loop runs in the SIMD engine only: 1,130 member-steps/s there against
        # 790 on the BLAS path (2-core AVX2 machine, 2026-12-07)
        os.environ["DYNNET_GD_PATH"] = "simd"
    study = dn.BifurcationStudy(map=m, values=np.geomspace(0.01, 20, n_values), n_init=n_init,
                                n_transient=n_transient, n_keep=n_keep, n_record=n_record,
                                seed=0, **kwargs)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    study.run(progress=not args.quick)
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    if forced:
        del os.environ["DYNNET_GD_PATH"]
    fig = study.plot()[0]
    fig.savefig(out / f"{name}-bifurcation.png", dpi=110)
    if args.keep:
        study.save(out / f"{name}-bifurcation.nc", overwrite=args.overwrite)
    S = study.summary()
    regimes = dict(sorted(Counter(str(r) for r in S["regime"].values).items()))
    record = {
        "command": "python examples/bifurcation_diagrams.py " + " ".join(sys.argv[1:]),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_before_after": [round(load_before, 2), round(load_after, 2)],
        "wall_s": round(wall, 1),
        "sizes": {"parameters": m.dim, "values": n_values, "networks": n_init,
                  "n_transient": n_transient, "n_keep": n_keep,
                  "member_steps": n_values * n_init * (n_transient + n_keep)},
        "regimes": regimes,
    }
    (out / f"{name}-bifurcation.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{name}: {m.dim} parameters, {n_values} values x {n_init} networks x "
          f"{n_transient + n_keep} steps in {wall:.1f} s; regimes {regimes}")
    print(f"  {out / f'{name}-bifurcation.png'}, {out / f'{name}-bifurcation.json'}")
