"""Ensembles of nearby orbits: the engine room shared by every perturbation-based study.

:func:`run_ensemble` runs ``n_init`` reference orbits, each with its perturbed
copies, in chunks (serially or in parallel, each chunk a pure function of its
arguments), streams the distances and observables, and stores each finished
chunk in the run's checkpoint. :func:`map_over_inits` is the chunked, parallel,
checkpointed loop under it, shared by every study that runs one job per initial
condition. Studies call them; they write no object's state.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..base import check_int, stream
from ..maps.base import DivergenceWarning, Map
from ..metrics import Metric
from ..perturbers import Perturber

if TYPE_CHECKING:
    from collections.abc import Callable

    from .base import RunContext

__all__ = ["run_ensemble", "map_over_inits", "check_parts", "ensemble_memory", "default_chunk",
           "warn_divergence", "divergence_once", "owns_divergence", "quiet_divergence", "held_divergence",
           "divergence_counts"]


def check_parts(map: Map, perturber: Perturber, metric: Metric) -> None:
    """Check the parts' types and exercise them on one state at the origin, so that a
    bad parameter fails at once with its own message.

    Parameters
    ----------
    map : Map
        The map (stepped once from the origin).
    perturber : Perturber
        The perturber (one perturbation of the origin).
    metric : Metric
        The distance (of the origin to itself).
    """
    for name, obj, base in (("map", map, Map), ("perturber", perturber, Perturber),
                            ("metric", metric, Metric)):
        if not isinstance(obj, base):
            raise TypeError(f"parameter {name}={obj!r} must be a dynnet {base.__name__}")
    x = np.zeros(map.dim)
    map.step(x[None, :])
    perturber.perturb(x, map=map, seed=0)
    metric(x, x, map=map)


def _run_chunk(map, metric, perturber, init_states, init_index, seed, n_steps, every):
    """The initial conditions ``init_index`` with their perturbations, as one batch.

    A pure function of its arguments: each initial condition draws its
    perturbations from its own stream ``stream(seed, 1, i)``, so its result does
    not depend on the chunk it is in.
    """
    n_pert = int(perturber.n)
    dim = init_states.shape[1]
    batch = np.empty((len(init_index), 1 + n_pert, dim))
    batch[:, 0] = init_states
    for j, i in enumerate(init_index):  # set-up only: one perturbation draw per condition
        batch[j, 1:] = perturber.perturb(init_states[j], map=map, seed=stream(seed, 1, int(i)))
    dist, obs, final = map.stream_distances(batch.reshape(-1, dim), n_steps, every, 1 + n_pert, metric)
    rows = {"distance": np.moveaxis(dist, 1, 0), "final": final.reshape(len(init_index), 1 + n_pert, dim)}
    rows.update({f"obs_{k}": np.moveaxis(v, 1, 0) for k, v in obs.items()})
    return rows


def map_over_inits(fn: Callable[..., dict[str, np.ndarray]], args_of: Callable[[np.ndarray], tuple],
                   n_init: int, ctx: RunContext, key: str, chunk: int, desc: str | None = None,
                   progress: bool | None = None) -> dict[str, np.ndarray]:
    """Run ``fn`` over the initial conditions ``range(n_init)`` in chunks: in parallel,
    checkpointed, resumable.

    Parameters
    ----------
    fn : callable
        ``fn(*args_of(idx))`` computes the initial conditions ``idx`` (an int
        array) and returns ``{name: array}``, each array with one row per
        initial condition of ``idx`` (axis 0). It must be a pure function of
        its arguments, so that a row does not depend on the chunk it is in,
        and picklable (a module-level function) for process-based jobs.
    args_of : callable
        The arguments of ``fn`` for the initial conditions ``idx``.
    n_init : int
        Number of initial conditions.
    ctx : RunContext
        Jobs and the checkpoint: each finished chunk is saved under ``key`` at
        once, and a resumed run computes only the initial conditions missing
        from it.
    key : str
        The name of this part of the run in the checkpoint.
    chunk : int
        Initial conditions per call of ``fn``.
    desc : str, optional
        Label of the progress bar.
    progress : bool, optional
        Show a progress bar; default ``ctx.progress``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{name: array (n_init, ...)}``, the rows in the order of the initial
        conditions, whichever run (this one or a checkpointed one) computed them.
    """
    from ..parallel import map_chunks

    ckpt = ctx.checkpoint
    done = ckpt.load(key) if ckpt is not None else {}
    todo = np.array([i for i in range(n_init) if i not in done], dtype=int)
    chunks = [todo[s:s + chunk] for s in range(0, todo.size, max(1, int(chunk)))]

    def keep(i, part):
        if ckpt is not None:
            ckpt.save(key, chunks[i], part)

    # divergence is data in the rows (the caller flags it): a worker, in this process or another,
    # does not warn about it, and the study warns once for the run
    parts = map_chunks(functools.partial(quiet_divergence, fn), [args_of(idx) for idx in chunks],
                       n_jobs=ctx.n_jobs,
                       progress=ctx.progress if progress is None else progress, desc=desc, on_result=keep)
    rows = {int(i): v for i, v in done.items()}
    for idx, part in zip(chunks, parts, strict=True):
        for j, i in enumerate(idx):
            rows[int(i)] = {name: a[j] for name, a in part.items()}
    return {name: np.stack([rows[i][name] for i in range(n_init)]) for name in rows[0]}


#: floating-point operations one batch of orbits may take (about a minute of one core), so that
#: the progress bar moves on large data sets (a batch of Iris orbits takes 1000 times less)
CHUNK_WORK = 2e12


def default_chunk(n_pert: int, dim: int, n_records: int, budget: int, n_jobs: int,
                  work_per_orbit: float = 0.0) -> int:
    """Initial conditions per batch: about 3000 orbits, fewer if a batch's working set
    (states, engine buffers and records) would not fit ``budget / n_jobs``, or if its work
    (``work_per_orbit`` operations per orbit, see :func:`orbit_work`) would exceed
    :data:`CHUNK_WORK`. Results do not depend on the batches.

    Parameters
    ----------
    n_pert : int
        Perturbed copies per initial condition.
    dim : int
        The map's dimension.
    n_records : int
        Records per orbit.
    budget : int
        Memory budget in bytes.
    n_jobs : int
        Jobs sharing the budget.
    work_per_orbit : float, default 0.0
        Operations per orbit for the whole run (0: not counted).

    Returns
    -------
    int
        Initial conditions per batch, >= 1.
    """
    per_init = (1 + n_pert) * dim * 8 * 6 + (n_pert + 4) * n_records * 8
    fit = max(1, int(budget // max(1, n_jobs) // max(1, per_init)))
    if work_per_orbit > 0:
        fit = min(fit, max(1, int(CHUNK_WORK // (work_per_orbit * (1 + n_pert)))))
    return max(1, min(3000 // (1 + n_pert), fit))


def orbit_work(map: Map, n_steps: int) -> float:
    """Rough operations of one orbit of ``n_steps`` steps: ``6 * dim * rows`` per step, where
    ``rows`` is the number of training rows of a map with ``data`` (a gradient over the data
    set), else 1.

    Parameters
    ----------
    map : Map
        The map.
    n_steps : int
        Steps of the orbit.

    Returns
    -------
    float
        The estimate.
    """
    rows = 1
    data = getattr(map, "data", None)
    if callable(data):
        try:
            rows = max(1, int(data("train")[0].shape[0]))
        except (ValueError, TypeError, NotImplementedError):
            rows = 1
    return 6.0 * float(map.dim) * rows * max(1, int(n_steps))


def ensemble_memory(n_init: int, n_pert: int, dim: int, n_records: int, n_obs: int, n_runs: int = 1,
                    chunk: int | None = None, n_jobs: int = 1,
                    steps: str = "n_steps") -> dict[str, tuple[int, str]]:
    """Estimated bytes of an ensemble run, for a study's memory preflight (``_memory``).

    Parameters
    ----------
    n_init : int
        Initial conditions.
    n_pert : int
        Perturbed copies per initial condition.
    dim : int
        The map's dimension.
    n_records : int
        Records per orbit.
    n_obs : int
        Observables recorded per reference.
    n_runs : int, default 1
        Ensembles of the run (one per value of a sweep).
    chunk : int or None, default None
        Initial conditions per batch (None: the default of about 3000 orbits).
    n_jobs : int, default 1
        Parallel workers.
    steps : str, default "n_steps"
        The study's parameter for the length of each run (named in the advice).

    Returns
    -------
    dict
        ``{what: (bytes, parameter to lower)}``.
    """
    chunk = chunk or max(1, 3000 // (1 + n_pert))
    chunk = min(chunk, n_init)
    return {
        "recorded distances": (8 * n_records * n_init * n_pert * n_runs, f"n_init, {steps} or every"),
        "recorded observables": (8 * n_records * n_init * max(n_obs, 0), f"n_init, {steps} or every"),
        "initial and final states": (8 * n_init * (2 + n_pert) * dim * n_runs, "n_init or the map's size"),
        "working set per job": (8 * 6 * chunk * (1 + n_pert) * dim * n_jobs, "chunk_size or n_jobs"),
    }


def run_ensemble(map: Map, perturber: Perturber, metric: Metric, x0: np.ndarray,
                 seed: np.random.SeedSequence, n_steps: int, every: int, ctx: RunContext,
                 key: str = "run", desc: str | None = None,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Run every initial condition of ``x0`` with its perturbations.

    Parameters
    ----------
    map : Map
        The map.
    perturber : Perturber
        Draws the ``perturber.n`` perturbed copies of each initial condition.
    metric : Metric
        The distance of each copy to its reference.
    x0 : array (n_init, dim)
        The reference initial conditions.
    seed : numpy.random.SeedSequence
        Perturbations of initial condition ``i`` come from ``stream(seed, 1, i)``.
    n_steps : int
        Steps of every orbit.
    every : int
        Record interval (``n_steps`` a multiple of it).
    ctx : RunContext
        Jobs, progress, chunk size and the checkpoint.
    key : str
        The name of this ensemble in the checkpoint (one per eps or eta of a sweep).
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    dist : array (R, n_init, n_pert)
        The distance of each copy to its reference at each record.
    obs : dict name -> array (R, n_init)
        The observables of the reference orbits.
    final : array (n_init, 1 + n_pert, dim)
        The final states of each reference and its copies.
    """

    n_init, dim = x0.shape
    n_pert = check_int(perturber, "n", perturber.n, low=1)
    chunk = ctx.chunk_size or default_chunk(n_pert, dim, n_steps // every + 1, ctx.memory_budget,
                                            ctx.n_jobs, orbit_work(map, n_steps))
    rows = map_over_inits(_run_chunk,
                          lambda idx: (map, metric, perturber, x0[idx], idx, seed, n_steps, every),
                          n_init, ctx, key, chunk, desc=desc)
    # C order, as a loaded result has it: numpy's reductions sum in memory order, and a summary
    # must give the same bits before and after save/load
    dist = np.ascontiguousarray(np.moveaxis(rows.pop("distance"), 0, 1))
    final = rows.pop("final")
    obs = {k[4:]: np.ascontiguousarray(np.moveaxis(v, 0, 1)) for k, v in rows.items() if k.startswith("obs_")}
    return dist, obs, final


