"""Sweeps: one perturbation ensemble per value of a parameter, from the same initial conditions.

The perturbation size ``eps`` (:class:`SweepStudy`, the base of the eps-sweep
studies) or a map parameter such as ``eta`` or ``weight_decay``
(:func:`ensembles_over`, for :class:`~dynnet.SharpeningStudy` and
:class:`~dynnet.RegularizationStudy`): the values run under one progress bar
(:func:`run_ensembles`), and the estimators are fitted value by value
(:func:`fit_over`).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import as_seed_sequence, check_int, check_scalar, clone
from ..estimators import FiniteLyapunov, NoExponentWarning
from ..maps.base import check_every
from ._ensemble import check_parts, ensemble_memory, run_ensemble, warn_divergence
from ._feeding import ensemble_variables
from .base import Study, fit_estimators

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import xarray as xr

    from ..base import ParamsObject, SeedLike
    from ..estimators.base import Estimator
    from ..maps.base import Map
    from ..maps.gd import GradientDescentMap
    from ..metrics import Metric
    from ..perturbers import Perturber
    from .base import RunContext

__all__ = ["weights_or_all", "check_eps", "check_values", "eps_seed", "SweepStudy", "gd_factory",
           "low_eta_parts", "run_ensembles", "ensembles_over", "fit_over", "reference_accuracies"]


def check_eps(owner: object, eps: float | Sequence[float]) -> np.ndarray:
    """Validate a sequence of perturbation sizes (distinct, all > 0): :func:`check_values` of ``eps``.

    Parameters
    ----------
    owner : object
        Named in error messages.
    eps : float or sequence of float
        The perturbation sizes.

    Returns
    -------
    numpy.ndarray
        The sizes, float64, in the given order.
    """
    return check_values(owner, "eps", eps)


def gd_factory(eta: float) -> Callable[[], GradientDescentMap]:
    """A factory of GradientDescentMap(eta=eta), for part defaults."""

    def make() -> GradientDescentMap:
        from ..maps.gd import GradientDescentMap

        return GradientDescentMap(eta=eta)

    return make


def low_eta_parts() -> dict[str, Callable[[], ParamsObject]]:
    """The parts of the low-learning-rate studies (paper section 3): GD at eta = 0.01,
    20 uniform perturbations of the weights, the L1 distance."""
    from ..metrics import L1
    from ..perturbers import UniformPerturber

    return {"map": gd_factory(0.01), "perturber": lambda: UniformPerturber(n=20, on="weights"),
            "metric": L1}


def weights_or_all(study: Study, parts: dict) -> dict:
    """The parts with a default perturber of the connection weights moved to every coordinate
    (``on="all"``) where the map has no ``"weights"`` group.

    Only a default is changed (the study's ``perturber`` parameter is None): a
    perturber the user gave is kept as given, and its own validation names a
    group the map lacks.

    Parameters
    ----------
    study : Study
        The study (its ``perturber`` parameter tells whether the part is a default).
    parts : dict
        The parts, as :meth:`~dynnet.studies.base.Study.parts` gives them.

    Returns
    -------
    dict
        ``parts``, its ``perturber`` replaced where needed.
    """
    from ..maps.base import Map

    m, p = parts.get("map"), parts.get("perturber")
    if (getattr(study, "perturber", None) is None and isinstance(m, Map) and p is not None
            and getattr(p, "on", None) == "weights" and "weights" not in m.coordinate_groups()):
        parts["perturber"] = clone(p).set_params(on="all")
    return parts


def eps_seed(seed: SeedLike, k: int, common: bool) -> np.random.SeedSequence:
    """The seed of the perturbations at eps index ``k`` of a sweep.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        The sweep's seed.
    k : int
        Index of the eps value.
    common : bool
        True: ``seed`` itself for every eps, so initial condition ``i`` is
        perturbed from ``stream(seed, 1, i)`` at every eps (the same directions,
        scaled). False: child ``(1, k)`` of ``seed``, so the perturbations of
        initial condition ``i`` at eps index ``k`` come from
        ``stream(seed, 1, k, 1, i)``: independent draws for every eps.

    Returns
    -------
    numpy.random.SeedSequence
        The seed :func:`~dynnet.studies._ensemble.run_ensemble` gets for this eps.
    """
    ss = as_seed_sequence(seed)
    if common:
        return ss
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (1, int(k)),
                                  pool_size=ss.pool_size)


def check_values(owner: object, name: str, values: float | Sequence[float], low: float = 0.0,
                 low_open: bool = True) -> np.ndarray:
    """Validate a non-empty sequence of distinct real values of a swept parameter.

    Parameters
    ----------
    owner : object
        Named in error messages.
    name : str
        The parameter's name (``"etas"``, ``"weight_decays"``).
    values : float or sequence of float
        The values.
    low : float, default 0.0
        Lower bound of every value.
    low_open : bool, default True
        True: values must exceed ``low``; False: ``low`` itself is allowed.

    Returns
    -------
    numpy.ndarray
        The values, float64, in the given order.
    """
    arr = np.atleast_1d(np.asarray(values, dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{type(owner).__name__}: parameter {name}={values!r} must hold at least one "
                         "value (a number or a flat sequence of numbers)")
    out = np.array([check_scalar(owner, name, v, low=low, low_open=low_open) for v in arr])
    if np.unique(out).size != out.size:
        raise ValueError(f"{type(owner).__name__}: parameter {name}={tuple(out.tolist())} repeats a value; "
                         "give each value once")
    return out


def ensembles_over(owner: object, ctx: RunContext, map: Map, name: str, values: np.ndarray,
                   perturber: Perturber, metric: Metric, x0: np.ndarray, n_steps: int,
                   every: int = 1) -> dict[str, Any]:
    r"""One perturbation ensemble per value of a map parameter, from the same initial conditions.

    For each value :math:`v_k` of the map parameter ``name`` the map
    ``clone(map).set_params(name=v_k)`` runs every initial condition of ``x0``
    with its perturbed copies (:func:`~dynnet.studies._ensemble.run_ensemble`)
    and records the distances

    .. math:: d_{kij}(t) = \operatorname{metric}\big(W_i(t), W'_{ij}(t)\big)

    and the observables of the references. Every value uses the run's seed for
    the perturbations (initial condition :math:`i` from ``stream(seed, 1, i)``),
    so each value starts from the same perturbed networks: differences between
    values are paired, not sampling noise.

    Parameters
    ----------
    owner : object
        The study (named in the divergence warning).
    ctx : RunContext
        Seed, jobs, chunk size, checkpoint (one checkpoint key per value).
    map : Map
        The map; its parameter ``name`` is replaced by each value.
    name : str
        The swept map parameter (``"eta"``, ``"weight_decay"``).
    values : numpy.ndarray
        The values, validated.
    perturber, metric : Perturber, Metric
        The parts of each ensemble.
    x0 : numpy.ndarray, shape (n_init, dim)
        The reference initial conditions.
    n_steps : int
        Steps of each run.
    every : int, default 1
        Record interval.

    Returns
    -------
    dict
        ``distance`` ``(V, R, n_init, n_pert)``, ``observables`` (name to
        ``(V, R, n_init)``), ``diverged`` ``(V, n_init, 1 + n_pert)``,
        ``final_reference`` ``(V, n_init, dim)``, ``maps`` (the V maps).
    """
    maps = [clone(map).set_params(**{name: float(v)}) for v in values]
    per_value = [(m, perturber, ctx.seed, f"{name}-{k:03d}") for k, m in enumerate(maps)]
    runs = run_ensembles(owner, ctx, per_value, metric, x0, n_steps, every, unit=name)
    diverged = np.stack([~np.all(np.isfinite(f), axis=-1) for _, _, f in runs])
    warn_divergence(owner, diverged)
    return {"distance": np.stack([d for d, _, _ in runs]),
            "observables": {k: np.stack([o[k] for _, o, _ in runs]) for k in runs[0][1]},
            "diverged": diverged, "final_reference": np.stack([f[:, 0] for _, _, f in runs]), "maps": maps}


@contextlib.contextmanager
def sweep_fits():
    """Fits over the values of a sweep: a value with no kept fit is a result, not a warning.

    Within the block, :class:`~dynnet.NoExponentWarning` is not shown: a sweep
    over eta expects NaN exponents where nothing grows, and it reports the kept
    fraction of every value beside the exponent (0 where the exponent is NaN).
    Other warnings pass.

    Yields
    ------
    None
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoExponentWarning)
        yield


def fit_over(ds: xr.Dataset, dim: str, ests: Sequence[Estimator], maps: Sequence[Map],
             per_init_records: bool = True) -> tuple[xr.Dataset, list[Estimator]]:
    r"""Fit each estimator on the records of each value of ``dim`` (``fit_result``).

    Each estimator's summary numbers go into ``ds`` as ``<class>.<number>``
    along ``dim``; a :class:`~dynnet.FiniteLyapunov` also leaves its finite
    exponent :math:`\Lambda_i` and its kept flag per initial condition, as
    ``exponent`` and ``kept`` ``(dim, init)``.

    Parameters
    ----------
    ds : xarray.Dataset
        Records with the dimension ``dim`` (and ``distance (dim, step, init, pert)``).
    dim : str
        The swept dimension.
    ests : sequence of Estimator
        The estimators (each with ``fit_result``).
    maps : sequence of Map
        The map of each value (passed to ``fit_result``).
    per_init_records : bool, default True
        Store a FiniteLyapunov's ``exponent`` and ``kept`` per initial
        condition (False: a study that stores its own).

    Returns
    -------
    ds : xarray.Dataset
        With the numbers added.
    fitted : list of Estimator
        The fitted estimators, value by value.
    """
    import xarray as xr

    fitted, rows = [], []
    per_init: dict[str, list] = {"exponent": [], "kept": []}
    for k in range(ds.sizes[dim]):
        with sweep_fits():
            f, numbers = fit_estimators(None, ests, ds.isel({dim: k}), maps[k])
        fitted += f
        rows.append(numbers)
        for est in f if per_init_records else ():
            if isinstance(est, FiniteLyapunov):
                per_init["exponent"].append(np.asarray(est.exponents_, dtype=np.float64))
                per_init["kept"].append(np.asarray(est.kept_, dtype=bool))
    for key in rows[0] if rows else ():
        ds[key] = xr.Variable((dim,), np.array([r[key] for r in rows]))
    if per_init["exponent"]:
        ds["exponent"] = xr.Variable((dim, "init"), np.stack(per_init["exponent"]))
        ds["kept"] = xr.Variable((dim, "init"), np.stack(per_init["kept"]))
    return ds, fitted


def reference_accuracies(maps, final_reference):
    """Test accuracy of each trained reference (NaN: diverged, or a map without ``accuracy``).

    Parameters
    ----------
    maps : sequence of Map
        The map of each value of a sweep.
    final_reference : numpy.ndarray, shape (V, n_init, dim)
        The references' final states, value by value.

    Returns
    -------
    numpy.ndarray, shape (V, n_init)
        ``maps[k].accuracy(final_reference[k], split="test")``, NaN where not available.
    """
    out = np.full(final_reference.shape[:2], np.nan)
    for k, m in enumerate(maps):
        ok = np.all(np.isfinite(final_reference[k]), axis=1)
        if ok.any() and hasattr(m, "accuracy"):
            try:
                out[k, ok] = m.accuracy(final_reference[k][ok], split="test")
            except ValueError:  # a map without a test split
                pass
    return out


def run_ensembles(owner: object, ctx: RunContext, runs: Sequence[tuple[Map, Perturber, SeedLike, str]],
                  metric: Metric, x0: np.ndarray, n_steps: int, every: int, unit: str,
                  labels: Sequence[str] | None = None) -> list[tuple[np.ndarray, dict, np.ndarray]]:
    """The ensembles of a sweep, one after the other, under one progress bar.

    Parameters
    ----------
    owner : object
        The study (its class name labels the progress bar).
    ctx : RunContext
        Seed, jobs, chunk size, checkpoint, progress.
    runs : sequence of (Map, Perturber, seed, str)
        For each value of the sweep: its map, perturber, perturbation seed and
        checkpoint key.
    metric : Metric
        The distance of each copy to its reference.
    x0 : numpy.ndarray, shape (n_init, dim)
        The reference initial conditions, the same for every value.
    n_steps : int
        Steps of every orbit.
    every : int
        Record interval.
    unit : str
        The progress bar's unit (the swept parameter).
    labels : sequence of str, optional
        Shown beside the bar while each value runs.

    Returns
    -------
    list of (distance, observables, final)
        :func:`~dynnet.studies._ensemble.run_ensemble`'s result for each value.
    """
    quiet = replace(ctx, progress=False)
    bar = None
    if ctx.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(runs), desc=type(owner).__name__, unit=unit)
    out = []
    try:
        for k, (m, p, seed, key) in enumerate(runs):
            if bar is not None and labels is not None:
                bar.set_postfix_str(labels[k])
            out.append(run_ensemble(m, p, metric, x0, seed, n_steps, every, quiet, key=key))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


