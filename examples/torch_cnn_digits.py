"""The edge of stability of a small CNN on the 8x8 digits, beside an MLP of about the same size.

    python examples/torch_cnn_digits.py --quick      # two learning rates, two networks each
    python examples/torch_cnn_digits.py              # five learning rates, 20 networks each

Needs the dynnet-torch plugin (``pip install torch ./plugins/dynnet-torch``); without it the
script says so and exits. For each learning rate eta and each model (a Conv2d network on the
images, ``input_shape=(1, 8, 8)``, and a 64-3-10 sigmoid MLP) it prints the finite network
Lyapunov exponent lambda_nMLE (perturbations of 1e-8 on the weights, L1 distance), the median
number of steps to 80% training accuracy, and the median sharpness (top Hessian eigenvalue, by
Lanczos) at the end of training against the edge-of-stability threshold 2 / eta.
"""

import argparse
import importlib.util
import sys
import warnings

import numpy as np

import dynnet as dn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset")
args = parser.parse_args()

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("dynnet_torch") is None:
    print("torch_cnn_digits: torch or dynnet-torch is not installed "
          "(pip install torch ./plugins/dynnet-torch); nothing to run")
    sys.exit(0)

import torch  # noqa: E402 - optional: imported once it is known to be there
from dynnet_torch import TorchMap  # noqa: E402

etas = (0.5, 2.0) if args.quick else (0.1, 0.5, 1.0, 2.0, 5.0)
n_init = 2 if args.quick else 20
n_samples = 120 if args.quick else None
n_steps = 200


def models():
    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, stride=2), torch.nn.Tanh(), torch.nn.Flatten(),
                              torch.nn.Linear(18, 10))
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 10))
    return {"CNN": dict(module=cnn, input_shape=(1, 8, 8)), "MLP": dict(module=mlp)}


print(f"{'model':>5} {'dim':>4} {'eta':>5} {'lambda_nMLE':>12} {'steps to 80%':>13} {'sharpness':>10} "
      f"{'2/eta':>6}")
for eta in etas:
    for name, kw in models().items():
        m = TorchMap(dataset="digits", eta=eta, n_samples=n_samples, test_size=0.2, **kw)
        study = dn.PerturbationStudy(map=m, perturber=dn.UniformPerturber(eps=1e-8, n=3, on="weights"),
                                     metric=dn.L1(), estimators=[dn.FiniteLyapunov()], n_init=n_init,
                                     n_steps=n_steps, seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a learning rate past the edge may keep no fit
            study.run()
            lam = study.estimators_[0].exponent_
            x0 = m.initial_state(n_init, seed=0)
            rec, final = m.observe(x0, n_steps, every=10)
        reached = rec["accuracy_train"] >= 0.8
        steps = np.where(reached.any(axis=0), reached.argmax(axis=0) * 10, np.nan)
        ok = np.all(np.isfinite(final), axis=1)
        sharp = dn.Sharpness().fit(final[ok], map=m).sharpness_ if ok.any() else np.array([np.nan])
        to80 = np.nanmedian(steps) if np.isfinite(steps).any() else np.nan
        print(f"{name:>5} {m.dim:>4} {eta:>5g} {lam:>12.3f} {to80:>13.0f} {np.nanmedian(sharp):>10.3g} "
              f"{2 / eta:>6.3g}")