def quiet_divergence(fn: Callable, *args):
    """Call a function with its divergence warnings not shown.

    A chunk's rows carry the divergence as data; this is a module-level function,
    so that worker processes can run it.

    Parameters
    ----------
    fn : callable
        The function.
    *args
        Its arguments.

    Returns
    -------
    object
        ``fn(*args)``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        return fn(*args)


def warn_divergence(owner: object, diverged: np.ndarray) -> None:
    """One DivergenceWarning for a whole run, with the count of diverged orbits.

    Inside :func:`divergence_once` the warning is not shown but counted: the
    block issues the run's one warning on exit.

    Parameters
    ----------
    owner : object
        The study (its class names the warning).
    diverged : array of bool
        One flag per orbit (any shape).
    """
    flags = np.asarray(diverged, dtype=bool)
    n = int(flags.sum())
    if n:
        w = DivergenceWarning(
            f"{type(owner).__name__}: {n} of {flags.size} orbits diverged (overflow); "
            "they are NaN and flagged in result_['diverged']")
        w.counts = (n, int(flags.size))
        warnings.warn(w, stacklevel=4)


@contextlib.contextmanager
def held_divergence():
    """Hold back every :class:`~dynnet.DivergenceWarning` issued inside the block.

    Other warnings issued inside the block are shown on exit, in their order.

    Yields
    ------
    list of DivergenceWarning
        Filled on exit with the warnings held back; one that
        :func:`warn_divergence` issued has ``counts``, ``(diverged, orbits)``.
    """
    held: list = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        yield held
    for w in caught:
        if issubclass(w.category, DivergenceWarning):
            held.append(w.message)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def divergence_counts(held: list) -> tuple[int, int] | None:
    """The summed ``(diverged, orbits)`` of the held warnings that carry counts, or None.

    Parameters
    ----------
    held : list of DivergenceWarning
        As :func:`held_divergence` fills it.

    Returns
    -------
    tuple of int, or None
        ``(diverged, orbits)``; None if no warning carries counts.
    """
    counts = [c for c in (getattr(w, "counts", None) for w in held) if c is not None]
    if not counts:
        return None
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def _user_stacklevel() -> int:
    """The ``stacklevel``, for a warning issued by the caller of this function, of the first frame
    outside dynnet and contextlib (the user's line that started the run)."""
    import os
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    skip = os.path.abspath(contextlib.__file__)
    frame, level = sys._getframe(2), 2
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(root) or path == skip):
            break
        frame, level = frame.f_back, level + 1
    return level


