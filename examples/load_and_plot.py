"""Load a saved result and plot it (run any study with --out first, or use this script's own).

    python examples/load_and_plot.py --quick
    python examples/load_and_plot.py path/to/result.nc
"""

import argparse
from pathlib import Path

import dynnet as dn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("result", nargs="?", help="a netCDF file written by Study.save or `dynnet run`")
parser.add_argument("--quick", action="store_true", help="make a small result first, then load it")
parser.add_argument("--force", action="store_true", help="replace an existing perturbation.nc")
args = parser.parse_args()

path = args.result
if path is None:
    path = "perturbation.nc"
    henon = dn.PerturbationStudy(
        map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=5, on="all"),
        estimators=[dn.FiniteLyapunov(starts=range(0, 11, 2), lengths=range(10, 21, 2))],
        n_init=20 if args.quick else 200, n_steps=40)
    henon.run().save(path, overwrite=args.force)

study = dn.load(path)                 # rebuilds the Study with its parameters and result_
print(type(study).__name__, dict(study.result_.sizes))
print(study.summary())
print(study.result_["distance"].mean("pert").isel(init=0).values[:10])  # xarray, labelled
for i, fig in enumerate(study.plot(), start=1):
    out = Path(path).with_suffix("").name + f"-{i}.png"
    fig.savefig(out, dpi=100)
    print("figure:", out)
