"""The Map interface and the classic maps."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn

CLASSIC = [dn.LogisticMap(r=3.9), dn.TentMap(mu=1.7), dn.HenonMap(), dn.LinearMap(A=[[0.9, 0.2], [-0.1, 1.1]])]


class Quadratic(dn.Map):
    """A user map in a few lines, as the Map docstring promises."""

    dim = 3

    def __init__(self, c=0.5):
        self.c = c

    def step(self, states):
        return self.c * states ** 2 - 0.3

    def jacobian(self, state):
        return np.diag(2 * self.c * state)

    def sample_state(self, rng):
        return rng.uniform(-0.5, 0.5, size=3)


@pytest.mark.parametrize("m", CLASSIC + [Quadratic()], ids=lambda m: type(m).__name__)
def test_jacobian_matches_central_differences(m):
    x = m.initial_state(1, seed=3)[0]
    if isinstance(m, dn.TentMap):
        x = np.array([0.3])
    J = m.jacobian(x)
    h = 1e-6
    fd = np.stack([(m.step((x + h * e)[None])[0] - m.step((x - h * e)[None])[0]) / (2 * h)
                   for e in np.eye(m.dim)], axis=1)
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("m", CLASSIC + [Quadratic()], ids=lambda m: type(m).__name__)
@given(n=st.integers(0, 12), seed=st.integers(0, 1000))
def test_iterate_equals_n_single_steps_bitwise(m, n, seed):
    x = m.initial_state(4, seed=seed)
    y = x.copy()
    for _ in range(n):
        y = m.step(y)
    np.testing.assert_array_equal(m.iterate(x, n), y)


@pytest.mark.parametrize("m", CLASSIC, ids=lambda m: type(m).__name__)
def test_batch_member_equals_state_run_alone(m):
    x = m.initial_state(5, seed=1)
    batch = m.iterate(x, 30)
    for i in range(5):
        np.testing.assert_array_equal(batch[i], m.iterate(x[i], 30))


def test_trajectory_shape_and_consistency():
    m = dn.HenonMap()
    x = m.initial_state(3, seed=0)
    tr = m.trajectory(x, 12, every=3)
    assert tr.shape == (5, 3, 2)
    np.testing.assert_array_equal(tr[0], x)
    np.testing.assert_array_equal(tr[2], m.iterate(x, 6))
    np.testing.assert_array_equal(tr[-1], m.iterate(x, 12))


def test_initial_state_prefix_stable_and_seeded():
    m = dn.HenonMap()
    a = m.initial_state(10, seed=7)
    np.testing.assert_array_equal(a[:4], m.initial_state(4, seed=7))
    np.testing.assert_array_equal(a, m.initial_state(10, seed=7))
    assert not np.array_equal(a, m.initial_state(10, seed=8))


def test_validation_of_states():
    m = dn.HenonMap()
    with pytest.raises(ValueError, match=r"shape \(E, 2\)"):
        m.iterate(np.zeros((3, 5)), 2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        m.iterate(np.array([[np.inf, 0.0]]), 2)
    with pytest.raises(TypeError, match="numeric array"):
        m.iterate([["a", "b"]], 1)
    with pytest.raises(ValueError, match="n_steps=-1"):
        m.iterate(np.zeros(2), -1)
    with pytest.raises(ValueError, match=r"parameter r=5.0 is out of range"):
        dn.LogisticMap(r=5.0).iterate(np.array([0.2]), 1)


def test_unimplemented_optional_parts_name_the_class():
    class Bare(dn.Map):
        dim = 1

        def __init__(self):
            pass

        def step(self, states):
            return states

    with pytest.raises(NotImplementedError, match="Bare does not implement jacobian"):
        Bare().jacobian(np.zeros(1))
    assert not Bare().has_jacobian and dn.HenonMap().has_jacobian


def test_divergence_is_data():
    """An overflowing member becomes NaN, one warning, the others go on."""
    m = dn.LinearMap(A=[[3.0, 0.0], [0.0, 0.5]])
    x = np.array([[1.0, 1.0], [0.0, 1.0]])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = m.iterate(x, 1000)
    assert len([x for x in w if issubclass(x.category, dn.DivergenceWarning)]) == 1
    assert np.all(np.isnan(out[0]))
    np.testing.assert_allclose(out[1], [0.0, 0.5 ** 1000])


def test_linear_map_dim_and_validation():
    assert dn.LinearMap(A=np.eye(4)).dim == 4
    with pytest.raises(ValueError, match="must be square"):
        dn.LinearMap(A=np.ones((2, 3))).dim


def test_logistic_known_orbit():
    m = dn.LogisticMap(r=4.0)
    np.testing.assert_allclose(m.iterate(np.array([0.25]), 1), [0.75])
    np.testing.assert_allclose(m.iterate(np.array([0.75]), 5), [0.75])  # fixed point 3/4


def test_diverged_rows_go_on_as_nan_but_partial_nan_is_refused():
    m = dn.HenonMap()
    with pytest.warns(dn.DivergenceWarning, match="1 of 2"):
        x = m.iterate(np.array([[0.1, 0.1], [3.0, 3.0]]), 50)  # the second member escapes
    assert np.isnan(x[1]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no new divergence: no warning
        y = m.iterate(x, 10)
    assert np.isfinite(y[0]).all() and np.isnan(y[1]).all()
    assert m.trajectory(x, 4).shape == (5, 2, 2)
    with pytest.raises(ValueError, match="not all NaN"):
        m.iterate(np.array([[np.nan, 0.0]]), 1)


def test_trajectory_of_one_state_has_no_member_axis():
    m = dn.HenonMap()
    tr = m.trajectory(np.array([0.1, 0.1]), 6, every=3)
    assert tr.shape == (3, 2)
    np.testing.assert_array_equal(tr[-1], m.iterate(np.array([0.1, 0.1]), 6))
    with pytest.raises(ValueError, match="not a multiple of every"):
        m.trajectory(np.array([0.1, 0.1]), 7, every=3)


def test_default_sample_state_is_a_small_box():
    class Bare(dn.Map):
        dim = 3

        def __init__(self):
            pass

        def step(self, states):
            return states

    x = Bare().initial_state(50, seed=0)
    assert x.shape == (50, 3) and np.all(np.abs(x) <= 0.1)
