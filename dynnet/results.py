"""Labelled results on disk: netCDF files that rebuild their Study.

A saved file is an ordinary netCDF file (readable by any netCDF tool) whose
global attribute ``dynnet_study`` holds the Study's parameters as JSON. Loading
never unpickles: classes are looked up by name, and only classes that derive
from :class:`dynnet.base.ParamsObject` in the ``dynnet`` package or in a
registered plugin are rebuilt.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from pathlib import Path

import numpy as np

from ._version import __version__
from .base import ParamsObject

__all__ = ["save", "load", "encode_params", "decode_params", "study_attrs"]

_FORMAT = "dynnet-result/1"


class ResultFileError(ValueError):
    """A file that is not a readable dynnet result."""


#: how a run is carried out, not what it computes: saved as their defaults, so a
#: loaded study does not write into the checkpoint directory of the run that made it
RUN_SETTINGS = ("checkpoint", "resume", "progress", "n_jobs", "chunk_size")


def _encode(value):
    if isinstance(value, ParamsObject):
        cls = type(value)
        params = value.get_params(deep=False)
        if any(k in params for k in RUN_SETTINGS):
            sig = inspect.signature(cls.__init__).parameters
            for k in RUN_SETTINGS:
                if k in params and sig[k].default is not inspect.Parameter.empty:
                    params[k] = sig[k].default
        ss = getattr(value, "_seed_seq", None)
        if ss is not None and isinstance(params.get("seed"), np.random.Generator):
            params["seed"] = ss  # the run's seed, drawn once from the Generator it was given
        return {"__class__": f"{cls.__module__}:{cls.__qualname__}",
                "params": {k: _encode(v) for k, v in params.items()}}
    if isinstance(value, np.random.Generator):
        raise TypeError(
            "a numpy Generator cannot be saved with a result (its stream cannot be written "
            "down); give this seed as an int or a numpy SeedSequence"
        )
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
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
        "numbers, strings, arrays, ranges, tuples, lists, dicts and dynnet objects"
    )


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


def encode_params(obj: ParamsObject) -> str:
    """JSON text that :func:`decode_params` turns back into an equal object."""
    return json.dumps(_encode(obj), sort_keys=True)


def decode_params(text: str, classes=()) -> ParamsObject:
    """Rebuild a dynnet object from :func:`encode_params` text (never unpickles).

    ``classes``: extra classes (e.g. a Map defined in the user's script) that may be rebuilt.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"malformed dynnet parameters: {exc}") from None
    return _decode(data, tuple(classes))


def study_attrs(study) -> dict:
    """Attributes for a result: every parameter, the seed entropy, the version."""
    attrs = {
        "dynnet_format": _FORMAT,
        "dynnet_version": __version__,
        "dynnet_study": encode_params(study),
        "study": type(study).__name__,
    }
    ss = getattr(study, "_seed_seq", None)
    if ss is not None:
        attrs["seed_entropy"] = str(ss.entropy)
        attrs["seed_spawn_key"] = json.dumps(list(ss.spawn_key))
    params = study.get_params(deep=True)
    resolved = study._resolved() if hasattr(study, "_resolved") else {}
    for name, part in resolved.items():  # parts left at their default: record the default's params
        if params.get(name) is None and hasattr(part, "get_params"):
            params[name] = part
            params.update({f"{name}__{k}": v for k, v in part.get_params(deep=True).items()})
    for k, v in params.items():
        if k.split("__")[-1] in RUN_SETTINGS:
            continue
        if isinstance(v, (bool, np.bool_)):
            attrs[f"param.{k}"] = int(v)
        elif isinstance(v, (int, np.integer)) and not -2**31 <= int(v) < 2**31:
            attrs[f"param.{k}"] = str(int(v))  # netCDF3 attributes hold 32-bit ints
        elif isinstance(v, (int, float, str, np.integer, np.floating)):
            attrs[f"param.{k}"] = v
        elif v is None:
            attrs[f"param.{k}"] = "None"
        elif not isinstance(v, np.ndarray):
            attrs[f"param.{k}"] = repr(v)
    return attrs


def save(study, path) -> Path:
    """Write ``study.result_`` to ``path`` (netCDF) so :func:`load` can rebuild the study."""
    path = Path(path)
    ds = study.result_.copy()
    ds.attrs.update({k: v for k, v in study_attrs(study).items() if k not in ds.attrs})
    ds.attrs["dynnet_study"] = encode_params(study)
    for name in list(ds.data_vars):
        if ds[name].dtype == bool:
            ds[name] = ds[name].astype(np.int8)
            ds[name].attrs["dynnet_bool"] = 1
    tmp = path.with_name(path.name + ".part")
    ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
    os.replace(tmp, path)
    return path


def load(path, classes=()):
    """Rebuild a saved Study, with its ``result_``, from a netCDF file.

    Parameters
    ----------
    path : str or Path
    classes : sequence of classes, optional
        Classes outside dynnet and its plugins that the file may name. Classes
        of modules that are already imported (such as a Map defined in the
        running script, ``__main__``) are found without it; nothing outside
        dynnet and its plugins is ever imported because a file names it.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ResultFileError (a ValueError)
        The file is not netCDF, or not a dynnet result, or names a class
        outside dynnet and its registered plugins.
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such result file: {path}")
    try:
        with xr.open_dataset(path, engine="scipy") as ds:
            ds = ds.load()
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not our file"
        raise ResultFileError(f"{path} is not a readable netCDF file: {exc}") from None
    if ds.attrs.get("dynnet_format") != _FORMAT or "dynnet_study" not in ds.attrs:
        raise ResultFileError(f"{path} is netCDF but not a dynnet result (no dynnet_study attribute)")
    study = decode_params(ds.attrs["dynnet_study"], classes)
    for name in list(ds.coords):  # netCDF3 stores 64-bit ints as 32-bit: give them back
        if ds[name].dtype == np.int32:
            ds = ds.assign_coords({name: ds[name].astype(np.int64)})
    for name in list(ds.data_vars):
        if ds[name].attrs.get("dynnet_bool") == 1:
            ds[name] = ds[name].astype(bool)
            ds[name].attrs.pop("dynnet_bool", None)
    study.result_ = ds
    study._restore()
    return study
