"""SharpeningStudy: the sharpness along training against 2/eta, beside lambda_nMLE (beyond the paper)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from .._summaries import sharpening_summary
from ..base import check_int, clone
from ..estimators import FiniteLyapunov, Sharpness
from ..maps.base import DivergenceWarning
from ..metrics import L1
from ..perturbers import UniformPerturber
from .base import Study
from .blocks import (
    check_parts,
    check_values,
    ensemble_memory,
    ensemble_variables,
    ensembles_over,
    fit_over,
    map_over_inits,
    reference_accuracies,
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
    from .base import RunContext

__all__ = ["SharpeningStudy", "sharpening_summary", "sharpness_along"]

DEFAULT_ETAS = (0.1, 0.25, 0.5, 0.75, 1.0, 2.0)


def _sharpness_chunk(map, est, x0, n_steps, every):
    """Sharpness of each orbit of ``x0`` at ``t = 0, every, ..., n_steps``: ``(n, R)``.

    A pure function of its arguments: each orbit's states go to the estimator
    as one batch of its own, so a result does not depend on the chunk it is in.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # the study warns once, for the run
        traj = map.trajectory(x0, n_steps, every=every)  # (R, n, dim)
    return {"sharpness": np.stack([np.asarray(clone(est).fit(traj[:, j], map=map).sharpness_,
                                              dtype=np.float64) for j in range(x0.shape[0])])}


