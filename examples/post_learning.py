"""Stability after learning (paper section 3.2, Fig. 6), and the Jacobian spectrum there.

    python examples/post_learning.py --quick
"""

import argparse

import dynnet as dn
from dynnet.cli import format_summary

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
args = parser.parse_args()

study = dn.PostLearningStudy.quick() if args.quick else dn.PostLearningStudy()
study.run(progress=not args.quick)
print(format_summary(study.summary()))
for i, fig in enumerate(study.plot(), start=1):
    fig.savefig(f"post_learning-{i}.png", dpi=100)
