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

__all__ = ["estimator_key", "estimator_list", "check_estimators", "fit_estimators"]


def estimator_key(est: Estimator) -> str:
    """The name of an estimator in summaries and result variables: its class name, lower case."""
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
    """Refuse, before any computing, what is not a list of distinct estimators."""
    from ..estimators.base import Estimator

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


def fit_estimators(owner: object, ests: Iterable[Estimator], data: xr.Dataset,
                   map: Map | None = None) -> tuple[list[Estimator], dict[str, Any]]:
    """Fit each estimator on a study result with ``fit_result``; store each one's summary
    numbers in a dict ``{"<key>.<number>": value}``.

    Returns
    -------
    fitted : list of Estimator
    numbers : dict
    """
    fitted, numbers = [], {}
    for est in ests:
        f = clone(est).fit_result(data, map)
        fitted.append(f)
        for k, v in f.summary().items():
            numbers[f"{estimator_key(est)}.{k}"] = v
    return fitted, numbers
