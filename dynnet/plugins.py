"""Plugins through entry points: discovered without importing, loaded lazily.

dynnet finds Maps, Perturbers, Metrics, Estimators and Studies in five
entry-point groups:

========================  =====================================
group                     base class a plugin class must derive from
========================  =====================================
``dynnet.maps``           :class:`dynnet.Map`
``dynnet.perturbers``     :class:`dynnet.Perturber`
``dynnet.metrics``        :class:`dynnet.Metric`
``dynnet.estimators``     :class:`dynnet.Estimator`
``dynnet.studies``        :class:`dynnet.Study`
========================  =====================================

dynnet's own classes are registered the same way (in its ``pyproject.toml``),
so there is one mechanism for built-ins and plugins. A plugin package
declares, for example::

    [project.entry-points."dynnet.maps"]
    sgd = "dynnet_sgd.maps:SGDMap"

and then ``dn.plugins.available("dynnet.maps")`` lists ``sgd`` (with its
distribution) without importing anything, and
``dn.plugins.load("dynnet.maps", "sgd")`` imports ``dynnet_sgd.maps`` on first
use, checks the class and caches it.

**Failing softly, but never silently** (the model is networkx's
``utils/backends.py``):

* a plugin with an invalid name or value, or whose name another distribution
  already registered in the same group, gives one :class:`RuntimeWarning`
  when the group is first listed; it is left out and the others keep working.
  On a name clash dynnet's own built-in wins; between two third-party
  plugins neither is chosen (the name is ambiguous) until one is uninstalled,
  or the caller picks one with ``load(group, name, distribution=...)``;
* a plugin that fails to import (any exception, and also ``SystemExit``, so a
  plugin calling ``sys.exit()`` cannot end ``dynnet list --check``), is not a
  subclass of its group's base class,
  or breaks the interface (e.g. a Map without ``step`` or ``dim``) gives one
  :class:`RuntimeWarning` when loaded in bulk (:func:`load_all`), naming the
  plugin, its distribution and the error;
* asking for such a plugin by name (:func:`load`) raises :class:`PluginError`
  (an :class:`ImportError`) whose message names the plugin, its distribution
  and the cause; the original exception is chained as ``__cause__``. A name
  nobody registered raises it too, listing the names that exist.

``import dynnet`` never imports a plugin: this module imports only the
standard library at import time.

Valid names are lower case, start with a letter and use letters, digits,
``-`` and ``_`` (``"sgd"``, ``"per-layer"``, ``"finite-lyapunov"``); values
name a class as ``"module:attribute"``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import warnings
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["GROUPS", "PluginError", "PluginInfo", "available", "load", "load_all",
           "describe", "refresh", "is_registered_module"]

#: entry-point group -> (module, class) of the base class its plugins derive from
GROUPS = {
    "dynnet.maps": ("dynnet.maps.base", "Map"),
    "dynnet.perturbers": ("dynnet.perturbers", "Perturber"),
    "dynnet.metrics": ("dynnet.metrics", "Metric"),
    "dynnet.estimators": ("dynnet.estimators.base", "Estimator"),
    "dynnet.studies": ("dynnet.studies.base", "Study"),
}

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_VALUE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_BUILTIN_DIST = "dynnet"


class PluginError(ImportError):
    """A plugin that is missing, ambiguous or broken, asked for by name.

    Raised by :func:`load`; an :class:`ImportError` whose ``name`` is the
    plugin's name.

    Parameters
    ----------
    message : str
        The error message (it names the plugin, its distribution and the cause).
    group : str
        The entry-point group asked in, e.g. ``"dynnet.maps"``.
    plugin : str
        The entry-point name asked for.
    distribution : str or None, default None
        The distribution that registered it (None if nobody did, or if the
        name is ambiguous).
    value : str or None, default None
        The entry point's ``"module:attr"`` (None if there is no single entry).

    Attributes
    ----------
    group, plugin : str
        The entry-point group and name asked for.
    distribution : str or None
        The distribution that registered it (None if nobody did).
    value : str or None
        The entry point's ``"module:attr"``.
    """

    def __init__(self, message: str, *, group: str, plugin: str, distribution: str | None = None,
                 value: str | None = None) -> None:
        super().__init__(message, name=plugin)
        self.group = group
        self.plugin = plugin
        self.distribution = distribution
        self.value = value


class PluginInfo(NamedTuple):
    """One registered plugin: a row of :func:`describe` (and of ``dynnet list``).

    A named tuple; nothing in it requires importing the plugin.

    Parameters
    ----------
    group : str
        The entry-point group, e.g. ``"dynnet.maps"``.
    name : str
        The entry-point name, e.g. ``"sgd"``.
    distribution : str
        The distribution that registered it (``"dynnet"`` for built-ins).
    value : str
        The entry point's ``"module:attr"``.
    """

    group: str
    name: str
    distribution: str
    value: str


# ---------------------------------------------------------------------------
# state (cleared by refresh())
# ---------------------------------------------------------------------------
_entries: dict = {}      # group -> {name: [_Entry, ...]}  (valid entries, all distributions)
_usable: dict = {}       # group -> {name: _Entry}          (after duplicate resolution)
_loaded: dict = {}       # (group, name, dist) -> class
_failed: dict = {}       # (group, name, dist) -> PluginError
_warned: set = set()     # keys already warned about (one warning per plugin)


class _Entry(NamedTuple):
    name: str
    value: str
    group: str
    distribution: str
    ep: object

    @property
    def key(self):
        return (self.group, self.name, self.distribution)

    @property
    def module(self):
        return self.value.partition(":")[0].strip()


def refresh() -> None:
    """Forget discovered and loaded plugins (after installing or removing one).

    The next call re-reads the installed entry points; already imported
    modules stay imported.
    """
    _entries.clear()
    _usable.clear()
    _loaded.clear()
    _failed.clear()
    _warned.clear()
    importlib.invalidate_caches()


def _group(group: str) -> str:
    if isinstance(group, str) and group in GROUPS:
        return group
    if isinstance(group, str) and f"dynnet.{group}" in GROUPS:
        return f"dynnet.{group}"
    raise ValueError(f"unknown plugin group {group!r}; the groups are {sorted(GROUPS)}")


def _dist_name(ep) -> str:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) if dist is not None else None
    if name is None and dist is not None:
        try:
            name = dist.metadata["Name"]
        except Exception:  # noqa: BLE001 - odd distribution objects: report as unknown
            name = None
    return str(name) if name else "<unknown distribution>"


def _is_builtin(dist: str) -> bool:
    return dist.lower().replace("_", "-") == _BUILTIN_DIST


def _warn_once(key, message: str, stacklevel: int = 4) -> None:
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)


def _discover(group: str) -> dict:
    """Read the entry points of ``group`` (no imports); warn about bad ones once."""
    if group in _usable:
        return _usable[group]
    eps = importlib.metadata.entry_points(group=group)
    by_name: dict = {}
    for ep in eps:
        dist = _dist_name(ep)
        name, value = str(ep.name), str(ep.value).strip()
        if not _NAME.match(name):
            _warn_once((group, name, dist, "name"),
                       f"dynnet plugin {name!r} in group {group!r} from distribution {dist!r} "
                       "is ignored: invalid name (use lower case letters, digits, '-' and '_', "
                       "starting with a letter)")
            continue
        if not _VALUE.match(value):
            _warn_once((group, name, dist, "value"),
                       f"dynnet plugin {name!r} in group {group!r} from distribution {dist!r} "
                       f"is ignored: invalid value {value!r} (give 'module:Class')")
            continue
        by_name.setdefault(name, []).append(_Entry(name, value, group, dist, ep))
    usable = {}
    for name, entries in sorted(by_name.items()):
        # the same distribution seen twice (two paths to one install) is one entry
        uniq = list({e.distribution: e for e in entries}.values())
        if len(uniq) == 1:
            usable[name] = uniq[0]
            continue
        dists = sorted(e.distribution for e in uniq)
        builtin = [e for e in uniq if _is_builtin(e.distribution)]
        if builtin:
            usable[name] = builtin[0]
            others = [d for d in dists if not _is_builtin(d)]
            _warn_once((group, name, "dup"),
                       f"dynnet plugin {name!r} in group {group!r} from distribution(s) {others} "
                       f"is ignored: duplicate name; dynnet's own {name!r} "
                       f"({builtin[0].value}) is kept")
        else:
            _warn_once((group, name, "dup"),
                       f"dynnet plugin {name!r} in group {group!r} is ignored: duplicate name, "
                       f"registered by distributions {dists}; pass distribution=... to "
                       "load() or uninstall one")
    _entries[group] = by_name
    _usable[group] = usable
    return usable


def available(group: str) -> dict[str, str]:
    """Names of the plugins of ``group`` and their distributions, without importing them.

    Parameters
    ----------
    group : str
        ``"dynnet.maps"``, ``"dynnet.perturbers"``, ``"dynnet.metrics"``,
        ``"dynnet.estimators"`` or ``"dynnet.studies"`` (the ``"dynnet."``
        prefix may be left out).

    Returns
    -------
    dict
        ``name -> distribution``, sorted by name. Built-ins have distribution
        ``"dynnet"``. Plugins with invalid or clashing names are left out (with
        one RuntimeWarning each); whether a plugin imports is only known at
        :func:`load`.
    """
    g = _group(group)
    return {name: e.distribution for name, e in _discover(g).items()}


def describe(groups: Iterable[str] | None = None) -> list[PluginInfo]:
    """Rows ``(group, name, distribution, value)`` of every usable plugin, for ``dynnet list``.

    Nothing is imported.

    Parameters
    ----------
    groups : iterable of str or None, default None
        The groups to list (the ``"dynnet."`` prefix may be left out); None
        lists all five.

    Returns
    -------
    list of PluginInfo
        One row per usable plugin, by group (in the order given) then name.
        Plugins with invalid or clashing names are left out, as in
        :func:`available`.

    Raises
    ------
    ValueError
        If a group is not one of the five.
    """
    gs = list(GROUPS) if groups is None else [_group(g) for g in groups]
    rows = []
    for g in gs:
        for name, e in _discover(g).items():
            rows.append(PluginInfo(g, name, e.distribution, e.value))
    return rows


def _base_class(group: str):
    module, attr = GROUPS[group]
    return getattr(importlib.import_module(module), attr)


def _has_params(cls) -> bool:
    try:
        cls._param_names()
        return True
    except TypeError:
        return False


def _interface_gaps(group: str, cls, base) -> list[str]:
    """What ``cls`` lacks of its group's interface (empty if nothing)."""
    gaps = []

    def overridden(*names):
        return any(getattr(cls, n, None) is not getattr(base, n, None) for n in names)

    if group == "dynnet.maps":
        if not overridden("step"):
            gaps.append("step(states)")
        takes_dim = "dim" in cls._param_names() if _has_params(cls) else False
        if getattr(cls, "dim", None) is None and not takes_dim:
            gaps.append("dim (a class attribute, a property, or an __init__ parameter)")
    elif group == "dynnet.perturbers":
        if not overridden("_draw", "perturb"):
            gaps.append("_draw(rng, n, k) (or perturb(state, map, seed))")
    elif group == "dynnet.metrics":
        if not overridden("_distance", "__call__"):
            gaps.append("_distance(diff) (or __call__(a, b, map))")
    elif group == "dynnet.estimators":
        if not overridden("fit"):
            gaps.append("fit(...)")
    elif group == "dynnet.studies":
        if not overridden("_compute", "run"):
            gaps.append("_compute(ctx) (or run())")
    try:
        cls._param_names()
    except TypeError as exc:
        gaps.append(f"explicit keyword parameters in __init__ ({exc})")
    return gaps


