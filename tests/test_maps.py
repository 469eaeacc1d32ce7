"""The Map interface and the classic maps."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn

CLASSIC = [dn.LogisticMap(r=3.9), dn.TentMap(mu=1.7), dn.HenonMap(),
           dn.LinearMap(A=[[0.9, 0.2], [-0.1, 1.1]])]


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
        _ = dn.LinearMap(A=np.ones((2, 3))).dim


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


# ---- Map.observe: observables and projections in one streamed pass ----------------

class Rotation(dn.Map):
    """A map with observables: a damped rotation in the plane, plus a bias coordinate."""

    dim = 3

    def __init__(self, theta=0.3, r=0.99):
        self.theta = theta
        self.r = r

    def step(self, states):
        c, s = np.cos(self.theta), np.sin(self.theta)
        x, y, z = states[:, 0], states[:, 1], states[:, 2]
        return np.stack([self.r * (c * x - s * y), self.r * (s * x + c * y), z + 0.01], axis=1)

    def observables(self, states):
        return {"radius": np.hypot(states[:, 0], states[:, 1]), "z": states[:, 2].copy()}


@given(n_rec=st.integers(0, 12), every=st.integers(1, 4), seg=st.integers(1, 30),
       seed=st.integers(0, 100))
def test_observe_records_do_not_depend_on_the_segment_length(n_rec, every, seg, seed):
    m = Rotation()
    x = m.initial_state(5, seed=seed)
    V = np.random.default_rng(seed).standard_normal((2, 3))
    n = n_rec * every
    ref, fref = m.observe(x, n, every=every, project=V)
    old = dn.Map._observe_segment
    try:
        dn.Map._observe_segment = seg
        rec, final = m.observe(x, n, every=every, project=V)
    finally:
        dn.Map._observe_segment = old
    assert set(rec) == {"radius", "z", "projection"}
    for k in rec:
        np.testing.assert_array_equal(rec[k], ref[k])
    np.testing.assert_array_equal(final, fref)
    np.testing.assert_array_equal(final, m.iterate(x, n))
    tr = m.trajectory(x, n, every=every)
    assert rec["projection"].shape == (n_rec + 1, 5, 2)
    np.testing.assert_allclose(rec["projection"], np.einsum("tei,ki->tek", tr, V), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(rec["radius"], np.hypot(tr[..., 0], tr[..., 1]))
    np.testing.assert_array_equal(rec["z"], tr[..., 2])


def test_observe_known_values_shapes_and_single_state():
    m = Rotation(theta=np.pi / 2, r=1.0)
    rec, final = m.observe(np.array([1.0, 0.0, 0.0]), 4, project=np.array([1.0, 0.0, 0.0]))
    # a quarter turn per step: x = cos(t pi / 2)
    np.testing.assert_allclose(rec["projection"], [1.0, 0.0, -1.0, 0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(rec["radius"], 1.0, rtol=1e-15)
    np.testing.assert_allclose(rec["z"], [0.0, 0.01, 0.02, 0.03, 0.04], rtol=1e-14)
    assert final.shape == (3,)
    rec, _ = m.observe(np.zeros((2, 3)), 6, every=3)
    assert set(rec) == {"radius", "z"} and rec["z"].shape == (3, 2)


def test_observe_validates_its_arguments():
    m = Rotation()
    x = m.initial_state(2, seed=0)
    with pytest.raises(ValueError, match="not a multiple of every"):
        m.observe(x, 7, every=3)
    with pytest.raises(ValueError, match=r"project must have shape \(3,\) or \(k, 3\)"):
        m.observe(x, 2, project=np.ones(4))
    with pytest.raises(ValueError, match="project contains NaN"):
        m.observe(x, 2, project=[np.nan, 0.0, 1.0])
    with pytest.raises(TypeError, match="progress"):
        m.observe(x, 2, progress=3)
    with pytest.raises(TypeError, match="observe\\(\\) takes 3 positional"):
        m.observe(x, 2, 1)  # every, project and progress are keyword-only


def test_observe_diverged_members_are_nan_and_warn_once():
    m = dn.LinearMap(A=[[3.0, 0.0], [0.0, 0.5]])
    x = np.array([[1.0, 1.0], [0.0, 1.0]])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        rec, final = m.observe(x, 1000, every=10, project=np.array([1.0, 1.0]))
    assert len([x for x in w if issubclass(x.category, dn.DivergenceWarning)]) == 1
    assert np.all(np.isnan(final[0])) and np.isnan(rec["projection"][-1, 0])
    assert np.isfinite(rec["projection"][:, 1]).all()
    np.testing.assert_allclose(rec["projection"][:3, 0], [2.0, 3.0 ** 10 + 0.5 ** 10, 3.0 ** 20 + 0.5 ** 20],
                               rtol=1e-14)


def test_observe_progress_bar_counts_steps(capsys):
    m = Rotation()
    old = dn.Map._observe_segment
    try:
        dn.Map._observe_segment = 10
        rec, _ = m.observe(m.initial_state(2, seed=0), 40, progress="rotation")
    finally:
        dn.Map._observe_segment = old
    err = capsys.readouterr().err
    assert "rotation" in err and "40/40" in err
    assert rec["z"].shape == (41, 2)


# ---- dim and state validation --------------------------------------------------------

def test_dim_is_validated_however_it_is_declared():
    class AsParameter(dn.Map):
        def __init__(self, dim=3):
            self.dim = dim

        def step(self, states):
            return states

    assert AsParameter().dim == 3 and AsParameter(dim=np.int64(2)).dim == 2
    assert type(AsParameter(dim=np.int64(2)).dim) is int
    assert AsParameter().get_params() == {"dim": 3}
    with pytest.raises(ValueError, match=r"AsParameter: dim=0 must be a positive int"):
        _ = AsParameter(dim=0).dim
    with pytest.raises(TypeError, match=r"AsParameter: dim='3' must be a positive int"):
        AsParameter(dim="3").initial_state(2)

    class Undeclared(dn.Map):
        def __init__(self):
            pass

    assert Undeclared.dim is None  # the plugin checks read the declaration on the class
    with pytest.raises(NotImplementedError, match="Undeclared must declare dim"):
        _ = Undeclared().dim

    class BadConstant(dn.Map):
        dim = 2.0

        def __init__(self):
            pass

    assert BadConstant.dim == 2.0
    with pytest.raises(TypeError, match=r"BadConstant: dim=2.0 must be a positive int"):
        _ = BadConstant().dim
    assert dn.HenonMap.dim == 2 and dn.HenonMap().dim == 2


@pytest.mark.parametrize("bad", [[None] * 2, [[None, None], [0.1, 0.2]], [[1 + 2j, 0.0]], ["1.0", "2.0"]])
def test_none_or_non_numeric_states_are_refused(bad):
    m = dn.HenonMap()
    with pytest.raises(TypeError, match="states must be a numeric array"):
        m.iterate(bad, 1)
    with pytest.raises(TypeError, match="must be a numeric array"):
        m.trajectory(bad, 1)
    # a diverged member given as float NaN stays allowed
    out = m.iterate(np.array([[np.nan, np.nan], [0.1, 0.1]]), 1)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
