"""The learning window (Supplementary S2): is the eta of sensitive dependence the eta of fastest learning?

    python examples/learning_window.py --quick      # Iris, seconds
    python examples/learning_window.py              # MNIST-1D, 6 learning rates, 20 networks (long)
    python examples/learning_window.py --mnist      # MNIST (downloads it once, about 55 MB)

Without ``--quick`` the default map trains on MNIST-1D, generated offline by the
optional package: ``pip install "dynnet[mnist1d]"``.
"""

import argparse

import dynnet as dn
from dynnet.cli import format_summary
from dynnet.studies.learning_window import LearningWindowStudy

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="the small preset (Iris)")
parser.add_argument("--mnist", action="store_true",
                    help="MNIST (OpenML mnist_784, cached in scikit-learn's data folder), "
                         "a seeded subsample of 10000 images, scaled")
args = parser.parse_args()

if args.quick:
    study = LearningWindowStudy.quick()
elif args.mnist:
    study = LearningWindowStudy(map=dn.GradientDescentMap(dataset="mnist", n_samples=10000, scale=True,
                                                          hidden=(32,), test_size=2000))
else:
    study = LearningWindowStudy()
study.run(progress=not args.quick)
print(format_summary(study.summary()))
s = study.summary()
print(f"fastest eta: {float(s['fastest_eta']):g}; sensitive (lambda_nMLE > 0) at it: "
      f"{bool(s['fastest_is_sensitive'])}; window: [{float(s['window_low']):g}, {float(s['window_high']):g}]")
window, curves = study.plot()
window.savefig("learning_window.png", dpi=100)
curves.savefig("learning_window_accuracy.png", dpi=100)
print("figures: learning_window.png, learning_window_accuracy.png")
