"""Your own map, no plugin needed: subclass dynnet.Map in a script and compose a Study.

The map is a pair of diffusively coupled logistic maps,

    x' = (1 - c) f(x) + c f(y),   y' = (1 - c) f(y) + c f(x),   f(u) = r u (1 - u),

whose Jacobian is [[(1-c) f'(x), c f'(y)], [c f'(x), (1-c) f'(y)]]. On the
synchronised line x = y the dynamics is the logistic map (exponent ln 2 at
r = 4) and the transverse direction is stretched by (1 - 2c) f'(x), so its
exponent is ln 2 + ln(1 - 2c): for c > 1/4 the line attracts (at c = 0.3 the
spectrum is ln 2 = 0.693 and ln 2 + ln 0.4 = -0.223).

Run:  python examples/custom_map.py [--quick]
"""

import argparse

import numpy as np

import dynnet as dn
from dynnet.testing import check_map


class CoupledLogistic(dn.Map):
    """Two diffusively coupled logistic maps (r, coupling c); dim = 2."""

    dim = 2

    def __init__(self, r=4.0, c=0.3):
        self.r = r
        self.c = c

    def step(self, states):
        f = self.r * states * (1.0 - states)
        return (1.0 - self.c) * f + self.c * f[:, ::-1]

    def jacobian(self, state):
        d = self.r * (1.0 - 2.0 * np.asarray(state))
        return np.array([[(1 - self.c) * d[0], self.c * d[1]], [self.c * d[0], (1 - self.c) * d[1]]])

    def sample_state(self, rng):
        return rng.uniform(0.05, 0.95, size=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, in seconds")
    args = parser.parse_args(argv)

    m = CoupledLogistic(r=4.0, c=0.3)
    check_map(m)  # the public conformance suite: batches, iterate, Jacobian vs finite differences
    print("CoupledLogistic passes dynnet.testing.check_map")

    n_init, n_steps = (10, 40) if args.quick else (100, 60)
    study = dn.PerturbationStudy(
        map=m, perturber=dn.UniformPerturber(eps=1e-10, n=5, on="all"), metric=dn.L1(),
        estimators=[dn.FiniteLyapunov(starts=range(0, 11, 5), lengths=range(15, 26, 5))],
        n_init=n_init, n_steps=n_steps, seed=0).run()
    fl = study.estimators_[0]
    print(f"finite-size exponent (ensemble mean): {fl.mle_:.3f} +- {fl.mle_std_:.3f}  "
          f"(ln 2 = {np.log(2):.3f})")

    n = 2_000 if args.quick else 20_000
    spec = dn.LyapunovSpectrum(n_steps=n, n_transient=200).fit(np.array([0.3, 0.31]), map=m)
    print(f"Lyapunov spectrum: {np.round(spec.exponents_, 3)} "
          f"(theory: ln 2 = {np.log(2):.3f}, ln 2 + ln 0.4 = {np.log(2) + np.log(0.4):.3f})")


if __name__ == "__main__":
    main()
