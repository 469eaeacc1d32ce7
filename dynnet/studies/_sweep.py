"""Studies that run one ensemble per perturbation size eps, stacked along ``eps``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import as_seed_sequence, check_array, check_int, check_scalar, clone
from ..maps.base import check_every
from ..parallel import effective_n_jobs
from ._ensemble import check_parts, ensemble_memory, run_ensemble, warn_divergence
from .base import Study, fit_estimators

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..base import ParamsObject, SeedLike
    from ..maps.gd import GradientDescentMap

__all__ = ["check_eps", "eps_seed", "SweepStudy", "gd_factory", "low_eta_parts"]


def check_eps(owner: object, eps: float | Sequence[float]) -> np.ndarray:
    """Validate a sequence of perturbation sizes (all > 0).

    Parameters
    ----------
    owner : object
        Named in error messages.
    eps : float or sequence of float

    Returns
    -------
    numpy.ndarray
    """
    arr = np.atleast_1d(check_array(owner, "eps", eps, ndim=(0, 1)))
    if arr.size == 0:
        raise ValueError(f"{type(owner).__name__}: parameter eps must hold at least one value")
    for v in arr:
        check_scalar(owner, "eps", float(v), low=0.0, low_open=True)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{type(owner).__name__}: parameter eps={tuple(arr.tolist())} repeats a value; "
                         "give each perturbation size once")
    return arr


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


class SweepStudy(Study):
    """Shared machinery of the eps-sweep studies: validation, memory, the sweep itself.

    Every eps uses the same initial conditions. By default
    (``common_directions=False``) each eps draws its own perturbations
    (``stream(seed, 1, k, 1, i)`` for eps index ``k`` and initial condition
    ``i``), as in the paper's Fig. 4 caption; with ``common_directions=True``
    every eps reuses ``stream(seed, 1, i)``, the same directions scaled (dynnet
    before issue 11). Either way a result does not depend on chunking or jobs.
    """

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

    #: the parameter holding the length of each perturbation run (named in memory errors)
    _steps_name = "n_steps"

    def _sweep_steps(self) -> int:
        """The number of steps of each perturbation run."""
        return self.n_steps

    def _memory(self, ctx):
        c = self.parts()
        m = c["map"]
        n_obs = len(m.observables(np.zeros((1, m.dim))))
        n_eps = np.atleast_1d(np.asarray(self.eps)).size
        return ensemble_memory(int(self.n_init), int(c["perturber"].n), m.dim,
                               int(self._sweep_steps()) // int(self.every) + 1, n_obs, n_runs=n_eps,
                               chunk=ctx.chunk_size, n_jobs=effective_n_jobs(ctx.n_jobs),
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
        dists, divs, obs = [], [], None
        bar = None
        if ctx.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(eps), desc=type(self).__name__, unit="eps")
        try:
            for k, e in enumerate(eps):
                if bar is not None:
                    bar.set_postfix_str(f"eps={e:.0e}")
                p = clone(c["perturber"]).set_params(eps=float(e))
                sub = ctx if not ctx.progress else _quiet(ctx)
                d, o, f = run_ensemble(c["map"], p, c["metric"], x0, eps_seed(seed, k, common),
                                       n_steps, every, sub, key=f"eps-{k:03d}")
                dists.append(d)
                divs.append(~np.all(np.isfinite(f), axis=-1))
                obs = o if obs is None else obs
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
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
        import xarray as xr

        if not ests:
            return ds, []
        m = self.parts()["map"]
        fitted, rows = [], []
        for k in range(ds.sizes["eps"]):
            f, numbers = fit_estimators(self, ests, ds.isel(eps=k), m)
            fitted += f
            rows.append(numbers)
        for key in rows[0]:
            ds[key] = xr.Variable(("eps",), np.array([r[key] for r in rows]))
        return ds, fitted


def _quiet(ctx):
    from dataclasses import replace

    return replace(ctx, progress=False)
