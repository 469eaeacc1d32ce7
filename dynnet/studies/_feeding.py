"""How a study feeds its estimators: the list, the checks before computing, the fits.

One place for the estimator side of every study. A study declares

* ``_fed_estimators()``: the estimators it fits through
  :meth:`dynnet.Estimator.fit_result` (default: all of them; a study whose
  own computation uses an estimator, such as :class:`~dynnet.Sharpness` in the
  sharpening study, leaves that one out);
* ``_estimator_variables()``: the result variables it offers them (default: the
  names in its ``_records`` declaration);

and :func:`check_estimators` refuses, before any computing, an estimator whose
:class:`~dynnet.estimators.base.Needs` the study cannot meet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import ParamsObject, clone

if TYPE_CHECKING:
    from collections.abc import Iterable

    import xarray as xr

    from ..estimators.base import Estimator
    from ..maps.base import Map

__all__ = ["estimator_key", "estimator_list", "check_estimators", "fit_estimators", "ensemble_variables"]


def estimator_key(est: Estimator) -> str:
    """The name of an estimator in summaries and result variables: its class name, lower case.

    Parameters
    ----------
    est : Estimator
        The estimator.

    Returns
    -------
    str
        ``type(est).__name__.lower()``.
    """
    return type(est).__name__.lower()


def estimator_list(study) -> list:
    """The study's estimators as a list (its part default when the parameter is None)."""
    ests = study.parts().get("estimators", getattr(study, "estimators", None))
    if ests is None:
        return []
    name = type(study).__name__
    if isinstance(ests, ParamsObject) or isinstance(ests, (str, bytes)):
        raise TypeError(f"{name}: estimators must be a list of Estimators, got {ests!r}")
    try:
        return list(ests)
    except TypeError:
        raise TypeError(f"{name}: estimators must be a list of Estimators, got {ests!r}") from None


def check_estimators(study) -> None:
    """Refuse, before any computing, what is not a list of distinct estimators, and any
    estimator the study feeds (``_fed_estimators()``) whose needs it cannot meet.

    An estimator is fed when its :attr:`~dynnet.Estimator.needs` names only result
    variables in ``study._estimator_variables()`` and map capabilities in
    :meth:`dynnet.Map.capabilities` of the study's ``map`` part; the error names the
    estimator and what is missing, in one line. A study that offers no variables
    (no ``_records`` and no ``_estimator_variables`` override) is not checked: it
    declares no feeding.
    """
    from ..estimators.base import Estimator
    from ..maps.base import Map

    name = type(study).__name__
    keys = set()
    for est in estimator_list(study):
        if not isinstance(est, Estimator):
            raise TypeError(f"{name}: estimators must be dynnet Estimators, got {est!r}")
        key = estimator_key(est)
        if key in keys:
            raise ValueError(f"{name}: two estimators of class {type(est).__name__}; the summary "
                             "keys are the class names, so give each class once")
        keys.add(key)
    fed = list(study._fed_estimators())
    variables = set(study._estimator_variables())
    if not fed or not variables:
        # a study that offers its estimators nothing declares no feeding (a study written before
        # needs existed, or one such as GridStudy that hands its estimators to other studies)
        return
    m = study.parts().get("map", getattr(study, "map", None))
    m = m if isinstance(m, Map) else None
    for est in fed:
        why = est.unmet_needs(variables, m)
        if why is not None:
            offered = "" if est.needs is None else f" (it offers {', '.join(sorted(variables)) or 'none'})"
            raise ValueError(f"{name}: estimator {type(est).__name__} {why}{offered}")


def ensemble_variables(map: Map) -> set[str]:
    """The variables a perturbation ensemble offers its estimators (one eps, eta or value):
    ``distance (step, init, pert)``, ``diverged``, ``initial_state`` and each of the map's
    observables ``(step, init)``.

    Parameters
    ----------
    map : Map
        The ensemble's map.

    Returns
    -------
    set of str
        The variable names.
    """
    return {"distance", "diverged", "initial_state"} | set(map.observable_names())


def fit_estimators(owner: object, ests: Iterable[Estimator], data: xr.Dataset,
                   map: Map | None = None) -> tuple[list[Estimator], dict[str, Any]]:
    """Fit each estimator on a study result with ``fit_result``; store each one's summary
    numbers in a dict ``{"<key>.<number>": value}``.

    Parameters
    ----------
    owner : object
        The study (not used by the fits; kept for the callers' symmetry).
    ests : iterable of Estimator
        The estimators (each cloned before it is fitted).
    data : xarray.Dataset
        The result, or the part of it for one value of a sweep.
    map : Map or None, default None
        The study's map, passed to ``fit_result``.

    Returns
    -------
    fitted : list of Estimator
        The fitted clones, in order.
    numbers : dict
        ``{"<key>.<number>": value}`` of every estimator's summary.
    """
    fitted, numbers = [], {}
    for est in ests:
        f = clone(est).fit_result(data, map)
        fitted.append(f)
        for k, v in f.summary().items():
            numbers[f"{estimator_key(est)}.{k}"] = v
    return fitted, numbers
