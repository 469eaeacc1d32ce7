"""OrbitalStabilityStudy: GD at a low learning rate (paper section 3.1)."""

from __future__ import annotations

import numpy as np

from ..base import check_int
from ..perturbers import UniformPerturber
from ._sweep import SweepStudy, low_eta_parts

__all__ = ["OrbitalStabilityStudy"]

LOW_EPS = (1e-14, 1e-10, 1e-8, 1e-6, 1e-2)


class OrbitalStabilityStudy(SweepStudy):
    r"""Orbital stability of GD trajectories at a low learning rate.

    Around each of ``n_init`` initial networks, ``n`` perturbed copies
    (:math:`U(-\varepsilon, \varepsilon)` on the connection weights) train
    alongside the reference for ``n_steps`` steps at :math:`\eta = 0.01`; the
    study records :math:`d(t) = \sum_{ij} |w_{ij}(t) - w'_{ij}(t)|` for every
    copy and eps, the loss and :math:`\|W\|_1` of each reference, and after
    training the weight importance :math:`L_w / L` (each weight zeroed in
    turn) and the weight drift (displacement :math:`\Delta_w` against
    distance travelled :math:`D_w`).

    Parameters
    ----------
    map : Map, default GradientDescentMap(eta=0.01)
    perturber : Perturber, default UniformPerturber(n=20, on="weights")
    metric : Metric, default L1()
    eps : sequence of float, default (1e-14, 1e-10, 1e-8, 1e-6, 1e-2)
    n_init : int, default 10
    n_steps : int, default 5000
    seed : int, default 0
    every : int, default 5
        Record every ``every`` steps (the drift is computed from every step).
    chunk_size, n_jobs, progress, checkpoint, resume
        As for :class:`~dynnet.PerturbationStudy`.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (eps, step, init, pert)``, ``loss``, ``weight_norm``
        ``(step, init)``, ``importance (init, coord)`` (:math:`L_w/L`, NaN for
        biases), ``displacement``, ``travelled (init, coord)``,
        ``drift_slope (init)``, ``loss_monotone (init)``.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.1, Figs. 3-5.
    """

    _quick_params = {"n_init": 3, "n_steps": 400, "eps": (1e-10, 1e-6),
                     "perturber": UniformPerturber(n=5, on="weights")}

    def __init__(self, map=None, perturber=None, metric=None, eps=LOW_EPS, n_init=10,
                 n_steps=5000, seed=0, every=5, chunk_size=None, n_jobs=1, progress=False,
                 checkpoint=None, resume=False):
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.eps = eps
        self.n_init = n_init
        self.n_steps = n_steps
        self.seed = seed
        self.every = every
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.progress = progress
        self.checkpoint = checkpoint
        self.resume = resume

    _component_defaults = staticmethod(low_eta_parts)

    def run(self):
        """Run the eps sweep, then weight importance and drift of each reference; returns self."""
        self._check_saveable()
        from ..estimators.gd import WeightDrift, WeightImportance

        c = self._resolved()
        m = c["map"]
        n_steps = check_int(self, "n_steps", self.n_steps, low=1)
        ds = self._sweep(c, n_steps)
        x0 = ds["initial_state"].values
        n_init, dim = x0.shape
        importance = np.full((n_init, dim), np.nan)
        disp = np.full((n_init, dim), np.nan)
        trav = np.full((n_init, dim), np.nan)
        slope = np.full(n_init, np.nan)
        monotone = np.zeros(n_init, dtype=bool)
        traj = m.trajectory(x0, n_steps)  # every reference, every step: (T+1, n_init, dim)
        for i in range(n_init):  # per-network analyses of the finished orbits
            wi = WeightImportance().fit(m, traj[-1, i])
            importance[i] = wi.values_
            wd = WeightDrift().fit(traj[:, i], map=m)
            disp[i, wd.index_] = wd.displacement_
            trav[i, wd.index_] = wd.travelled_
            slope[i] = wd.slope_
            monotone[i] = bool(np.all(np.diff(m.loss(traj[:, i])) <= 0))
        ds["importance"] = (("init", "coord"), importance)
        ds["displacement"] = (("init", "coord"), disp)
        ds["travelled"] = (("init", "coord"), trav)
        ds["drift_slope"] = (("init",), slope)
        ds["loss_monotone"] = (("init",), monotone)  # checked at every step, not every record
        self.result_ = ds
        self._restore()
        self._done_checkpoint()
        return self

    def summary(self):
        self._check_run()
        ds = self.result_
        eps = ds["eps"].values
        d = ds["distance"].values
        norm = d[:, -1].mean(axis=(1, 2)) / d[:, 0].mean(axis=(1, 2))
        out = {
            "loss_monotone_fraction": float(ds["loss_monotone"].values.mean()),
            "final_loss_mean": float(ds["loss"].values[-1].mean()),
            "weight_norm_growth": float((ds["weight_norm"].values[-1] / ds["weight_norm"].values[0]).mean()),
            "drift_slope_mean": float(np.nanmean(ds["drift_slope"].values)),
        }
        for e, r in zip(eps, norm):
            out[f"d_final/d_0@{e:.0e}"] = float(r)
        return out

    def plot(self):
        """Fig. 3 (d(t), mean, loss per initial condition), Fig. 4 (eps panels, and
        d/(eps N) collapsed), Fig. 5 (weight importance heatmap; Delta_w vs D_w)."""
        from ..plotting import drift_figure, eps_panels_figure, orbital_figure

        self._check_run()
        parts = self._resolved()
        m = parts["map"]
        # N of d/(eps N): the number of coordinates the perturber moves (70 weights in the paper)
        on = getattr(parts.get("perturber"), "on", "weights")
        try:
            idx = np.asarray(m.coordinate_groups()[on] if isinstance(on, str) else on)
            n_perturbed = int(idx.sum()) if idx.dtype == bool else int(idx.size)
        except (KeyError, TypeError, ValueError):
            n_perturbed = 70
        return [orbital_figure(self.result_),
                eps_panels_figure(self.result_, n_perturbed=n_perturbed),
                drift_figure(self.result_, m)]
