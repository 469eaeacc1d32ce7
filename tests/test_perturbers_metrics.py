"""Perturbers and metrics: boxes, untouched coordinates, seeds, metric axioms."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import dynnet as dn

GD = dn.GradientDescentMap()
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@given(eps=st.floats(1e-14, 10.0), n=st.integers(1, 8), seed=st.integers(0, 2**31),
       on=st.sampled_from(["weights", "all", "biases", "W2"]))
def test_uniform_perturbation_inside_box_and_others_untouched(eps, n, seed, on):
    x = GD.initial_state(1, seed=seed % 97)[0]
    out = dn.UniformPerturber(eps=eps, n=n, on=on).perturb(x, map=GD, seed=seed)
    assert out.shape == (n, 83)
    sel = GD.mask(on)
    assert np.all(np.abs(out[:, sel] - x[sel]) <= eps * (1 + 1e-12) + np.abs(x[sel]) * 1e-15)
    np.testing.assert_array_equal(out[:, ~sel], np.broadcast_to(x[~sel], (n, (~sel).sum())))


@given(seed=st.integers(0, 2**31))
def test_same_seed_same_bits(seed):
    for P in (dn.UniformPerturber, dn.GaussianPerturber):
        p = P(eps=1e-3, n=4, on="all")
        np.testing.assert_array_equal(p.perturb(np.zeros(83), seed=seed), p.perturb(np.zeros(83), seed=seed))


def test_uniform_directions_are_common_across_eps():
    x = np.zeros(5)
    a = dn.UniformPerturber(eps=1e-8, n=3, on="all").perturb(x, seed=0)
    b = dn.UniformPerturber(eps=1e-2, n=3, on="all").perturb(x, seed=0)
    np.testing.assert_allclose(a / 1e-8, b / 1e-2, rtol=1e-12)


def test_gaussian_scale():
    out = dn.GaussianPerturber(eps=0.1, n=4000, on="all").perturb(np.zeros(2), seed=1)
    assert abs(out.std() - 0.1) < 0.005


def test_perturber_errors():
    with pytest.raises(ValueError, match="needs map="):
        dn.UniformPerturber(on="weights").perturb(np.zeros(83))
    with pytest.raises(ValueError, match=r"on='weights' is not allowed; allowed values are \['all'\]"):
        dn.UniformPerturber(on="weights").perturb(np.zeros(2), map=dn.HenonMap())
    with pytest.raises(ValueError, match=r"eps=0.0 is out of range"):
        dn.UniformPerturber(eps=0.0, on="all").perturb(np.zeros(2))
    with pytest.raises(ValueError, match=r"n=0 is out of range"):
        dn.UniformPerturber(n=0, on="all").perturb(np.zeros(2))
    idx = dn.UniformPerturber(eps=1.0, n=2, on=np.array([1])).perturb(np.zeros(3), seed=0)
    assert np.all(idx[:, [0, 2]] == 0) and np.all(idx[:, 1] != 0)


METRICS = [dn.L1(), dn.L2(), dn.LInf()]


@pytest.mark.parametrize("d", METRICS, ids=lambda d: type(d).__name__)
@given(a=arrays(np.float64, 6, elements=finite), b=arrays(np.float64, 6, elements=finite),
       c=arrays(np.float64, 6, elements=finite))
def test_metric_axioms(d, a, b, c):
    assert d(a, a) == 0
    assert d(a, b) >= 0
    assert d(a, b) == d(b, a)
    assert d(a, c) <= (d(a, b) + d(b, c)) * (1 + 1e-12) + 1e-9
    if not np.array_equal(a, b):
        assert d(a, b) > 0


def test_metric_values_and_broadcasting():
    a = np.array([0.0, 3.0, -4.0])
    assert dn.L1()(a, 0 * a) == 7 and dn.L2()(a, 0 * a) == 5 and dn.LInf()(a, 0 * a) == 4
    W = GD.initial_state(5, seed=0)
    out = dn.L1()(W[0], W[1:])
    assert out.shape == (4,)
    np.testing.assert_allclose(out, np.abs(W[1:] - W[0]).sum(1))
    assert dn.L2()(W[None, :, :], W[:, None, :]).shape == (5, 5)


def test_per_layer_metric():
    W = GD.initial_state(2, seed=0)
    d = dn.PerLayer(layer="W2", norm="l1")(W[0], W[1], map=GD)
    assert d == pytest.approx(np.abs(W[0, 50:80] - W[1, 50:80]).sum())
    parts = sum(dn.PerLayer(layer=g)(W[0], W[1], map=GD) for g in ["W1", "b1", "W2", "b2"])
    assert parts == pytest.approx(dn.L1()(W[0], W[1]))
    with pytest.raises(ValueError, match="needs map="):
        dn.PerLayer()(W[0], W[1])
    with pytest.raises(ValueError, match="layer='W9' is not allowed"):
        dn.PerLayer(layer="W9")(W[0], W[1], map=GD)


def test_l2_of_an_infinite_difference_is_infinite_like_l1_and_linf():
    a = np.zeros(3)
    b = np.array([[np.inf, 0.0, 1.0], [-np.inf, np.inf, 0.0], [1.0, 2.0, 2.0], [np.nan, 0.0, 0.0]])
    for metric in (dn.L1(), dn.L2(), dn.LInf()):
        d = metric(a, b)
        assert d[0] == np.inf and d[1] == np.inf and np.isnan(d[3])
    assert dn.L2()(a, b)[2] == 3.0


def test_a_perturbation_that_overflows_is_refused_not_returned_as_inf():
    # 415 draws: some Gaussian offsets exceed 1.8e308, some uniform ones push 1e308 past the max
    with pytest.raises(ValueError, match=r"eps=1e\+308 overflows"):
        dn.GaussianPerturber(eps=1e308, n=5, on="all").perturb(np.zeros(83), seed=0)
    with pytest.raises(ValueError, match="overflows"):
        dn.UniformPerturber(eps=1e308, n=5, on="all").perturb(np.full(83, 1e308), seed=0)
