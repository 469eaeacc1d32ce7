"""Running one PerturbationStudy per perturbation size and stacking the results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import as_seed_sequence, check_array, check_scalar, clone
from .base import Study
from .perturbation import PerturbationStudy

__all__ = ["eps_sweep", "check_eps", "SweepStudy", "gd_factory", "low_eta_parts"]


def check_eps(owner, eps) -> np.ndarray:
    """Validate a sequence of perturbation sizes (all > 0)."""
    arr = np.atleast_1d(check_array(owner, "eps", eps, ndim=(0, 1)))
    if arr.size == 0:
        raise ValueError(f"{type(owner).__name__}: parameter eps must hold at least one value")
    for v in arr:
        check_scalar(owner, "eps", float(v), low=0.0, low_open=True)
    return arr


def eps_sweep(owner, *, map, perturber, metric, eps, n_init, n_steps, seed, every=1,
              initial_states=None, chunk_size=None, n_jobs=1, progress=False,
              checkpoint=None, resume=False):
    """One PerturbationStudy per ``eps`` (same seed: the same initial conditions and
    the same perturbation directions, scaled), stacked along a new ``eps`` dimension.

    Returns
    -------
    xarray.Dataset
        ``distance (eps, step, init, pert)``, observables ``(step, init)`` of the
        references (the same for every eps), ``initial_state``, ``diverged (eps, init, member)``.
    """
    import xarray as xr

    eps = check_eps(owner, eps)
    from ..base import check_int
    from ..maps.base import check_every
    from .perturbation import preflight

    check_int(owner, "n_init", n_init, low=1)
    check_every(owner, check_int(owner, "n_steps", n_steps, low=0), every)
    preflight(map, clone(perturber).set_params(eps=float(eps[0])), metric)
    # normalise the seed once: with seed=None every eps must still share one entropy
    seed = as_seed_sequence(seed)
    owner._seed_seq = seed
    results = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(eps), desc=type(owner).__name__, unit="eps")
    try:
        for k, e in enumerate(eps):
            if bar is not None:
                bar.set_postfix_str(f"eps={e:.0e}")
            sub = PerturbationStudy(
                map=map, perturber=clone(perturber).set_params(eps=float(e)), metric=metric,
                estimators=(), n_init=n_init, n_steps=n_steps, seed=seed,
                initial_states=initial_states, every=every, chunk_size=chunk_size, n_jobs=n_jobs,
                progress=False,
                checkpoint=None if checkpoint is None else Path(checkpoint) / f"eps-{k:03d}",
                resume=resume,
            )
            sub._internal = True  # its checkpoint belongs to the outer study's
            sub.run()
            results.append(sub.result_)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    first = results[0]
    data = {
        "distance": xr.concat([r["distance"] for r in results], dim="eps"),
        "diverged": xr.concat([r["diverged"] for r in results], dim="eps"),
        "initial_state": first["initial_state"],
    }
    for name in first.data_vars:
        if name not in ("distance", "diverged", "initial_state", "final_state"):
            data[name] = first[name]
    ds = xr.Dataset(data)
    ds = ds.assign_coords(eps=("eps", eps))
    return ds


def gd_factory(eta):
    """A factory of GradientDescentMap(eta=eta), for component defaults."""

    def make():
        from ..maps.gd import GradientDescentMap

        return GradientDescentMap(eta=eta)

    return make


def low_eta_parts():
    """The parts of the low-learning-rate studies (paper section 3): GD at eta = 0.01,
    20 uniform perturbations of the weights, the L1 distance."""
    from ..metrics import L1
    from ..perturbers import UniformPerturber

    return {"map": gd_factory(0.01), "perturber": lambda: UniformPerturber(n=20, on="weights"),
            "metric": L1}


class SweepStudy(Study):
    """Shared machinery of the eps-sweep studies at low learning rate."""

    def _sweep(self, c, n_steps, initial_states=None, seed=None):
        from ..results import study_attrs

        self._check_resume()
        ds = eps_sweep(self, map=c["map"], perturber=c["perturber"], metric=c["metric"],
                       eps=self.eps, n_init=self.n_init, n_steps=n_steps,
                       seed=self.seed if seed is None else seed,
                       every=self.every, initial_states=initial_states,
                       chunk_size=self.chunk_size, n_jobs=self.n_jobs, progress=self.progress,
                       checkpoint=self.checkpoint, resume=self.resume)
        ds.attrs.update(study_attrs(self))
        return ds

    def _initial_states(self, m):
        from ..base import check_int

        ss = as_seed_sequence(self.seed)
        self._seed_seq = ss
        return m.initial_state(check_int(self, "n_init", self.n_init, low=1),
                               seed=np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (0,)))
