"""Labelled results on disk: netCDF files that rebuild their Study.

A saved file is an ordinary netCDF file (readable by any netCDF tool) whose
global attribute ``dynnet_study`` holds the Study's parameters as JSON. Loading
never unpickles: classes are looked up by name, and only classes that derive
from :class:`dynnet.base.ParamsObject` in the ``dynnet`` package or in a
registered plugin are rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import _as_path, atomic_write, check_output_path  # noqa: F401  (check_output_path: public here too)
from ._version import __version__
from .base import ParamsObject

if TYPE_CHECKING:
    from collections.abc import Sequence

    import xarray as xr

#: what this module knows of a Study: a parameter object with these public methods (results sits
#: below the studies and never imports them; see :class:`dynnet.studies.base.Study`)
STUDY_METHODS = ("parts", "params_repr", "saved_seed", "validate", "check_result", "set_result", "summary")

__all__ = ["save", "load", "encode_params", "decode_params", "run_fingerprint", "study_attrs",
           "check_output_path",
           "ResultFileError", "check_result", "check_records"]

_FORMAT = "dynnet-result/2"
#: the largest parameter text a file may carry (a study's parameters are a few kB)
_MAX_PARAMS = 64 * 2**20


class ResultFileError(ValueError):
    """A file that is not a readable dynnet result."""


def _encode(value):
    if isinstance(value, ParamsObject):
        cls = type(value)
        params = value.get_params(deep=False)
        return {"__class__": f"{cls.__module__}:{cls.__qualname__}",
                "params": {k: _encode(v) for k, v in params.items()}}
    if isinstance(value, np.random.Generator):
        raise TypeError(
            "a numpy Generator cannot be saved with a result (its stream cannot be written "
            "down); give this seed as an int or a numpy SeedSequence"
        )
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    pandas = _encode_pandas(value)
    if pandas is not None:
        return pandas
    if isinstance(value, np.random.SeedSequence):
        return {"__seedseq__": [int(e) for e in np.atleast_1d(value.entropy)],
                "spawn_key": list(value.spawn_key)}
    if isinstance(value, range):
        return {"__range__": [value.start, value.stop, value.step]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(
        f"cannot save parameter value {value!r} of type {type(value).__name__}: dynnet saves "
        "numbers, strings, arrays, pandas DataFrames and Series, ranges, tuples, lists, dicts and "
        "dynnet objects"
    )


def _pandas_column(values, name):
    """A pandas column's values as an encoded array (numbers, flags, or strings)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "O":
        if not all(isinstance(x, str) for x in arr.tolist()):
            raise TypeError(f"cannot save pandas column {name!r}: it holds objects other than strings")
        return {"__array__": arr.tolist(), "dtype": "str"}
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot save pandas column {name!r} of dtype {values.dtype}: dynnet saves "
                        "numeric, boolean and string columns")
    return {"__array__": arr.tolist(), "dtype": str(arr.dtype)}


def _pandas_index(index):
    """An index worth saving: None for the default 0..n-1 (a RangeIndex from 0 by 1)."""
    if type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1:
        return None
    return _pandas_column(index.to_numpy(), "index")


def _encode_pandas(value):
    """A pandas DataFrame or Series as its columns' values, column names and index (None: not pandas).

    Decoded back to a pandas object of the same kind (:func:`_decode_pandas`). The
    index is saved only if it is not the default ``0..n-1``.
    """
    mod = type(value).__module__
    if not mod.startswith("pandas"):
        return None
    kind = type(value).__name__
    if kind == "DataFrame":
        names = [_column_name(c) for c in value.columns]
        cols = [_pandas_column(value.iloc[:, i].to_numpy(), n) for i, n in enumerate(names)]
        return {"__frame__": cols, "columns": names, "index": _pandas_index(value.index)}
    if kind == "Series":
        name = None if value.name is None else _column_name(value.name)
        return {"__series__": _pandas_column(value.to_numpy(), name), "name": name,
                "index": _pandas_index(value.index)}
    return None


def _column_name(name):
    if isinstance(name, (np.integer, np.floating, np.bool_)):
        name = name.item()
    if name is None or isinstance(name, (str, int, float, bool)):
        return name
    raise TypeError(f"cannot save the pandas column name {name!r} of type {type(name).__name__}: "
                    "give columns str or int names")


