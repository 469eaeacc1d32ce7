"""Public conformance suite and hypothesis strategies, for dynnet and its plugins.

Checks (no test dependency needed)::

    from dynnet.testing import check_map, parametrize_with_checks

    check_map(MyMap())                     # raises AssertionError naming the broken promise
    check_study(MyStudy.quick())           # the Study lifecycle (run settings, save/load, ...)

    @parametrize_with_checks([MyMap(), MyEstimator()])
    def test_conformance(obj, check):      # one pytest test per (object, check)
        check(obj)

Estimators are fitted on example data that their class provides with a
``_check_data()`` staticmethod (a tuple of positional ``fit`` arguments or a
dict of keywords), or that :func:`register_check_data` registers.

Hypothesis strategies (need ``hypothesis``): :func:`states`,
:func:`ensembles`, :func:`maps`, :func:`classic_maps`, :func:`linear_maps`,
:func:`series`; they are imported on first use.
"""

from __future__ import annotations

from typing import Any

from ._study_checks import check_study, study_checks
from .checks import (
    FD_RTOL,
    check_data,
    check_estimator,
    check_map,
    check_metric,
    check_perturber,
    checks_for,
    estimator_checks,
    finite_difference_jacobian,
    map_checks,
    metric_checks,
    parametrize_with_checks,
    perturber_checks,
    register_check_data,
)

_STRATEGIES = ("states", "ensembles", "maps", "classic_maps", "linear_maps", "series")

__all__ = ["check_map", "check_perturber", "check_metric", "check_estimator", "check_study", "study_checks",
           "parametrize_with_checks", "checks_for", "map_checks", "perturber_checks",
           "metric_checks", "estimator_checks", "register_check_data", "check_data",
           "finite_difference_jacobian", "FD_RTOL", *_STRATEGIES]


def __getattr__(name: str) -> Any:
    if name in _STRATEGIES:
        from . import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module 'dynnet.testing' has no attribute {name!r}")
