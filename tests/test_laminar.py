"""LaminarPhases and smallest_period on synthetic intermittent series."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet.estimators.intermittency import smallest_period


def laminar(levels, length, t0, rng):
    """A period-len(levels) stretch like the paper's: regions O(1) apart, each
    drifting monotonically by ~1e-6 over the stretch, plus 1e-9 jitter."""
    t = np.arange(length)
    base = np.asarray(levels)[(t0 + t) % len(levels)]
    return base + 1e-9 * t + 1e-9 * rng.random(length)


def synthetic(rng):
    # (kind, length): noise segments are uniform on (0, 3)
    plan = [("noise", 200), ((0.3, 1.4, 2.2), 300), ("noise", 150), ((0.5, 1.9, 1.1), 400),
            ("noise", 90), ((0.7, 2.5), 250), ("noise", 100)]
    parts, truth, t = [], [], 0
    for kind, n in plan:
        if kind == "noise":
            parts.append(rng.uniform(0.0, 3.0, n))
        else:
            parts.append(laminar(kind, n, 0, rng))
            truth.append((t, t + n, len(kind)))
        t += n
    return np.concatenate(parts), np.array(truth)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_boundaries_recovered(seed):
    x, truth = synthetic(np.random.default_rng(seed))
    lp = dn.LaminarPhases().fit(x)
    assert lp.phases_.shape == truth.shape
    # boundaries exact unless a burst value lands within tol of the value p steps
    # away; allow 2 steps (documented in the class)
    assert np.all(np.abs(lp.phases_[:, :2] - truth[:, :2]) <= 2)
    np.testing.assert_array_equal(lp.phases_[:, 2], truth[:, 2])
    np.testing.assert_array_equal(lp.laminar_lengths_, lp.phases_[:, 1] - lp.phases_[:, 0])
    assert np.all(np.abs(lp.burst_lengths_ - np.array([150, 90])) <= 4)
    expected = (truth[:, 1] - truth[:, 0]).sum() / x.size
    assert lp.laminar_fraction_ == pytest.approx(expected, abs=6 / x.size)
    assert lp.laminar_mask_.sum() == lp.laminar_lengths_.sum()
    assert set(lp.summary()) >= {"laminar_fraction", "n_phases"}


def test_pure_noise_has_no_phase():
    x = np.random.default_rng(0).random(5000)
    lp = dn.LaminarPhases().fit(x)
    assert lp.phases_.shape == (0, 3) and lp.laminar_fraction_ == 0.0
    assert lp.burst_lengths_.size == 0


def test_relative_tolerance_and_min_length():
    rng = np.random.default_rng(4)
    x, truth = synthetic(rng)
    big = 1e6 * x                                       # absolute tol 1e-5 now too strict
    assert dn.LaminarPhases().fit(big).phases_.shape[0] == 0
    rel = dn.LaminarPhases(tol=1e-7, tol_mode="relative").fit(big)
    assert np.all(np.abs(rel.phases_[:, :2] - truth[:, :2]) <= 2)
    assert dn.LaminarPhases(min_length=350).fit(x).phases_.shape[0] == 1


@given(st.integers(1, 8), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_smallest_period_property(p, reps, seed):
    pattern = np.random.default_rng(seed).random(p)
    x = np.tile(pattern, reps)
    q = smallest_period(x, max_period=8)
    assert q == p                                       # distinct values: exactly p
    assert smallest_period(x + 1e-7 * np.arange(x.size), 8, tol=1e-6) == p
    if p > 1:
        assert smallest_period(x, max_period=p - 1) == 0


def test_smallest_period_edge_cases():
    assert smallest_period([1.0, 2.0, 1.0, 2.0, 1.0], 4) == 2
    assert smallest_period([5.0] * 10, 4) == 1
    assert smallest_period([1.0, 2.0, 3.0], 4) == 0      # no full repetition
    with pytest.raises(ValueError, match="tol_mode"):
        smallest_period([1.0, 2.0], 2, tol_mode="bad")
    with pytest.raises(ValueError, match="periods"):
        dn.LaminarPhases(periods=[0, 3]).fit(np.arange(10.0))
