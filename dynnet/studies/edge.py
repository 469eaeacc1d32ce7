"""EdgeOfStabilityStudy: the finite network Lyapunov exponent at eta = 1 (paper section 4.1)."""

from __future__ import annotations

import numpy as np

from ..base import check_int, clone
from ..metrics import L1
from ..perturbers import UniformPerturber
from ._sweep import SweepStudy

__all__ = ["EdgeOfStabilityStudy"]

PAPER_EPS = tuple(float(10.0 ** k) for k in range(-14, 0))


class EdgeOfStabilityStudy(SweepStudy):
    r"""Sensitive dependence on initial conditions of GD at the edge of stability.

    For each perturbation size :math:`\varepsilon`, ``n_init`` initial
    networks, each with ``n`` perturbed copies (connection weights only,
    :math:`U(-\varepsilon, \varepsilon)`), are trained together for
    ``n_steps`` steps at :math:`\eta = 1`. The finite network Lyapunov
    exponent of each initial condition is the slope of

    .. math:: \ln \langle d(t) \rangle_{\text{pert}}

    over its best-:math:`R^2` window (:class:`~dynnet.FiniteLyapunov`, paper
    Eq. 3); fits with :math:`R^2 > 0.9` and :math:`\Lambda > 0.05` are kept,
    and :math:`\lambda_{nMLE}(\varepsilon)` is their mean.

    Parameters
    ----------
    map : Map, default GradientDescentMap(eta=1.0)
    perturber : Perturber, default UniformPerturber(n=5, on="weights")
        Its ``eps`` is replaced by each value of ``eps``.
    metric : Metric, default L1()
    eps : sequence of float, default 1e-14, 1e-13, ..., 1e-1 (14 values)
    estimator : Estimator, default FiniteLyapunov()
    n_init : int, default 500
    n_steps : int, default 200
    seed : int, default 0
    every, chunk_size, n_jobs, progress, checkpoint, resume
        As for :class:`~dynnet.PerturbationStudy`.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (eps, step, init, pert)``, ``loss`` and ``weight_norm``
        ``(step, init)``, and per eps the fit: ``exponent``, ``r2``, ``kept``
        ``(eps, init)``, ``window (eps, init, bound)``, ``mle``, ``mle_std``,
        ``kept_fraction``, ``pooled_mle`` ``(eps,)``, ``mle_ci (eps, bound)``.
    estimators_ : list
        The fitted estimator of each eps, in order.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.1, Figs. 7-8 (paper:
    :math:`\lambda_{nMLE} \approx 0.33`, about 90% of fits kept).
    """

    _quick_params = {"n_init": 40, "eps": (1e-12, 1e-8, 1e-4)}

    def __init__(self, map=None, perturber=None, metric=None, eps=PAPER_EPS, estimator=None,
                 n_init=500, n_steps=200, seed=0, every=1, chunk_size=None, n_jobs=1,
                 progress=False, checkpoint=None, resume=False):
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.eps = eps
        self.estimator = estimator
        self.n_init = n_init
        self.n_steps = n_steps
        self.seed = seed
        self.every = every
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.progress = progress
        self.checkpoint = checkpoint
        self.resume = resume

    @staticmethod
    def _component_defaults():
        from ..estimators.lyapunov import FiniteLyapunov
        from ..maps.gd import GradientDescentMap

        return {"map": lambda: GradientDescentMap(eta=1.0),
                "perturber": lambda: UniformPerturber(n=5, on="weights"),
                "metric": L1, "estimator": FiniteLyapunov}

    def run(self):
        """Run every eps; fit the estimator on each; returns self."""
        self._check_saveable()
        c = self._resolved()
        check_int(self, "n_init", self.n_init, low=1)
        self.result_ = self._sweep(c, self.n_steps)
        self._restore()
        self._done_checkpoint()
        return self

    def _restore(self):
        """Fit the estimator on each eps of ``result_`` (also after load)."""
        import xarray as xr

        est = self._resolved()["estimator"]
        ds = self.result_
        m = self._resolved()["map"]
        fitted = [clone(est).fit_result(ds.isel(eps=k), m)
                  for k in range(ds.sizes["eps"])]
        self.estimators_ = fitted
        per = {
            "exponent": ("exponents_", ("eps", "init")),
            "r2": ("r2_", ("eps", "init")),
            "kept": ("kept_", ("eps", "init")),
            "window": ("windows_", ("eps", "init", "bound")),
            "mle": ("mle_", ("eps",)),
            "mle_std": ("mle_std_", ("eps",)),
            "kept_fraction": ("kept_fraction_", ("eps",)),
            "pooled_mle": ("pooled_mle_", ("eps",)),
            "mle_ci": ("mle_ci_", ("eps", "bound")),
        }
        for name, (attr, dims) in per.items():
            if all(hasattr(f, attr) for f in fitted):
                ds[name] = xr.Variable(dims, np.stack([np.asarray(getattr(f, attr)) for f in fitted]))

    def summary(self):
        """Headline numbers: lambda_nMLE and kept fraction at the smallest eps and per eps."""
        self._check_run()
        ds = self.result_
        k = int(np.argmin(ds["eps"].values))
        out = {
            "eps": float(ds["eps"].values[k]),
            "mle": float(ds["mle"].values[k]),
            "mle_std": float(ds["mle_std"].values[k]),
            "kept_fraction": float(ds["kept_fraction"].values[k]),
            "pooled_mle": float(ds["pooled_mle"].values[k]),
            "final_loss_median": float(np.nanmedian(ds["loss"].values[-1])),
        }
        for e, m, f in zip(ds["eps"].values, ds["mle"].values, ds["kept_fraction"].values):
            out[f"mle@{e:.0e}"] = float(m)
            out[f"kept@{e:.0e}"] = float(f)
        return out

    def plot(self):
        """Fig. 7 (four initial conditions x distance, zoom, late times, loss) and
        Fig. 8 (P(Lambda) and lambda_nMLE(eps))."""
        from ..plotting import edge_figure, lyapunov_eps_figure

        self._check_run()
        return [edge_figure(self.result_), lyapunov_eps_figure(self.result_)]
