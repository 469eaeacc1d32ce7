"""Numbers of the intermittency analysis on series whose answer is known by construction.

Each assertion here would be false if the analysis were wrong: laminar phases of
period 10 (which a search over periods 1-8 misses), the laminar steps by period,
the choice of the Figs. 10-11 stretch, and Kantz significance fractions on a
series where exactly k reference points have a neighbour.
"""

import warnings

import numpy as np
import pytest

import dynnet as dn
from dynnet.studies.intermittency import _longest_gap, _random_like_stretch, _steps_by_period


def periodic(pattern, length, drift=1e-9):
    """``length`` steps of a repeating pattern (values O(1) apart), drifting by ``drift`` per step."""
    t = np.arange(length)
    return np.asarray(pattern, float)[t % len(pattern)] + drift * t


def build(plan, rng):
    """Concatenate ("noise", n) bursts (uniform on (0, 3)) and (pattern, n) laminar stretches;
    returns the series and the true phases (start, end, period)."""
    parts, truth, t = [], [], 0
    for kind, n in plan:
        if isinstance(kind, str):
            parts.append(rng.uniform(0.0, 3.0, n))
        else:
            parts.append(periodic(kind, n))
            truth.append((t, t + n, len(kind)))
        t += n
    return np.concatenate(parts), np.array(truth, dtype=np.int64)


P10 = (0.2, 1.7, 0.9, 2.6, 0.4, 1.2, 2.9, 0.7, 2.1, 1.5)     # a period-10 cycle
P3 = (0.3, 1.4, 2.2)