def _decode_pandas(value):
    import pandas as pd

    def column(enc):
        arr = np.asarray(enc["__array__"], dtype=np.dtype(enc["dtype"]))
        if arr.ndim != 1:
            raise ResultFileError("malformed pandas column (not one-dimensional)")
        return arr.astype(object) if arr.dtype.kind == "U" else arr

    index = None if value.get("index") is None else column(value["index"])
    if "__frame__" in value:
        names = value["columns"]
        if not isinstance(names, list) or len(names) != len(value["__frame__"]):
            raise ResultFileError("malformed pandas frame (columns do not match the values)")
        data = {i: column(enc) for i, enc in enumerate(value["__frame__"])}
        frame = pd.DataFrame(data, index=index)
        frame.columns = pd.Index(names)
        return frame
    return pd.Series(column(value["__series__"]), index=index, name=value.get("name"))


def _allowed_class(path: str, extra=()):
    for cls in extra:
        if f"{cls.__module__}:{cls.__qualname__}" == path:
            return cls
    module, _, name = path.partition(":")
    allowed = module == "dynnet" or module.startswith("dynnet.")
    if not allowed:
        from . import plugins

        allowed = plugins.is_registered_module(module)
    # a module the user's program has already imported (e.g. the script that
    # defines its own Map, "__main__") is trusted for its parameter-object
    # classes only; nothing new is imported on behalf of a file
    already = module in sys.modules
    if not (allowed or already):
        raise ResultFileError(
            f"refusing to rebuild class {path!r}: only dynnet classes, registered plugins, "
            "classes of modules your program has already imported, and classes passed as "
            "load(..., classes=[...]) are rebuilt"
        )
    try:
        obj = sys.modules[module] if already else importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ResultFileError(f"cannot rebuild class {path!r}: {exc}") from None
    if not (isinstance(obj, type) and issubclass(obj, ParamsObject)):
        raise ResultFileError(f"{path!r} is not a dynnet parameter object")
    return obj


def _decode(value, extra=()):
    if isinstance(value, list):
        return [_decode(v, extra) for v in value]
    if isinstance(value, dict):
        if "__class__" in value:
            cls = _allowed_class(value["__class__"], extra)
            return cls(**{k: _decode(v, extra) for k, v in value["params"].items()})
        if "__array__" in value:
            return np.asarray(value["__array__"], dtype=np.dtype(value["dtype"]))
        if "__frame__" in value or "__series__" in value:
            return _decode_pandas(value)
        if "__seedseq__" in value:
            return np.random.SeedSequence(value["__seedseq__"], spawn_key=tuple(value["spawn_key"]))
        if "__range__" in value:
            return range(*value["__range__"])
        if "__tuple__" in value:
            return tuple(_decode(v, extra) for v in value["__tuple__"])
        if "__dict__" in value:
            return {_decode(k, extra): _decode(v, extra) for k, v in value["__dict__"]}
        raise ResultFileError(f"unknown encoded value {sorted(value)}")
    return value


def encode_params(obj: ParamsObject, **overrides: Any) -> str:
    """JSON text that :func:`decode_params` turns back into an equal object.

    Parameters
    ----------
    obj : ParamsObject
    **overrides
        Top-level parameter values to write instead of the object's own (a study
        saves the seed it drew in place of ``seed=None``).
    """
    if not isinstance(obj, ParamsObject):
        raise TypeError(f"cannot encode {obj!r}: not a dynnet parameter object")
    cls = type(obj)
    params = {**obj.get_params(deep=False), **overrides}
    enc = {"__class__": f"{cls.__module__}:{cls.__qualname__}",
           "params": {k: _encode(v) for k, v in params.items()}}
    return json.dumps(enc, sort_keys=True)


def run_fingerprint(study: ParamsObject, seed: np.random.SeedSequence) -> str:
    """The text that names one run of a study, for its checkpoint: the parameters as
    :func:`encode_params` writes them, with ``seed`` in place of the seed parameter, then the
    seed's entropy and spawn key.

    Two runs with equal fingerprints compute the same numbers, so one may resume the other's
    chunks (:class:`dynnet.checkpoint.Checkpoint` keeps its SHA-256).

    Parameters
    ----------
    study : Study
    seed : numpy.random.SeedSequence
        The seed the run uses (normalised).

    Returns
    -------
    str
        The parameters' JSON, then ``(entropy, spawn key)``.
    """
    return encode_params(study, seed=seed) + repr((seed.entropy, tuple(seed.spawn_key)))


