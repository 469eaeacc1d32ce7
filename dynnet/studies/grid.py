"""GridStudy: any study, swept over a Cartesian grid of its (nested) parameters."""

from __future__ import annotations

import itertools
import json
import numbers
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import ParamsObject, as_seed_sequence, clone
from ..parallel import map_chunks
from .base import RunContext, Study
from .blocks import held_divergence, owns_divergence

if TYPE_CHECKING:
    from collections.abc import Sequence

    import xarray as xr
    from matplotlib.figure import Figure

    from ..base import SeedLike
    from ..estimators.base import Estimator

__all__ = ["GridStudy", "grid_label"]

#: the grid of ``GridStudy()``: lambda_nMLE at eta = 1 against width, depth and activation
DEFAULT_GRID = {"map__hidden": ((10,), (20,), (10, 10)), "map__activation": ("sigmoid", "tanh")}

#: the checkpoint key under which finished cells are stored (index: the cell's flat index)
_KEY = "cell"


def _default_study():
    from .edge import EdgeOfStabilityStudy

    return EdgeOfStabilityStudy(eps=(1e-8,), n_steps_long=0)


def _quick_study():
    from .edge import EdgeOfStabilityStudy

    return EdgeOfStabilityStudy(n_init=4, eps=(1e-8,), n_steps=100, n_steps_long=0)


def grid_label(value: Any) -> str:
    """The text that labels one grid value on a coordinate (for values that are not numbers
    or strings).

    Tuples and lists are written as tuples, ``(10,)`` or ``(10, 10)`` (so ``[10]`` and
    ``(10,)`` get the same label), dynnet objects by their ``repr``, anything else by
    ``str``.

    Parameters
    ----------
    value : object
        One value of a grid parameter.

    Returns
    -------
    str
        The label.

    Examples
    --------
    >>> grid_label((10, 10)), grid_label([20]), grid_label(None)
    ('(10, 10)', '(20,)', 'None')
    """
    if isinstance(value, (tuple, list)):
        inner = ", ".join(grid_label(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, ParamsObject):
        return repr(value)
    return str(value)


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


#: a grid of at most this many cells has every cell checked before the run (else each value once)
CHECK_ALL_CELLS = 256
#: the most cells one run of a grid takes (a larger one is refused before anything is computed)
MAX_CELLS = 100_000


def _same_value_key(v):
    """A key equal for grid values that set the same study: numbers by value (10 and 10.0),
    sequences as tuples ([10] and (10,)), and a one-element sequence as its element (10 and (10,)),
    as dynnet's parameters read a number where they take a sequence."""
    if isinstance(v, np.ndarray) and v.ndim > 0:
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        inner = tuple(_same_value_key(x) for x in v)
        return inner[0] if len(inner) == 1 and inner[0][0] == "num" else ("seq",) + inner
    if _is_number(v):
        return ("num", float(v))
    return ("repr", type(v).__name__, repr(v))


def _coordinate(values: Sequence) -> np.ndarray:
    """The coordinate of one grid dimension: the values themselves when they are all numbers
    or all strings, else their labels (:func:`grid_label`)."""
    if all(_is_number(v) for v in values):
        if all(isinstance(v, numbers.Integral) for v in values):
            return np.array([int(v) for v in values], dtype=np.int64)
        return np.array([float(v) for v in values], dtype=np.float64)
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=str)
    return np.array([grid_label(v) for v in values], dtype=str)