PLAN = [("noise", 300), (P10, 1000), ("noise", 200), (P3, 500), ("noise", 150), (P10, 400),
        ("noise", 250)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_period10_phases_exactly(seed):
    x, truth = build(PLAN, np.random.default_rng(seed))
    n = x.size                                                  # 2800
    lp = dn.LaminarPhases().fit(x)
    np.testing.assert_array_equal(lp.phases_, truth)
    np.testing.assert_array_equal(lp.phases_[:, 2], [10, 3, 10])
    assert lp.laminar_fraction_ == 1900 / n
    np.testing.assert_array_equal(lp.burst_lengths_, [200, 150])
    steps = _steps_by_period([lp, None], 64)
    assert steps.shape == (2, 65)
    np.testing.assert_array_equal(np.flatnonzero(steps[0]), [3, 10])
    assert steps[0, 10] == 1400 and steps[0, 3] == 500 and steps[0].sum() == 1900
    assert not steps[1].any()
    # the old default (periods 1-8) misses both period-10 phases
    old = dn.LaminarPhases(periods=range(1, 9)).fit(x)
    np.testing.assert_array_equal(old.phases_, [[1500, 2000, 3]])
    assert old.laminar_fraction_ == 500 / n


def test_default_periods_reach_64():
    assert max(dn.LaminarPhases().periods) >= 64
    rng = np.random.default_rng(3)
    pattern = rng.uniform(0.0, 3.0, 64)
    x = np.concatenate([rng.uniform(0, 3, 100), periodic(pattern, 640), rng.uniform(0, 3, 100)])
    lp = dn.LaminarPhases().fit(x)
    np.testing.assert_array_equal(lp.phases_, [[100, 740, 64]])


def test_a_single_coincidence_at_a_long_period_is_not_a_phase():
    """A burst value equal to the value p steps earlier (p = 40) matches once: one
    repetition, not two full cycles, so no phase (it would be 41 steps >= min_length)."""
    x = np.random.default_rng(5).uniform(0.0, 3.0, 2000)
    x[1000] = x[960]
    lp = dn.LaminarPhases().fit(x)
    assert lp.period_label_[1000] == 40
    assert lp.phases_.shape == (0, 3) and lp.laminar_fraction_ == 0.0


# ------------------------------------------------------------------ the Figs. 10-11 stretch

def test_longest_gap():
    assert _longest_gap(np.array([True, False, False, True, False])) == (1, 3)
    assert _longest_gap(np.array([False, False, True, False, False, False])) == (3, 6)
    assert _longest_gap(np.ones(4, bool)) == (0, 0)
    assert _longest_gap(np.zeros(4, bool)) == (0, 4)


def test_figure_stretch_is_the_longest_aperiodic_one():
    rng = np.random.default_rng(7)
    n = 3000
    s0 = periodic(P10, n)                                     # periodic throughout: laminar 1
    s1, _ = build([("noise", 1200), (P3, 1800)], rng)         # a 1200-step burst
    s2, _ = build([(P3, 500), ("noise", 900), (P3, 1600)], rng)
    # a period-5 cycle drifting by 1e-4 per step: no laminar phase (drift >> tol), but
    # periodic all the same (the HVG degree sequence repeats): never chosen
    s3 = periodic((0.5, 2.5, 1.0, 2.0, 0.1), n, drift=1e-4)
    loss = np.stack([s0, s1, s2, s3], axis=1)
    lam = [dn.LaminarPhases().fit(loss[:, i]) for i in range(4)]
    assert [f.laminar_fraction_ for f in lam] == [1.0, 0.6, 2100 / 3000, 0.0]
    assert dn.HorizontalVisibilityGraph().fit(s3).verdict_ == "periodic"
    hvg = dn.HorizontalVisibilityGraph()
    init, a, b, verdict = _random_like_stretch(lam, loss, hvg, 500)
    assert (init, a, b) == (1, 0, 1200) and verdict != "periodic"
    # the burstiest series by laminar fraction alone would be... the drifting cycle (0.0)
    assert int(np.argmin([f.laminar_fraction_ for f in lam])) == 3
    # nothing long enough: none chosen
    assert _random_like_stretch(lam, loss, hvg, 1300) == (-1, 0, 0, "")


# ------------------------------------------------------------------ Kantz: exactly k references

def planted_pairs(kinds, h=10):
    """A series where only the pairs of times (u_j, v_j) are within 1.5e-3 of each other;
    after them the two stretches diverge as ``kinds[j]`` says: "up" (ln d_n = 0.3 n,
    significant on both sides), "down" (-0.2 n: two-sided only) or "flat" (an alternating
    +-0.3, slope ~0: neither)."""
    n = np.arange(1, h + 1)
    logs = {"up": 0.3 * n + 0.05 * (-1.0) ** n, "down": -0.2 * n + 0.05 * (-1.0) ** n,
            "flat": 0.3 * (-1.0) ** n}
    parts, fill = [], iter(1e4 + 3.0 * np.arange(10_000))
    for j, kind in enumerate(kinds):
        base = 100.0 * (j + 1) + np.arange(h + 1.0)            # O(1) apart within a block
        d = np.concatenate(([1e-3], 4e-3 * np.exp(logs[kind] + (2.5 if kind == "down" else 0.0))))
        assert d[0] < 1.5e-3 and np.all(d[1:] > 1.5e-3)
        parts += [base, [next(fill) for _ in range(5)], base + d, [next(fill) for _ in range(5)]]
    return np.concatenate(parts)


def test_kantz_fractions_among_references_with_neighbours():
    kinds = ["up"] * 3 + ["down"] * 2 + ["flat"] * 5
    x = planted_pairs(kinds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)         # few references have neighbours
        k = dn.Kantz(radius=1.5e-3, n_ref=None, n_steps=10, min_fit=5, n_sig=10).fit(x)
    n_refs = k.reference_times_.size
    assert n_refs == x.size - 10
    # exactly 2 references per pair have a neighbour (each other), and only they are tested
    assert int((k.n_neighbors_ > 0).sum()) == 20 and k.n_tested_ == 20
    np.testing.assert_array_equal(k.tested_per_ref_, k.n_neighbors_ > 0)
    assert k.significant_fraction_two_sided_ == 10 / 20           # up and down
    assert k.significant_fraction_greater_ == 6 / 20              # up only
    assert k.alternative == "two-sided" and k.significant_fraction_ == 10 / 20
    # the diluted number (over every sampled reference) is far smaller: not what we report
    assert np.mean(k.significant_per_ref_) == 10 / n_refs
    s = k.summary()
    assert s["n_tested"] == 20 and s["significant_fraction_greater"] == 0.3
    assert s["significant_fraction_two_sided"] == 0.5
    one = dn.Kantz(radius=1.5e-3, n_ref=None, n_steps=10, n_sig=10, alternative="greater")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        one.fit(x)
    assert one.significant_fraction_ == 0.3
    np.testing.assert_array_equal(one.pvalues_per_ref_, k.pvalues_per_ref_greater_)


# ------------------------------------------------------------------ the study's numbers

@pytest.fixture(scope="module")
def quick():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return dn.IntermittencyStudy.quick(compare_eta=()).run()


def test_study_summary_recomputes_from_the_result(quick):
    r, s = quick.result_, quick.summary()
    assert "kantz_ref_significant_fraction" not in s               # the diluted number is gone
    i = int(s["figure_init"])
    assert i == int(r["figure_init"]) and i >= 0
    a, b = int(s["figure_start"]), int(s["figure_stop"])
    assert b - a >= quick.figure_min_length
    # the stretch is inside no laminar phase of its series, and not periodic
    tr = int(r.attrs["transient"])
    lp = dn.LaminarPhases().fit(r["loss"].values[tr:, i])
    assert not lp.laminar_mask_[a - tr:b - tr].any()
    assert str(r["figure_hvg_verdict"].values) in ("chaotic", "noise")
    # the Fig. 11 numbers are the Kantz fit on that stretch, among tested references
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kantz = next(e for e in quick.estimators if isinstance(e, dn.Kantz))  # the preset's radius
        k = dn.clone(kantz).fit(r["loss"].values[a:b, i])
    tested = r["kantz_ref_tested"].values
    np.testing.assert_array_equal(tested, k.tested_per_ref_)
    assert int(s["kantz_ref_n_tested"]) == k.n_tested_ == tested.sum()
    assert int(s["kantz_ref_n"]) == k.reference_times_.size
    assert float(s["kantz_ref_significant_fraction_two_sided"]) == k.significant_fraction_two_sided_
    assert float(s["kantz_ref_significant_fraction_greater"]) == k.significant_fraction_greater_
    pv = r["kantz_ref_pvalue"].sel(alternative="two-sided").values
    assert np.mean(pv[tested] < 0.05) == k.significant_fraction_two_sided_
    np.testing.assert_array_equal(r["kantz_ref_time"].values, a + k.reference_times_)
    # per initial condition, over the whole series after the transient
    for j in range(r.sizes["init"]):
        kj_tested = r["kantz_series_ref_tested"].values[j]
        assert r["kantz_ref_n_tested_per_init"].values[j] == kj_tested.sum()
        pj = r["kantz_series_ref_pvalue"].sel(alternative="greater").values[j]
        assert r["kantz_ref_significant_fraction_per_init"].sel(alternative="greater").values[j] == \
            pytest.approx(np.mean(pj[kj_tested] < 0.05))
    # laminar steps by period reach the largest searched period, and add up
    steps = r["laminar_steps_by_period"].values
    assert steps.shape[1] == 65
    lf = r["laminar_fraction"].values
    np.testing.assert_allclose(steps.sum(axis=1), lf * (r.sizes["step"] - tr))


def test_figures_show_the_checked_stretch(quick):
    import matplotlib

    matplotlib.use("Agg")
    from dynnet import plotting as P

    r, s = quick.result_, quick.summary()
    i, a, b = int(s["figure_init"]), int(s["figure_start"]), int(s["figure_stop"])
    fig = P.acf_figure(r)
    assert f"initial condition {i}, steps {a}–{b - 1}: the longest stretch without a laminar phase" \
        in fig.get_suptitle()
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), r["loss"].values[a:b, i])
    (acf,) = [ln for ln in fig.axes[2].get_lines() if ln.get_label() == "ACF of the loss"]
    np.testing.assert_array_equal(acf.get_ydata(), r["figure_acf"].values)
    # no checked stretch: the fallback says so
    none = r.assign(figure_init=-1)
    assert "NOT checked aperiodic" in P.acf_figure(none).get_suptitle()
    title = P.kantz_figure(r).axes[0].get_title()
    frac = float(s["kantz_ref_significant_fraction_two_sided"])
    assert f"steps {a}–{b - 1}" in title and "two-sided slope test" in title
    assert f"significant: {frac:.0%} of the {int(s['kantz_ref_n_tested'])} of " in title
