"""A study over a grid of its parameters: lambda_nMLE at eta = 1 against width, depth and activation.

    python examples/grid.py --quick        # 2 widths x 2 activations, 4 small networks each (seconds)
    python examples/grid.py                # the grid of examples/sweep.toml: 3 architectures x
                                           # 2 activations, 500 networks each (minutes)

The same grid from the command line: ``dynnet run grid --config examples/sweep.toml``.
"""

import argparse

import dynnet as dn
from dynnet.cli import format_summary

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
parser.add_argument("--jobs", type=int, default=1, help="cells run in parallel (-1: every core)")
args = parser.parse_args()

if args.quick:
    study = dn.EdgeOfStabilityStudy(n_init=4, eps=(1e-8,), n_steps=100, n_steps_long=0)
    grid = {"map__hidden": [(10,), (20,)], "map__activation": ["sigmoid", "tanh"]}
else:
    study = dn.EdgeOfStabilityStudy(n_init=500, eps=(1e-8,), n_steps_long=0)
    grid = {"map__hidden": [(10,), (20,), (10, 10)], "map__activation": ["sigmoid", "tanh"]}

# every cell is clone(study).set_params(**cell), run with the study's seed (common_seed=True):
# the same initial networks (of each architecture) in every cell
sweep = dn.GridStudy(study, grid=grid).run(n_jobs=args.jobs, progress=not args.quick)
print(format_summary(sweep.summary()[["finitelyapunov.mle", "finitelyapunov.kept_fraction"]]))

# one cell, by its labels (tuples are labelled as text, "(10,)")
mle = sweep.result_["finitelyapunov.mle"].sel(map__hidden="(10,)", map__activation="sigmoid").item()
print(f"sigmoid 4-10-3: lambda_nMLE = {mle:.3f} (paper: ~0.33)")
sweep.plot()[0].savefig("grid.png", dpi=100)
print("heat map: grid.png")
