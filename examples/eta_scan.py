"""A scan of the learning rate from 0.01 to 10: which regime at which eta?

    python examples/eta_scan.py --quick
"""

import argparse

import dynnet as dn
from dynnet.cli import format_summary

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
args = parser.parse_args()

study = dn.EtaScanStudy.quick() if args.quick else dn.EtaScanStudy()
study.run(progress=not args.quick)
print(format_summary(study.summary()))
study.plot()[0].savefig("eta_scan.png", dpi=100)
print("phase diagram: eta_scan.png")
