"""LearningWindowStudy: lambda_nMLE and time-to-accuracy against eta (the paper's Supplementary S2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import check_int, check_scalar, clone
from ..estimators import FiniteLyapunov
from ..maps.base import check_every
from ..metrics import L1
from ..perturbers import UniformPerturber
from .base import Study
from .blocks import (
    check_parts,
    default_chunk,
    ensemble_memory,
    fit_estimators,
    map_over_inits,
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

__all__ = ["LearningWindowStudy", "locate_window", "time_to_accuracy"]

DEFAULT_ETAS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def locate_window(etas: np.ndarray, mle: np.ndarray, kept_fraction: np.ndarray,
                  diverged_fraction: np.ndarray, median_time: np.ndarray, *, min_kept: float = 0.5,
                  lambda_min: float = 0.05, fast_factor: float = 1.5) -> dict:
    r"""The learning rates with sensitive dependence, the fastest learners, and their overlap.

    Applied to the per-:math:`\eta` columns of a :class:`LearningWindowStudy`:

    * *sensitive* :math:`\eta`: at least ``min_kept`` of the initial networks
      have a kept finite-Lyapunov fit, their mean
      :math:`\lambda_{nMLE} >` ``lambda_min``, and at most half of the orbits
      diverged (the "chaotic" rule of :func:`dynnet.studies.eta_scan.classify_regime`);
    * the *fastest* :math:`\eta`: the smallest median time-to-accuracy
      :math:`T(\eta)` (ties: the smaller :math:`\eta`); *fast* :math:`\eta`:
      :math:`T(\eta) \le` ``fast_factor`` :math:`\cdot \min_\eta T`;
    * the *window*: the :math:`\eta` both sensitive and fast, from its
      smallest to its largest member.

    Parameters
    ----------
    etas : ndarray, shape (K,)
        Learning rates, increasing.
    mle : ndarray, shape (K,)
        :math:`\lambda_{nMLE}` per :math:`\eta` (NaN: no fit kept).
    kept_fraction : ndarray, shape (K,)
        Fraction of initial networks whose fit was kept.
    diverged_fraction : ndarray, shape (K,)
        Fraction of orbits that overflowed.
    median_time : ndarray, shape (K,)
        Median steps to reach the accuracy threshold (``inf``: the median
        network never reached it).
    min_kept : float, default 0.5
        Smallest kept fraction of a sensitive :math:`\eta`.
    lambda_min : float, default 0.05
        :math:`\lambda_{nMLE}` must exceed it.
    fast_factor : float, default 1.5
        Tolerance on the time-to-accuracy of a fast :math:`\eta` (>= 1).

    Returns
    -------
    dict
        ``sensitive``, ``fast``, ``in_window`` (bool arrays of shape (K,));
        ``fastest_eta``, ``sensitive_low``, ``sensitive_high``,
        ``window_low``, ``window_high`` (floats, NaN when the set is empty);
        ``fastest_is_sensitive`` (bool).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 5 and Supplementary S2.
    """
    etas = np.asarray(etas, dtype=float)
    mle = np.nan_to_num(np.asarray(mle, dtype=float), nan=-np.inf)
    kept = np.nan_to_num(np.asarray(kept_fraction, dtype=float))
    div = np.asarray(diverged_fraction, dtype=float)
    t = np.asarray(median_time, dtype=float)
    sensitive = (kept >= min_kept) & (mle > lambda_min) & (div <= 0.5)
    finite = np.isfinite(t)
    fast = np.zeros(etas.size, dtype=bool)
    fastest = np.nan
    if finite.any():
        best = np.min(t[finite])
        fast = finite & (t <= fast_factor * best)
        fastest = float(etas[np.flatnonzero(finite & (t == best))[0]])
    in_window = sensitive & fast

    def span(mask):
        return (float(etas[mask].min()), float(etas[mask].max())) if mask.any() else (np.nan, np.nan)

    s_lo, s_hi = span(sensitive)
    w_lo, w_hi = span(in_window)
    fastest_is_sensitive = bool(np.isfinite(fastest) and sensitive[etas == fastest].any())
    return {"sensitive": sensitive, "fast": fast, "in_window": in_window, "fastest_eta": fastest,
            "sensitive_low": s_lo, "sensitive_high": s_hi, "window_low": w_lo, "window_high": w_hi,
            "fastest_is_sensitive": fastest_is_sensitive}


def time_to_accuracy(accuracy: np.ndarray, steps: np.ndarray, threshold: float) -> np.ndarray:
    r"""The first recorded step at which each accuracy series reaches a threshold.

    .. math::

        T = \min\{t_r : a(t_r) \ge a^*\},

    :math:`+\infty` when no record reaches it. A NaN record (a diverged
    network) never reaches it.

    Parameters
    ----------
    accuracy : ndarray, shape (..., R, n)
        Accuracy records along axis ``-2`` (R records of n series).
    steps : ndarray, shape (R,)
        The step of each record.
    threshold : float
        The accuracy :math:`a^*` to reach.

    Returns
    -------
    ndarray of float64, shape (..., n)
        :math:`T` of each series, in steps (``inf``: never reached).
    """
    acc = np.asarray(accuracy, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.float64)
    reached = np.nan_to_num(acc, nan=-np.inf) >= float(threshold)
    first = np.argmax(reached, axis=-2)
    return np.where(reached.any(axis=-2), steps[first], np.inf)


def _train_chunk(map, x0, n_steps, every):
    """Train the references ``x0`` for ``n_steps``; test accuracy and loss every ``every`` steps.

    A pure function of its arguments (each row evolves on its own), so the
    result of a row does not depend on the chunk it is in.
    """
    n_rec = n_steps // every + 1
    acc = np.empty((n_rec, x0.shape[0]))
    loss = np.empty((n_rec, x0.shape[0]))
    x = np.array(x0, dtype=np.float64)
    for r in range(n_rec):
        if r:
            x = map.iterate(x, every)
        acc[r] = map.accuracy(x, split="test")
        loss[r] = map.loss(x)
    return {"acc": acc.T, "loss": loss.T, "final": x}


class LearningWindowStudy(Study):
    r"""Sensitive dependence and speed of learning against the learning rate (Supplementary S2).

    The paper's Supplementary S2 reports that on MNIST, as on Iris, there is a
    range of learning rates where the training trajectories show sensitive
    dependence on initial conditions (:math:`\lambda_{nMLE} > 0`) and learning
    is fastest: "a region of optimal exploration-exploitation tradeoff". This
    study measures both on a common grid of :math:`\eta`, from the same
    ``n_init`` initial networks at every :math:`\eta`:

    * :math:`\lambda_{nMLE}(\eta)`: each initial network gets ``n`` perturbed
      copies at distance :math:`\epsilon` (the perturber), all trained
      ``lyapunov_steps`` steps; :class:`~dynnet.FiniteLyapunov` fits the
      finite exponent :math:`\Lambda_i` of each network's mean distance curve
      (paper Eq. 3, the best window) and averages the kept ones;
    * the time-to-accuracy :math:`T_i(\eta)`: the first step
      :math:`t \in \{0, k, 2k, \dots\}` (``k = accuracy_every``) at which the
      test accuracy of reference network :math:`i`, trained ``n_steps``
      steps, reaches ``threshold``,

      .. math::

          T_i(\eta) = \min\{t : \mathrm{acc}_\mathrm{test}(W_i(t)) \ge a^*\},

      and :math:`+\infty` when it never does within ``n_steps`` (a diverged
      network never does); :math:`T(\eta)` is the median over :math:`i`;
    * the window (:func:`locate_window`): the :math:`\eta` with positive
      :math:`\lambda_{nMLE}` that learn within ``fast_factor`` of the fastest
      :math:`\eta`, and whether the fastest :math:`\eta` itself is sensitive.

    Parameters
    ----------
    etas : sequence of float, default (0.3, 1, 3, 10, 30, 100)
        The learning rates, > 0, strictly increasing.
    map : Map or None, default None
        None: ``GradientDescentMap(dataset="mnist1d", hidden=(32,), test_size=1000)``
        (MNIST-1D generated offline: 4000 training and 1000 test samples of a
        seeded split; needs ``pip install "dynnet[mnist1d]"``). Any map with
        an ``eta`` parameter and an ``accuracy(states, split="test")`` method;
        its ``eta`` is replaced by each value of ``etas``. For MNIST itself:
        ``GradientDescentMap(dataset="mnist", scale=True, n_samples=...)``.
    perturber : Perturber or None, default None
        None: ``UniformPerturber(eps=1e-8, n=5, on="weights")`` (the paper's Fig. 8).
        ``on="all"`` instead for a map without a ``"weights"`` group.
    metric : Metric or None, default None
        None: ``L1()``.
    n_init : int, default 20
        Initial networks (the same at every :math:`\eta`).
    n_steps : int, default 2000
        Training steps of each reference network (the horizon of the
        time-to-accuracy).
    lyapunov_steps : int, default 300
        Steps of the perturbation runs (the distances saturate well before:
        at :math:`\Lambda \approx 0.3`, :math:`\epsilon = 10^{-8}` grows to
        O(1) in about 60 steps).
    threshold : float, default 0.5
        Test accuracy :math:`a^*` that counts as learnt, in (0, 1].
    accuracy_every : int, default 10
        Steps between test-accuracy records (the resolution of
        :math:`T`); must divide ``n_steps``.
    fast_factor : float, default 1.5
        An :math:`\eta` is fast when its :math:`T(\eta)` is at most this
        factor times the smallest (>= 1).
    min_kept : float, default 0.5
        Kept fraction of finite-Lyapunov fits needed to call an :math:`\eta`
        sensitive, in [0, 1].
    estimators : list of Estimator or None, default None
        None: ``[FiniteLyapunov()]``; a list holding one FiniteLyapunov (its
        ``lambda_min`` is also the :math:`\lambda_{nMLE}` bar of the window).
        Any other estimator is fitted on each eta's perturbation ensemble
        (``fit_result`` on ``distance (step, init, pert)``, ``initial_state``
        and ``diverged``) and its numbers stored as ``<class>.<key> (eta)``.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed: initial networks from its child 0, perturbations of
        network ``i`` from ``stream(seed, 1, i)``; None draws fresh entropy,
        recorded in ``seed_``.

    Notes
    -----
    ``result_`` holds, along ``eta``: ``distance (eta, lstep, init, pert)``,
    ``test_accuracy`` and ``train_loss (eta, step, init)``, ``time_to_accuracy
    (eta, init)``, ``diverged (eta, init)``, then the derived columns
    ``mle``, ``mle_std``, ``kept_fraction``, ``exponent (eta, init)``,
    ``kept (eta, init)``, ``median_time``, ``reached_fraction``,
    ``final_test_accuracy``, ``diverged_fraction``, ``sensitive``, ``fast``,
    ``in_window`` and the scalars of :func:`locate_window`.

    Cost: ``len(etas) * n_init * ((1 + n) * lyapunov_steps + n_steps)``
    orbit-steps. With ``run(checkpoint=...)`` both the perturbation runs and
    the training runs of each :math:`\eta` are checkpointed.

    The supplement's own numbers are not in the paper's text; this study
    answers its question (is the window of sensitive dependence also the
    window of fastest learning?) with dynnet's estimators.

    References
    ----------
    M. Danovski, M. C. Soriano, L. Lacasa, "Dynamical stability and chaos in
    artificial neural network trajectories along training", Front. Complex
    Syst. 2:1367957 (2024), section 5 and Supplementary S2.
    S. Greydanus, D. Kobak, "Scaling down deep learning with MNIST-1D",
    ICML (2024).
    """

    _quick_params = {"etas": (0.1, 1.0, 5.0), "map": None, "n_init": 3, "n_steps": 200,
                     "lyapunov_steps": 120, "threshold": 0.8, "accuracy_every": 10,
                     "perturber": UniformPerturber(eps=1e-8, n=3, on="weights"),
                     "estimators": [FiniteLyapunov(n_boot=0)]}

    def __init__(self, etas: float | Sequence[float] = DEFAULT_ETAS, map: Map | None = None,
                 perturber: Perturber | None = None, metric: Metric | None = None, n_init: int = 20,
                 n_steps: int = 2000, lyapunov_steps: int = 300, threshold: float = 0.5,
                 accuracy_every: int = 10, fast_factor: float = 1.5, min_kept: float = 0.5,
                 estimators: Sequence[Estimator] | None = None, seed: SeedLike = 0) -> None:
        self.etas = etas
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.n_init = n_init
        self.n_steps = n_steps
        self.lyapunov_steps = lyapunov_steps
        self.threshold = threshold
        self.accuracy_every = accuracy_every
        self.fast_factor = fast_factor
        self.min_kept = min_kept
        self.estimators = estimators
        self.seed = seed

    @classmethod
    def quick(cls, **overrides) -> LearningWindowStudy:
        """A small, fast preset: Iris, three learning rates, three networks (a few seconds).

        ``etas=(0.1, 1, 5)``, ``n_init=3``, ``n_steps=200``, ``lyapunov_steps=120``,
        ``threshold=0.8``, 3 perturbations of size 1e-8, the map
        ``GradientDescentMap(dataset="iris")``.

        Parameters
        ----------
        **overrides
            Parameters to set on top of the preset.

        Returns
        -------
        LearningWindowStudy
        """
        from ..maps.gd import GradientDescentMap

        params = {"map": GradientDescentMap(dataset="iris")}
        params.update(overrides)
        return super().quick(**params)

    @staticmethod
    def _part_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": lambda: GradientDescentMap(dataset="mnist1d", hidden=(32,), test_size=1000),
                "perturber": lambda: UniformPerturber(eps=1e-8, n=5, on="weights"),
                "metric": L1,
                "estimators": lambda: [FiniteLyapunov()]}

    # ---- parameters -------------------------------------------------------------------
    def _etas(self) -> np.ndarray:
        etas = np.atleast_1d(np.asarray(self.etas, dtype=object))
        if etas.ndim != 1 or etas.size == 0:
            raise ValueError(f"{type(self).__name__}: parameter etas={self.etas!r} must hold at least "
                             "one learning rate")
        out = np.array([check_scalar(self, "etas", e, low=0.0, low_open=True) for e in etas])
        if np.unique(out).size != out.size:
            raise ValueError(f"{type(self).__name__}: parameter etas={tuple(out.tolist())} repeats a value; "
                             "give each value once")
        if np.any(np.diff(out) <= 0):
            raise ValueError(f"{type(self).__name__}: parameter etas={tuple(out.tolist())} must be "
                             "strictly increasing")
        return out

    def _lyapunov(self, ests=None) -> FiniteLyapunov:
        ests = self._estimator_list() if ests is None else ests
        fl = [e for e in ests if isinstance(e, FiniteLyapunov)]
        if len(fl) != 1:
            raise ValueError(
                f"{type(self).__name__}: parameter estimators must hold exactly one FiniteLyapunov, "
                f"got {[type(e).__name__ for e in ests]}"
            )
        return fl[0]

    def _fed_estimators(self):
        """Every estimator but the FiniteLyapunov of the window: fitted on each eta's ensemble."""
        ests = self._estimator_list()
        fl = self._lyapunov(ests)
        return [e for e in ests if e is not fl]

    def _estimator_variables(self):
        """What one eta offers: its ensemble's ``distance (step, init, pert)`` (``step`` the
        ensemble's ``lstep``), ``initial_state`` and ``diverged``."""
        return {"distance", "initial_state", "diverged"}

    def _fit_fed(self, ds):
        """The fed estimators on each eta's ensemble: ``<key>.<number> (eta)`` in ``ds``; the fits."""
        import xarray as xr

        fed = self._fed_estimators()
        if not fed:
            return []
        fitted, rows = [], []
        m = self.parts()["map"]
        for k, eta in enumerate(ds["eta"].values):
            sub = xr.Dataset({"distance": (("step", "init", "pert"), ds["distance"].values[k]),
                              "initial_state": (("init", "coord"), ds["initial_state"].values),
                              "diverged": (("init",), ds["diverged"].values[k])},
                             coords={"step": ds["lstep"].values, "init": ds["init"].values})
            with sweep_fits():
                f, numbers = fit_estimators(None, fed, sub, clone(m).set_params(eta=float(eta)))
            fitted += f
            rows.append(numbers)
        for key in rows[0]:
            ds[key] = xr.Variable(("eta",), np.array([r[key] for r in rows]))
        return fitted

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
        m = c["map"]
        if "eta" not in m._param_names():
            raise ValueError(f"{type(self).__name__}: the map {type(m).__name__} has no eta parameter "
                             "to scan")
        if not callable(getattr(m, "accuracy", None)):
            raise ValueError(f"{type(self).__name__}: the map {type(m).__name__} has no "
                             "accuracy(states, split='test') method: the time-to-accuracy needs one")
        check_parts(clone(m).set_params(eta=float(etas[0])), c["perturber"], c["metric"])
        check_int(self, "n_init", self.n_init, low=1)
        n_steps = check_int(self, "n_steps", self.n_steps, low=1)
        check_int(self, "lyapunov_steps", self.lyapunov_steps, low=2)
        check_every(self, n_steps, check_int(self, "accuracy_every", self.accuracy_every, low=1))
        check_scalar(self, "threshold", self.threshold, low=0.0, high=1.0, low_open=True)
        check_scalar(self, "fast_factor", self.fast_factor, low=1.0)
        check_scalar(self, "min_kept", self.min_kept, low=0.0, high=1.0)
        check_int(c["perturber"], "n", c["perturber"].n, low=1)
        self._lyapunov()

    def _tiny_params(self):
        etas = np.atleast_1d(np.asarray(self.etas, dtype=object))
        out = {"n_init": 1, "etas": tuple(etas[:1].tolist())}
        every = self.accuracy_every
        if isinstance(every, (int, np.integer)) and isinstance(self.n_steps, (int, np.integer)):
            out["n_steps"] = int(min(int(self.n_steps), 2 * int(every)))
        if isinstance(self.lyapunov_steps, (int, np.integer)) and not isinstance(self.lyapunov_steps, bool):
            # the preflight checks the pipeline in a second, whatever the run's length (the default's 300)
            out["lyapunov_steps"] = int(min(int(self.lyapunov_steps), 300))
        return out

    def _memory(self, ctx):
        c = self.parts()
        m = c["map"]
        n_obs = len(m.observable_names())
        n_etas = np.atleast_1d(np.asarray(self.etas, dtype=object)).size
        n_init = int(self.n_init)
        out = ensemble_memory(n_init, int(c["perturber"].n), m.dim, int(self.lyapunov_steps) + 1, n_obs,
                              n_runs=n_etas, chunk=ctx.chunk_size, n_jobs=ctx.n_jobs,
                              steps="lyapunov_steps")
        n_rec = int(self.n_steps) // int(self.accuracy_every) + 1
        out["accuracy and loss records"] = (16 * n_rec * n_init * n_etas, "n_steps or accuracy_every")
        return out

    # ---- the run ----------------------------------------------------------------------
    @owns_divergence
    def _compute(self, ctx):
        """Per eta: the perturbation ensemble (distances) and the training runs (test accuracy)."""
        import xarray as xr

        c = self.parts()
        etas = self._etas()
        n_init, n_steps = int(self.n_init), int(self.n_steps)
        l_steps, every = int(self.lyapunov_steps), int(self.accuracy_every)
        threshold = float(self.threshold)
        from dataclasses import replace

        quiet = replace(ctx, progress=False)
        iterator = etas
        if ctx.progress:
            from tqdm.auto import tqdm

            iterator = tqdm(etas, desc=type(self).__name__, unit="eta")
        x0 = None
        dists, accs, losses, divs = [], [], [], []
        for k, eta in enumerate(iterator):
            m = clone(c["map"]).set_params(eta=float(eta))
            if x0 is None:
                x0 = m.initial_state(n_init, seed=ctx.child_seed(0))
            dist, _, final = run_ensemble(m, c["perturber"], c["metric"], x0, ctx.seed, l_steps, 1,
                                          quiet, key=f"eta-{k:03d}")
            acc, loss, last = self._train(m, x0, n_steps, every, quiet, f"train-{k:03d}")
            dists.append(dist)
            accs.append(acc)
            losses.append(loss)
            divs.append(~np.all(np.isfinite(final), axis=(1, 2)) | ~np.all(np.isfinite(last), axis=1))
        diverged = np.stack(divs)
        warn_divergence(self, diverged)
        acc = np.stack(accs)
        steps = np.arange(acc.shape[1]) * every
        tta = time_to_accuracy(acc, steps, threshold)  # (eta, init)
        data = {"distance": (("eta", "lstep", "init", "pert"), np.stack(dists)),
                "test_accuracy": (("eta", "step", "init"), acc),
                "train_loss": (("eta", "step", "init"), np.stack(losses)),
                "time_to_accuracy": (("eta", "init"), tta),
                "diverged": (("eta", "init"), diverged),
                "initial_state": (("init", "coord"), x0)}
        return xr.Dataset(data, coords={"eta": etas, "step": steps, "lstep": np.arange(l_steps + 1),
                                        "init": np.arange(n_init), "pert": np.arange(dists[0].shape[2])})

    @staticmethod
    def _train(m, x0, n_steps, every, ctx, key):
        """The training runs of one eta, in chunks (parallel, checkpointed):
        ``acc, loss (R, n_init)`` and the final states ``(n_init, dim)``."""
        n_init, dim = x0.shape
        chunk = ctx.chunk_size or default_chunk(0, dim, n_steps // every + 1, ctx.memory_budget,
                                                ctx.n_jobs)
        rows = map_over_inits(_train_chunk, lambda idx: (m, x0[idx], n_steps, every), n_init, ctx, key,
                              chunk, progress=False)
        return np.ascontiguousarray(rows["acc"].T), np.ascontiguousarray(rows["loss"].T), rows["final"]

    def _analyse(self, ds):
        """Fit lambda_nMLE per eta, summarise the times to accuracy, locate the window."""
        import xarray as xr

        fl = self._lyapunov()
        n_eta = ds.sizes["eta"]
        fitted, cols = [], {k: [] for k in ("mle", "mle_std", "kept_fraction")}
        exps, kept = [], []
        lsteps = ds["lstep"].values
        for k in range(n_eta):
            with sweep_fits():
                f = clone(fl).fit(ds["distance"].values[k], steps=lsteps)
            fitted.append(f)
            cols["mle"].append(f.mle_)
            cols["mle_std"].append(f.mle_std_)
            cols["kept_fraction"].append(f.kept_fraction_)
            exps.append(np.asarray(f.exponents_, dtype=float))
            kept.append(np.asarray(f.kept_, dtype=bool))
        for name, v in cols.items():
            ds[name] = xr.Variable(("eta",), np.asarray(v, dtype=float))
        ds["exponent"] = xr.Variable(("eta", "init"), np.stack(exps))
        ds["kept"] = xr.Variable(("eta", "init"), np.stack(kept))
        tta = ds["time_to_accuracy"].values
        ds["median_time"] = xr.Variable(("eta",), np.median(tta, axis=1))
        ds["reached_fraction"] = xr.Variable(("eta",), np.mean(np.isfinite(tta), axis=1))
        acc = ds["test_accuracy"].values
        with np.errstate(all="ignore"):
            final_acc = np.array([np.nanmedian(a) if np.isfinite(a).any() else np.nan for a in acc[:, -1]])
        ds["final_test_accuracy"] = xr.Variable(("eta",), final_acc)
        ds["diverged_fraction"] = xr.Variable(("eta",), ds["diverged"].values.mean(axis=1))
        w = locate_window(ds["eta"].values, ds["mle"].values, ds["kept_fraction"].values,
                          ds["diverged_fraction"].values, ds["median_time"].values,
                          min_kept=float(self.min_kept), lambda_min=float(fl.lambda_min),
                          fast_factor=float(self.fast_factor))
        for name in ("sensitive", "fast", "in_window"):
            ds[name] = xr.Variable(("eta",), w[name])
        for name in ("fastest_eta", "sensitive_low", "sensitive_high", "window_low", "window_high"):
            ds[name] = xr.Variable((), float(w[name]))
        ds["fastest_is_sensitive"] = xr.Variable((), bool(w["fastest_is_sensitive"]))
        ds["threshold"] = xr.Variable((), float(self.threshold))
        fitted += self._fit_fed(ds)
        return ds, fitted

    def _summary(self, ds):
        """The per-eta table (lambda_nMLE, time-to-accuracy...) and the window's location."""
        import xarray as xr

        keys = ("mle", "mle_std", "kept_fraction", "median_time", "reached_fraction",
                "final_test_accuracy", "diverged_fraction", "sensitive", "fast", "in_window",
                "fastest_eta", "sensitive_low", "sensitive_high", "window_low", "window_high",
                "fastest_is_sensitive", "threshold")
        return xr.Dataset({k: ds[k] for k in keys + tuple(k for k in ds.data_vars if "." in k) if k in ds})

    def plot(self) -> list[Figure]:
        """The window figure (lambda_nMLE and time-to-accuracy against eta) and the accuracy curves.

        Returns
        -------
        list of matplotlib.figure.Figure
            :func:`~dynnet.plotting.learning_window.learning_window_figure` and
            :func:`~dynnet.plotting.learning_window.accuracy_curves_figure`.
        """
        from ..plotting.learning_window import accuracy_curves_figure, learning_window_figure

        self._check_run()
        return [learning_window_figure(self.result_), accuracy_curves_figure(self.result_)]