@contextlib.contextmanager
def divergence_once(owner: object, stacklevel: int | None = None):
    """Inside the block, every :class:`~dynnet.DivergenceWarning` (a map's, an estimator's,
    a nested study's) is held back; on exit, one warning is issued for the whole block.

    The one warning carries the orbit counts given to :func:`warn_divergence`
    inside the block (summed); where none was given (a divergence only a map
    or an estimator saw), it repeats the first one's message. Other warnings
    issued inside the block are shown on exit, in their order. Nested blocks
    give their one warning to the enclosing block.

    Parameters
    ----------
    owner : object
        The study that owns the run (its class names the warning).
    stacklevel : int or None, default None
        Passed to :func:`warnings.warn` for the one warning; None: the first
        line outside dynnet (the user's call that started the run).

    Yields
    ------
    None
    """
    with held_divergence() as held:
        yield
    if not held:
        return
    counts = divergence_counts(held)
    if len(held) == 1 or counts is None:
        text = str(held[0])
        if not text.startswith(f"{type(owner).__name__}:"):
            text = f"{type(owner).__name__}: {text}"
    else:
        text = (f"{type(owner).__name__}: {counts[0]} of {counts[1]} orbits diverged (overflow); "
                "they are NaN and flagged in the result")
    w = DivergenceWarning(text)
    if counts is not None:
        w.counts = counts
    warnings.warn(w, stacklevel=_user_stacklevel() if stacklevel is None else stacklevel)


def owns_divergence(method: Callable) -> Callable:
    """Decorate a study's ``_compute(ctx)`` so that its run gives exactly one
    :class:`~dynnet.DivergenceWarning` (see :func:`divergence_once`).

    Parameters
    ----------
    method : callable
        The method ``method(self, *args, **kwargs)``.

    Returns
    -------
    callable
        The wrapped method.
    """
    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        with divergence_once(self):  # the warning points at the user's call of run()
            return method(self, *args, **kwargs)

    return wrapped