class GridStudy(Study):
    r"""Any study, run at every point of a Cartesian grid of its parameters.

    Each *cell* of the grid is a copy of ``study`` with one value of every
    grid parameter set (``clone(study).set_params(**cell)``, nested names such
    as ``map__eta`` included), run on its own; ``result_`` stacks the cells'
    :meth:`~dynnet.studies.base.Study.summary` into one labelled
    ``xarray.Dataset`` with one dimension per grid parameter, in the order of
    ``grid``:

    .. math::

        \text{result}[v](p_1, \dots, p_d, \dots) =
        \text{summary}\big(\text{study}(p_1, \dots, p_d)\big)[v](\dots)

    for every summary variable :math:`v` (the grid dimensions come first, then
    the variable's own).

    Parameters
    ----------
    study : Study or None, default None
        The study to sweep. None: ``EdgeOfStabilityStudy(eps=(1e-8,),
        n_steps_long=0)`` (:math:`\lambda_{nMLE}` at :math:`\eta = 1` with the
        paper's 500 networks; with the default grid, the sweep of
        ``examples/sweep.toml``).
    grid : dict of str to sequence, or None, default None
        Parameter name of ``study`` (nested with ``__``) to the values it
        takes, e.g. ``{"map__eta": [0.5, 1.0], "map__hidden": [(10,), (20,)]}``.
        Every list must be non-empty and must not repeat a value (a number
        and a one-element sequence of it, ``10`` and ``(10,)``, are one
        value). None:
        ``{"map__hidden": ((10,), (20,), (10, 10)), "map__activation":
        ("sigmoid", "tanh")}``.
    estimators : list of Estimator or None, default None
        None: each cell uses the study's own estimators. A list replaces the
        study's ``estimators`` in every cell.
    common_seed : bool, default True
        True: every cell runs with the same seed, so cells differ only by
        their grid values (a sweep over ``map__eta`` trains the same initial
        networks with the same perturbations). False: the cell at grid index
        :math:`(i_1, \dots, i_d)` gets the child :math:`(i_1, \dots, i_d)`
        of the seed (independent draws per cell).
    seed : int, SeedSequence, Generator or None, default None
        None: the seed is the study's own ``seed`` parameter, so with
        ``common_seed=True`` a cell is exactly ``study`` run alone with the
        cell's values (bitwise); if that is None too, entropy is drawn once
        for the whole grid (recorded in ``seed_``). Anything else replaces
        the study's seed in every cell. A grid over ``seed`` itself wins over
        both.

    Attributes
    ----------
    result_ : xarray.Dataset
        Every summary variable of the cells, with the grid dimensions first.
        A grid dimension is named by its parameter (``map__eta``); its
        coordinate holds the values when they are all numbers or all
        strings, and otherwise their labels (:func:`grid_label`: tuples as
        ``"(10,)"``, dynnet objects by their repr); the exact values are the
        ``grid`` parameter, saved with the result.
    estimators_ : list
        Empty: the grid keeps each cell's summary, not its records (run one
        cell alone, ``clone(study).set_params(**cell).run()``, for its fitted
        estimators).
    seed_ : numpy.random.SeedSequence
        The seed the cells' seeds come from.

    Notes
    -----
    The cells must have summaries that line up: the same variables, with the
    same dimensions and coordinates. A grid parameter that changes a
    summary's coordinates (for example ``eps`` of a study that reports per
    eps) is refused with an error naming the variable and two cells; the
    preflight (on the first and last value of every grid parameter, each
    cell at the study's tiny size, a swept size such as ``n_init`` at its tiny
    value) finds it in seconds.

    Before the run, every cell's parameters are checked, or, in a grid of
    more than 256 cells, each value of each grid parameter once (each cell
    is checked again when it runs); a grid of more than 100,000 cells is
    refused, with its size. Orbits that diverge in any cell give one
    :class:`~dynnet.DivergenceWarning` for the grid, naming the cells.

    The cells run in parallel with ``run(n_jobs=...)`` through
    :func:`dynnet.parallel.map_chunks` (joblib, or a dask cluster under
    :func:`dynnet.parallel.scheduler`), each cell in one worker; a lone cell
    gets the workers itself. With ``run(checkpoint=...)`` every finished
    cell is stored, so ``run(resume=True)`` computes only the cells that were
    not finished. Results are bitwise the same for any ``n_jobs``, chunk
    size, or interruption.

    Examples
    --------
    >>> import dynnet as dn
    >>> g = dn.GridStudy(dn.EdgeOfStabilityStudy.quick(n_init=4, eps=(1e-8,)),
    ...                  grid={"map__eta": [0.5, 1.0], "map__hidden": [(10,), (20,)]})
    >>> g.run(n_jobs=2).result_["finitelyapunov.mle"].dims  # doctest: +SKIP
    ('map__eta', 'map__hidden', 'eps')

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 5 (does the picture generalise across
    architectures?); scikit-learn's ``ParameterGrid`` for the naming of nested parameters.
    """

    _quick_params = {"study": _quick_study(),
                     "grid": {"map__hidden": ((10,), (20,)), "map__activation": ("sigmoid", "tanh")}}

    def __init__(self, study: Study | None = None, grid: Mapping[str, Sequence] | None = None,
                 estimators: Sequence[Estimator] | None = None, common_seed: bool = True,
                 seed: SeedLike = None) -> None:
        self.study = study
        self.grid = grid
        self.estimators = estimators
        self.common_seed = common_seed
        self.seed = seed

    @staticmethod
    def _part_defaults():
        return {"study": _default_study}

    # -- the grid -----------------------------------------------------------------------------
    def _grid_items(self) -> list[tuple[str, list]]:
        """The grid as ``[(name, values)]``, checked (but not against the study)."""
        name = type(self).__name__
        grid = DEFAULT_GRID if self.grid is None else self.grid
        if not isinstance(grid, Mapping):
            raise TypeError(f"{name}: parameter grid={grid!r} must be a dict of parameter name to a "
                            "list of values, e.g. {'map__eta': [0.5, 1.0]}")
        if not grid:
            raise ValueError(f"{name}: parameter grid={{}} is empty; give at least one parameter with "
                             "its values, e.g. {'map__eta': [0.5, 1.0]}")
        items = []
        for key, values in grid.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"{name}: grid key {key!r} must be a parameter name of the study "
                                "(a non-empty string, nested with __)")
            if isinstance(values, np.ndarray):
                if values.ndim != 1:
                    raise ValueError(f"{name}: grid[{key!r}] is an array of shape {values.shape}; give "
                                     "a 1-D list of values")
                values = list(values)
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (list, tuple, range)):
                raise TypeError(f"{name}: grid[{key!r}]={values!r} must be a list of values "
                                f"(e.g. [{values!r}] for a single one)")
            values = list(values)
            if not values:
                raise ValueError(f"{name}: grid[{key!r}] is empty; give at least one value")
            labels = [str(v) for v in _coordinate(values)]
            seen = {}
            for v, lab in zip(values, labels, strict=True):
                for k in {lab, _same_value_key(v)}:
                    if k in seen:
                        raise ValueError(f"{name}: grid[{key!r}] repeats the value {seen[k]!r} as {v!r} "
                                         "(a number and a one-element sequence of it set the same value), "
                                         "so two cells would be the same; give each value once")
                for k in {lab, _same_value_key(v)}:
                    seen[k] = v
            items.append((key, values))
        return items

    def _cell_indices(self, items) -> list[tuple[int, ...]]:
        return list(itertools.product(*(range(len(v)) for _, v in items)))

    def _inherited_seed(self):
        """The study's own seed when ``seed`` is None and that seed is fixed, else None."""
        if self.seed is not None:
            return None
        study = self.parts()["study"]
        inner = study.get_params(deep=False).get("seed", None)
        if inner is None and isinstance(study, GridStudy):  # a grid of grids: the innermost seed
            inner = study._inherited_seed()
        if inner is None or isinstance(inner, np.random.Generator):
            return None
        return inner

    def _cell_seeds(self, ctx_seed: np.random.SeedSequence, indices):
        """The seed each cell gets (None: leave the study's own)."""
        inherited = self._inherited_seed()
        if self.common_seed:
            return [None if inherited is not None else ctx_seed for _ in indices]
        base = as_seed_sequence(inherited) if inherited is not None else ctx_seed
        return [np.random.SeedSequence(base.entropy, spawn_key=tuple(base.spawn_key) + tuple(ix),
                                       pool_size=base.pool_size) for ix in indices]

    def _make_cell(self, study, items, index, seed) -> Study:
        cell = clone(study)
        if self.estimators is not None:
            cell.set_params(estimators=clone(list(self.estimators), safe=False))
        if seed is not None and "seed" in cell._param_names():  # a study without one draws nothing
            cell.set_params(seed=seed)
        cell.set_params(**{k: clone(values[i], safe=False)
                           for (k, values), i in zip(items, index, strict=True)})
        return cell

    def cells(self) -> list[tuple[dict, Study]]:
        """Every cell of the grid: its values and its (unrun) study, in row-major order.

        Each cell's study carries the seed :meth:`run` gives it, except when
        the seed is drawn at run time (``seed=None`` here and in the study, or
        a Generator): then it keeps the study's own seed.

        Returns
        -------
        list of (dict, Study)
            ``({name: value}, study)`` for each cell, the last grid parameter varying fastest.
        """
        self._validate()
        items = self._grid_items()
        indices = self._cell_indices(items)
        study = self.parts()["study"]
        if self.seed is None or isinstance(self.seed, np.random.Generator):
            seeds = (self._cell_seeds(None, indices) if self._inherited_seed() is not None
                     else [None] * len(indices))
        else:
            seeds = self._cell_seeds(as_seed_sequence(self.seed), indices)
        return [({k: v[i] for (k, v), i in zip(items, ix, strict=True)},
                 self._make_cell(study, items, ix, s)) for ix, s in zip(indices, seeds, strict=True)]

    # -- validation ---------------------------------------------------------------------------
    def _validate(self):
        super()._validate()
        name = type(self).__name__
        study = self.parts()["study"]
        if not isinstance(study, Study):
            raise TypeError(f"{name}: parameter study={study!r} must be a dynnet Study (or None for "
                            "the default EdgeOfStabilityStudy)")
        if not isinstance(self.common_seed, (bool, np.bool_)):
            raise TypeError(f"{name}: parameter common_seed={self.common_seed!r} must be True (the same "
                            "seed in every cell) or False (a child seed per cell)")
        inner_params = study.get_params(deep=False)
        if self.estimators is not None and "estimators" not in inner_params:
            raise ValueError(f"{name}: parameter estimators is given but the study "
                             f"{type(study).__name__} has no estimators parameter")
        if (self.seed is not None or not self.common_seed) and "seed" not in inner_params:
            raise ValueError(f"{name}: the study {type(study).__name__} has no seed parameter, so seed "
                             "must be None and common_seed True")
        items = self._grid_items()
        for key, values in items:
            if key == "estimators" and self.estimators is not None:
                raise ValueError(f"{name}: the grid sweeps estimators and parameter estimators is set too; "
                                 "give one of them")
            try:
                clone(study).set_params(**{key: clone(values[0], safe=False)})
            except ValueError as exc:
                raise ValueError(f"{name}: grid key {key!r} is not a parameter of the study "
                                 f"{type(study).__name__}: {exc}") from None
        n_cells = int(np.prod([len(v) for _, v in items]))
        if n_cells > MAX_CELLS:
            shape = " x ".join(f"{k}: {len(v)}" for k, v in items)
            raise ValueError(f"{name}: the grid has {n_cells:,} cells ({shape}); one run takes at most "
                             f"{MAX_CELLS:,} cells: give fewer values, or split the grid into several runs")
        for ix in self._checked_indices(items):
            cell = self._make_cell(study, items, ix, None)
            try:
                cell._validate()
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{name}: cell {_cell_text(items, ix)}: {exc}{_feed_hint(cell)}") from None

    def _checked_indices(self, items) -> list[tuple[int, ...]]:
        """The cells checked before the run: every cell of a grid of at most ``CHECK_ALL_CELLS``
        cells; of a larger one, each value of each grid parameter once (the others at their first
        value), so that the checks take seconds, not hours (each cell is checked again when it runs)."""
        n_cells = int(np.prod([len(v) for _, v in items]))
        if n_cells <= CHECK_ALL_CELLS:
            return self._cell_indices(items)
        out = {tuple([0] * len(items))}
        for d, (_, values) in enumerate(items):
            for j in range(len(values)):
                ix = [0] * len(items)
                ix[d] = j
                out.add(tuple(ix))
        return sorted(out)

    def _memory(self, ctx):
        items = self._grid_items()
        n_cells = int(np.prod([len(v) for _, v in items]))
        study = self.parts()["study"]
        conc = min(ctx.n_jobs, n_cells) if n_cells > 1 else 1
        sub = replace(ctx, n_jobs=1 if n_cells > 1 else ctx.n_jobs)
        indices = self._checked_indices(items)
        if len(indices) < n_cells:  # a large grid: each parameter at its largest value, together
            worst = []
            for d in range(len(items)):
                axis = [ix for ix in indices if all(ix[e] == 0 for e in range(len(items)) if e != d)]
                worst.append(max(axis, key=lambda ix: sum(
                    b for b, _ in self._make_cell(study, items, ix, None)._memory(sub).values()))[d])
            indices = indices + [tuple(worst)]
        best, best_total = {}, -1
        for ix in indices:
            parts = self._make_cell(study, items, ix, None)._memory(sub)
            total = sum(b for b, _ in parts.values())
            if total > best_total:
                best, best_total = parts, total
        swept = {k for k, _ in items}
        names = set(study._param_names())

        def nested(m):  # "n_init, n_steps or every" of the study, as the grid's names
            word = m.group(0)
            if word in swept:
                return f"the grid's values of {word}"
            return f"study__{word}" if word in names else word

        out = {}
        for what, (b, param) in best.items():
            lower = re.sub(r"[A-Za-z_][A-Za-z0-9_]*", nested, str(param))
            if conc > 1:
                lower += f" (or n_jobs: {conc} cells run at once)"
            out[f"{what} of the largest cell x {conc}"] = (int(b) * conc, lower)
        return out

    def _tiny_params(self):
        study = self.parts()["study"]
        tiny = study._tiny_params()
        items = self._grid_items()
        if tiny:
            grid = {k: (v[0], v[-1]) if len(v) > 1 else (v[0],) for k, v in items}
        else:
            grid = {k: (v[0],) for k, v in items}
        for k in grid:  # a swept size (n_init...) takes its tiny value, once
            if k in tiny:
                grid[k] = (tiny[k],)
        out = {"grid": grid}
        out.update({f"study__{k}": v for k, v in tiny.items()})
        return out

    # -- seeds ----------------------------------------------------------------------------------
    def _run_seed(self):
        """``seed``; with ``seed=None``, the study's own fixed seed (the cells then run exactly as
        the study alone would, and the run is resumable), or None (entropy drawn for the grid)."""
        inherited = self._inherited_seed()
        return self.seed if inherited is None else inherited

    # -- the run --------------------------------------------------------------------------------
    @owns_divergence
    def _compute(self, ctx: RunContext):
        """Every cell's summary, stacked along the grid dimensions."""
        items = self._grid_items()
        indices = self._cell_indices(items)
        study = self.parts()["study"]
        seeds = self._cell_seeds(ctx.seed, indices)
        n = len(indices)
        ckpt = ctx.checkpoint
        done = {} if ckpt is None else {i: v for i, v in ckpt.load(_KEY).items() if 0 <= i < n}
        todo = [i for i in range(n) if i not in done]
        conc = min(ctx.n_jobs, len(todo)) if len(todo) > 1 else 1
        inner_jobs = ctx.n_jobs if len(todo) == 1 else 1
        budget = max(1, ctx.memory_budget // max(conc, 1))
        inner_progress = bool(ctx.progress and len(todo) == 1)
        args = [(self._make_cell(study, items, indices[i], seeds[i]), inner_jobs, ctx.chunk_size, budget,
                 inner_progress) for i in todo]

        def store(j, packed):
            if ckpt is not None:
                ckpt.save(_KEY, np.array([todo[j]]), {k: v[None] for k, v in packed.items()})

        fresh = map_chunks(_run_cell, args, n_jobs=ctx.n_jobs if len(todo) > 1 else 1,
                           progress=ctx.progress and len(todo) > 1, desc=type(self).__name__,
                           on_result=store, unit="cell")
        packed = dict(done)
        packed.update(zip(todo, fresh, strict=True))
        summaries = [_unpack(packed[i]) for i in range(n)]
        _warn_cells_diverged(self, items, indices, [packed[i] for i in range(n)])
        return _stack(type(self).__name__, items, indices, summaries)

    def _summary(self, ds):
        """Every variable of ``result_`` (the cells' summaries), with the grid coordinates."""
        import xarray as xr

        return xr.Dataset({k: ds[k] for k in ds.data_vars})

    def plot(self, variable: str | None = None) -> list[Figure]:
        """One summary variable over the grid: a line plot (one grid parameter) or heat maps.

        Parameters
        ----------
        variable : str or None, default None
            A variable of ``result_``; None: the first numeric one.

        Returns
        -------
        list of matplotlib.figure.Figure
            One figure (see :func:`dynnet.plotting.grid.grid_figure`).
        """
        from ..plotting.grid import grid_figure

        self._check_run()
        return [grid_figure(self.result_, variable=variable)]


def _feed_hint(cell: Study) -> str:
    """Where a cell's estimators are what its study refuses: which of dynnet's estimators (each
    with its defaults) that study can feed, asked of the study itself; else ""."""
    from .. import estimators as E
    from ..estimators.base import Estimator

    ests = cell.get_params(deep=False).get("estimators", None)
    if not ests:
        return ""
    try:
        clone(cell).set_params(estimators=[])._validate()
    except (ValueError, TypeError):
        return ""  # the cell fails without its estimators too: the estimators are not the problem
    feedable = []
    for key in E.__all__:
        cls = getattr(E, key, None)
        if not isinstance(cls, type) or not issubclass(cls, Estimator) or cls is Estimator:
            continue
        try:
            clone(cell).set_params(estimators=[cls()])._validate()
        except (ValueError, TypeError):
            continue
        feedable.append(key)
    can = ", ".join(feedable) if feedable else "none of dynnet's estimators"
    return f" ({type(cell).__name__} can feed: {can})"


def _cell_text(items, index) -> str:
    return ", ".join(f"{k}={v[i]!r}" for (k, v), i in zip(items, index, strict=True))


# -- cells: run, pack (for workers and checkpoints), stack ------------------------------------------
def _run_cell(study: Study, n_jobs: int, chunk_size: int | None, memory_budget: int,
              progress: bool) -> dict[str, np.ndarray]:
    """Run one cell and return its summary as plain arrays (see :func:`_pack`), with the cell's
    divergence as data: ``divergence`` is ``[diverged orbits, orbits, warnings]`` (the grid, not
    the cell, warns, once for the whole grid, wherever the cell ran)."""
    with held_divergence() as held:
        study.run(n_jobs=n_jobs, chunk_size=chunk_size, memory_budget=memory_budget, progress=progress,
                  preflight=False)
    out = _pack(study.summary())
    counts = [getattr(w, "counts", None) for w in held]
    counts = [c for c in counts if c is not None]
    out["divergence"] = np.array([sum(c[0] for c in counts), sum(c[1] for c in counts), len(held)],
                                 dtype=np.int64)
    return out


def _warn_cells_diverged(owner, items, indices, packed: list) -> None:
    """One DivergenceWarning for the grid: the cells in which orbits diverged."""
    import warnings

    from ..maps.base import DivergenceWarning

    div = [np.asarray(p.get("divergence", np.zeros(3, dtype=np.int64))) for p in packed]
    bad = [j for j, d in enumerate(div) if d[2] > 0]
    if not bad:
        return
    cells = "; ".join(_cell_text(items, indices[j]) for j in bad[:3]) + ("; ..." if len(bad) > 3 else "")
    n, total = sum(int(div[j][0]) for j in bad), sum(int(div[j][1]) for j in bad)
    orbits = f"{n} of {total} orbits" if total else "orbits"
    w = DivergenceWarning(f"{type(owner).__name__}: {orbits} diverged (overflow) in {len(bad)} of "
                          f"{len(packed)} cells ({cells}); they are NaN in those cells' summaries")
    if total:
        w.counts = (n, total)
    warnings.warn(w, stacklevel=2)


def _plain(value):
    """An attribute value as JSON-able Python (numpy scalars and arrays unwrapped)."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _pack(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """A dataset as named numpy arrays that an ``.npz`` holds without pickling.

    Every cell goes through this form, whether it ran now or comes from a
    checkpoint, so a resumed grid is bitwise the same as an uninterrupted one.
    """
    meta = []
    arrays = {}
    for i, (name, var) in enumerate(ds.variables.items()):
        values = np.asarray(var.values)
        if values.dtype.kind == "O":
            values = values.astype(str)
        arrays[f"v{i}"] = values
        meta.append({"name": str(name), "dims": [str(d) for d in var.dims], "coord": name in ds.coords,
                     "attrs": {str(k): _plain(v) for k, v in var.attrs.items()}})
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def _unpack(arrays: dict[str, np.ndarray]) -> xr.Dataset:
    import xarray as xr

    meta = json.loads(str(arrays["meta"]))
    data, coords = {}, {}
    for i, m in enumerate(meta):
        var = xr.Variable(tuple(m["dims"]), arrays[f"v{i}"], attrs=m["attrs"])
        (coords if m["coord"] else data)[m["name"]] = var
    return xr.Dataset(data, coords=coords)


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _stack(owner: str, items, indices, summaries: list) -> xr.Dataset:
    """The cells' summaries as one dataset with the grid dimensions first; refuses summaries that
    do not line up (other variables, dimensions or coordinates)."""
    import xarray as xr

    grid_dims = [k for k, _ in items]
    shape = tuple(len(v) for _, v in items)
    # a summary scalar that repeats a grid value (n_steps of a grid over n_steps) is the coordinate
    for d, (k, values) in enumerate(items):
        if k in summaries[0].data_vars and all(
                k in s.data_vars and s[k].ndim == 0 and _is_number(values[ix[d]])
                and _is_number(s[k].values.item()) and s[k].values.item() == values[ix[d]]
                for s, ix in zip(summaries, indices, strict=True)):
            summaries = [s.drop_vars(k) for s in summaries]
    first = summaries[0]
    clash = [d for d in grid_dims if d in first.variables or d in first.dims]
    if clash:
        raise ValueError(f"{owner}: grid parameter {clash[0]!r} has the name of a variable or dimension "
                         "of the study's summary; the grid cannot add it as a dimension")

    def where(j):
        return f"cell ({_cell_text(items, indices[j])})"

    for j, s in enumerate(summaries[1:], start=1):
        problem = None
        if set(s.data_vars) != set(first.data_vars):
            diff = sorted(set(s.data_vars) ^ set(first.data_vars))
            problem = f"variables {diff} are in one summary and not the other"
        elif set(s.coords) != set(first.coords):
            diff = sorted(set(s.coords) ^ set(first.coords))
            problem = f"coordinates {diff} are in one summary and not the other"
        else:
            for name in first.variables:
                a, b = first[name], s[name]
                if a.dims != b.dims or a.shape != b.shape:
                    problem = f"{name!r} has dimensions {dict(zip(a.dims, a.shape, strict=True))} in one " \
                              f"and {dict(zip(b.dims, b.shape, strict=True))} in the other"
                    break
                if name in first.coords and not _same_values(np.asarray(a.values), np.asarray(b.values)):
                    problem = (f"coordinate {name!r} is {np.asarray(a.values).tolist()} in one and "
                               f"{np.asarray(b.values).tolist()} in the other")
                    break
        if problem:
            raise ValueError(
                f"{owner}: the summaries of {where(0)} and {where(j)} do not line up: {problem}. A grid "
                "stacks summaries of the same shape; sweep parameters that keep the summary's "
                "coordinates (for example give the study all its eps values, not one per cell)")
    data = {}
    for name in first.data_vars:
        values = np.stack([np.asarray(s[name].values) for s in summaries])
        values = values.reshape(shape + values.shape[1:])
        data[name] = xr.Variable(tuple(grid_dims) + first[name].dims, values, attrs=dict(first[name].attrs))
    coords = {}
    for k, values in items:
        coords[k] = xr.Variable((k,), _coordinate(values), attrs={"long_name": k})
    for name in first.coords:
        coords[name] = first[name].variable.copy()
    return xr.Dataset(data, coords=coords)
