"""OrbitalStabilityStudy: GD at a low learning rate (paper section 3.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import clone
from ..maps.base import Map
from ..perturbers import UniformPerturber
from .blocks import SweepStudy, low_eta_parts, owns_divergence

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from ..base import SeedLike
    from ..estimators.base import Estimator
    from ..maps.base import Map
    from ..metrics import Metric
    from ..perturbers import Perturber

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
    map : Map or None, default None
        None: ``GradientDescentMap(eta=0.01)``.
    perturber : Perturber or None, default None
        None: ``UniformPerturber(n=20, on="weights")``; its ``eps`` is replaced by
        each value of ``eps``.
        ``on="all"`` instead for a map without a ``"weights"`` group.
    metric : Metric or None, default None
        None: ``L1()``.
    eps : sequence of float, default (1e-14, 1e-10, 1e-8, 1e-6, 1e-2)
        Perturbation sizes; one ensemble per value.
    n_init : int, default 10
        Initial networks (the same for every eps).
    n_steps : int, default 5000
        Training steps.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed (initial networks from its child 0, perturbations from
        its streams as ``common_directions`` says); None draws fresh entropy,
        recorded in ``seed_``.
    every : int, default 5
        Record every ``every`` steps (the drift is computed from every step).
    estimators : list of Estimator or None, default None
        None: ``[WeightImportance(), WeightDrift()]``, fitted on each trained
        reference network (importance at the end, drift along the whole orbit);
        both with ``on="all"`` for a map without a ``"weights"`` group.
        Any other estimator is fitted on each eps (``fit_result``) and its
        numbers stored as ``<class>.<key> (eps)``.
    common_directions : bool, default False
        False: each eps draws its own perturbations (initial condition ``i`` at
        eps index ``k`` from ``stream(seed, 1, k, 1, i)``), as the paper's
        Fig. 4 caption states, so the agreement of the curves across eps is a
        finding, not a construction. True: every eps reuses
        ``stream(seed, 1, i)``, the same directions scaled (bitwise the
        behaviour of dynnet before this option).

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (eps, step, init, pert)``, ``loss``, ``weight_norm``
        ``(step, init)``, ``importance (init, coord)`` (:math:`L_w/L`, NaN for
        biases), ``displacement``, ``travelled (init, coord)``,
        ``straightness (init, coord)`` (:math:`r_w = |w(T) - w(0)| / D_w`,
        1 for a weight that moves in one direction; NaN for biases and for
        weights that never moved), ``drift_slope (init)``, ``n_moved``,
        ``n_straight`` (:math:`r_w >` the estimator's ``straight_min``),
        ``n_frozen`` (:math:`D_w = 0`) ``(init)``, ``loss_monotone (init)``.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.1, Figs. 3-5.
    """

    _quick_params = {"n_init": 3, "n_steps": 400, "eps": (1e-10, 1e-6),
                     "perturber": UniformPerturber(n=5, on="weights")}

    def __init__(self, map: Map | None = None, perturber: Perturber | None = None,
                 metric: Metric | None = None, eps: float | Sequence[float] = LOW_EPS, n_init: int = 10,
                 n_steps: int = 5000, seed: SeedLike = 0, every: int = 5,
                 estimators: Sequence[Estimator] | None = None, common_directions: bool = False) -> None:
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.eps = eps
        self.n_init = n_init
        self.n_steps = n_steps
        self.seed = seed
        self.every = every
        self.estimators = estimators
        self.common_directions = common_directions

    @staticmethod
    def _part_defaults():
        from ..estimators.gd import WeightDrift, WeightImportance

        return {**low_eta_parts(), "estimators": lambda: [WeightImportance(), WeightDrift()]}

    def parts(self) -> dict:
        """The parts; for a map without a ``"weights"`` group the default perturber and the
        default WeightImportance and WeightDrift use every coordinate (``on="all"``).

        Returns
        -------
        dict
            ``map``, ``perturber``, ``metric``, ``estimators``.
        """
        c = super().parts()
        m = c["map"]
        if self.estimators is None and isinstance(m, Map) and "weights" not in m.coordinate_groups():
            c["estimators"] = [clone(e).set_params(on="all") for e in c["estimators"]]
        return c

    def _validate(self):
        super()._validate()
        from ..base import check_int
        from ..estimators.gd import WeightDrift, WeightImportance

        m = self.parts()["map"]
        groups = m.coordinate_groups()
        for est in self._estimator_list():
            if not isinstance(est, (WeightImportance, WeightDrift)):
                continue
            if isinstance(est.on, str) and est.on not in groups:
                raise ValueError(f"{type(self).__name__}: {type(est).__name__}(on={est.on!r}) names a "
                                 f"coordinate group {type(m).__name__} does not have (it has "
                                 f"{sorted(groups)})")
            has_loss = callable(getattr(m, "loss", None)) or "loss" in m.observable_names()
            if isinstance(est, WeightImportance) and not has_loss:
                raise ValueError(f"{type(self).__name__}: WeightImportance needs a map with loss(states) "
                                 f"or a 'loss' observable; {type(m).__name__} has neither")

        check_int(self, "n_steps", self.n_steps, low=1)

    def _fed_estimators(self):
        """Every estimator but WeightImportance and WeightDrift (the per-network analyses), per eps."""
        from ..estimators.gd import WeightDrift, WeightImportance

        return [e for e in self._estimator_list() if not isinstance(e, (WeightImportance, WeightDrift))]

    @owns_divergence
    def _compute(self, ctx):
        """The eps sweep, and every reference orbit at every step for the per-network analyses."""
        m = self.parts()["map"]
        x0 = m.initial_state(int(self.n_init), seed=ctx.child_seed(0))
        ds = self._sweep(ctx, x0)
        traj = m.trajectory(x0, int(self.n_steps))  # (T+1, n_init, dim): the drift needs every step
        losses = _losses(m, traj.reshape(-1, traj.shape[-1])).reshape(traj.shape[:2])
        ds["loss_monotone"] = (("init",), np.all(np.diff(losses, axis=0) <= 0, axis=0))
        ds["final_reference"] = (("init", "coord"), traj[-1])
        self._orbits = traj  # kept for _analyse of this run only (never saved)
        return ds

    def _analyse(self, ds):
        """Weight importance and drift of each reference; other estimators per eps."""
        from ..estimators.gd import WeightDrift, WeightImportance

        m = self.parts()["map"]
        ests = self._estimator_list()
        wi = [e for e in ests if isinstance(e, WeightImportance)]
        wd = [e for e in ests if isinstance(e, WeightDrift)]
        others = self._fed_estimators()
        traj = self.__dict__.pop("_orbits", None)
        if traj is None and wd:  # refit after load: the orbits are not in the file; integrate again
            traj = m.trajectory(ds["initial_state"].values, int(self.n_steps))
        n_init, dim = ds["initial_state"].shape
        fitted = []
        # a diverged network (NaN from its overflow on, flagged in `reference_diverged`) has NaN analyses
        alive = np.all(np.isfinite(ds["final_reference"].values), axis=1)
        ds["reference_diverged"] = (("init",), ~alive)
        if wi:
            importance = np.full((n_init, dim), np.nan)
            for i in np.flatnonzero(alive):  # per-network analysis of each finished orbit
                f = clone(wi[0]).fit(ds["final_reference"].values[i], map=m)
                importance[i] = f.values_
                fitted.append(f)
            ds["importance"] = (("init", "coord"), importance)
        if wd:
            disp = np.full((n_init, dim), np.nan)
            trav = np.full((n_init, dim), np.nan)
            straight = np.full((n_init, dim), np.nan)
            slope = np.full(n_init, np.nan)
            counts = {k: np.zeros(n_init, dtype=np.int64) for k in ("moved", "straight", "frozen")}
            for i in np.flatnonzero(alive):
                f = clone(wd[0]).fit(traj[:, i], map=m)
                disp[i, f.index_] = f.displacement_
                trav[i, f.index_] = f.travelled_
                straight[i, f.index_] = f.straightness_
                slope[i] = f.slope_
                r = f.straightness_[np.isfinite(f.straightness_)]
                counts["moved"][i] = r.size
                counts["straight"][i] = int((r > float(f.straight_min)).sum())
                counts["frozen"][i] = f.n_frozen_
                fitted.append(f)
            ds["displacement"] = (("init", "coord"), disp)
            ds["travelled"] = (("init", "coord"), trav)
            ds["straightness"] = (("init", "coord"), straight)
            ds["drift_slope"] = (("init",), slope)
            ds["n_moved"] = (("init",), counts["moved"])
            ds["n_straight"] = (("init",), counts["straight"])
            ds["n_frozen"] = (("init",), counts["frozen"])
            ds["n_straight"].attrs["straight_min"] = float(wd[0].straight_min)
        ds = _classification_metrics(ds, m)
        ds, more = self._fit_per_eps(ds, others)
        return ds, fitted + more

    def _summary(self, ds):
        """Monotone-loss fraction, final loss, growth of ||W||_1, drift slope, straightness
        (median r_w, fraction above straight_min, weights moved and frozen) and d(T)/d(0) per eps."""
        import xarray as xr

        d = ds["distance"].values
        if "weight_norm" in ds:
            w_first, w_last = ds["weight_norm"].values[0], ds["weight_norm"].values[-1]
        else:  # a map without a weights group or that observable: ||W||_1 of the whole state
            w_first = np.abs(ds["initial_state"].values).sum(axis=1)
            w_last = np.abs(ds["final_reference"].values).sum(axis=1)
        cols = {"loss_monotone_fraction": ((), float(ds["loss_monotone"].values.mean()))}
        if "loss" in ds:
            cols["final_loss_mean"] = ((), float(ds["loss"].values[-1].mean()))
        cols["weight_norm_growth"] = ((), float((w_last / w_first).mean()))
        cols["d_final_over_d_0"] = (("eps",), d[:, -1].mean(axis=(1, 2)) / d[:, 0].mean(axis=(1, 2)))
        out = xr.Dataset(cols, coords={"eps": ds["eps"].values})
        if "drift_slope" in ds:
            out["drift_slope_mean"] = ((), float(np.nanmean(ds["drift_slope"].values)))
        if "straightness" in ds:
            r = ds["straightness"].values
            r = r[np.isfinite(r)]
            n_moved = int(ds["n_moved"].values.sum())
            out["straightness_median"] = ((), float(np.median(r)) if r.size else np.nan)
            out["fraction_straight"] = ((), float(ds["n_straight"].values.sum()) / n_moved
                                        if n_moved else np.nan)
            out["n_moved"] = ((), n_moved)
            out["n_frozen"] = ((), int(ds["n_frozen"].values.sum()))
        for key in ("train_accuracy", "test_accuracy", "train_loss", "test_loss"):
            if key in ds:  # the paper's Supplementary S1
                out[f"{key}_mean"] = ((), float(np.nanmean(ds[key].values)))
        return out.merge(super()._summary(ds))

    def plot(self) -> list[Figure]:
        """Fig. 3 (d(t), mean, loss per initial condition), Fig. 4 (eps panels, and
        d/(eps N) collapsed), Fig. 5 (weight importance heatmap; Delta_w vs D_w).

        Returns
        -------
        list of matplotlib.figure.Figure
            The three figures.
        """
        from ..plotting import dataset_figure, drift_figure, eps_panels_figure, orbital_figure

        self._check_run()
        parts = self.parts()
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
                drift_figure(self.result_, m.coordinate_groups(), sizes=getattr(m, "sizes", None))] + (
                    [dataset_figure(self.result_)] if "sample_features" in self.result_ else [])