def _describe_exc(exc: BaseException) -> str:
    """``"Type: message"`` of a plugin's exception, on one line."""
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) (the plugin called sys.exit)"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _import_entry(entry: _Entry):
    """Import and check one entry; returns the class or raises PluginError."""
    if entry.key in _loaded:
        return _loaded[entry.key]
    if entry.key in _failed:
        raise _failed[entry.key]
    where = f"dynnet plugin {entry.name!r} ({entry.group}, distribution {entry.distribution!r}, " \
            f"{entry.value})"
    cause = None
    try:
        obj = entry.ep.load()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of third-party code
        # is reported, including sys.exit() at import time (it must not end the caller)
        cause = exc
        msg = f"{where} failed to import: {_describe_exc(exc)}"
    else:
        base = _base_class(entry.group)
        try:
            if not (isinstance(obj, type) and issubclass(obj, base)):
                msg = f"{where} is not a subclass of dynnet.{base.__name__}: got {obj!r}"
                cause = TypeError(msg)
            else:
                gaps = _interface_gaps(entry.group, obj, base)
                if gaps:
                    msg = (f"{where} breaks the {base.__name__} interface: missing "
                           + ", ".join(gaps))
                    cause = TypeError(msg)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a hostile class is reported too
            cause = exc
            msg = f"{where} failed its interface check: {_describe_exc(exc)}"
    if cause is None:
        _loaded[entry.key] = obj
        return obj
    err = PluginError(msg, group=entry.group, plugin=entry.name,
                      distribution=entry.distribution, value=entry.value)
    err.__cause__ = cause
    _failed[entry.key] = err
    raise err


