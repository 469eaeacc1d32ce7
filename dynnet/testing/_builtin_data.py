"""Example fit data for dynnet's own estimators (the conformance checks' inputs).

Registered by class path, so nothing here imports an estimator. A class's own
``_check_data()`` takes precedence over these.
"""

from __future__ import annotations

import numpy as np

from .checks import register_check_data


def _logistic_series(n=600, x0=0.3, r=4.0):
    """An orbit of the logistic map at r = 4 (chaotic, exponent ln 2)."""
    x = np.empty(n)
    x[0] = x0
    for t in range(1, n):  # test data, built once
        x[t] = r * x[t - 1] * (1.0 - x[t - 1])
    return x


def _series():
    return (_logistic_series(),)


def _distances():
    """Synthetic distances (T=201, n_init=4, n_pert=3): exp(0.1 t) growth, saturating at 1."""
    rng = np.random.default_rng(0)
    t = np.arange(201.0)[:, None, None]
    lam = 0.1 * (1.0 + 0.05 * rng.standard_normal((1, 4, 3)))
    d = 1e-8 * np.exp(lam * t) * np.exp(0.02 * rng.standard_normal((201, 4, 3)))
    return (np.minimum(d, 1.0),)


def _spectrum():
    from ..maps.classic import HenonMap

    return (HenonMap(), np.array([0.1, 0.1]))


def _gd_states():
    from ..maps.gd import GradientDescentMap

    m = GradientDescentMap()
    return (m, m.initial_state(2, seed=0))


def _gd_state():
    m, x = _gd_states()
    return (m, x[0])


def _gd_trajectory():
    from ..maps.gd import GradientDescentMap

    m = GradientDescentMap()
    return {"trajectory": m.trajectory(m.initial_state(1, seed=0)[0], 20), "map": m}


for _path, _factory in {
    "dynnet.estimators.gd:Sharpness": _gd_states,
    "dynnet.estimators.gd:WeightImportance": _gd_state,
    "dynnet.estimators.gd:WeightDrift": _gd_trajectory,
    "dynnet.estimators.lyapunov:FiniteLyapunov": _distances,
    "dynnet.estimators.lyapunov:LyapunovSpectrum": _spectrum,
    "dynnet.estimators.timeseries:Kantz": _series,
    "dynnet.estimators.timeseries:Rosenstein": _series,
    "dynnet.estimators.timeseries:ShuffledAutocorrelation": _series,
    "dynnet.estimators.graphs:HorizontalVisibilityGraph": _series,
    "dynnet.estimators.intermittency:LaminarPhases": _series,
}.items():
    register_check_data(_path, _factory)