def sharpness_along(map: Map, estimator: Sharpness, x0: np.ndarray, n_steps: int, every: int,
                    ctx: RunContext, key: str = "sharpness") -> np.ndarray:
    r"""The sharpness :math:`S(W_t) = \lambda_{\max}(\nabla^2 L(W_t))` along each orbit of ``x0``.

    Parameters
    ----------
    map : Map
        A map with ``hvp`` or ``hessian`` (a :class:`~dynnet.GradientDescentMap`).
    estimator : Sharpness
        The estimator (cloned for each orbit).
    x0 : numpy.ndarray, shape (n_init, dim)
        Initial conditions.
    n_steps, every : int
        Records at :math:`t = 0, k, 2k, \dots, n` (``k = every`` divides ``n = n_steps``).
    ctx : RunContext
        Jobs (chunks of orbits in parallel), chunk size, checkpoint.
    key : str, default "sharpness"
        The name of this part in the checkpoint.

    Returns
    -------
    numpy.ndarray, shape (R, n_init)
        NaN for a non-finite (diverged) state.
    """
    n_init = x0.shape[0]
    chunk = ctx.chunk_size or max(1, -(-n_init // max(1, ctx.n_jobs)))
    rows = map_over_inits(_sharpness_chunk, lambda idx: (map, estimator, x0[idx], n_steps, every), n_init,
                          ctx, key, chunk, progress=False)
    return np.ascontiguousarray(rows["sharpness"].T)


class SharpeningStudy(Study):
    r"""Progressive sharpening and the edge of stability of Cohen et al., beside :math:`\lambda_{nMLE}`.

    For each learning rate :math:`\eta` the same ``n_init`` initial networks
    train ``n_steps`` steps of full-batch gradient descent, each with ``n``
    perturbed copies. From the same runs the study records

    * the sharpness, the top eigenvalue of the Hessian of the loss, every
      ``sharpness_every`` steps along each reference orbit
      (:class:`~dynnet.Sharpness`),

      .. math:: S(t) = \lambda_{\max}\big(\nabla^2 L(W_t)\big),

      against the stability threshold :math:`2/\eta` of gradient descent on a
      quadratic (the step :math:`W \mapsto W - \eta \nabla L` is stable along
      the top eigendirection iff :math:`S < 2/\eta`). Cohen et al. (2021)
      found that full-batch GD first *sharpens* (:math:`S` grows) until
      :math:`S \approx 2/\eta`, then hovers there while the loss still falls
      non-monotonically: their "edge of stability";
    * the finite network Lyapunov exponent :math:`\lambda_{nMLE}` of the same
      initial networks (:class:`~dynnet.FiniteLyapunov` on the distances
      :math:`d_{ij}(t)` between each reference and its copies), the paper's
      sign of sensitive dependence, which it finds positive at its "edge of
      stability" :math:`\eta = 1`.

    Together they ask whether the two meanings of "edge of stability" meet:
    does :math:`S` reach :math:`2/\eta` at the learning rate where
    :math:`\lambda_{nMLE}` turns positive?

    Parameters
    ----------
    etas : sequence of float, default (0.1, 0.25, 0.5, 0.75, 1.0, 2.0)
        The learning rates (all > 0). On the paper's network the sharpness at
        initialisation is already about 2 to 6, so :math:`2/\eta` is above it
        only for :math:`\eta \lesssim 0.5`: the grid holds two such values
        (where progressive sharpening can be seen), the onset of a positive
        :math:`\lambda_{nMLE}` (0.5 to 0.6 by the half-kept rule, depending on
        the networks drawn) and the paper's :math:`\eta = 1`.
    map : Map or None, default None
        None: ``GradientDescentMap()`` (the paper's network on Iris). Its
        ``eta`` is replaced by each value of ``etas``; it needs ``hvp`` or
        ``hessian`` for the sharpness.
    perturber : Perturber or None, default None
        None: ``UniformPerturber(eps=1e-8, n=5, on="weights")``.
        ``on="all"`` instead for a map without a ``"weights"`` group.
    metric : Metric or None, default None
        None: ``L1()``, the paper's distance.
    n_init : int, default 20
        Initial networks, the same for every eta.
    n_steps : int, default 1000
        Training steps at each eta.
    sharpness_every : int, default 10
        Steps between sharpness records (a divisor of ``n_steps``).
    estimators : list of Estimator or None, default None
        None: ``[FiniteLyapunov(), Sharpness(method="lanczos")]``. Exactly one
        :class:`~dynnet.Sharpness` (the sharpness records); every other
        estimator is fitted on the perturbation records of each eta
        (``fit_result``) and its numbers stored as ``<class>.<key> (eta)``;
        :math:`\lambda_{nMLE}` is ``finitelyapunov.mle``. The default Sharpness
        uses Lanczos iteration on Hessian-vector products: on the 83-parameter
        network it agrees with the dense eigenvalue to about 1e-14 and is
        about ten times faster.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed: initial networks from its child 0, the perturbations
        of initial network ``i`` from ``stream(seed, 1, i)`` at every eta (the
        same perturbed networks at each eta). None draws fresh entropy,
        recorded in ``seed_``.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``sharpness (eta, sharpness_step, init)``, ``threshold (eta)``
        (:math:`2/\eta`), ``distance (eta, step, init, pert)``, ``loss`` and
        ``weight_norm (eta, step, init)``, ``diverged (eta, init, member)``,
        ``test_accuracy (eta, init)``, ``initial_state (init, coord)``, the
        estimators' numbers ``<class>.<key> (eta)`` and, with a
        FiniteLyapunov, ``exponent`` and ``kept (eta, init)``.
    estimators_ : list of Estimator
        The non-Sharpness estimators fitted at each eta, eta by eta.

    See Also
    --------
    EtaScanStudy : the regimes of GD over a wider eta range (sharpness along one orbit).

    Notes
    -----
    The sharpness orbits are the reference orbits of the perturbation runs
    (the same initial networks and map), integrated again with their states
    stored every ``sharpness_every`` steps, orbit by orbit. With
    ``run(checkpoint=...)`` both parts are checkpointed per eta.

    References
    ----------
    J. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient descent on
    neural networks typically occurs at the edge of stability", ICLR (2021).
    M. Danovski, M. C. Soriano, L. Lacasa, "Dynamical stability and chaos in
    artificial neural network trajectories along training", Front. Complex
    Syst. 2:1367957 (2024), section 4.1.
    """

    _quick_params = {"etas": (0.25, 1.0), "n_init": 3, "n_steps": 200, "sharpness_every": 20,
                     "perturber": UniformPerturber(eps=1e-8, n=3, on="weights")}

    def __init__(self, etas: float | Sequence[float] = DEFAULT_ETAS, map: Map | None = None,
                 perturber: Perturber | None = None, metric: Metric | None = None, n_init: int = 20,
                 n_steps: int = 1000, sharpness_every: int = 10,
                 estimators: Sequence[Estimator] | None = None, seed: SeedLike = 0) -> None:
        self.etas = etas
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.n_init = n_init
        self.n_steps = n_steps
        self.sharpness_every = sharpness_every
        self.estimators = estimators
        self.seed = seed

    @staticmethod
    def _part_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": GradientDescentMap,
                "perturber": lambda: UniformPerturber(eps=1e-8, n=5, on="weights"),
                "metric": L1,
                "estimators": lambda: [FiniteLyapunov(), Sharpness(method="lanczos")]}

    def _etas(self) -> np.ndarray:
        return check_values(self, "etas", self.etas)

    def _split_estimators(self):
        ests = self._estimator_list()
        sharp = [e for e in ests if isinstance(e, Sharpness)]
        if len(sharp) != 1:
            raise ValueError(f"{type(self).__name__}: estimators must hold exactly one Sharpness (the "
                             f"sharpness records), got {[type(e).__name__ for e in ests]}")
        return sharp[0], [e for e in ests if not isinstance(e, Sharpness)]

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
                             "parameter to vary")
        if not {"hvp", "hessian"} & c["map"].capabilities():
            raise TypeError(f"{type(self).__name__}: the map {type(c['map']).__name__} has neither "
                            "hvp(states, V) nor hessian(state); the sharpness needs one of them")
        check_parts(clone(c["map"]).set_params(eta=float(etas[0])), c["perturber"], c["metric"])
        check_int(self, "n_init", self.n_init, low=1)
        n_steps = check_int(self, "n_steps", self.n_steps, low=3)
        every = check_int(self, "sharpness_every", self.sharpness_every, low=1, high=n_steps)
        if n_steps % every:
            raise ValueError(f"{type(self).__name__}: parameter sharpness_every={every} must divide "
                             f"n_steps={n_steps}, so that the last record is the end of training")
        check_int(c["perturber"], "n", c["perturber"].n, low=1)
        self._split_estimators()

    def _tiny_params(self):
        out = {}
        if int(self.n_init) > 1:
            out["n_init"] = 1
        if np.atleast_1d(np.asarray(self.etas, dtype=object)).size > 1:
            out["etas"] = (self._etas()[0],)
        return out

    def _memory(self, ctx):
        c = self.parts()
        m = c["map"]
        n_obs = len(m.observable_names())
        n_init, n_steps = int(self.n_init), int(self.n_steps)
        n_eta = self._etas().size
        out = ensemble_memory(n_init, int(c["perturber"].n), m.dim, n_steps + 1, n_obs, n_runs=n_eta,
                              chunk=ctx.chunk_size, n_jobs=ctx.n_jobs)
        n_rec = n_steps // int(self.sharpness_every) + 1
        chunk = min(n_init, ctx.chunk_size or n_init)
        out["stored sharpness orbits"] = (8 * n_rec * chunk * m.dim * 2,
                                          "sharpness_every (larger), chunk_size or n_init")
        return out

    def _fed_estimators(self):
        """Every estimator but the Sharpness along the orbits (the study's own), fitted per eta."""
        return self._split_estimators()[1]

    def _estimator_variables(self):
        """What one eta offers: the ensemble's records, the sharpness and its threshold, the accuracy."""
        return ensemble_variables(self.parts()["map"]) | {"sharpness", "threshold", "test_accuracy"}

    def _compute(self, ctx):
        """The perturbation ensemble of each eta and the sharpness along its reference orbits."""
        import xarray as xr

        c = self.parts()
        sharp, _ = self._split_estimators()
        etas = self._etas()
        n_init, n_steps, every = int(self.n_init), int(self.n_steps), int(self.sharpness_every)
        base = clone(c["map"]).set_params(eta=float(etas[0]))
        x0 = base.initial_state(n_init, seed=ctx.child_seed(0))
        runs = ensembles_over(self, ctx, c["map"], "eta", etas, c["perturber"], c["metric"], x0, n_steps)
        quiet = replace(ctx, progress=False)
        sharpness = np.stack([sharpness_along(m, sharp, x0, n_steps, every, quiet, key=f"sharpness-{k:03d}")
                              for k, m in enumerate(runs["maps"])])
        data = {"sharpness": (("eta", "sharpness_step", "init"), sharpness),
                "threshold": (("eta",), 2.0 / etas),
                "distance": (("eta", "step", "init", "pert"), runs["distance"]),
                "diverged": (("eta", "init", "member"), runs["diverged"]),
                "initial_state": (("init", "coord"), x0)}
        data.update({k: (("eta", "step", "init"), v) for k, v in runs["observables"].items()})
        data["test_accuracy"] = (("eta", "init"), reference_accuracies(runs["maps"], runs["final_reference"]))
        return xr.Dataset(data, coords={"eta": etas, "step": np.arange(n_steps + 1),
                                        "sharpness_step": np.arange(0, n_steps + 1, every),
                                        "init": np.arange(n_init)})

    def _analyse(self, ds):
        """The non-Sharpness estimators (FiniteLyapunov by default) fitted at each eta."""
        others = self._fed_estimators()
        maps = [clone(self.parts()["map"]).set_params(eta=float(e)) for e in ds["eta"].values]
        return fit_over(ds, "eta", others, maps)

    def _summary(self, ds):
        r"""Per eta: the sharpness (initial, max, final, late) and its ratio to :math:`2/\eta`, the
        step and fraction of networks reaching :math:`2/\eta`, :math:`\lambda_{nMLE}`; and the scalars
        that compare the two edges (``lambda_onset_eta``, ``onset_max_ratio``, ...)."""
        import xarray as xr

        return xr.Dataset(sharpening_summary(ds)).merge(super()._summary(ds))

    def plot(self) -> list[Figure]:
        """Sharpness against step per eta with the 2/eta lines; lambda_nMLE and the
        sharpness ratio against eta.

        Returns
        -------
        list of matplotlib.figure.Figure
            The two figures.
        """
        from ..plotting.sharpening import sharpening_eta_figure, sharpness_figure

        self._check_run()
        return [sharpness_figure(self.result_), sharpening_eta_figure(self.result_)]


