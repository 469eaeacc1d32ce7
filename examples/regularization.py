"""Does weight decay make GD trajectories more stable? (the paper's conjecture, at eta = 1)

    python examples/regularization.py --quick      # seconds
    python examples/regularization.py              # 5 weight decays x 100 networks x 1000 steps
"""

import argparse

import dynnet as dn
from dynnet.cli import format_summary

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
parser.add_argument("--out", default="regularization.nc")
parser.add_argument("--force", action="store_true", help="replace an existing --out")
args = parser.parse_args()

study = dn.RegularizationStudy.quick() if args.quick else dn.RegularizationStudy()
study.run(progress=not args.quick)
s = study.summary()
print(format_summary(s[["mle", "kept_fraction", "mle_change", "mle_change_se", "n_paired",
                        "d_final_over_d_0", "weight_norm_growth", "final_loss", "test_accuracy"]]))
change, z = float(s["mle_change_at_max_decay"]), float(s["mle_change_z_at_max_decay"])
print(f"weight decay {float(s['max_decay']):g} changes the finite exponents by {change:+.3f} on average "
      f"(paired, {z:+.1f} standard errors; below -2: lowered beyond sampling noise); "
      f"the smallest decay that lowers them: {float(s['lowest_lowering_decay']):g} (nan: none)")
study.save(args.out, overwrite=args.force)
for i, fig in enumerate(study.plot(), start=1):
    fig.savefig(f"regularization-{i}.png", dpi=100)
print(f"result: {args.out}; figures: regularization-*.png")
