"""PerturbationStudy: ensembles of nearby orbits and their distances."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

from ..base import as_seed_sequence, check_int, clone, stream
from ..maps.base import DivergenceWarning, Map, check_every
from ..metrics import L1, Metric
from ..perturbers import Perturber, UniformPerturber
from .base import Study

__all__ = ["PerturbationStudy"]


def _run_chunk(map, metric, perturber, init_states, init_index, seed, n_steps, every):
    """Run the initial conditions ``init_index`` with their perturbations, as one batch.

    A pure function of its arguments: each initial condition draws its
    perturbations from its own stream, so the result of one initial condition
    does not depend on which chunk it is in.
    """
    n_pert = int(perturber.n)
    dim = init_states.shape[1]
    batch = np.empty((len(init_index), 1 + n_pert, dim))
    for j, i in enumerate(init_index):  # set-up only: perturbation draws per condition
        batch[j, 0] = init_states[j]
        batch[j, 1:] = perturber.perturb(init_states[j], map=map, seed=stream(seed, 1, int(i)))
    flat = batch.reshape(-1, dim)
    dist, obs, final = map._stream(flat, n_steps, every, 1 + n_pert, metric)
    return dist, obs, final.reshape(len(init_index), 1 + n_pert, dim)


def _mean_log(d):
    """Mean of ln d over finite, positive distances (merged orbits have d = 0)."""
    d = np.asarray(d, dtype=float)
    ok = np.isfinite(d) & (d > 0)
    return float(np.log(d[ok]).mean()) if ok.any() else float("nan")


def preflight(map, perturber, metric):
    """Check the parts on one tiny state before any long work, checkpoint or progress bar,
    so that a bad parameter fails at once with its own message."""
    for name, obj, base in (("map", map, Map), ("perturber", perturber, Perturber),
                            ("metric", metric, Metric)):
        if not isinstance(obj, base):
            raise TypeError(f"parameter {name}={obj!r} must be a dynnet {base.__name__}")
    x = np.zeros(map._dim())
    map.step(x[None, :])
    perturber.perturb(x, map=map, seed=0)
    metric(x, x, map=map)


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
    map : Map, default GradientDescentMap(eta=1.0)
    perturber : Perturber, default UniformPerturber(eps=1e-8, n=5, on="weights")
        (``on="all"`` for a map without a ``"weights"`` group)
    metric : Metric, default L1()
    estimators : list of Estimator, default ()
        Each is cloned and fitted on the result (``fit_result``) after the run.
    n_init : int, default 50
        Number of initial conditions.
    n_steps : int, default 200
    seed : int, SeedSequence, Generator or None, default 0
        Initial condition ``i`` is drawn from ``stream(seed, 0, i)`` and its
        perturbations from ``stream(seed, 1, i)``, so results do not depend on
        chunking or on the number of workers.
    initial_states : array (n_init, dim) or None, default None
        None: ``map.initial_state`` draws them from ``seed``.
    every : int, default 1
        Record every ``every`` steps.
    chunk_size : int or None, default None
        Initial conditions per batch (None: enough for about 3000 orbits).
    n_jobs : int, default 1
        Parallel workers over chunks (joblib); -1 uses every core.
    progress : bool, default False
        Show a progress bar over chunks.
    checkpoint : str, Path or None, default None
        Directory in which finished chunks are stored as they complete.
    resume : bool, default False
        Continue from the chunks already in ``checkpoint`` (a run killed
        with ``kill -9`` loses at most the chunks in flight); the result is
        bitwise identical to an uninterrupted run. The directory is removed
        when the run finishes.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (step, init, pert)``, one ``(step, init)`` variable per
        observable, ``initial_state`` and ``final_state (init, member, coord)``,
        ``diverged (init, member)``.
    estimators_ : list of fitted estimators

    References
    ----------
    Danovski, Soriano & Lacasa (2024), sections 2-4.
    """

    _quick_params = {"n_init": 8, "n_steps": 60}

    def __init__(self, map=None, perturber=None, metric=None, estimators=(), n_init=50,
                 n_steps=200, seed=0, initial_states=None, every=1, chunk_size=None,
                 n_jobs=1, progress=False, checkpoint=None, resume=False):
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.estimators = estimators
        self.n_init = n_init
        self.n_steps = n_steps
        self.seed = seed
        self.initial_states = initial_states
        self.every = every
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.progress = progress
        self.checkpoint = checkpoint
        self.resume = resume

    @staticmethod
    def _component_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": GradientDescentMap, "perturber": UniformPerturber, "metric": L1}

    def _components(self):
        c = self._resolved()
        m, p, d = c["map"], c["perturber"], c["metric"]
        if self.perturber is None and isinstance(m, Map) and "weights" not in m.coordinate_groups():
            p = UniformPerturber(on="all")  # the default perturbs weights where a map has them
        preflight(m, p, d)
        return m, p, d

    def _initial_states(self, m, n_init):
        if self.initial_states is None:
            return m.initial_state(n_init, seed=np.random.SeedSequence(
                self._seed_seq.entropy, spawn_key=tuple(self._seed_seq.spawn_key) + (0,)))
        x = m.check_states(self.initial_states, name="initial_states", finite=True)
        if x.shape[0] != n_init:
            raise ValueError(
                f"PerturbationStudy: initial_states has {x.shape[0]} rows but n_init={n_init}"
            )
        return x

    def run(self):
        """Run every initial condition with its perturbations; returns self."""
        self._check_saveable()
        m, p, d = self._components()
        self._check_estimators()
        n_init = check_int(self, "n_init", self.n_init, low=1)
        n_steps = check_int(self, "n_steps", self.n_steps, low=0)
        every = check_every(self, n_steps, self.every)
        n_pert = check_int(p, "n", p.n, low=1)
        self._seed_seq = as_seed_sequence(self.seed)
        x0 = self._initial_states(m, n_init)
        if self.chunk_size is None:
            chunk = max(1, 3000 // (1 + n_pert))
        else:
            chunk = check_int(self, "chunk_size", self.chunk_size, low=1)
        ckpt = None
        done: dict = {}
        if self.checkpoint is not None:
            from ..checkpoint import Checkpoint

            self._check_resume()
            from ..results import encode_params

            fp = encode_params(clone(self).set_params(
                n_jobs=1, progress=False, checkpoint=None, resume=False, chunk_size=None,
                estimators=(), initial_states=None)) + hashlib.sha256(x0.tobytes()).hexdigest() + repr(
                (self._seed_seq.entropy, tuple(self._seed_seq.spawn_key)))
            ckpt = Checkpoint(self.checkpoint, fp, resume=bool(self.resume))
            done = ckpt.load()
        todo = np.array([i for i in range(n_init) if i not in done], dtype=int)
        chunks = [todo[s:s + chunk] for s in range(0, todo.size, chunk)]
        from ..parallel import map_chunks

        def keep(i, part):
            if ckpt is not None:
                d, o, f = part
                arrays = {"distance": np.moveaxis(d, 1, 0), "final": f}
                arrays.update({f"obs_{k}": np.moveaxis(v, 1, 0) for k, v in o.items()})
                ckpt.save(chunks[i], arrays)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)
            parts = map_chunks(
                _run_chunk,
                [(m, d, p, x0[idx], idx, self._seed_seq, n_steps, every) for idx in chunks],
                n_jobs=self.n_jobs, progress=self.progress, desc=type(self).__name__,
                on_result=keep,
            )
        per_init = dict(done)
        for idx, (dd, oo, ff) in zip(chunks, parts):
            for j, i in enumerate(idx):
                rec = {"distance": dd[:, j], "final": ff[j]}
                rec.update({f"obs_{k}": v[:, j] for k, v in oo.items()})
                per_init[int(i)] = rec
        order = [per_init[i] for i in range(n_init)]
        dist = np.stack([r["distance"] for r in order], axis=1)
        final = np.stack([r["final"] for r in order], axis=0)
        obs = {k[4:]: np.stack([r[k] for r in order], axis=1)
               for k in order[0] if k.startswith("obs_")}
        self.result_ = self._make_result(m, x0, dist, obs, final, n_steps, every)
        self._restore()
        self._done_checkpoint()
        return self

    def _restore(self):
        self.estimators_ = self._fit_estimators(self.result_, self._resolved()["map"])

    def _make_result(self, m, x0, dist, obs, final, n_steps, every):
        import xarray as xr

        from ..results import study_attrs

        diverged = ~np.all(np.isfinite(final), axis=-1)
        if diverged.any():
            warnings.warn(
                f"PerturbationStudy: {int(diverged.sum())} of {diverged.size} orbits diverged "
                "(overflow); they are NaN and flagged in result_['diverged']",
                DivergenceWarning, stacklevel=3,
            )
        steps = np.arange(dist.shape[0]) * every
        data = {
            "distance": (("step", "init", "pert"), dist),
            "initial_state": (("init", "coord"), x0),
            "final_state": (("init", "member", "coord"), final),
            "diverged": (("init", "member"), diverged),
        }
        for k, v in obs.items():
            data[k] = (("step", "init"), v)
        ds = xr.Dataset(
            data,
            coords={"step": steps, "init": np.arange(dist.shape[1]),
                    "pert": np.arange(dist.shape[2]), "member": np.arange(final.shape[1])},
            attrs=study_attrs(self),
        )
        ds["distance"].attrs["description"] = "distance of each perturbed orbit to its reference"
        return ds

    def summary(self):
        self._check_run()
        r = self.result_
        out = {
            "n_init": int(r.sizes["init"]),
            "n_pert": int(r.sizes["pert"]),
            "n_steps": int(r["step"].values[-1]),
            "diverged_fraction": float(r["diverged"].values.mean()),
            "final_mean_log_distance": _mean_log(r["distance"].values[-1]),
        }
        if "loss" in r:
            out["final_loss_mean"] = float(np.nanmean(r["loss"].values[-1]))
        out.update(super().summary())
        return out

    def plot(self):
        from ..plotting import plot_distances

        self._check_run()
        return [plot_distances(self.result_)]
