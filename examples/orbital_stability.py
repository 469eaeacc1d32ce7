"""Orbital stability at a low learning rate (paper section 3.1, Figs. 3-5).

    python examples/orbital_stability.py --quick
"""

import argparse

import dynnet as dn
from dynnet.cli import format_summary

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
args = parser.parse_args()

study = dn.OrbitalStabilityStudy.quick() if args.quick else dn.OrbitalStabilityStudy()
study.run(progress=not args.quick)
print(format_summary(study.summary()))
r = study.result_
print("loss decreases monotonically for every initial condition:", bool(r["loss_monotone"].all()))
for i, fig in enumerate(study.plot(), start=1):
    fig.savefig(f"orbital_stability-{i}.png", dpi=100)
