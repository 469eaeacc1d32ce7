"""Conformance checks for Studies: the v1 lifecycle that every study (and plugin study) keeps.

Give each check a *small* configured study (its ``quick()`` preset, or smaller):
the checks run it a few times.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..base import clone

if TYPE_CHECKING:
    import xarray as xr

    from ..studies.base import Study

__all__ = ["check_study", "study_checks"]

_RUN_SETTINGS = ("n_jobs", "progress", "checkpoint", "resume", "chunk_size")


def _name(s: object) -> str:
    return type(s).__name__


def _same_dataset(a: xr.Dataset, b: xr.Dataset, what: str) -> None:
    assert set(a.variables) == set(b.variables), (
        f"{what}: variables differ: {sorted(set(a.variables) ^ set(b.variables))}")
    for k in a.variables:
        x, y = np.asarray(a[k].values), np.asarray(b[k].values)
        if x.dtype.kind in "fc":
            same = x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
        else:
            same = x.shape == y.shape and np.array_equal(x, y)
        assert same, f"{what}: variable {k!r} differs"


def check_study_init(s: Study) -> None:
    """Parameters only in ``__init__``, stored unchanged; no run setting among them; a ``seed``
    parameter, and an ``estimators`` one where the study has parts (as :meth:`Study.run` checks)."""
    from ._common import _check_clone, _check_init_stores_params

    _check_init_stores_params(s)
    _check_clone(s)
    bad = [k for k in _RUN_SETTINGS if k in s.get_params(deep=False)]
    assert not bad, (f"{_name(s)}: run settings {bad} are parameters; they belong to run(...) "
                     "(they never change a number)")
    params = s.get_params(deep=False)
    assert "seed" in params, (f"{_name(s)}: a study takes its seed as the parameter seed=...; "
                              "run() draws every random number from it")
    assert "estimators" in params or not s.parts(), (
        f"{_name(s)}: a study with parts takes its estimators as the parameter estimators=[...]")


def check_study_run(s: Study) -> None:
    """``run()`` returns self with an ``xarray.Dataset`` result, ``seed_`` and ``estimators_``;
    ``summary()`` is an ``xarray.Dataset``; the parameters are unchanged."""
    import xarray as xr

    before = repr(s.get_params(deep=True))
    r = clone(s)
    out = r.run()
    assert out is r, f"{_name(s)}.run() must return self"
    assert isinstance(r.result_, xr.Dataset), f"{_name(s)}.result_ is not an xarray.Dataset"
    assert isinstance(r.seed_, np.random.SeedSequence), f"{_name(s)}.seed_ is not a SeedSequence"
    assert isinstance(r.estimators_, list), f"{_name(s)}.estimators_ is not a list"
    summary = r.summary()
    assert isinstance(summary, xr.Dataset), f"{_name(s)}.summary() is not an xarray.Dataset"
    assert not any("@" in str(k) for k in summary.data_vars), (
        f"{_name(s)}.summary() encodes values in key names; use coordinates")
    assert repr(s.get_params(deep=True)) == before, f"{_name(s)}: running changed the parameters"


def check_study_reproducible(s: Study) -> None:
    """The same seed gives the same bits, whatever the number of jobs or the chunk size."""
    if s.get_params(deep=False).get("seed", 0) is None:
        s = clone(s).set_params(seed=0)
    a = clone(s).run()
    b = clone(s).run(n_jobs=2, chunk_size=1)
    _same_dataset(a.result_, b.result_, f"{_name(s)}: n_jobs=2, chunk_size=1 against n_jobs=1")


def check_study_save_load(s: Study) -> None:
    """save / load round trip: the same records and summary, no refit on load; save
    never replaces a file without ``overwrite=True``."""
    from ..results import load

    r = clone(s).run()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.nc")
        r.save(path)
        t = load(path)
        assert type(t) is type(s), f"load gave a {type(t).__name__}, not a {_name(s)}"
        assert not hasattr(t, "estimators_"), f"load({_name(s)}) refitted its estimators"
        for k in r.result_.data_vars:
            np.testing.assert_array_equal(np.asarray(t.result_[k].values), np.asarray(r.result_[k].values),
                                          err_msg=f"{_name(s)}: {k} changed through save/load")
        _same_dataset(t.summary(), r.summary(), f"{_name(s)}: summary after load")
        try:
            r.save(path)
        except FileExistsError:
            pass
        else:
            raise AssertionError(f"{_name(s)}.save replaced an existing file without overwrite=True")
        t.refit()
        assert isinstance(t.estimators_, list)


def check_study_checkpoint(s: Study) -> None:
    """A run with a checkpoint folder gives the same bits and cleans up after itself."""
    if s.get_params(deep=False).get("seed", 0) is None:
        s = clone(s).set_params(seed=0)
    a = clone(s).run()
    with tempfile.TemporaryDirectory() as d:
        ck = os.path.join(d, "ck")
        b = clone(s).run(checkpoint=ck, chunk_size=1)
        assert not os.path.exists(ck), f"{_name(s)}: the checkpoint folder it made was left behind"
        assert os.listdir(d) == [], f"{_name(s)}: files left behind: {os.listdir(d)}"
    _same_dataset(a.result_, b.result_, f"{_name(s)}: a run with a checkpoint")


def study_checks() -> list[Callable[[Study], None]]:
    """The checks every Study passes, in order.

    Returns
    -------
    list of callable
        ``check_study_init``, ``check_study_run``, ``check_study_reproducible``,
        ``check_study_save_load`` and ``check_study_checkpoint``; each takes a
        study and raises ``AssertionError`` naming the broken promise.
    """
    return [check_study_init, check_study_run, check_study_reproducible, check_study_save_load,
            check_study_checkpoint]


def check_study(s: Study) -> None:
    """Run every study check on ``s`` (a small configured study); raises AssertionError.

    Parameters
    ----------
    s : Study
        Small enough to run several times in seconds (e.g. ``MyStudy.quick()``).

    Raises
    ------
    AssertionError
        At the first check that fails, naming the study and the broken promise.
    """
    for check in study_checks():
        check(s)
