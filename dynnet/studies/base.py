"""The Study base class: one lifecycle for every analysis."""

from __future__ import annotations

import contextlib
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import results as _results
from .._memory import MemoryBudgetError, _fmt_bytes, available_memory
from ..base import ParamsObject, as_seed_sequence, check_int, clone
from ..checkpoint import Checkpoint
from ..parallel import resolve_n_jobs
from ._feeding import check_estimators, estimator_key, estimator_list, fit_estimators

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import xarray as xr
    from matplotlib.figure import Figure


__all__ = ["Study", "RunContext", "MemoryBudgetError", "estimator_key", "fit_estimators"]


@dataclass(frozen=True)
class RunContext:
    """What a study's hooks get from :meth:`Study.run`: the run settings, resolved once.

    :meth:`Study.run` builds one RunContext per run, after checking the run
    settings and normalising the seed, and hands that same object to
    :meth:`Study._memory` and :meth:`Study._compute` (a study may derive
    variants with :func:`dataclasses.replace`, e.g. ``progress=False`` for an
    inner loop). The preflight's tiny copy gets its own, serial one.

    Attributes
    ----------
    seed : numpy.random.SeedSequence
        The run's seed, normalised once (``seed=None`` draws fresh entropy here).
    n_jobs : int
        The number of parallel workers the run has, resolved once from
        ``run(n_jobs=...)`` by :func:`dynnet.parallel.resolve_n_jobs`: always
        an int >= 1, never -1. Under no joblib configuration, -1 became the
        local cores (capped by ``DYNNET_NUM_THREADS``); under an active joblib
        backend other than loky (dask, :func:`dynnet.parallel.scheduler`), the
        workers of that backend. Size chunks with it and pass it to
        :func:`dynnet.parallel.map_chunks` as it is; there is nothing left to
        resolve (``effective_n_jobs(ctx.n_jobs) == ctx.n_jobs``). Numbers never
        depend on it.
    progress : bool
        Show progress bars.
    chunk_size : int or None
        Initial conditions per batch; None: chosen to fit the memory budget.
    checkpoint : Checkpoint or None
        The run's checkpoint folder; claimed (locked) by the time
        :meth:`Study._compute` runs; :meth:`~dynnet.checkpoint.Checkpoint.key`
        names one part of the run in it.
    memory_budget : int
        Bytes the run may use.
    """

    seed: np.random.SeedSequence
    n_jobs: int = 1
    progress: bool = False
    chunk_size: int | None = None
    checkpoint: Any = None
    memory_budget: int = 2**34

    def child_seed(self, *key: int) -> np.random.SeedSequence:
        """The SeedSequence of child ``key`` of the run's seed (addressed, not spawned)."""
        ss = self.seed
        return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + tuple(key),
                                      pool_size=ss.pool_size)


