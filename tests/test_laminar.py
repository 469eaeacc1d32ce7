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
    # boundaries are exact unless a burst value lands within tol of the value p
    # steps away (probability ~ tol / spread = 3e-6 per step): on these seeds
    # (and on seeds 0-199) they are exact
    np.testing.assert_array_equal(lp.phases_, truth)
    np.testing.assert_array_equal(lp.laminar_lengths_, [300, 400, 250])
    np.testing.assert_array_equal(lp.burst_lengths_, [150, 90])
    assert lp.laminar_fraction_ == 950 / 1490
    assert lp.laminar_mask_.sum() == 950
    np.testing.assert_array_equal(np.flatnonzero(lp.laminar_mask_),
                                  np.r_[200:500, 650:1050, 1140:1390])
    s = lp.summary()
    assert set(s) >= {"laminar_fraction", "n_phases"} and s["n_phases"] == 3
    assert isinstance(s["n_phases"], int)


def test_boundary_moves_when_a_burst_value_repeats():
    """The documented ambiguity: a burst value within tol of the value p steps
    away extends the phase by that step (here on purpose, by one step each side)."""
    x, truth = synthetic(np.random.default_rng(0))
    x[500] = x[497]                                     # first value after [200, 500)
    x[199] = x[202]                                     # last value before it
    lp = dn.LaminarPhases().fit(x)
    expected = truth.copy()
    expected[0, :2] = [199, 501]
    np.testing.assert_array_equal(lp.phases_, expected)
    np.testing.assert_array_equal(lp.burst_lengths_, [149, 90])


def test_empty_series_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        dn.LaminarPhases().fit(np.array([]))
    with pytest.raises(ValueError, match=r"LaminarPhases: data \(the series\) contains NaN"):
        dn.LaminarPhases().fit(np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="LaminarPhases.fit takes no map"):
        dn.LaminarPhases().fit(np.arange(10.0), map=dn.LogisticMap())
    with pytest.raises(TypeError, match="LaminarPhases.fit takes no steps"):
        dn.LaminarPhases().fit(np.arange(10.0), steps=np.arange(10.0))
    # one sample: no period fits, no phase
    lp = dn.LaminarPhases().fit(np.array([1.0]))
    assert lp.phases_.shape == (0, 3) and lp.laminar_fraction_ == 0.0


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
    np.testing.assert_array_equal(rel.phases_, truth)
    # only the 400-long phase is at least 350 long
    np.testing.assert_array_equal(dn.LaminarPhases(min_length=350).fit(x).phases_,
                                  [[650, 1050, 3]])


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


def test_constant_series_is_one_period_one_phase():
    lp = dn.LaminarPhases().fit(np.full(100, 0.7))
    np.testing.assert_array_equal(lp.phases_, [[0, 100, 1]])
    assert lp.laminar_fraction_ == 1.0


def test_a_phase_clipped_below_min_length_is_dropped():
    """Review bug: phases were filtered by min_length BEFORE their start was clipped to
    the previous phase's end, so a kept phase could be shorter than min_length.

    A period-2 phase (0.1, 0.9) on [0, 50) is followed by a period-3 pattern
    (0.1, 0.9, 2.2) on [50, 70): its first two values continue the period-2 phase
    (to 52), so the period-3 phase [50, 70) (20 steps) is clipped to [52, 70), 18 < 20."""
    rng = np.random.default_rng(0)
    x = np.concatenate([np.tile([0.1, 0.9], 25), np.tile([0.1, 0.9, 2.2], 7)[:20],
                        rng.uniform(3.0, 6.0, 100)])
    lp = dn.LaminarPhases(min_length=20).fit(x)
    np.testing.assert_array_equal(lp.phases_, [[0, 52, 2]])
    assert lp.laminar_fraction_ == 52 / 170
    assert np.all(lp.laminar_lengths_ >= 20)
    # with min_length 18 the clipped phase is long enough and kept
    np.testing.assert_array_equal(dn.LaminarPhases(min_length=18).fit(x).phases_,
                                  [[0, 52, 2], [52, 70, 3]])


@given(st.integers(0, 2**32 - 1), st.integers(2, 30), st.sampled_from([2, 3, 4]))
def test_phase_invariants_on_coincidence_rich_series(seed, min_length, n_values):
    """Series of a few integer values (tol = 0): coincidences everywhere, overlapping
    candidate phases of many periods. Every kept phase is at least min_length long,
    phases are ordered and disjoint, each repeats with its period, and the mask and
    fraction agree with them."""
    rng = np.random.default_rng(seed)
    pieces = []
    while sum(len(p) for p in pieces) < 400:
        if rng.random() < 0.5:
            pieces.append(rng.integers(0, n_values, rng.integers(1, 30)).astype(float))
        else:
            pat = rng.integers(0, n_values, rng.integers(1, 12)).astype(float)
            pieces.append(np.resize(pat, rng.integers(1, 80)))
    x = np.concatenate(pieces)
    lp = dn.LaminarPhases(tol=0.0, min_length=min_length).fit(x)
    ph = lp.phases_
    assert np.all(ph[:, 1] - ph[:, 0] >= min_length)
    assert np.all(ph[1:, 0] >= ph[:-1, 1])
    for s, b, p in ph:
        assert b - s >= p                                # at least one full repetition
        np.testing.assert_array_equal(x[s + p:b], x[s:b - p])
    assert lp.laminar_mask_.sum() == (ph[:, 1] - ph[:, 0]).sum()
    assert lp.laminar_fraction_ == lp.laminar_mask_.mean()
