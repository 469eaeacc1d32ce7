"""Progressive sharpening and Cohen et al.'s edge of stability, beside the paper's lambda_nMLE.

    python examples/sharpening.py --quick      # seconds
    python examples/sharpening.py              # 6 learning rates x 20 networks x 1000 steps (a minute or two)
"""

import argparse

import dynnet as dn
from dynnet.cli import format_summary

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
parser.add_argument("--out", default="sharpening.nc")
parser.add_argument("--force", action="store_true", help="replace an existing --out")
args = parser.parse_args()

study = dn.SharpeningStudy.quick() if args.quick else dn.SharpeningStudy()
study.run(progress=not args.quick)
s = study.summary()
print(format_summary(s[["threshold", "sharpness_initial", "sharpness_max", "late_ratio",
                        "fraction_reaching", "crossing_step", "mle", "kept_fraction"]]))
onset = float(s["lambda_onset_eta"])
print(f"lambda_nMLE turns positive at eta = {onset:g}; there the median network's sharpness reaches "
      f"{float(s['onset_max_ratio']):.2f} x 2/eta ({float(s['onset_fraction_reaching']):.0%} of networks "
      f"reach 2/eta); half the networks reach 2/eta from eta = {float(s['sharpness_onset_eta']):g} on")
study.save(args.out, overwrite=args.force)
for i, fig in enumerate(study.plot(), start=1):
    fig.savefig(f"sharpening-{i}.png", dpi=100)
print(f"result: {args.out}; figures: sharpening-*.png")