class SweepStudy(Study):
    """Shared machinery of the eps-sweep studies: validation, memory, the sweep itself.

    Every eps uses the same initial conditions. By default
    (``common_directions=False``) each eps draws its own perturbations
    (``stream(seed, 1, k, 1, i)`` for eps index ``k`` and initial condition
    ``i``), as in the paper's Fig. 4 caption; with ``common_directions=True``
    every eps reuses ``stream(seed, 1, i)``, the same directions scaled (dynnet
    before issue 11). Either way a result does not depend on chunking or jobs.
    """

    def parts(self) -> dict:
        """The parts; the default perturber perturbs every coordinate of a map without a
        ``"weights"`` group (:func:`weights_or_all`).

        Returns
        -------
        dict
            ``map``, ``perturber``, ``metric``, ``estimators``.
        """
        return weights_or_all(self, super().parts())

    def _common_directions(self) -> bool:
        value = getattr(self, "common_directions", False)
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(
                f"{type(self).__name__}: parameter common_directions={value!r} must be a bool "
                "(False: independent perturbations per eps; True: the same directions, scaled)"
            )
        return bool(value)

    def _validate(self):
        super()._validate()
        self._common_directions()
        c = self.parts()
        eps = check_eps(self, self.eps)
        check_parts(c["map"], clone(c["perturber"]).set_params(eps=float(eps[0])), c["metric"])
        check_int(self, "n_init", self.n_init, low=1)
        check_every(self, check_int(self, "n_steps", self._sweep_steps(), low=0), self.every)
        check_int(c["perturber"], "n", c["perturber"].n, low=1)

    def _estimator_variables(self):
        """What one eps offers the fed estimators: the ensemble's records (:func:`ensemble_variables`)."""
        return ensemble_variables(self.parts()["map"])

    #: the parameter holding the length of each perturbation run (named in memory errors)
    _steps_name = "n_steps"

    def _sweep_steps(self) -> int:
        """The number of steps of each perturbation run."""
        return self.n_steps

    def _memory(self, ctx):
        c = self.parts()
        m = c["map"]
        n_obs = len(m.observable_names())
        n_eps = np.atleast_1d(np.asarray(self.eps)).size
        return ensemble_memory(int(self.n_init), int(c["perturber"].n), m.dim,
                               int(self._sweep_steps()) // int(self.every) + 1, n_obs, n_runs=n_eps,
                               chunk=ctx.chunk_size, n_jobs=ctx.n_jobs,
                               steps=self._steps_name)

    def _sweep(self, ctx, x0, seed=None):
        """One ensemble per eps from the initial conditions ``x0``, stacked along ``eps``.

        The perturbations at eps index ``k`` are seeded by :func:`eps_seed`
        (independent per eps unless ``common_directions=True``).

        Returns
        -------
        xarray.Dataset
            ``distance (eps, step, init, pert)``, observables ``(step, init)`` of
            the references (the same for every eps), ``initial_state``,
            ``diverged (eps, init, member)``.
        """
        import xarray as xr

        c = self.parts()
        eps = check_eps(self, self.eps)
        n_steps, every = int(self._sweep_steps()), int(self.every)
        seed = ctx.seed if seed is None else seed
        common = self._common_directions()
        per_eps = [(c["map"], clone(c["perturber"]).set_params(eps=float(e)), eps_seed(seed, k, common),
                    f"eps-{k:03d}") for k, e in enumerate(eps)]
        runs = run_ensembles(self, ctx, per_eps, c["metric"], x0, n_steps, every, unit="eps",
                             labels=[f"eps={e:.0e}" for e in eps])
        dists = [d for d, _, _ in runs]
        divs = [~np.all(np.isfinite(f), axis=-1) for _, _, f in runs]
        obs = runs[0][1]
        diverged = np.stack(divs)
        warn_divergence(self, diverged)
        data = {"distance": (("eps", "step", "init", "pert"), np.stack(dists)),
                "diverged": (("eps", "init", "member"), diverged),
                "initial_state": (("init", "coord"), x0)}
        data.update({k: (("step", "init"), v) for k, v in obs.items()})
        return xr.Dataset(data, coords={"eps": eps, "step": np.arange(dists[0].shape[0]) * every,
                                        "init": np.arange(x0.shape[0])})

    def _fit_per_eps(self, ds, ests):
        """Estimators fitted on each eps (``fit_result``): ``(ds with <key>.<number> (eps), fitted)``."""
        if not ests:
            return ds, []
        m = self.parts()["map"]
        return fit_over(ds, "eps", ests, [m] * ds.sizes["eps"], per_init_records=False)
