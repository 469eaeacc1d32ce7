"""EdgeOfStabilityStudy: the finite network Lyapunov exponent at eta = 1 (paper section 4.1)."""

from __future__ import annotations

import numpy as np

from ..base import clone
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
    map : Map or None, default None
        None: ``GradientDescentMap(eta=1.0)``.
    perturber : Perturber or None, default None
        None: ``UniformPerturber(n=5, on="weights")``. Its ``eps`` is replaced by
        each value of ``eps``.
    metric : Metric or None, default None
        None: ``L1()``, the paper's distance.
    eps : sequence of float, default 1e-14, 1e-13, ..., 1e-1 (14 values)
        Perturbation sizes; one ensemble per value.
    estimators : list of Estimator or None, default None
        None: ``[FiniteLyapunov()]``. Exactly one :class:`~dynnet.FiniteLyapunov`
        is required (its fit per initial condition is stored); any other
        estimator is fitted on each eps and its numbers stored as
        ``<class>.<key> (eps)``.
    n_init : int, default 500
        Initial networks (the same for every eps).
    n_steps : int, default 200
        Training steps of every orbit.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed (initial networks from its child 0, perturbations from
        ``stream(seed, 1, i)``); None draws fresh entropy, recorded in ``seed_``.
    every : int, default 1
        Record every ``every`` steps.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (eps, step, init, pert)``, ``loss`` and ``weight_norm``
        ``(step, init)``, and per eps the fit: ``exponent``, ``r2``, ``kept``
        ``(eps, init)``, ``window (eps, init, bound)``, ``mle``, ``mle_std``,
        ``kept_fraction``, ``pooled_mle`` ``(eps,)``, ``mle_ci (eps, bound)``.
    estimators_ : list
        The fitted estimators of each eps, in order (after run or refit).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.1, Figs. 7-8 (paper:
    :math:`\lambda_{nMLE} \approx 0.33`, about 90% of fits kept).
    """

    _quick_params = {"n_init": 40, "eps": (1e-12, 1e-8, 1e-4)}

    def __init__(self, map=None, perturber=None, metric=None, eps=PAPER_EPS, estimators=None,
                 n_init=500, n_steps=200, seed=0, every=1):
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.eps = eps
        self.estimators = estimators
        self.n_init = n_init
        self.n_steps = n_steps
        self.seed = seed
        self.every = every

    @staticmethod
    def _part_defaults():
        from ..estimators.lyapunov import FiniteLyapunov
        from ..maps.gd import GradientDescentMap

        return {"map": lambda: GradientDescentMap(eta=1.0),
                "perturber": lambda: UniformPerturber(n=5, on="weights"),
                "metric": L1, "estimators": lambda: [FiniteLyapunov()]}

    def _split_estimators(self):
        from ..estimators.lyapunov import FiniteLyapunov

        ests = self._estimator_list()
        fl = [e for e in ests if isinstance(e, FiniteLyapunov)]
        if len(fl) != 1:
            raise ValueError(
                f"{type(self).__name__}: estimators must hold exactly one FiniteLyapunov (the "
                f"study's exponent), got {[type(e).__name__ for e in ests]}"
            )
        return fl[0], [e for e in ests if e is not fl[0]]

    def _validate(self):
        super()._validate()
        self._split_estimators()

    def _compute(self, ctx):
        m = self.parts()["map"]
        x0 = m.initial_state(int(self.n_init), seed=ctx.child_seed(0))
        return self._sweep(ctx, x0)

    def _analyse(self, ds):
        """Fit FiniteLyapunov (and any other estimator) on each eps of the records."""
        import xarray as xr

        fl, others = self._split_estimators()
        m = self.parts()["map"]
        fitted = [clone(fl).fit_result(ds.isel(eps=k), m) for k in range(ds.sizes["eps"])]
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
        ds, more = self._fit_per_eps(ds, others)
        return ds, fitted + more

    def _summary(self, ds):
        """lambda_nMLE, its spread and interval, the kept fraction and the pooled exponent per
        eps, and the final loss."""
        import xarray as xr

        out = xr.Dataset({f"finitelyapunov.{k}": ds[k] for k in
                          ("mle", "mle_std", "kept_fraction", "pooled_mle") if k in ds})
        if "mle_ci" in ds:
            out["finitelyapunov.mle_ci_low"] = ds["mle_ci"].isel(bound=0, drop=True)
            out["finitelyapunov.mle_ci_high"] = ds["mle_ci"].isel(bound=1, drop=True)
        if "loss" in ds:
            out["final_loss_median"] = ((), float(np.nanmedian(ds["loss"].values[-1])))
        return out.merge(super()._summary(ds))

    def plot(self):
        """Fig. 7 (four initial conditions x distance, zoom, late times, loss) and
        Fig. 8 (P(Lambda) and lambda_nMLE(eps)).

        Returns
        -------
        list of matplotlib.figure.Figure
            The two figures.
        """
        from ..plotting import edge_figure, lyapunov_eps_figure

        self._check_run()
        return [edge_figure(self.result_), lyapunov_eps_figure(self.result_)]
