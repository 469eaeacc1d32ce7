"""PerturbationStudy: ensembles of nearby orbits and their distances."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import check_int
from ..maps.base import Map, check_every
from ..metrics import L1
from ..perturbers import UniformPerturber
from .base import Study
from .blocks import check_parts, ensemble_memory, fit_estimators, run_ensemble, warn_divergence

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from ..base import SeedLike
    from ..estimators.base import Estimator
    from ..metrics import Metric
    from ..perturbers import Perturber

__all__ = ["PerturbationStudy"]


def _mean_log(d):
    """Mean of ln d over finite, positive distances (merged orbits have d = 0)."""
    d = np.asarray(d, dtype=float)
    ok = np.isfinite(d) & (d > 0)
    return float(np.log(d[ok]).mean()) if ok.any() else float("nan")


class PerturbationStudy(Study):
    r"""Nearby orbits of a map and their distances over time.

    For each of ``n_init`` initial conditions :math:`W_i(0)` the perturber
    makes ``n`` copies :math:`W'_{ij}(0)`; reference and copies are iterated
    together, and the study records

    .. math:: d_{ij}(t) = d\big(W_i(t), W'_{ij}(t)\big)

    at :math:`t = 0, k, 2k, \dots` (``every = k``), together with the map's
    observables (for :class:`~dynnet.GradientDescentMap`: the loss and
    :math:`\|W\|_1`) of each reference orbit. It streams: only what it
    records is kept, never every state.

    Parameters
    ----------
    map : Map or None, default None
        The dynamical system; None: ``GradientDescentMap(eta=1.0)``.
    perturber : Perturber or None, default None
        Makes the copies of each initial condition; None:
        ``UniformPerturber(eps=1e-8, n=5, on="weights")`` (``on="all"`` for a map
        without a ``"weights"`` group).
    metric : Metric or None, default None
        The distance :math:`d`; None: ``L1()``.
    estimators : list of Estimator, default ()
        Each is cloned and fitted on the result (``fit_result``) after the run;
        its summary numbers go into ``result_`` and :meth:`summary` as
        ``<class name, lower case>.<key>`` (e.g. ``finitelyapunov.mle``).
    n_init : int, default 50
        Number of initial conditions.
    n_steps : int, default 200
        Steps of every orbit.
    seed : int, SeedSequence, Generator or None, default 0
        Initial condition ``i`` is drawn from ``stream(seed, 0, i)`` and its
        perturbations from ``stream(seed, 1, i)``, so results do not depend on
        chunking or on the number of workers.
    initial_states : array (n_init, dim) or None, default None
        None: ``map.initial_state`` draws them from ``seed``.
    every : int, default 1
        Record every ``every`` steps.

    Notes
    -----
    Run settings (jobs, progress, checkpoint, resume, chunk size) are the
    arguments of :meth:`Study.run`; they never change a number.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (step, init, pert)``, one ``(step, init)`` variable per
        observable, ``initial_state`` and ``final_state (init, member, coord)``,
        ``diverged (init, member)``.
    estimators_ : list of fitted estimators
    seed_ : numpy.random.SeedSequence

    References
    ----------
    Danovski, Soriano & Lacasa (2024), sections 2-4.
    """

    _quick_params = {"n_init": 8, "n_steps": 60}
    _records = {"distance": (("step", "init", "pert"), "f"), "initial_state": (("init", "coord"), "f"),
                "final_state": (("init", "member", "coord"), "f"), "diverged": (("init", "member"), "b")}

    def __init__(self, map: Map | None = None, perturber: Perturber | None = None,
                 metric: Metric | None = None, estimators: Sequence[Estimator] | None = (),
                 n_init: int = 50, n_steps: int = 200, seed: SeedLike = 0,
                 initial_states: ArrayLike | None = None, every: int = 1) -> None:
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.estimators = estimators
        self.n_init = n_init
        self.n_steps = n_steps
        self.seed = seed
        self.initial_states = initial_states
        self.every = every

    @staticmethod
    def _part_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": GradientDescentMap, "perturber": UniformPerturber, "metric": L1}

    def parts(self) -> dict:
        """The parts; the default perturber perturbs all coordinates of a map without weights.

        Returns
        -------
        dict
            ``map``, ``perturber``, ``metric``.
        """
        c = super().parts()
        m = c["map"]
        if self.perturber is None and isinstance(m, Map) and "weights" not in m.coordinate_groups():
            c["perturber"] = UniformPerturber(on="all")  # default: the weights, where a map has them
        return c

    def _validate(self):
        super()._validate()
        c = self.parts()
        check_parts(c["map"], c["perturber"], c["metric"])
        n_init = check_int(self, "n_init", self.n_init, low=1)
        check_every(self, check_int(self, "n_steps", self.n_steps, low=0), self.every)
        check_int(c["perturber"], "n", c["perturber"].n, low=1)
        if self.initial_states is not None:
            x = c["map"].check_states(self.initial_states, name="initial_states", finite=True)
            if x.shape[0] != n_init:
                raise ValueError(
                    f"{type(self).__name__}: initial_states has {x.shape[0]} rows but n_init={n_init}"
                )

    def _estimator_variables(self):
        """The records (``_records``) and the map's observables ``(step, init)``."""
        return set(self._records) | set(self.parts()["map"].observable_names())

    def _tiny_params(self):
        out = super()._tiny_params()
        if self.initial_states is not None:
            out["initial_states"] = np.asarray(self.initial_states)[:out.get("n_init", self.n_init)]
        return out

    def _memory(self, ctx):
        c = self.parts()
        n_obs = len(c["map"].observable_names())
        return ensemble_memory(int(self.n_init), int(c["perturber"].n), c["map"].dim,
                               int(self.n_steps) // int(self.every) + 1, n_obs,
                               chunk=ctx.chunk_size, n_jobs=ctx.n_jobs)

    def _compute(self, ctx):
        import xarray as xr

        c = self.parts()
        m, p, d = c["map"], c["perturber"], c["metric"]
        n_steps, every = int(self.n_steps), int(self.every)
        if self.initial_states is None:
            x0 = m.initial_state(int(self.n_init), seed=ctx.child_seed(0))
        else:
            x0 = m.check_states(self.initial_states, name="initial_states", finite=True)
        dist, obs, final = run_ensemble(m, p, d, x0, ctx.seed, n_steps, every, ctx,
                                        desc=type(self).__name__)
        diverged = ~np.all(np.isfinite(final), axis=-1)
        warn_divergence(self, diverged)
        data = {
            "distance": (("step", "init", "pert"), dist),
            "initial_state": (("init", "coord"), x0),
            "final_state": (("init", "member", "coord"), final),
            "diverged": (("init", "member"), diverged),
        }
        data.update({k: (("step", "init"), v) for k, v in obs.items()})
        ds = xr.Dataset(data, coords={"step": np.arange(dist.shape[0]) * every,
                                      "init": np.arange(dist.shape[1]), "pert": np.arange(dist.shape[2]),
                                      "member": np.arange(final.shape[1])})
        ds["distance"].attrs["description"] = "distance of each perturbed orbit to its reference"
        return ds

    def _analyse(self, ds):
        fitted, numbers = fit_estimators(self, self._fed_estimators(), ds, self.parts()["map"])
        for k, v in numbers.items():
            ds[k] = ((), v)
        return ds, fitted

    def _summary(self, ds):
        import xarray as xr

        out = {
            "n_init": int(ds.sizes["init"]),
            "n_pert": int(ds.sizes["pert"]),
            "n_steps": int(ds["step"].values[-1]),
            "diverged_fraction": float(ds["diverged"].values.mean()),
            "final_mean_log_distance": _mean_log(ds["distance"].values[-1]),
        }
        if "loss" in ds:
            out["final_loss_mean"] = float(np.nanmean(ds["loss"].values[-1]))
        summary = xr.Dataset({k: ((), v) for k, v in out.items()})
        return summary.merge(super()._summary(ds))

    def plot(self) -> list[Figure]:
        """The mean distance of several initial conditions with their fits, and P(Lambda).

        Returns
        -------
        list of matplotlib.figure.Figure
            One figure: the mean distance of several initial conditions with their fitted
            lines, and P(Lambda) of the kept fits (see
            :func:`dynnet.plotting.perturbation_figure`).
        """
        from ..estimators import FiniteLyapunov
        from ..plotting import perturbation_figure

        self._check_run()
        fl = next((e for e in getattr(self, "estimators_", []) if isinstance(e, FiniteLyapunov)), None)
        if fl is None:
            return [perturbation_figure(self.result_)]
        return [perturbation_figure(self.result_, exponents=fl.exponents_, windows=fl.windows_,
                                    kept=fl.kept_)]
