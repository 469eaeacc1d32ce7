"""Edge of stability (paper section 4.1): the finite network Lyapunov exponent at eta = 1.

    python examples/edge_of_stability.py --quick      # ~1 minute or less
    python examples/edge_of_stability.py              # paper scale: 14 eps x 500 x 6 x 200 steps
"""

import argparse

import dynnet as dn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
parser.add_argument("--out", default="edge_of_stability.nc")
parser.add_argument("--force", action="store_true", help="replace an existing --out")
args = parser.parse_args()

study = dn.EdgeOfStabilityStudy.quick() if args.quick else dn.EdgeOfStabilityStudy()
study.run(progress=not args.quick)
s = study.summary()
top = s.isel(eps=int(s["eps"].argmin()))  # the smallest eps
print(f"lambda_nMLE = {float(top['finitelyapunov.mle']):.3f} +- {float(top['finitelyapunov.mle_std']):.3f} "
      f"at eps = {float(top['eps']):.0e} ({float(top['finitelyapunov.kept_fraction']):.0%} of fits kept; "
      "paper: ~0.33, ~90%)")
print(f"pooled exponent (mean log-distance, one fit) = {float(top['finitelyapunov.pooled_mle']):.3f}")
for e, m, k in zip(s["eps"].values, s["finitelyapunov.mle"].values, s["finitelyapunov.kept_fraction"].values,
                   strict=True):
    print(f"  eps = {e:.0e}: lambda_nMLE = {m:.3f}, kept {k:.0%}")
study.save(args.out, overwrite=args.force)
for i, fig in enumerate(study.plot(), start=1):
    fig.savefig(f"edge_of_stability-{i}.png", dpi=100)
print(f"result: {args.out}; figures: edge_of_stability-*.png")