def load(group: str, name: str, *, distribution: str | None = None) -> type:
    """The class registered as ``name`` in ``group``, imported on first use and cached.

    Parameters
    ----------
    group : str
        One of the five groups (see :func:`available`).
    name : str
        The entry-point name, e.g. ``"sgd"``.
    distribution : str, optional
        Pick the plugin of this distribution when several register ``name``.

    Returns
    -------
    type
        A subclass of the group's base class that implements its interface.

    Raises
    ------
    PluginError (an ImportError)
        If no usable plugin has that name, or it fails to import, is not a
        subclass of the base class, or breaks the interface. The message
        names the plugin, its distribution and the cause (also chained as
        ``__cause__``).
    """
    g = _group(group)
    usable = _discover(g)
    if distribution is not None:
        cands = [e for e in _entries[g].get(name, []) if e.distribution == distribution]
        entry = cands[0] if cands else None
    else:
        entry = usable.get(name)
    if entry is None:
        clash = _entries[g].get(name, [])
        if len(clash) > 1 and distribution is None:
            dists = sorted({e.distribution for e in clash})
            msg = (f"dynnet plugin {name!r} in group {g!r} is ambiguous: registered by "
                   f"distributions {dists}; pass distribution=...")
        else:
            import difflib

            where = f" from distribution {distribution!r}" if distribution else ""
            close = difflib.get_close_matches(name, list(usable), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = (f"no dynnet plugin named {name!r}{where} in group {g!r}{hint}; available: "
                   f"{sorted(usable)}")
        raise PluginError(msg, group=g, plugin=name, distribution=distribution)
    return _import_entry(entry)


def load_all(group: str, *, builtins: bool = True) -> dict[str, type]:
    """Every usable plugin of ``group``, imported; broken ones warn once and are left out.

    Parameters
    ----------
    group : str
        One of the five groups (see :func:`available`).
    builtins : bool, default True
        Include dynnet's own classes (distribution ``"dynnet"``).

    Returns
    -------
    dict
        ``name -> class`` of the plugins that loaded.
    """
    g = _group(group)
    out = {}
    for name, entry in _discover(g).items():
        if not builtins and _is_builtin(entry.distribution):
            continue
        try:
            out[name] = _import_entry(entry)
        except PluginError as exc:
            _warn_once(entry.key, str(exc), stacklevel=3)
    return out


def is_registered_module(module: str) -> bool:
    """True if ``module`` belongs to a package that registered a dynnet plugin.

    Used by :func:`dynnet.load` to decide whether a class named in a saved
    file may be rebuilt. Nothing is imported: the answer comes from the
    entry points' values. A module belongs to a plugin when it lies in the
    top-level package of one of its entry points (a class registered as
    ``pkg:Cls`` is often defined in ``pkg.maps``).

    Parameters
    ----------
    module : str
        A dotted module name, e.g. ``"dynnet_sgd.maps"``.

    Returns
    -------
    bool
        Whether the top-level package of ``module`` is that of a registered
        entry point in any group (dynnet's own included; entries ignored as
        duplicates count too). False for an empty or non-str ``module``.
    """
    if not isinstance(module, str) or not module:
        return False
    top = module.split(".", 1)[0]
    for g in GROUPS:
        _discover(g)
        for entries in _entries[g].values():
            for e in entries:
                if e.module.split(".", 1)[0] == top:
                    return True
    return False
