"""RegularizationStudy: does an L2 term stabilise GD trajectories? (the paper's conjecture)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._summaries import regularization_summary
from ..base import check_int, clone
from ..estimators import FiniteLyapunov
from ..maps.base import check_every
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

__all__ = ["RegularizationStudy", "regularization_summary"]

DEFAULT_WEIGHT_DECAYS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)


class RegularizationStudy(Study):
    r"""Sensitive dependence and orbital stability of GD against the strength of weight decay.

    The paper trains without regularisation and conjectures (section 5) that a
    regularisation term "would essentially add a preferred direction for
    optimization in flatter regions of the loss landscape and thus ... would
    lead to more stable trajectories". This study measures it: for each weight
    decay :math:`\mu` the loss becomes

    .. math:: L_\mu(W) = L(W) + \frac{\mu}{2} \sum_{ij} w_{ij}^2

    (connection weights only, not biases), so each GD step
    :math:`W \mapsto W - \eta \nabla L(W) - \eta \mu W` shrinks the weights,
    and the same ``n_init`` initial networks, each with ``n`` perturbed copies,
    train ``n_steps`` steps. For each :math:`\mu` the study reports

    * :math:`\lambda_{nMLE}`, the kept fraction and the pooled exponent
      (:class:`~dynnet.FiniteLyapunov` on :math:`d_{ij}(t)`, section 4.1), and
      the paired change :math:`\langle \Lambda_i(\mu) - \Lambda_i(0)\rangle`
      over the networks kept at both (the same networks and perturbations at
      every :math:`\mu`);
    * the orbital-stability measures of the paper's Figs. 3-4: the growth of
      the distance :math:`d(T)/d(0)` (the ratio of the means over networks and
      copies, as :class:`~dynnet.OrbitalStabilityStudy` reports it), the median
      over networks of :math:`\ln(\bar d_i(T)/\bar d_i(0))`, its maximum over
      time, and the fraction of networks whose loss falls monotonically;
    * the growth of the weight norm :math:`\|W(T)\|_1/\|W(0)\|_1` (which the
      decay counters), the final loss and the test accuracy.

    Parameters
    ----------
    weight_decays : sequence of float, default (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
        The values of :math:`\mu` (all >= 0, distinct); include 0 for the paired
        changes, which are measured against it. On the paper's network at
        :math:`\eta = 1` the exponent is unchanged up to about 3e-3, lowered from
        1e-2, and the sensitive dependence is gone (almost no fit kept) at 1e-1,
        where the network no longer learns the task.
    map : Map or None, default None
        None: ``GradientDescentMap(eta=1.0)``, the paper's edge of stability.
        Its ``weight_decay`` is replaced by each value. ``GradientDescentMap(eta=0.01)``
        asks the same question in the low-learning-rate regime of Figs. 3-4
        (where no finite exponent is kept, and the orbital measures answer).
    perturber : Perturber or None, default None
        None: ``UniformPerturber(eps=1e-8, n=5, on="weights")``.
        ``on="all"`` instead for a map without a ``"weights"`` group.
    metric : Metric or None, default None
        None: ``L1()``, the paper's distance.
    n_init : int, default 100
        Initial networks, the same for every weight decay.
    n_steps : int, default 1000
        Training steps.
    every : int, default 1
        Record interval of the distances (a divisor of ``n_steps``).
    estimators : list of Estimator or None, default None
        None: ``[FiniteLyapunov()]``. Each is fitted on the records of each
        weight decay (``fit_result``) and its numbers stored as
        ``<class>.<key> (weight_decay)``.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed: initial networks from its child 0, the perturbations
        of network ``i`` from ``stream(seed, 1, i)`` at every weight decay.
        None draws fresh entropy, recorded in ``seed_``.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (weight_decay, step, init, pert)``, ``loss``,
        ``weight_norm (weight_decay, step, init)``, ``diverged (weight_decay,
        init, member)``, ``test_accuracy (weight_decay, init)``,
        ``initial_state (init, coord)``, the estimators' numbers and, with a
        FiniteLyapunov, ``exponent`` and ``kept (weight_decay, init)``.
    estimators_ : list of Estimator
        The estimators fitted at each weight decay, in order.

    References
    ----------
    M. Danovski, M. C. Soriano, L. Lacasa, "Dynamical stability and chaos in
    artificial neural network trajectories along training", Front. Complex
    Syst. 2:1367957 (2024), sections 3.1, 4.1 and 5 (the conjecture).
    A. Krogh, J. A. Hertz, "A simple weight decay can improve generalization",
    NeurIPS 4 (1991).
    """

    _quick_params = {"weight_decays": (0.0, 1e-2), "n_init": 4, "n_steps": 200,
                     "perturber": UniformPerturber(eps=1e-8, n=3, on="weights")}

    def __init__(self, weight_decays: float | Sequence[float] = DEFAULT_WEIGHT_DECAYS,
                 map: Map | None = None, perturber: Perturber | None = None,
                 metric: Metric | None = None, n_init: int = 100, n_steps: int = 1000, every: int = 1,
                 estimators: Sequence[Estimator] | None = None, seed: SeedLike = 0) -> None:
        self.weight_decays = weight_decays
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.n_init = n_init
        self.n_steps = n_steps
        self.every = every
        self.estimators = estimators
        self.seed = seed

    @staticmethod
    def _part_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": lambda: GradientDescentMap(eta=1.0),
                "perturber": lambda: UniformPerturber(eps=1e-8, n=5, on="weights"),
                "metric": L1,
                "estimators": lambda: [FiniteLyapunov()]}

    def _decays(self) -> np.ndarray:
        return check_values(self, "weight_decays", self.weight_decays, low=0.0, low_open=False)

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
        decays = self._decays()
        if "weight_decay" not in c["map"]._param_names():
            raise ValueError(f"{type(self).__name__}: the map {type(c['map']).__name__} has no "
                             "weight_decay parameter to vary")
        check_parts(clone(c["map"]).set_params(weight_decay=float(decays[0])), c["perturber"], c["metric"])
        check_int(self, "n_init", self.n_init, low=1)
        check_every(self, check_int(self, "n_steps", self.n_steps, low=3), self.every)
        check_int(c["perturber"], "n", c["perturber"].n, low=1)

    def _tiny_params(self):
        out = {}
        if int(self.n_init) > 1:
            out["n_init"] = 1
        if np.atleast_1d(np.asarray(self.weight_decays, dtype=object)).size > 1:
            out["weight_decays"] = (self._decays()[0],)
        return out

    def _memory(self, ctx):
        c = self.parts()
        m = c["map"]
        n_obs = len(m.observable_names())
        return ensemble_memory(int(self.n_init), int(c["perturber"].n), m.dim,
                               int(self.n_steps) // int(self.every) + 1, n_obs,
                               n_runs=self._decays().size, chunk=ctx.chunk_size,
                               n_jobs=ctx.n_jobs)

    def _estimator_variables(self):
        """What one weight decay offers: the ensemble's records and the references' accuracy."""
        return ensemble_variables(self.parts()["map"]) | {"test_accuracy"}

    def _compute(self, ctx):
        """One perturbation ensemble per weight decay, from the same initial networks."""
        import xarray as xr

        c = self.parts()
        decays = self._decays()
        n_init, n_steps, every = int(self.n_init), int(self.n_steps), int(self.every)
        x0 = c["map"].initial_state(n_init, seed=ctx.child_seed(0))
        runs = ensembles_over(self, ctx, c["map"], "weight_decay", decays, c["perturber"], c["metric"],
                              x0, n_steps, every)
        data = {"distance": (("weight_decay", "step", "init", "pert"), runs["distance"]),
                "diverged": (("weight_decay", "init", "member"), runs["diverged"]),
                "initial_state": (("init", "coord"), x0),
                "test_accuracy": (("weight_decay", "init"),
                                  reference_accuracies(runs["maps"], runs["final_reference"]))}
        data.update({k: (("weight_decay", "step", "init"), v) for k, v in runs["observables"].items()})
        return xr.Dataset(data, coords={"weight_decay": decays, "step": np.arange(0, n_steps + 1, every),
                                        "init": np.arange(n_init)})

    def _analyse(self, ds):
        """The estimators (FiniteLyapunov by default) fitted at each weight decay."""
        m = self.parts()["map"]
        maps = [clone(m).set_params(weight_decay=float(v)) for v in ds["weight_decay"].values]
        return fit_over(ds, "weight_decay", self._fed_estimators(), maps)

    def _summary(self, ds):
        r"""Per weight decay: :math:`\lambda_{nMLE}` and its paired change against no decay, the
        distance growth, the monotone-loss fraction, the weight-norm growth, loss and accuracy."""
        import xarray as xr

        return xr.Dataset(regularization_summary(ds)).merge(super()._summary(ds))

    def plot(self) -> list[Figure]:
        """λ_nMLE (and its paired change) and the orbital measures against the weight decay;
        the mean distance d(t) for each weight decay.

        Returns
        -------
        list of matplotlib.figure.Figure
            The two figures.
        """
        from ..plotting.regularization import regularization_distance_figure, regularization_figure

        self._check_run()
        return [regularization_figure(self.result_), regularization_distance_figure(self.result_)]


