"""Orbital stability at a low learning rate (paper section 3.1, Figs. 3-5).

    python examples/orbital_stability.py --quick
"""

import argparse

import dynnet as dn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
args = parser.parse_args()

study = dn.OrbitalStabilityStudy.quick() if args.quick else dn.OrbitalStabilityStudy(progress=True)
study.run()
for k, v in study.summary().items():
    print(f"{k:32s} {v:.4g}")
r = study.result_
print("loss decreases monotonically for every initial condition:", bool(r["loss_monotone"].all()))
for i, fig in enumerate(study.plot(), start=1):
    fig.savefig(f"orbital_stability-{i}.png", dpi=100)
