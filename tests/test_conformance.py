"""dynnet's own Maps, Perturbers, Metrics and Estimators pass the public conformance suite.

The objects are discovered through the plugin registry (distribution "dynnet"),
so a built-in added to pyproject.toml's entry points is checked automatically.
A registered class that does not exist yet (its module or attribute is not
written) is skipped with the reason; any other failure to load fails.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given

import dynnet as dn
from dynnet import plugins
from dynnet.testing import (
    check_map,
    check_metric,
    finite_difference_jacobian,
    maps,
    parametrize_with_checks,
    states,
)

GROUPS = ("dynnet.maps", "dynnet.perturbers", "dynnet.metrics", "dynnet.estimators")


def _builtins():
    objs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for group in GROUPS:
            for name, dist in plugins.available(group).items():
                if dist != "dynnet":
                    continue
                # a registered built-in that does not load is a failure, never a skip
                objs.append(plugins.load(group, name)())
    return objs


_OBJECTS = _builtins()


def _param_list():
    return parametrize_with_checks(_OBJECTS).args[1]


@pytest.mark.parametrize("obj, check", _param_list())
def test_builtin_conformance(obj, check):
    check(obj)


def test_discovery_covers_the_core_builtins():
    names = {type(o).__name__ for o in _OBJECTS}
    assert {"GradientDescentMap", "LogisticMap", "TentMap", "HenonMap", "LinearMap",
            "UniformPerturber", "GaussianPerturber", "L1", "L2", "LInf", "PerLayer",
            "FiniteLyapunov", "LyapunovSpectrum", "Kantz", "Rosenstein", "ShuffledAutocorrelation",
            "HorizontalVisibilityGraph", "LaminarPhases", "Sharpness", "WeightImportance",
            "WeightDrift"} <= names


# ---- the suite can fail: broken objects are caught ---------------------------------

class _WrongJacobianHenon(dn.HenonMap):
    def jacobian(self, state):
        J = super().jacobian(state)
        J[0, 1] += 1e-4
        return J


class _StatefulMap(dn.LogisticMap):
    """Steps depend on how often it was called: iterate(n) != n steps in a fresh batch."""

    def step(self, states):
        self.__dict__["_calls"] = self.__dict__.get("_calls", 0) + 1
        return super().step(states) + 1e-12 * self._calls


class _BatchCoupledMap(dn.LogisticMap):
    def step(self, states):
        return super().step(states) * (1.0 - 1e-9 * states.mean())


class _ParamMutatingMap(dn.LogisticMap):
    def step(self, states):
        self.r = min(self.r, 3.9)  # "clips" its parameter at run time
        return super().step(states)


class _NotAMetric(dn.L1):
    def _distance(self, diff):
        return diff.sum(axis=-1)  # signed: not a metric


@pytest.mark.parametrize("obj, check, message", [
    (_WrongJacobianHenon(), check_map, "finite differences"),
    (_StatefulMap(), check_map, "bit-identical"),
    (_BatchCoupledMap(), check_map, "alone vs in a batch"),
    (_ParamMutatingMap(r=4), check_map, "changed the public parameters"),
    (_NotAMetric(), check_metric, "negative distance"),
])
def test_suite_catches_broken_objects(obj, check, message):
    with pytest.raises(AssertionError, match=message):
        check(obj)


# ---- strategies and the finite-difference helper ------------------------------------

@given(maps(), states(1, 0.05, 0.45))
def test_fd_jacobian_matches_classic_maps(m, x):
    """The Jacobians of classic maps match central differences (tent: away from its kink)."""
    x = np.resize(x, m.dim) if m.dim > 1 else x
    J = m.jacobian(x)
    F = finite_difference_jacobian(m, x)
    assert np.max(np.abs(J - F)) <= 1e-6 * max(1.0, np.max(np.abs(J)))


@given(maps())
def test_strategy_maps_are_valid_and_step_in_batches(m):
    x = m.initial_state(3, seed=0)
    y = m.step(x)
    assert y.shape == x.shape and y.dtype == np.float64
    for i in range(3):
        assert np.array_equal(m.step(x[i:i + 1])[0], y[i])


def test_map_checks_that_do_not_apply_are_skipped_visibly():
    class NoJacobian(dn.Map):
        dim = 2

        def step(self, states):
            return 0.5 * states

    skipped = check_map(NoJacobian())
    assert "check_map_jacobian" in skipped and "no jacobian" in skipped["check_map_jacobian"]
    assert "check_map_jacobian" not in check_map(dn.HenonMap())