def decode_params(text: str, classes: Sequence[type] = ()) -> ParamsObject:
    """Rebuild a dynnet object from :func:`encode_params` text (never unpickles).

    Parameters
    ----------
    text : str
    classes : sequence of classes, optional
        Extra classes (e.g. a Map defined in the user's script) that may be rebuilt.

    Raises
    ------
    ResultFileError
        For any text that is not valid parameters of allowed classes.
    """
    if not isinstance(text, str) or len(text) > _MAX_PARAMS:
        raise ResultFileError("malformed dynnet parameters (not text, or too large)")
    try:
        data = json.loads(text)
        obj = _decode(data, tuple(classes))
    except ResultFileError:
        raise
    except RecursionError:
        raise ResultFileError("malformed dynnet parameters: nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - any failure to rebuild means "not our parameters"
        raise ResultFileError(f"malformed dynnet parameters: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, ParamsObject):
        raise ResultFileError("malformed dynnet parameters: the top level is not a dynnet object")
    return obj


def study_attrs(study: ParamsObject, seed: np.random.SeedSequence | None = None,
                saved_seed: np.random.SeedSequence | None = None) -> dict:
    """Attributes for a result: every parameter, the seed, the version.

    Parameters
    ----------
    study : Study
    seed : numpy.random.SeedSequence or None
        The seed the run used (its entropy is written as attributes).
    saved_seed : numpy.random.SeedSequence or None
        Written as the ``seed`` parameter instead of the study's own (for a run
        with ``seed=None`` or a Generator, so that the file repeats the run).
    """
    overrides = {} if saved_seed is None else {"seed": saved_seed}
    attrs = {
        "dynnet_format": _FORMAT,
        "dynnet_version": __version__,
        "dynnet_study": encode_params(study, **overrides),
        "study": type(study).__name__,
    }
    if seed is not None:
        attrs["seed_entropy"] = str(seed.entropy)
        attrs["seed_spawn_key"] = json.dumps([int(k) for k in seed.spawn_key])
    params = study.get_params(deep=True)
    for name, part in study.parts().items():  # parts left at their default: record the default's
        if params.get(name) is None and isinstance(part, ParamsObject):
            params[name] = part
            params.update({f"{name}__{k}": v for k, v in part.get_params(deep=True).items()})
    for k, v in params.items():
        if isinstance(v, (bool, np.bool_)):
            attrs[f"param.{k}"] = int(v)
        elif isinstance(v, (int, np.integer)) and not -2**31 <= int(v) < 2**31:
            attrs[f"param.{k}"] = str(int(v))  # netCDF3 attributes hold 32-bit ints
        elif isinstance(v, (int, float, str, np.integer, np.floating)):
            attrs[f"param.{k}"] = v
        elif v is None:
            attrs[f"param.{k}"] = "None"
        elif not isinstance(v, np.ndarray):  # a nested study: its parameters, not its run state
            attrs[f"param.{k}"] = v.params_repr() if hasattr(v, "params_repr") else repr(v)
    return attrs


# ----------------------------------------------------------------------------
# a loaded result's consistency with its parameters
# ----------------------------------------------------------------------------

#: the longest range, the largest array and the longest string a parameter may hold
_MAX_RANGE = 10**8
_MAX_ARRAY = 10**8
_MAX_STR = 10**5


def _walk_params(obj: ParamsObject, prefix: str = ""):
    """``(name, value)`` of every parameter, nested objects and containers included."""
    def walk(name, value, depth=0):
        if depth > 50:
            raise ValueError(f"parameter {name} is nested too deeply")
        yield name, value
        if isinstance(value, ParamsObject):
            for k, v in value.get_params(deep=False).items():
                yield from walk(f"{name}__{k}" if name else k, v, depth + 1)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                yield from walk(f"{name}[{i}]", v, depth + 1)
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from walk(f"{name}[{k!r}]", k, depth + 1)
                yield from walk(f"{name}[{k!r}]", v, depth + 1)

    for k, v in obj.get_params(deep=False).items():
        yield from walk(prefix + k, v)


def _check_param_value(name: str, value) -> str | None:
    """Why a decoded parameter value is not of a sane size or type (None: it is)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not -2**63 <= value < 2**64:
        return f"parameter {name} is an integer of {value.bit_length()} bits (at most 64)"
    if isinstance(value, range) and len(value) > _MAX_RANGE:
        return f"parameter {name}={value!r} has {len(value):.3g} values (at most {_MAX_RANGE:.0e})"
    if isinstance(value, str) and len(value) > _MAX_STR:
        return f"parameter {name} is a string of {len(value)} characters (at most {_MAX_STR})"
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufcUS":
            return f"parameter {name} is an array of dtype {value.dtype} (numbers or strings only)"
        if value.size > _MAX_ARRAY:
            return f"parameter {name} is an array of {value.size} values (at most {_MAX_ARRAY:.0e})"
    return None


def _check_seed(seed) -> str | None:
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return None
    if isinstance(seed, int) and not isinstance(seed, bool):
        return None if seed >= 0 else f"seed={seed} is negative"
    if isinstance(seed, (list, tuple)) and 0 < len(seed) <= 64 and all(
            isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in seed):
        return None
    text = repr(seed)
    return (f"seed={text if len(text) < 60 else text[:57] + '...'} is not an int >= 0, a short list of "
            "them, a SeedSequence or None")


def _check_variables(ds) -> str | None:
    """dtypes every dynnet result keeps: float64 floats, strings as the only objects, states float."""
    for name in sorted(map(str, ds.variables)):
        v = ds[name]
        kind = v.dtype.kind
        if kind == "O":
            bad = next((x for x in v.values.ravel().tolist() if not isinstance(x, str)), None)
            if bad is not None or v.size > _MAX_ARRAY:
                return (f"variable {name} is an object array holding a {type(bad).__name__} "
                        "(only numbers, flags and strings are results)")
        elif kind == "f" and v.dtype != np.float64:
            return f"variable {name} is {v.dtype}; dynnet records floats as float64"
        elif kind not in "biufUS":
            return f"variable {name} has dtype {v.dtype} (numbers, flags and strings only)"
        if "coord" in v.dims and kind != "f":
            return f"variable {name} holds states (dimension coord) but is {v.dtype}, not float64"
    return None


def check_records(ds, records: dict) -> str | None:
    """Whether ``ds`` has each record with its dimensions and kind of values.

    Parameters
    ----------
    ds : xarray.Dataset
    records : dict
        ``{name: (dims, kind)}``: dims a tuple of dimension names, kind ``"f"``
        (float64), ``"b"`` (bool, or the int8 a file stores it as), ``"i"`` (integer)
        or None (any).

    Returns
    -------
    str or None
        What is wrong, in one line; None if nothing is.
    """
    for name, (dims, kind) in records.items():
        if name not in ds.variables:
            return f"record {name} {tuple(dims)} is missing"
        v = ds[name]
        if tuple(v.dims) != tuple(dims):
            return f"record {name} has dimensions {tuple(v.dims)}, expected {tuple(dims)}"
        k = v.dtype.kind
        ok = {"f": k == "f", "b": k in "bi", "i": k in "iu", None: True}[kind]
        if not ok:
            want = {"f": "float64", "b": "bool", "i": "integers"}[kind]
            return f"record {name} is {v.dtype}, expected {want}"
    return None


def check_result(study: ParamsObject, ds: xr.Dataset) -> str | None:
    """What makes a loaded result inconsistent with its own parameters (None: nothing).

    The checks are generic: every parameter value of a sane type and size (the
    seed an int, a SeedSequence or None; no range, array or string beyond
    10^8 values; no object array); every float variable float64, no object
    variable but strings, states (dimension ``coord``) float; and then the study's
    own, :meth:`Study.check_result <dynnet.studies.base.Study.check_result>`
    (every dimension a parameter sizes of the size it implies, for example
    ``init`` and ``n_init``, and the records the study always writes).

    Parameters
    ----------
    study : Study
        The study rebuilt from the file's parameters.
    ds : xarray.Dataset
        The file's data.

    Returns
    -------
    str or None
        The first problem, in one line.
    """
    for name, value in _walk_params(study):
        problem = _check_param_value(name, value)
        if problem:
            return problem
    if "seed" in study.get_params(deep=False):
        problem = _check_seed(study.get_params(deep=False)["seed"])
        if problem:
            return problem
    problem = _check_variables(ds)
    if problem:
        return problem
    return study.check_result(ds)


# ----------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------

def _canonical_bytes(values: np.ndarray) -> bytes:
    """Bytes of an array's values that survive a netCDF round trip unchanged."""
    v = np.asarray(values)
    if v.dtype.kind == "f":
        body = np.ascontiguousarray(v, dtype="<f8").tobytes()
    elif v.dtype.kind in "biu":
        body = np.ascontiguousarray(v, dtype="<i8").tobytes()
    else:
        body = "\x00".join(str(x) for x in v.ravel().tolist()).encode("utf-8", "surrogatepass")
    return repr(v.shape).encode() + b"|" + body


def _canonical_attrs(attrs) -> bytes:
    """The attributes as JSON that survives a netCDF round trip (numpy scalars as Python)."""
    def plain(v):
        if isinstance(v, np.ndarray):
            return [plain(x) for x in v.tolist()]
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, bytes):
            return v.decode("utf-8", "surrogateescape")
        return v

    keep = {str(k): plain(v) for k, v in attrs.items() if k not in ("dynnet_checksum", "_FillValue")}
    return json.dumps(keep, sort_keys=True, default=str).encode()


def checksums(ds: xr.Dataset) -> dict[str, str]:
    """SHA-256 of every variable and coordinate of a dataset (values and attributes), and of
    the dataset's attributes (the study's parameters among them) under ``"__attrs__"``.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    dict
    """
    out = {name: hashlib.sha256(_canonical_bytes(ds[name].values) + b"|"
                                + _canonical_attrs(ds[name].attrs)).hexdigest()
           for name in sorted(map(str, ds.variables))}
    out["__attrs__"] = hashlib.sha256(_canonical_attrs(ds.attrs)).hexdigest()
    return out


def save(study: ParamsObject, path: Path | str, overwrite: bool = False) -> Path:
    """Write ``study.result_`` to ``path`` (netCDF) so :func:`load` can rebuild the study.

    The file carries the study's parameters (with the seed the run drew) and a
    SHA-256 checksum of every variable, verified by :func:`load`. A pandas
    DataFrame or Series among the parameters (a map's ``dataset=(X, y)``) is
    written as its columns' values with their dtypes, its column names (or
    Series name) and, unless it is the default ``0..n-1``, its index;
    :func:`load` gives back a DataFrame or Series equal to it. The data go to
    a temporary file in the same folder, which replaces ``path`` only when
    complete (:func:`os.replace`); on failure it is removed.

    Parameters
    ----------
    study : Study
        A study that has run (or was loaded).
    path : str or Path
    overwrite : bool, default False
        Replace an existing regular file.

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError, FileNotFoundError, PermissionError
        See :func:`check_output_path`.
    """
    path = check_output_path(path, overwrite=overwrite)
    data = to_netcdf_bytes(study)
    def last_check():
        check_output_path(path, overwrite=overwrite)
        _fault_injection()

    atomic_write(path, lambda fh: fh.write(data), prefix=f".{path.name}.", before_replace=last_check)
    return path


def _fault_injection() -> None:
    """Test hook: ``DYNNET_TEST_EXIT_BEFORE_RESULT_REPLACE=1`` ends the process hard
    (``os._exit``, as ``kill -9`` would) with the result written and flushed to its temporary
    file but not yet renamed into place: the tests of the save window use it instead of timing."""
    if os.environ.get("DYNNET_TEST_EXIT_BEFORE_RESULT_REPLACE"):
        os._exit(137)


def to_netcdf_bytes(study: ParamsObject) -> bytes:
    """The netCDF bytes :func:`save` writes (also used by a study's preflight)."""
    ds = study.result_.copy()
    attrs = study_attrs(study, getattr(study, "seed_", None), saved_seed=study.saved_seed())
    ds.attrs.update({k: v for k, v in attrs.items() if k not in ds.attrs or k.startswith("dynnet_")})
    for name in list(ds.data_vars):
        if ds[name].dtype == bool:
            ds[name] = ds[name].astype(np.int8)
            ds[name].attrs["dynnet_bool"] = 1
    for name in list(ds.variables):
        if ds[name].dtype.kind in "iu" and ds[name].dtype.itemsize > 4:
            if ds[name].size and (ds[name].values.max() >= 2**31 or ds[name].values.min() < -2**31):
                raise ValueError(f"cannot save {name}: integers beyond 32 bits do not fit netCDF3")
    ds.attrs["dynnet_checksum"] = json.dumps(checksums(ds), sort_keys=True)
    return ds.to_netcdf(None, engine="scipy", format="NETCDF3_64BIT")


def load(path: Path | str, classes: Sequence[type] = ()) -> ParamsObject:
    """Rebuild a saved Study, with its ``result_``, from a netCDF file.

    Loading never refits: the numbers the study derived are in the file. Call
    ``study.refit()`` to rebuild fitted estimator objects.

    Parameters
    ----------
    path : str or Path
        A file written by :meth:`Study.save` or ``dynnet run``.
    classes : sequence of classes, optional
        Classes outside dynnet and its plugins that the file may name. Classes
        of modules that are already imported (such as a Map defined in the
        running script, ``__main__``) are found without it; nothing outside
        dynnet and its plugins is ever imported because a file names it.

    Returns
    -------
    Study
        The study, with ``result_`` and ``seed_`` (no fitted estimators: ``refit()``).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ResultFileError (a ValueError)
        For any other file: not netCDF, not a dynnet result, corrupted (a
        checksum does not match), or naming a class outside dynnet and its
        registered plugins.
    """
    import xarray as xr

    path = _as_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such result file: {path}")
    if not path.is_file():
        raise ResultFileError(f"{path} is not a regular file")
    try:
        with xr.open_dataset(path, engine="scipy", mask_and_scale=False, decode_times=False) as ds:
            ds = ds.load()
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not our file"
        raise ResultFileError(f"{path} is not a readable netCDF file: {exc}") from None
    try:
        return _rebuild(path, ds, classes)
    except ResultFileError:
        raise
    except RecursionError:
        raise ResultFileError(f"{path}: malformed dynnet result (nested too deeply)") from None
    except Exception as exc:  # noqa: BLE001 - a crafted file must not escape as another error
        raise ResultFileError(f"{path}: malformed dynnet result: {type(exc).__name__}: {exc}") from None


def _rebuild(path, ds, classes):
    if ds.attrs.get("dynnet_format") != _FORMAT or "dynnet_study" not in ds.attrs:
        fmt = ds.attrs.get("dynnet_format")
        if isinstance(fmt, str) and fmt.startswith("dynnet-result/"):
            raise ResultFileError(f"{path} is a dynnet result of format {fmt!r}; this dynnet reads "
                                  f"{_FORMAT!r}: run the study again")
        raise ResultFileError(f"{path} is netCDF but not a dynnet result (no dynnet_study attribute)")
    stored = ds.attrs.get("dynnet_checksum")
    if not isinstance(stored, str):
        raise ResultFileError(f"{path} has no checksum; it was not written by this dynnet")
    stored = json.loads(stored)
    actual = checksums(ds)
    if not isinstance(stored, dict) or set(stored) != set(actual):
        raise ResultFileError(f"{path}: its variables do not match its checksum list (file modified)")
    bad = sorted(k for k in actual if stored[k] != actual[k])
    if bad:
        what = ", ".join("the file's attributes (parameters)" if k == "__attrs__" else k for k in bad)
        raise ResultFileError(f"{path} is corrupted: {what} do not match their SHA-256 checksum")
    study = decode_params(ds.attrs["dynnet_study"], classes)
    # a Study (results sits below the studies, so it knows one by its public interface, not its class)
    if not all(callable(getattr(study, k, None)) for k in STUDY_METHODS):
        raise ResultFileError(f"{path}: the saved object is a {type(study).__name__}, not a Study")
    if ds.attrs.get("study") != type(study).__name__:
        raise ResultFileError(f"{path}: its parameters are those of a {type(study).__name__}, but the "
                              f"data are of a {ds.attrs.get('study')!r}")
    for name in list(ds.coords):  # netCDF3 stores 64-bit ints as 32-bit: give them back
        if ds[name].dtype == np.int32:
            ds = ds.assign_coords({name: ds[name].astype(np.int64)})
    for name in list(ds.data_vars):
        if ds[name].attrs.get("dynnet_bool") == 1:
            ds[name] = ds[name].astype(bool)
            ds[name].attrs.pop("dynnet_bool", None)
    for name in list(ds.variables):  # reader bookkeeping, not data
        ds[name].attrs.pop("_FillValue", None)
        ds[name].encoding.pop("_FillValue", None)
    ds.attrs.pop("dynnet_checksum", None)
    problem = check_result(study, ds)  # whatever the checksum says, the data must fit the parameters
    if problem:
        raise ResultFileError(f"{path}: inconsistent {type(study).__name__} result: {problem}")
    try:  # the parameters must be valid and the records must be the study's own
        study.validate()
        study.set_result(ds)
        study.summary()
    except Exception as exc:  # noqa: BLE001 - a crafted file surfaces as ResultFileError only
        raise ResultFileError(f"{path}: the parameters or records do not make a valid "
                              f"{type(study).__name__}: {type(exc).__name__}: {exc}") from None
    return study
