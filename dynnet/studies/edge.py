"""EdgeOfStabilityStudy: the finite network Lyapunov exponent at eta = 1 (paper section 4.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import check_int, clone, stream
from ..metrics import L1
from ..perturbers import UniformPerturber
from .blocks import SweepStudy, eps_seed, owns_divergence, run_ensemble, tangent_log_growth

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from ..base import SeedLike
    from ..estimators.base import Estimator
    from ..maps.base import Map
    from ..metrics import Metric
    from ..perturbers import Perturber

__all__ = ["EdgeOfStabilityStudy", "tangent_log_growth"]

PAPER_EPS = tuple(float(10.0 ** k) for k in range(-14, 0))


class EdgeOfStabilityStudy(SweepStudy):
    r"""Sensitive dependence on initial conditions of GD at the edge of stability.

    For each perturbation size :math:`\varepsilon`, ``n_init`` initial
    networks, each with ``n`` perturbed copies (connection weights only,
    :math:`U(-\varepsilon, \varepsilon)`), are trained together for
    ``n_steps`` steps at :math:`\eta = 1`. The finite network Lyapunov
    exponent of each initial condition is the slope of

    .. math:: \ln \langle d(t) \rangle_{\text{pert}}

    over its best-:math:`R^2` window (:class:`~dynnet.FiniteLyapunov`, the
    window search of the authors' scripts); fits with :math:`R^2 > 0.9` and
    :math:`\Lambda > 0.05` are kept, and :math:`\lambda_{nMLE}(\varepsilon)`
    is their mean.

    Beside it the study reports the :math:`\varepsilon \to 0` reference that
    holds for GD, the finite-time tangent-map exponent along the same
    reference orbits: one tangent vector per initial network,
    :math:`v_{t+1} = J(W_t)\,v_t` with :math:`J = I - \eta H(W_t)`
    (matrix-free, Hessian-vector products; renormalised every step), started
    along the network's first perturbation at the smallest :math:`\varepsilon`.
    Its exponent :math:`\Lambda^{\tan}_i` is the least-squares slope of
    :math:`\ln \lVert v_t \rVert` over the records of the same window
    :math:`[t_1, t_2)` that the fit chose at the smallest :math:`\varepsilon`,
    and ``tangent_exponent`` is its mean over the initial conditions kept
    there, the average :math:`\lambda_{nMLE}` takes. The window, not the whole
    run: at :math:`\eta = 1` an orbit first lingers or contracts and later
    settles near zero loss (limit cycles), so the whole-run rate mixes
    stretches the fit excludes and is not what :math:`\lambda_{nMLE}`
    estimates; on the same window the two differ only by the finite size of
    :math:`\varepsilon` and the average over perturbation directions.

    The whole-run rate is reported as well, as a check that needs no window:
    ``tangent_ftle``, the finite-time Lyapunov exponent
    :math:`\Lambda^{T}_i = \ln(\lVert v_T\rVert / \lVert v_0\rVert)/T` of
    every network, kept or not. A tangent vector never saturates, so where a
    finite perturbation reaches its plateau faster than the shortest window
    of the fit (30 steps by default) and the fit then finds only the slow
    drift after it (few fits kept, small :math:`\Lambda_i`), this exponent
    still shows the growth (digits at :math:`\eta = 1` is such a case: see
    the width, depth and activation answers of ``dynnet reproduce --beyond``,
    docs/beyond.rst).

    Parameters
    ----------
    map : Map or None, default None
        None: ``GradientDescentMap(eta=1.0)``.
    perturber : Perturber or None, default None
        None: ``UniformPerturber(n=5, on="weights")``. Its ``eps`` is replaced by
        each value of ``eps``.
        ``on="all"`` instead for a map without a ``"weights"`` group.
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
        The run's seed (initial networks from its child 0, perturbations as
        ``common_directions`` says); None draws fresh entropy, recorded in ``seed_``.
    every : int, default 1
        Record every ``every`` steps.
    common_directions : bool, default False
        False: each eps draws its own perturbations (initial condition ``i``
        at eps index ``k`` from ``stream(seed, 1, k, 1, i)``), as the paper's
        Fig. 4 caption states, so :math:`\lambda_{nMLE}` at different eps
        are independent estimates. True: every eps reuses
        ``stream(seed, 1, i)``, the same directions scaled (bitwise the
        behaviour of dynnet before this option).
    n_steps_long : int, default 2000
        The long horizon of Fig. 7: the first (up to) four networks and their
        copies at the eps nearest 1e-8 train this many steps, recorded at
        every step (sampling would hide the short-period oscillations), so the
        late-time loss and distances are seen; 0: none.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (eps, step, init, pert)``, ``loss`` and ``weight_norm``
        ``(step, init)``, and per eps the fit: ``exponent``, ``r2``, ``kept``
        ``(eps, init)``, ``window (eps, init, bound)``, ``mle``, ``mle_std``,
        ``kept_fraction``, ``pooled_mle`` ``(eps,)``, ``mle_ci (eps, bound)``;
        for a map with a Jacobian, ``tangent_log_norm (step, init)``
        (:math:`\ln \lVert v_t\rVert / \lVert v_0\rVert`, Euclidean norm),
        ``tangent_exponent (init)`` (the slope on the window of the smallest
        eps; NaN where that fit found no window), ``tangent_mle`` (its mean
        over the initial conditions kept at the smallest eps),
        ``tangent_mle_std`` and ``tangent_eps`` (that eps), and
        ``tangent_ftle (init)``, the whole run's finite-time exponent
        :math:`(\ln\lVert v_T\rVert - \ln\lVert v_0\rVert)/T` of every
        network (NaN for a diverged orbit), with its mean ``tangent_ftle_mean``
        and spread ``tangent_ftle_std`` over the networks.
    estimators_ : list
        The fitted estimators of each eps, in order (after run or refit).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.1, Figs. 7-8 (paper:
    :math:`\lambda_{nMLE} \approx 0.33`, about 90% of fits kept).
    """

    _quick_params = {"n_init": 40, "eps": (1e-12, 1e-8, 1e-4), "n_steps_long": 400}

    def __init__(self, map: Map | None = None, perturber: Perturber | None = None,
                 metric: Metric | None = None, eps: float | Sequence[float] = PAPER_EPS,
                 estimators: Sequence[Estimator] | None = None, n_init: int = 500, n_steps: int = 200,
                 seed: SeedLike = 0, every: int = 1, common_directions: bool = False,
                 n_steps_long: int = 2000) -> None:
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.eps = eps
        self.estimators = estimators
        self.n_init = n_init
        self.n_steps = n_steps
        self.seed = seed
        self.every = every
        self.common_directions = common_directions
        self.n_steps_long = n_steps_long

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

    def _fed_estimators(self):
        """Every estimator but the FiniteLyapunov of the study's own exponent, fitted per eps."""
        return self._split_estimators()[1]

    def _validate(self):
        super()._validate()
        self._split_estimators()
        records = int(self.n_steps) // int(self.every) + 1
        if records < 3:
            raise ValueError(f"{type(self).__name__}: n_steps={self.n_steps!r} with every={self.every!r} "
                             f"records {records} distances; the exponent fit needs at least 3 "
                             "(n_steps >= 2 * every)")

        check_int(self, "n_steps_long", self.n_steps_long, low=0)

    def _memory(self, ctx):
        out = super()._memory(ctx)
        m = self.parts()["map"]
        if m.has_jvp:
            n, dim = int(self.n_init), int(m.dim)
            rows = _n_rows(m)
            out["tangent-map pass"] = (8 * n * (6 * dim + 8 * rows * max(dim // 8, 1))
                                       + 8 * n * (int(self.n_steps) // int(self.every) + 1),
                                       "n_init")
        return out

    @owns_divergence
    def _compute(self, ctx):
        c = self.parts()
        m = c["map"]
        x0 = m.initial_state(int(self.n_init), seed=ctx.child_seed(0))
        ds = self._sweep(ctx, x0)
        if m.has_jvp:
            from ..base import as_seed_sequence

            eps = np.atleast_1d(np.asarray(self.eps, dtype=float))
            k = int(np.argmin(eps))
            # perturbation 0 of each network at the smallest eps, as the ensemble drew it
            seed = eps_seed(as_seed_sequence(ctx.seed), k, self._common_directions())
            p = clone(c["perturber"]).set_params(eps=float(eps[k]))
            v0 = np.stack([p.perturb(x0[i], map=m, seed=stream(seed, 1, i))[0] - x0[i]
                           for i in range(x0.shape[0])])  # set-up only
            logn = tangent_log_growth(m, x0, v0, int(self.n_steps), int(self.every))
            ds["tangent_log_norm"] = (("step", "init"), logn)
        if int(self.n_steps_long) > 0:
            ds = self._long_horizon(ctx, ds, x0)
        return ds

    def _long_horizon(self, ctx, ds, x0):
        """Fig. 7's late times: the first networks and their copies over ``n_steps_long`` steps."""
        from dataclasses import replace

        c = self.parts()
        eps = np.atleast_1d(np.asarray(self.eps, dtype=float))
        k = int(np.argmin(np.abs(np.log10(eps) + 8.0)))
        every = 1  # every step: sampling hides the short-period oscillations of Fig. 7
        n_long = int(self.n_steps_long)
        sel = x0[:min(4, x0.shape[0])]
        p = clone(c["perturber"]).set_params(eps=float(eps[k]))
        seed = eps_seed(ctx.seed, k, self._common_directions())
        dist, obs, _ = run_ensemble(c["map"], p, c["metric"], sel, seed, n_long, every,
                                    replace(ctx, progress=False), key="long")
        ds["long_distance"] = (("long_step", "long_init", "pert"), dist, {"long_eps": float(eps[k])})
        if "loss" in obs:
            ds["long_loss"] = (("long_step", "long_init"), obs["loss"])
        return ds.assign_coords(long_step=np.arange(dist.shape[0]) * every,
                                long_init=np.arange(sel.shape[0]))

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
        if "tangent_log_norm" in ds:
            self._tangent_exponent(ds, fitted)
        ds, more = self._fit_per_eps(ds, others)
        return ds, fitted + more

    @staticmethod
    def _tangent_exponent(ds, fitted):
        """The tangent-map exponent on the window of the smallest eps's fit, per init and mean."""
        k = int(np.argmin(ds["eps"].values))
        fl = fitted[k]
        steps = np.asarray(ds["step"].values, dtype=np.float64)
        logn = np.asarray(ds["tangent_log_norm"].values)
        win = np.asarray(fl.windows_, dtype=np.float64)
        eq3 = getattr(fl, "window", "best") == "eq3"
        lo = win[:, :1]
        inside = (steps[None, :] >= lo) & ((steps[None, :] <= win[:, 1:]) if eq3
                                          else (steps[None, :] < win[:, 1:]))
        inside &= np.all(np.isfinite(win), axis=1)[:, None]
        n = inside.sum(axis=1)
        t = np.where(inside, steps[None, :], 0.0)
        y = np.where(inside, logn.T, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            tm = t.sum(axis=1) / n
            ym = y.sum(axis=1) / n
            dt = np.where(inside, steps[None, :] - tm[:, None], 0.0)
            slope = (dt * (y - ym[:, None])).sum(axis=1) / (dt * dt).sum(axis=1)
        slope = np.where(n >= 2, slope, np.nan)
        kept = np.asarray(fl.kept_, dtype=bool) & np.isfinite(slope)
        ds["tangent_exponent"] = (("init",), slope)
        ds["tangent_mle"] = ((), float(slope[kept].mean()) if kept.any() else np.nan)
        ds["tangent_mle_std"] = ((), float(slope[kept].std(ddof=1)) if kept.sum() > 1 else np.nan)
        ds["tangent_eps"] = ((), float(ds["eps"].values[k]))
        # the whole run, every network: no window, no fit, no saturation
        span = steps[-1] - steps[0]
        ftle = (logn[-1] - logn[0]) / span if span > 0 else np.full(logn.shape[1], np.nan)
        live = np.isfinite(ftle)
        ds["tangent_ftle"] = (("init",), ftle)
        ds["tangent_ftle_mean"] = ((), float(ftle[live].mean()) if live.any() else np.nan)
        ds["tangent_ftle_std"] = ((), float(ftle[live].std(ddof=1)) if live.sum() > 1 else np.nan)

    def _summary(self, ds):
        """lambda_nMLE, its spread and interval, the kept fraction and the pooled exponent per
        eps; the tangent-map exponent (the eps -> 0 reference), its spread and the eps whose
        windows it used; and the final loss."""
        import xarray as xr

        out = xr.Dataset({f"finitelyapunov.{k}": ds[k] for k in
                          ("mle", "mle_std", "kept_fraction", "pooled_mle") if k in ds})
        if "mle_ci" in ds:
            out["finitelyapunov.mle_ci_low"] = ds["mle_ci"].isel(bound=0, drop=True)
            out["finitelyapunov.mle_ci_high"] = ds["mle_ci"].isel(bound=1, drop=True)
        if "tangent_mle" in ds:
            out["tangent_exponent"] = ds["tangent_mle"]
            out["tangent_exponent_std"] = ds["tangent_mle_std"]
            out["tangent_eps"] = ds["tangent_eps"]
        if "tangent_ftle_mean" in ds:
            out["tangent_ftle"] = ds["tangent_ftle_mean"]
            out["tangent_ftle_std"] = ds["tangent_ftle_std"]
        if "loss" in ds:
            out["final_loss_median"] = ((), float(np.nanmedian(ds["loss"].values[-1])))
        if "long_loss" in ds:
            out["long_final_loss_median"] = ((), float(np.nanmedian(ds["long_loss"].values[-1])))
            out["long_steps"] = ((), int(ds["long_step"].values[-1]))
        return out.merge(super()._summary(ds))

    def plot(self) -> list[Figure]:
        """Fig. 7 (four initial conditions x distance, zoom, late times, loss) and
        Fig. 8 (P(Lambda) and lambda_nMLE(eps)).

        Returns
        -------
        list of matplotlib.figure.Figure
            The two figures.
        """
        from ..plotting import edge_figure, edge_long_figure, lyapunov_eps_figure
        from ..plotting._common import perturbed_count

        self._check_run()
        c = self.parts()
        n = perturbed_count(c["map"], c["perturber"])  # Fig. 7 draws d(t) / (eps N)
        return [edge_figure(self.result_, n_perturbed=n), lyapunov_eps_figure(self.result_)] + (
            [edge_long_figure(self.result_, n_perturbed=n)] if "long_distance" in self.result_ else [])


def _n_rows(m) -> int:
    """Training samples of a map that trains on data (``data("train")``: GD, TorchMap...), for the
    memory estimate; 1 for a map without data."""
    data = getattr(m, "data", None)
    if not callable(data):
        return 1
    try:
        return int(data("train")[0].shape[0])
    except (AttributeError, TypeError, ValueError, IndexError):
        return 1
