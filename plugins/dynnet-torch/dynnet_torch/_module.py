"""The ``module`` parameter as a result file records it: architecture text, never code."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import torch

__all__ = ["ModuleParam", "architecture", "FORMAT"]

#: the format tag of the architecture text
FORMAT = "dynnet-torch-module/1"


def _describe(module: torch.nn.Module) -> dict[str, Any]:
    """The architecture of a module: class, repr and parameter shapes (not the weights)."""
    cls = type(module)
    return {
        "format": FORMAT,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "repr": repr(module),
        "parameters": [[name, list(p.shape)] for name, p in module.named_parameters()],
    }


def _digest(desc: dict[str, Any]) -> str:
    body = {k: v for k, v in desc.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def architecture(module: torch.nn.Module | str) -> dict[str, Any]:
    """The recorded architecture of a module, or of the text a result file holds.

    Parameters
    ----------
    module : torch.nn.Module or str
        A module, or the architecture text of a loaded ``TorchMap``'s ``module``
        parameter (JSON, as :class:`ModuleParam` writes it).

    Returns
    -------
    dict
        ``"format"``, ``"class"`` (the module's class, by name), ``"repr"``,
        ``"parameters"`` (``[name, shape]`` of each parameter, in the order of
        ``named_parameters()``) and ``"sha256"``, the SHA-256 of the rest.

    Raises
    ------
    ValueError
        If the text is not an architecture record, or its checksum does not match.
    """
    if isinstance(module, torch.nn.Module):
        desc = _describe(module)
        desc["sha256"] = _digest(desc)
        return desc
    try:
        desc = json.loads(str(module))
        ok = isinstance(desc, dict) and desc.get("format") == FORMAT
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("TorchMap: module is text but not a dynnet-torch architecture record "
                         f"({FORMAT}); give a torch.nn.Module")
    if desc.get("sha256") != _digest(desc):
        raise ValueError("TorchMap: the module's architecture record fails its checksum "
                         "(the result file was edited)")
    return desc


class ModuleParam(str):
    """The ``module`` parameter of a :class:`~dynnet_torch.TorchMap`, as its parameters show it.

    A ``str`` whose text is the module's architecture record (JSON: class,
    repr, parameter names and shapes, SHA-256; see :func:`architecture`), and
    which carries the live module as ``.module``. A study saves the text, so a
    result file names the architecture and holds no code and no pickle;
    cloning deep-copies the live module. Two of them compare equal when
    their architectures do (not their weights).

    Parameters
    ----------
    module : torch.nn.Module
        The module.
    """

    def __new__(cls, module: torch.nn.Module) -> ModuleParam:
        text = json.dumps(architecture(module), sort_keys=True)
        obj = super().__new__(cls, text)
        obj.__dict__["module"] = module
        return obj

    def __repr__(self) -> str:
        return repr(self.__dict__["module"])

    def __copy__(self) -> ModuleParam:
        return self

    def __deepcopy__(self, memo: dict) -> ModuleParam:
        return ModuleParam(copy.deepcopy(self.__dict__["module"], memo))

    def __reduce__(self):
        return (ModuleParam, (self.__dict__["module"],))

    __hash__ = str.__hash__
