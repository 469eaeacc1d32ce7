"""Intermittency at eta = 5 (paper section 4.2, Figs. 9-12): laminar phases and bursts.

    python examples/intermittency.py --quick
"""

import argparse

import dynnet as dn
from dynnet.cli import format_summary

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
args = parser.parse_args()

study = dn.IntermittencyStudy.quick() if args.quick else dn.IntermittencyStudy()
study.run(progress=not args.quick)
print(format_summary(study.summary()))
for i, fig in enumerate(study.plot(), start=1):
    fig.savefig(f"intermittency-{i}.png", dpi=100)