class Study(ParamsObject):
    """Composes a map, a perturber, a metric and estimators into one analysis.

    A Study is configured by keyword parameters (everything that changes its
    numbers), runs with :meth:`run` (whose arguments are the run settings, which
    never change a number), and then holds

    * ``result_``: an ``xarray.Dataset`` with named dimensions, the raw records
      and every number derived from them, with attributes holding every
      parameter, the seed and the dynnet version;
    * ``estimators_``: the fitted estimators, in order (after :meth:`run` or
      :meth:`refit`; a loaded study has the numbers in ``result_`` but no
      fitted estimator objects until :meth:`refit`);
    * ``seed_``: the :class:`numpy.random.SeedSequence` the run used (with
      ``seed=None``, the entropy drawn for it, which :meth:`save` writes as the
      seed so that a loaded and cloned study repeats the same numbers).

    It offers :meth:`summary` (the headline numbers, an ``xarray.Dataset``),
    :meth:`plot` (matplotlib figures), :meth:`save` (netCDF;
    :func:`dynnet.load` rebuilds the Study) and :meth:`quick` (a small preset).

    Notes
    -----
    For developers, the contract of a study. :meth:`run` is final (a subclass
    that defines it is refused when the class is made): it owns the lifecycle.
    It checks the run settings and resolves the workers once
    (:class:`RunContext`), checks that the study declares its ``seed`` (and, if
    it has parts, ``estimators``) parameter, normalises the seed (:meth:`_run_seed`),
    estimates the memory (:meth:`_memory`), checks the parameters
    (:meth:`_validate`) and that they can be saved, claims the checkpoint
    folder (keyed by the parameters and the seed, :func:`dynnet.results.run_fingerprint`),
    runs a *preflight* (the whole pipeline, :meth:`_compute` + :meth:`_analyse`
    + :meth:`summary` + the netCDF encoding, on a tiny copy, so that a
    misconfiguration fails in seconds and not after hours), computes, analyses
    once, and records ``result_``, ``estimators_`` and ``seed_``. Saving and
    loading (:mod:`dynnet.results`) use only public methods.

    The hooks a study may implement (all of them; nothing else is overridden):

    * ``__init__`` with its parameters (stored unchanged), among them ``seed``
      and, for a study with parts, ``estimators``;
    * :meth:`_compute` ``(ctx) -> xarray.Dataset`` (required): the records,
      the costly part, using ``ctx.seed``, ``ctx.n_jobs``, ``ctx.chunk_size``,
      ``ctx.checkpoint`` (:class:`RunContext`);
    * :meth:`_analyse` ``(ds) -> (ds, fitted)``: numbers derived from the
      records (fits of estimators), written into ``ds``; run once per run;
    * :meth:`_summary` ``(ds) -> xarray.Dataset`` and :meth:`plot`;
    * :meth:`_part_defaults`: factories of the parts that default to None;
    * :meth:`_validate`: more parameter checks (call ``super()._validate()``);
    * :meth:`_memory` ``(ctx)``: estimated bytes, ``{what: (bytes, parameter to lower)}``;
    * :meth:`_tiny_params`: the preflight's overrides, when the ``_preflight_sizes``
      declaration does not say it (a study of studies shrinks its inner study);
    * :meth:`_run_seed`: the seed the run uses, when it is not the ``seed``
      parameter alone (:class:`~dynnet.GridStudy` with ``seed=None`` runs with
      its study's fixed seed);
    * the estimator side (:mod:`dynnet.studies._feeding`):
      :meth:`_fed_estimators` (the estimators fitted through
      :meth:`~dynnet.Estimator.fit_result`) and :meth:`_estimator_variables`
      (the result variables offered to them);
    * for :func:`dynnet.load`'s consistency checks of a file (beyond the
      generic ones): :meth:`_result_sizes` and :meth:`_check_result` ``(ds)``.

    and the declarations (class attributes):

    * ``_quick_params``: the quick preset, ``{parameter: value}``;
    * ``_preflight_sizes``: the parameters the preflight may shrink,
      ``{name: rule}``; an int rule caps an int parameter at that value, the
      rule ``"first"`` keeps the first value of a sequence (default
      ``{"n_init": 2, "eps": "first"}``);
    * ``_records``: the records every result holds, ``{name: (dims, kind)}``,
      checked by :func:`dynnet.load` and offered to the estimators.

    No study touches another object's private state. "Write your own Study"
    in the how-to guides walks through a complete one.
    """

    #: parameter overrides of the quick preset (a subclass sets its own)
    _quick_params: dict = {}
    #: parameters the preflight's tiny copy shrinks: an int caps an int parameter, "first" keeps
    #: the first value of a sequence (a subclass sets its own)
    _preflight_sizes: dict = {"n_init": 2, "eps": "first"}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "run" in cls.__dict__:
            raise TypeError(f"{cls.__name__} defines run(), which Study keeps final: implement the "
                            "hooks instead (_compute, _analyse, _summary, _validate, _memory, "
                            "_tiny_params, _run_seed; see the Study docstring)")

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def quick(cls, **overrides: Any) -> Study:
        """A small, fast preset of this Study (seconds, for CI and first looks).

        Parameters
        ----------
        **overrides
            Parameters to set on top of the preset.

        Returns
        -------
        Study
        """
        params = dict(cls._quick_params)
        params.update(overrides)
        obj = cls()
        obj.set_params(**{k: clone(v, safe=False) for k, v in params.items()})
        return obj

    @staticmethod
    def _part_defaults() -> dict:
        """Factories of the parts whose parameter default is None (map, perturber...)."""
        return {}

    def parts(self) -> dict:
        """Each part (map, perturber, metric, estimators...): the parameter's value, or a
        fresh default object when it is None.

        Returns
        -------
        dict
            Part name to object.
        """
        out = {}
        for name, factory in self._part_defaults().items():
            value = getattr(self, name)
            out[name] = factory() if value is None else value
        return out

    def set_params(self, **params: Any) -> Study:
        """As :meth:`ParamsObject.set_params`; ``part__x`` on a part left at its default
        (None) first puts the default object in place.

        Parameters
        ----------
        **params
            Parameters by name, ``part__x`` for nested ones.

        Returns
        -------
        Study
            ``self``.
        """
        defaults = self._part_defaults()
        for key in params:
            name = key.split("__", 1)[0]
            if "__" in key and name in defaults and getattr(self, name, None) is None:
                setattr(self, name, defaults[name]())
        return super().set_params(**params)

    # -- the lifecycle ------------------------------------------------------------------------
    def run(self, *, n_jobs: int = 1, progress: bool = False, checkpoint: Path | str | None = None,
            resume: bool = False, chunk_size: int | None = None, memory_budget: int | None = None,
            preflight: bool = True, keep_checkpoint: bool = False) -> Study:
        """Run the study; returns ``self`` with ``result_``, ``estimators_`` and ``seed_``.

        The arguments are run settings: they never change a number, and are
        never saved, loaded, cloned or set with ``set_params``.

        Parameters
        ----------
        n_jobs : int, default 1
            Parallel workers over chunks of initial conditions (joblib; -1: every
            core). Results are bitwise the same for any value.
        progress : bool, default False
            Show progress bars.
        checkpoint : str, Path or None, default None
            A folder for finished chunks, so that a killed run can resume. It
            must be new, empty, or a checkpoint folder dynnet made; it is locked
            while the run uses it, and dynnet's files in it are removed when the
            run finishes (with ``keep_checkpoint``: when :meth:`save` has written
            the result; see :mod:`dynnet.checkpoint`). A folder that holds
            finished chunks is refused unless ``resume``.
        resume : bool, default False
            Continue from the chunks of this same run (same parameters and
            seed) already in ``checkpoint`` (with none there yet, start);
            bitwise identical to an uninterrupted run. Needs a fixed ``seed``.
        chunk_size : int or None, default None
            Initial conditions per batch; None: about 3000 orbits per batch, fewer
            if the memory budget asks for it.
        memory_budget : int or None, default None
            Bytes the run may use; None: 80% of the memory available now. A run
            whose estimate exceeds it is refused before anything is allocated.
        preflight : bool, default True
            First run the whole pipeline on a tiny copy (a second or so), so that
            a misconfiguration fails at once.
        keep_checkpoint : bool, default False
            Keep the finished chunks in ``checkpoint`` after the run, and remove
            them only when :meth:`save` has written the result file, flushed it to
            disk and renamed it into place: a crash or a failed save between the
            run and the file loses nothing (``resume=True`` then rebuilds the
            result from the chunks without computing them again).

        Returns
        -------
        Study
            ``self``, with ``result_``, ``estimators_`` and ``seed_``.

        Raises
        ------
        MemoryBudgetError
            The estimate exceeds the budget (the message names the parameter to lower).
        dynnet.checkpoint.CheckpointError
            The checkpoint folder is someone else's, in use, or of another run.
        """
        name = type(self).__name__
        self._check_declared()
        n_jobs, progress, chunk_size, memory_budget = self._run_settings(n_jobs, progress, chunk_size,
                                                                         memory_budget)
        run_seed = self._run_seed()
        if resume and checkpoint is None:
            raise ValueError(f"{name}.run: resume=True needs a checkpoint folder")
        if resume and run_seed is None:
            raise ValueError(
                f"{name}.run: resume=True needs a fixed seed; with seed=None each run "
                "draws fresh entropy, so finished chunks could not be continued reproducibly"
            )
        try:
            seed = as_seed_sequence(run_seed)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}: parameter {exc}") from None
        ckpt = (None if checkpoint is None else
                Checkpoint(checkpoint, _results.run_fingerprint(self, seed), resume=bool(resume),
                           keep=bool(keep_checkpoint)))
        # the one context of this run (the checkpoint in it is claimed below, before computing)
        ctx = RunContext(seed=seed, n_jobs=n_jobs, progress=progress, chunk_size=chunk_size,
                         checkpoint=ckpt, memory_budget=memory_budget)
        self._early_memory_check(ctx)
        self._validate()
        self._check_saveable()
        self._check_memory(ctx)
        # the checkpoint is claimed (locked) first, so a second run on it fails at once
        self._kept_checkpoint = None
        with contextlib.nullcontext(None) if ckpt is None else ckpt:
            if preflight:
                self._preflight()
            ds = self._compute(ctx)
        if getattr(ckpt, "kept", False):
            self._kept_checkpoint = ckpt  # removed by save(), after the result file is in place
        self.seed_ = seed
        self._finish(ds)
        return self

    def refit(self) -> Study:
        """Fit the estimators again on ``result_`` (for a loaded study, whose file has the
        numbers but no fitted estimator objects); returns self.

        Returns
        -------
        Study
            ``self``, with ``estimators_``.
        """
        self._check_run()
        self._finish(self.result_)
        return self

    def validate(self) -> Study:
        """Check every parameter, as :meth:`run` does before computing anything.

        Returns
        -------
        Study
            ``self``.

        Raises
        ------
        TypeError, ValueError
            A parameter the study refuses, in one line naming it.
        """
        self._check_declared()
        self._validate()
        return self

    def saved_seed(self) -> np.random.SeedSequence | None:
        """The seed a saved file records in place of the ``seed`` parameter, or None.

        When the seed the run used (:meth:`_run_seed`) cannot repeat the run
        (None draws fresh entropy, a Generator moves on), a file records the
        :class:`~numpy.random.SeedSequence` that was drawn (``seed_``), so that
        :func:`dynnet.load` and :func:`~dynnet.clone` repeat the same numbers;
        otherwise the parameter itself is saved (None here).

        Returns
        -------
        numpy.random.SeedSequence or None
            The drawn seed to save, or None to save the ``seed`` parameter as it is.
        """
        seed = self._run_seed()
        if seed is None or isinstance(seed, np.random.Generator):
            return getattr(self, "seed_", None)
        return None

    def set_result(self, ds: xr.Dataset) -> Study:
        """Give the study a result, as :func:`dynnet.load` does: ``result_``, and ``seed_``
        from the dataset's ``seed_entropy`` and ``seed_spawn_key`` attributes; no fitting
        (:meth:`refit` fits the estimators on it).

        Nothing is checked here: :func:`dynnet.load` checks a file's result against the
        study (:func:`dynnet.results.check_result`) before it gives it.

        Parameters
        ----------
        ds : xarray.Dataset
            A result of this study, with its attributes.

        Returns
        -------
        Study
            ``self``.
        """
        import json

        self.result_ = ds
        if "seed_entropy" in ds.attrs:
            try:
                entropy = int(ds.attrs["seed_entropy"])
                key = tuple(json.loads(ds.attrs.get("seed_spawn_key", "[]")))
                self.seed_ = np.random.SeedSequence(entropy, spawn_key=key)
            except (ValueError, TypeError):
                pass
        return self

    def check_result(self, ds: xr.Dataset) -> str | None:
        """The study's consistency checks of a result (a loaded file's), after the generic ones
        of :func:`dynnet.results.check_result`: every dimension that a parameter sizes
        (:meth:`_result_sizes`) has the size it implies, then the study's own checks
        (:meth:`_check_result`, by default its ``_records``).

        Parameters
        ----------
        ds : xarray.Dataset
            A result of this study (as a file holds it).

        Returns
        -------
        str or None
            What is wrong, in one line; None if nothing is.
        """
        for dim, (size, why) in self._result_sizes().items():
            if dim in ds.sizes and ds.sizes[dim] != size:
                return f"dimension {dim} has {ds.sizes[dim]} entries but {why} implies {size}"
        return self._check_result(ds)

    def _finish(self, ds) -> None:
        ds, fitted = self._analyse(ds)
        ds.attrs.update(_results.study_attrs(self, getattr(self, "seed_", None),
                                             saved_seed=self.saved_seed()))
        self.result_ = ds
        self.estimators_ = list(fitted)

    # -- hooks --------------------------------------------------------------------------------
    def _validate(self) -> None:
        """Check every parameter before any computing (raise naming the parameter)."""
        self._check_part_types()
        self._check_estimators()

    def _check_part_types(self) -> None:
        """``map``, ``perturber`` and ``metric`` must be dynnet objects of their kind."""
        from ..maps.base import Map
        from ..metrics import Metric
        from ..perturbers import Perturber

        kinds = {"map": Map, "perturber": Perturber, "metric": Metric}
        for name in self._part_defaults():
            if name in kinds and getattr(self, name, None) is not None:
                value = getattr(self, name)
                if not isinstance(value, kinds[name]):
                    raise TypeError(f"{type(self).__name__}: parameter {name}={value!r} must be a dynnet "
                                    f"{kinds[name].__name__} (or None for the default)")

    #: records every result of the study holds, ``{name: (dims, kind)}`` (kind "f", "b", "i" or
    #: None), checked by :func:`dynnet.load` (see :func:`dynnet.results.check_records`)
    _records: dict = {}

    def _result_sizes(self) -> dict[str, tuple[int, str]]:
        """The sizes of result dimensions that the parameters imply: ``{dim: (size, why)}``.

        Generic: ``init`` has ``n_init`` entries, ``pert`` the perturber's ``n``, a
        dimension named after a sequence parameter (``eps``, or ``eta`` for ``etas``)
        one entry per value, and ``step`` ``n_steps // every + 1`` where the study
        records every ``every`` steps. :func:`dynnet.load` refuses a file that
        disagrees. A study may add its own.
        """
        params = self.get_params(deep=False)
        out = {}

        def plain_int(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 0

        if plain_int(params.get("n_init")):
            out["init"] = (int(params["n_init"]), f"n_init={params['n_init']}")
        if "perturber" in self._part_defaults():
            n = getattr(self.parts()["perturber"], "n", None)
            if plain_int(n):
                out["pert"] = (int(n), f"perturber__n={n}")
        for name, value in params.items():
            if isinstance(value, (tuple, list, range, np.ndarray)) and np.ndim(value) == 1:
                why = (len(value), f"{name} with {len(value)} values")
                out.setdefault(name, why)
                if name.endswith("s") and name[:-1] not in params:  # etas -> eta
                    out.setdefault(name[:-1], why)
        n_steps, every = params.get("n_steps"), params.get("every")
        if plain_int(n_steps) and plain_int(every) and every > 0:
            out["step"] = (int(n_steps) // int(every) + 1, f"n_steps={n_steps} and every={every}")
        return out

    def _check_result(self, ds) -> str | None:
        """The study's own checks of a loaded result, after the generic ones of
        :func:`dynnet.results.check_result`; returns what is wrong in one line, or None.

        The default checks the records the class declares in ``_records``.
        """
        return _results.check_records(ds, self._records)

    def _compute(self, ctx: RunContext):  # pragma: no cover - abstract
        """The records of the run, an ``xarray.Dataset``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _compute(ctx)")

    def _analyse(self, ds):
        """Numbers derived from the records (fits); returns ``(ds, fitted estimators)``."""
        return ds, []

    def _memory(self, ctx: RunContext) -> dict[str, tuple[int, str]]:
        """Estimated bytes of the run's parts: ``{what: (bytes, parameter to lower)}``."""
        return {}

    def _tiny_params(self) -> dict:
        """Parameter overrides for the preflight's tiny copy ({} : no preflight).

        The default reads the ``_preflight_sizes`` declaration: for ``{name: rule}``,
        an int rule caps an int parameter larger than it (``"n_init": 2``), the
        rule ``"first"`` keeps the first value of a sequence of more than one
        (``"eps": "first"``). Parameters the study does not have are skipped.
        """
        out = {}
        params = self.get_params(deep=False)
        for name, rule in self._preflight_sizes.items():
            if name not in params:
                continue
            value = params[name]
            if rule == "first":
                values = np.atleast_1d(np.asarray(value, dtype=object))
                if values.size > 1:
                    out[name] = (values[0],)
            elif isinstance(rule, (int, np.integer)) and not isinstance(rule, (bool, np.bool_)):
                if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) \
                        and value > rule:
                    out[name] = int(rule)
            else:
                raise TypeError(f"{type(self).__name__}._preflight_sizes[{name!r}]={rule!r} must be an "
                                "int (a cap) or 'first'")
        return out

    def _run_seed(self):
        """The seed the run uses (normalised by :meth:`run` into ``seed_``): the ``seed``
        parameter. A study whose seed can come from a part overrides this (GridStudy with
        ``seed=None``: its study's fixed seed); None means "draw fresh entropy"."""
        return self.seed

    # -- lifecycle helpers --------------------------------------------------------------------
    def _check_declared(self) -> None:
        """The parameters the lifecycle needs: ``seed`` always, ``estimators`` with parts."""
        names = self._param_names()
        name = type(self).__name__
        if "seed" not in names:
            raise TypeError(f"{name} has no seed parameter: add seed=None to its __init__ and store "
                            "it (self.seed = seed); run() draws every random number from it")
        if self._part_defaults() and "estimators" not in names:
            raise TypeError(f"{name} has parts but no estimators parameter: add estimators=None to its "
                            "__init__ and store it (self.estimators = estimators)")

    def _run_settings(self, n_jobs, progress, chunk_size, memory_budget):
        """The run settings checked, and the workers resolved once (:func:`resolve_n_jobs`)."""
        name = f"{type(self).__name__}.run"
        n_jobs = resolve_n_jobs(n_jobs)
        if not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"{name}: progress={progress!r} must be True or False")
        if chunk_size is not None:
            chunk_size = check_int(self, "chunk_size", chunk_size, low=1)
        if memory_budget is None:
            memory_budget = int(0.8 * available_memory())
        else:
            memory_budget = check_int(self, "memory_budget", memory_budget, low=1)
        return int(n_jobs), bool(progress), chunk_size, memory_budget

    def _early_memory_check(self, ctx: RunContext) -> None:
        """The memory estimate before validation touches any array (validation steps a state).

        The estimate reads only parameters and the map's size (``_memory``); a
        study whose estimate cannot be made yet (a parameter that validation
        would refuse) is left to :meth:`_validate`, which names the parameter.
        """
        try:
            parts = self._memory(ctx)
        except MemoryBudgetError:
            raise
        except Exception:  # a bad parameter: validation reports it with its own message, and the
            # estimate after validation raises anything else again
            return
        self._check_memory(ctx, parts)

    def _check_memory(self, ctx: RunContext, parts: dict | None = None) -> None:
        parts = self._memory(ctx) if parts is None else parts
        total = sum(b for b, _ in parts.values())
        if total > ctx.memory_budget:
            what, (b, param) = max(parts.items(), key=lambda kv: kv[1][0])
            raise MemoryBudgetError(
                f"{type(self).__name__}: the run needs about {_fmt_bytes(total)} but the budget is "
                f"{_fmt_bytes(ctx.memory_budget)} (80% of available memory unless "
                f"run(memory_budget=...)); the largest part is {what} ({_fmt_bytes(b)}): "
                f"lower {param}"
            )

    def _preflight(self) -> None:
        """The whole pipeline on a tiny copy: compute, analyse, summary, netCDF encoding."""
        tiny_params = self._tiny_params()
        if not tiny_params:
            return
        tiny = clone(self).set_params(**tiny_params)
        tiny._validate()
        ctx = RunContext(seed=np.random.SeedSequence(0))  # never draws from the user's seed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = tiny._compute(ctx)
            tiny.seed_ = ctx.seed
            tiny._finish(ds)
            tiny.summary()
            _results.to_netcdf_bytes(tiny)

    def _check_saveable(self) -> None:
        """Fail before computing if the parameters could not be written with the result."""
        seed = self.seed
        _results.encode_params(self, seed=0 if isinstance(seed, np.random.Generator) else seed)

    def _check_run(self):
        if not hasattr(self, "result_"):
            raise RuntimeError(f"{type(self).__name__} has not been run yet; call run() first")

    def _check_estimators(self):
        """Refuse, before any computing, estimators this study cannot feed (see :mod:`._feeding`)."""
        check_estimators(self)

    def _estimator_list(self) -> list:
        return estimator_list(self)

    def _fed_estimators(self) -> list:
        """The estimators fitted through ``fit_result`` (default: all; a study whose own
        computation uses one leaves it out)."""
        return self._estimator_list()

    def _estimator_variables(self) -> set[str]:
        """The result variables offered to the estimators (default: the ``_records`` names)."""
        return set(self._records)

    # -- results ------------------------------------------------------------------------------
    def summary(self, as_frame: bool = False) -> xr.Dataset | pd.DataFrame:
        """The headline numbers of the run, labelled.

        Parameters
        ----------
        as_frame : bool, default False
            Return a flat :class:`pandas.DataFrame` instead: one column per
            coordinate (``eps``, ``eta``, a grid's parameters...) and one per
            number, one row per combination of the coordinates (a number along
            fewer coordinates is repeated on each row it applies to, as
            :meth:`xarray.Dataset.to_dataframe` broadcasts); a summary of scalars
            only is one row.

        Returns
        -------
        xarray.Dataset or pandas.DataFrame
            Scalars, or tables along coordinates such as ``eps`` or ``eta``.
            Estimator numbers are named ``<class name, lower case>.<key>``
            (for example ``finitelyapunov.mle``).
        """
        if not isinstance(as_frame, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.summary: as_frame={as_frame!r} must be True or False")
        self._check_run()
        out = self._summary(self.result_)
        return summary_frame(out) if as_frame else out

    def _run_state(self) -> str:
        """One line: whether the study has run, and what it holds."""
        if not hasattr(self, "result_"):
            return "not run"
        sizes = ", ".join(f"{k}: {v}" for k, v in self.result_.sizes.items())
        n = len(self.result_.data_vars)
        held = f"result_ with {n} variables" + (f" ({sizes})" if sizes else "")
        if hasattr(self, "estimators_"):
            k = len(self.estimators_)
            return f"run: {held}, {k} fitted estimator{'' if k == 1 else 's'}"
        return f"loaded: {held}; refit() rebuilds the estimators"

    def params_repr(self) -> str:
        """The parameters that differ from their defaults, as ``ParamsObject`` writes them:
        text that rebuilds the study, without the run state that ``repr`` adds (files and
        nested reprs use this).

        Returns
        -------
        str
            For example ``PerturbationStudy(n_init=10)``.
        """
        _REPR.depth = getattr(_REPR, "depth", 0) + 1
        try:
            return super().__repr__()
        finally:
            _REPR.depth -= 1

    def __repr__(self) -> str:
        """The parameters that differ from their defaults, then whether the study has run
        (as a comment, so the text still rebuilds the study); a study nested in another
        object's parameters shows its parameters only."""
        if getattr(_REPR, "depth", 0):
            return self.params_repr()
        return f"{self.params_repr()}  # {self._run_state()}"

    def _repr_html_(self) -> str:
        """Rich display in Jupyter: the parameters (set ones first), and after a run the
        headline summary as a table.

        Returns
        -------
        str
            An HTML fragment (every value escaped).
        """
        from html import escape

        params = self.get_params(deep=True)
        defaults = type(self)().get_params(deep=False)
        rows = []
        for name in sorted(params, key=lambda k: (k.count("__"), k)):
            value = params[name]
            top = "__" not in name
            changed = top and not _same_param(value, defaults.get(name, inspect_empty))
            style = ' style="font-weight:bold"' if changed else ""
            rows.append(f"<tr><td{style}>{escape(name)}</td><td><code>{escape(_html_value(value))}"
                        "</code></td></tr>")
        head = (f"<div class=\"dynnet-study\"><strong>{escape(type(self).__name__)}</strong> "
                f"<em>({escape(self._run_state())})</em>")
        table = ("<details open><summary>parameters (bold: set, not default)</summary>"
                 "<table><tr><th>parameter</th><th>value</th></tr>" + "".join(rows) + "</table></details>")
        body = ""
        if hasattr(self, "result_"):
            try:
                frame = self.summary(as_frame=True)
                body = ("<details open><summary>summary()</summary>"
                        + frame.to_html(index=False, float_format=lambda x: f"{x:.4g}", max_rows=60)
                        + "</details>")
            except Exception as exc:  # noqa: BLE001 - a display must not raise; it says what failed
                body = f"<p>summary() failed: {escape(type(exc).__name__)}: {escape(str(exc))}</p>"
        return head + table + body + "</div>"

    def _summary(self, ds):
        import xarray as xr

        return xr.Dataset({k: ds[k] for k in ds.data_vars if "." in k})

    def plot(self) -> list[Figure]:
        """Figures of the run.

        Returns
        -------
        list of matplotlib.figure.Figure
            The study's figures (none for the base class).
        """
        self._check_run()
        return []

    def save(self, path: Path | str, overwrite: bool = False) -> Study:
        """Write ``result_`` (with the parameters needed to rebuild) to a netCDF file.

        Parameters
        ----------
        path : str or Path
            The file (its folder must exist).
        overwrite : bool, default False
            Replace an existing regular file; otherwise an existing path raises
            ``FileExistsError``. dynnet never writes anything but a regular file.

        Returns
        -------
        Study
            ``self``.

        Notes
        -----
        After ``run(checkpoint=..., keep_checkpoint=True)`` the checkpoint is
        removed here, only once the file is written, flushed to disk and renamed
        into place. If the save fails, the checkpoint stays and the error says
        where it is and how to finish the save.
        """
        self._check_run()
        kept = getattr(self, "_kept_checkpoint", None)
        try:
            _results.save(self, path, overwrite=overwrite)
        except Exception as exc:
            if kept is not None and hasattr(exc, "add_note"):
                exc.add_note(
                    f"the finished run is kept in the checkpoint {kept.path}: fix the cause and call "
                    f"save({str(path)!r}) again; in a new session, {type(self).__name__}(...).run("
                    f"checkpoint={str(kept.path)!r}, resume=True, keep_checkpoint=True) with the same "
                    "parameters rebuilds the result from it without computing it again, then save()")
            raise
        if kept is not None:
            self._kept_checkpoint = None
            if not kept.remove():
                warnings.warn(f"{type(self).__name__}.save: the result is in {path}, but the checkpoint "
                              f"{kept.path} was left in place (in use by another run or changed)",
                              RuntimeWarning, stacklevel=2)
        return self


inspect_empty = object()
#: how deep the current thread is inside Study reprs (nested studies show parameters only)
_REPR = threading.local()


def _same_param(a, b) -> bool:
    """Whether a parameter value equals its default, without elementwise comparisons."""
    if a is b:
        return True
    if isinstance(a, ParamsObject) or isinstance(b, ParamsObject) or b is inspect_empty:
        return False
    try:
        same = a == b
        return bool(same) if isinstance(same, (bool, np.bool_)) else False
    except Exception:  # noqa: BLE001 - arrays, frames: not the default
        return False


def _html_value(value, limit: int = 120) -> str:
    """A parameter value in one short line (arrays and pandas objects by shape)."""
    if isinstance(value, ParamsObject):
        text = f"{type(value).__name__}(...)"
    elif isinstance(value, np.ndarray):
        text = f"array of shape {value.shape}, {value.dtype}"
    elif hasattr(value, "shape") and type(value).__module__.startswith("pandas"):
        text = f"{type(value).__name__} of shape {tuple(value.shape)}"
    elif isinstance(value, (tuple, list)) and any(hasattr(v, "shape") for v in value):
        text = "(" + ", ".join(_html_value(v, limit) for v in value) + ")"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def summary_frame(summary: xr.Dataset) -> pd.DataFrame:
    """A summary dataset as one flat :class:`pandas.DataFrame` (see :meth:`Study.summary`).

    Parameters
    ----------
    summary : xarray.Dataset
        A study's summary.

    Returns
    -------
    pandas.DataFrame
        Coordinates as columns, one row per combination of them; one row for scalars.
    """
    import pandas as pd

    if not summary.sizes:
        return pd.DataFrame([{k: summary[k].values.item() for k in summary.data_vars}])
    return summary.to_dataframe().reset_index()
