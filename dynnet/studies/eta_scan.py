"""EtaScanStudy: the regimes of GD between eta = 0.01 and 10 (the paper's open question)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._summaries import classify_regime
from ..base import check_int, clone
from ..estimators import FiniteLyapunov, LaminarPhases, LyapunovSpectrum, Sharpness
from ..metrics import L1
from ..perturbers import UniformPerturber
from .base import Study
from .blocks import (
    check_parts,
    ensemble_memory,
    ensemble_variables,
    fit_estimators,
    owns_divergence,
    run_ensemble,
    sweep_fits,
    warn_divergence,
    weights_or_all,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from ..base import SeedLike
    from ..estimators.base import Estimator
    from ..maps.base import Map
    from ..metrics import Metric
    from ..perturbers import Perturber

__all__ = ["EtaScanStudy", "classify_regime"]

DEFAULT_ETAS = tuple(float(f"{v:.4g}") for v in np.logspace(-2, 1, 10))


class EtaScanStudy(Study):
    r"""A scan of the learning rate: where GD converges, becomes chaotic, intermittent.

    For each :math:`\eta` on a log grid the same ``n_init`` initial networks
    train ``n_steps`` steps with ``n`` perturbed copies each, and the study
    reports

    * the final loss and test accuracy of the references;
    * :math:`\lambda_{nMLE}` and the kept fraction (:class:`~dynnet.FiniteLyapunov`);
    * the top Lyapunov exponent of the GD map itself over the spectrum
      estimator's ``n_steps`` steps from the first initial network (QR iteration of
      :math:`J = I - \eta H`, :class:`~dynnet.LyapunovSpectrum`);
    * the sharpness :math:`\lambda_{max}(H)` along that orbit against
      :math:`2/\eta` (:class:`~dynnet.Sharpness`; Cohen et al. 2021);
    * the laminar fraction of the loss series (:class:`~dynnet.LaminarPhases`);
    * a regime label (:func:`classify_regime`).

    Parameters
    ----------
    etas : sequence of float, default 10 values log-spaced in [0.01, 10]
        The learning rates scanned (all > 0).
    map : Map or None, default None
        None: ``GradientDescentMap()``. Its ``eta`` is replaced by each value of ``etas``.
    perturber : Perturber or None, default None
        None: ``UniformPerturber(eps=1e-8, n=5, on="weights")``.
        ``on="all"`` instead for a map without a ``"weights"`` group.
    metric : Metric or None, default None
        None: ``L1()``.
    n_init : int, default 20
        Initial networks (the same for every eta).
    n_steps : int, default 1000
        Training steps at each eta.
    transient : int, default 200
        Steps skipped before looking for laminar phases.
    estimators : list of Estimator or None, default None
        None: ``[FiniteLyapunov(), LaminarPhases(),
        LyapunovSpectrum(n_steps=300, n_transient=0, n_exponents=1), Sharpness()]``,
        each used in its role above (a missing one gives NaN in its columns).
        Any other estimator is fitted on each eta's perturbation ensemble
        (``fit_result``; its needs must be met by ``distance``, ``diverged``,
        ``initial_state`` and the map's observables) and its numbers stored as
        ``<class>.<key> (eta)``.
    sharpness_every : int, default 25
        Sharpness is computed every ``sharpness_every`` steps along the orbit of
        the first initial network, over ``min(n_steps, 4 * spectrum steps)`` steps.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed (initial networks from its child 0, perturbations from
        ``stream(seed, 1, i)``); None draws fresh entropy, recorded in ``seed_``.

    Notes
    -----
    With ``run(checkpoint=...)`` the checkpoint holds the perturbation runs of
    each eta, the costly part.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 5 (open question);
    J. Cohen et al., "Gradient descent on neural networks typically occurs at
    the edge of stability", ICLR (2021).
    """

    _quick_params = {"etas": (0.01, 0.3, 1.0, 5.0), "n_init": 4, "n_steps": 300,
                     "transient": 100, "sharpness_every": 50,
                     "estimators": [FiniteLyapunov(), LaminarPhases(),
                                    LyapunovSpectrum(n_steps=40, n_transient=0, n_exponents=1), Sharpness()]}

    def __init__(self, etas: float | Sequence[float] = DEFAULT_ETAS, map: Map | None = None,
                 perturber: Perturber | None = None, metric: Metric | None = None, n_init: int = 20,
                 n_steps: int = 1000, transient: int = 200, estimators: Sequence[Estimator] | None = None,
                 sharpness_every: int = 25, seed: SeedLike = 0) -> None:
        self.etas = etas
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.n_init = n_init
        self.n_steps = n_steps
        self.transient = transient
        self.estimators = estimators
        self.sharpness_every = sharpness_every
        self.seed = seed

    @staticmethod
    def _part_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": GradientDescentMap,
                "perturber": lambda: UniformPerturber(eps=1e-8, n=5, on="weights"),
                "metric": L1,
                "estimators": lambda: [FiniteLyapunov(), LaminarPhases(),
                                       LyapunovSpectrum(n_steps=300, n_transient=0, n_exponents=1),
                                       Sharpness()]}

    def _etas(self):
        from .blocks import check_values

        if np.atleast_1d(np.asarray(self.etas, dtype=object)).size == 0:
            raise ValueError(f"{type(self).__name__}: parameter etas must hold at least one value")
        return check_values(self, "etas", self.etas)  # > 0, each once

    def _roles(self, ests=None):
        ests = self._estimator_list() if ests is None else ests
        roles = {}
        for name, cls in (("lyapunov", FiniteLyapunov), ("laminar", LaminarPhases),
                          ("spectrum", LyapunovSpectrum), ("sharpness", Sharpness)):
            roles[name] = next((e for e in ests if isinstance(e, cls)), None)
        return roles

    def _fed_estimators(self):
        """Every estimator but the first of each role (FiniteLyapunov, LaminarPhases,
        LyapunovSpectrum, Sharpness): fitted on each eta's ensemble (``fit_result``)."""
        ests = self._estimator_list()
        roles = [e for e in self._roles(ests).values() if e is not None]
        return [e for e in ests if not any(e is r for r in roles)]

    def _estimator_variables(self):
        """What one eta offers: its perturbation ensemble's records (:func:`ensemble_variables`)."""
        return ensemble_variables(self.parts()["map"])

    def parts(self) -> dict:
        """The parts; the default perturber perturbs every coordinate of a map without a
        ``"weights"`` group (:func:`~dynnet.studies.blocks.weights_or_all`).

        Returns
        -------
        dict
            The parts by name.
        """
        return weights_or_all(self, super().parts())

    def _validate(self):
        super()._validate()
        c = self.parts()
        etas = self._etas()
        if "eta" not in c["map"]._param_names():
            raise ValueError(f"{type(self).__name__}: the map {type(c['map']).__name__} has no eta "
                             "parameter to scan")
        check_parts(clone(c["map"]).set_params(eta=float(etas[0])), c["perturber"], c["metric"])
        check_int(self, "n_init", self.n_init, low=1)
        n_steps = check_int(self, "n_steps", self.n_steps, low=10)
        check_int(self, "transient", self.transient, low=0, high=n_steps - 10)
        check_int(self, "sharpness_every", self.sharpness_every, low=1, high=n_steps)
        check_int(c["perturber"], "n", c["perturber"].n, low=1)
        self._roles()

    def _tiny_params(self):
        return {"n_init": 1} if int(self.n_init) > 1 else {}

    def _memory(self, ctx):
        c = self.parts()
        m = c["map"]
        n_obs = len(m.observable_names())
        return ensemble_memory(int(self.n_init), int(c["perturber"].n), m.dim, int(self.n_steps) + 1,
                               n_obs, chunk=ctx.chunk_size, n_jobs=ctx.n_jobs)

    @owns_divergence
    def _compute(self, ctx):
        """One perturbation ensemble per eta, and the spectrum and sharpness of the first orbit."""
        import xarray as xr

        c = self.parts()
        roles = self._roles()
        etas = self._etas()
        n_init, n_steps = int(self.n_init), int(self.n_steps)
        transient, sh_every = int(self.transient), int(self.sharpness_every)
        rows = []
        iterator = etas
        if ctx.progress:
            from tqdm.auto import tqdm

            iterator = tqdm(etas, desc=type(self).__name__, unit="eta")
        from dataclasses import replace

        quiet = replace(ctx, progress=False)
        x0 = None
        diverged_all = []
        fed = self._fed_estimators()
        for k, eta in enumerate(iterator):
            m = clone(c["map"]).set_params(eta=float(eta))
            if x0 is None:
                x0 = m.initial_state(n_init, seed=ctx.child_seed(0))
            dist, obs, final = run_ensemble(m, c["perturber"], c["metric"], x0, ctx.seed, n_steps, 1,
                                            quiet, key=f"eta-{k:03d}")
            diverged = ~np.all(np.isfinite(final), axis=-1)
            diverged_all.append(diverged)
            ref = final[:, 0]
            ok = np.all(np.isfinite(ref), axis=1)
            loss = obs["loss"]
            row = {"final_loss": float(np.nanmedian(loss[-1])),
                   "test_accuracy": (float(np.nanmean(m.accuracy(ref[ok], split="test")))
                                     if ok.any() and hasattr(m, "accuracy") else np.nan),
                   "diverged_fraction": float(diverged.mean())}
            row.update(_lyapunov_columns(roles["lyapunov"], dist))
            lf = []
            if roles["laminar"] is not None:
                lf = [clone(roles["laminar"]).fit(loss[transient:, i]).laminar_fraction_
                      for i in range(n_init) if np.all(np.isfinite(loss[transient:, i]))]
            row["laminar_fraction"] = float(np.mean(lf)) if lf else np.nan
            spec_steps = 300
            if roles["spectrum"] is not None:
                spec = clone(roles["spectrum"]).fit(x0[0], map=m)
                row["top_exponent"] = float(spec.exponents_[0])
                spec_steps = int(roles["spectrum"].n_steps)
            else:
                row["top_exponent"] = np.nan
            if roles["sharpness"] is not None:
                n_orbit = max(sh_every, (min(n_steps, spec_steps * 4) // sh_every) * sh_every)
                orbit = m.trajectory(x0[0], n_orbit, every=sh_every)
                orbit = orbit[np.all(np.isfinite(orbit), axis=1)]
                sh = np.asarray(clone(roles["sharpness"]).fit(orbit, map=m).sharpness_, dtype=float)
                row.update(sharpness_max=float(np.nanmax(sh)), sharpness_final=float(sh[-1]),
                           sharpness_ratio=float(np.nanmax(sh) * eta / 2.0))
            else:
                row.update(sharpness_max=np.nan, sharpness_final=np.nan, sharpness_ratio=np.nan)
            if fed:
                row.update(_fed_numbers(fed, m, x0, dist, obs, diverged))
            row["regime"] = classify_regime(row["diverged_fraction"], np.nan_to_num(row["laminar_fraction"]),
                                            np.nan_to_num(row["kept_fraction"]), np.nan_to_num(row["mle"]),
                                            np.nan_to_num(row["sharpness_ratio"]))
            rows.append(row)
        warn_divergence(self, np.stack(diverged_all))
        data = {k: (("eta",), np.array([row[k] for row in rows])) for k in rows[0] if k != "regime"}
        data["regime"] = (("eta",), np.array([row["regime"] for row in rows], dtype=str))
        return xr.Dataset(data, coords={"eta": etas})

    def _summary(self, ds):
        """Every column of the scan against eta (the regime, losses, exponents, sharpness)."""
        import xarray as xr

        keys = ("regime", "final_loss", "test_accuracy", "mle", "kept_fraction", "top_exponent",
                "sharpness_ratio", "laminar_fraction", "diverged_fraction")
        return xr.Dataset({k: ds[k] for k in keys + tuple(k for k in ds.data_vars if "." in k) if k in ds})

    def plot(self) -> list[Figure]:
        """The phase diagram: every quantity against eta, regimes shaded.

        Returns
        -------
        list of matplotlib.figure.Figure
            One figure.
        """
        from ..plotting.eta_scan import phase_diagram_figure

        self._check_run()
        return [phase_diagram_figure(self.result_)]


def _fed_numbers(ests, m, x0, dist, obs, diverged):
    """The fed estimators' numbers ``<key>.<number>`` on one eta's ensemble (``fit_result``)."""
    import xarray as xr

    data = {"distance": (("step", "init", "pert"), dist), "diverged": (("init", "member"), diverged),
            "initial_state": (("init", "coord"), x0)}
    data.update({k: (("step", "init"), v) for k, v in obs.items()})
    ds = xr.Dataset(data, coords={"step": np.arange(dist.shape[0]), "init": np.arange(x0.shape[0])})
    with sweep_fits():
        return fit_estimators(None, ests, ds, m)[1]


def _lyapunov_columns(fl, dist):
    """lambda_nMLE, its spread, the kept fraction and the pooled exponent of one eta."""
    if fl is None:
        return {"mle": np.nan, "mle_std": np.nan, "kept_fraction": np.nan, "pooled_mle": np.nan}
    with sweep_fits():
        f = clone(fl).fit(dist, steps=np.arange(dist.shape[0]))
    return {"mle": f.mle_, "mle_std": f.mle_std_, "kept_fraction": f.kept_fraction_,
            "pooled_mle": f.pooled_mle_}