def _losses(m, states):
    """The training loss of each state: the map's ``loss`` where it has one, else its ``"loss"``
    observable (a map that records one), else NaN."""
    loss = getattr(m, "loss", None)
    if callable(loss):
        return np.asarray(loss(states), dtype=float)
    obs = m.observables(states)
    if "loss" in obs:
        return np.asarray(obs["loss"], dtype=float)
    return np.full(states.shape[0], np.nan)


def _classification_metrics(ds, m):
    """The paper's Supplementary S1 and Fig. 2 data for a classification map (one with
    ``predict``, ``accuracy`` and ``data``): train and test accuracy and loss of each trained
    reference, every sample's features, class and split, and each network's predictions."""
    if not all(hasattr(m, k) for k in ("predict", "accuracy", "data", "loss")):
        return ds
    W = ds["final_reference"].values
    X_tr, y_tr = m.data("train")
    X_te, y_te = m.data("test")
    ds["train_accuracy"] = (("init",), m.accuracy(W, split="train"))
    ds["train_loss"] = (("init",), m.loss(W))
    if X_te.shape[0]:
        ds["test_accuracy"] = (("init",), m.accuracy(W, split="test"))
        ds["test_loss"] = (("init",), m.loss(W, split="test"))
    pred = [m.predict(W, split="train")] + ([m.predict(W, split="test")] if X_te.shape[0] else [])
    ds["sample_features"] = (("sample", "feature"), np.concatenate([X_tr, X_te], axis=0))
    ds["sample_class"] = (("sample",), np.concatenate([y_tr, y_te]).astype(np.int64))
    ds["sample_split"] = (("sample",), np.concatenate([np.zeros(y_tr.size, np.int64),
                                                       np.ones(y_te.size, np.int64)]))
    ds["predicted_class"] = (("init", "sample"), np.concatenate(pred, axis=1))
    return ds
