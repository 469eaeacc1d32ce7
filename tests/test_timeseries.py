"""Kantz, Rosenstein and ShuffledAutocorrelation against known answers."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from statsmodels.tsa.stattools import acf

import dynnet as dn
from dynnet._regression import best_window, ols
from dynnet.estimators.timeseries import _batched_acf, delay_embed

LN2 = math.log(2.0)


def logistic_series(n, x0=0.3, burn=100):
    x = np.empty(n + burn)
    x[0] = x0
    for t in range(1, n + burn):
        x[t] = 4.0 * x[t - 1] * (1.0 - x[t - 1])
    return x[burn:]


def henon_x(n, burn=100):
    out = np.empty(n)
    x, y = 0.1, 0.0
    for t in range(n + burn):
        x, y = 1.0 - 1.4 * x * x + y, 0.3 * x
        if t >= burn:
            out[t - burn] = x
    return out


@pytest.fixture(scope="module")
def logistic10k():
    return logistic_series(10_000)


# --------------------------------------------------------------------------- helpers

def test_delay_embed():
    x = np.arange(10.0)
    e = delay_embed(x, dim=3, delay=2)
    assert e.shape == (6, 3)
    np.testing.assert_array_equal(e[0], [0, 2, 4])
    np.testing.assert_array_equal(e[-1], [5, 7, 9])
    with pytest.raises(ValueError):
        delay_embed(x[:4], dim=3, delay=2)


@pytest.mark.parametrize("cls", [dn.Kantz, dn.Rosenstein])
def test_fits_come_from_the_one_regression_module(cls, logistic10k):
    est = cls(n_ref=300, **({"radius": 1e-3} if cls is dn.Kantz else {})).fit(logistic10k[:3000])
    n = np.arange(26.0)
    stops = np.arange(5, 26) + 1
    f = best_window(n, est.divergence_, np.ones_like(stops), stops)
    assert est.exponent_ == f.slope and est.r2_ == f.r2
    assert est.fit_range_ == (1, int(stops[f.index] - 1))
    assert est.intercept_ == pytest.approx(f.intercept, abs=1e-12)
    # Kantz's default test is the paper's two-sided one; Rosenstein's is one-sided
    side = "two-sided" if cls is dn.Kantz else "greater"
    assert est.alternative == side
    ref = stats.linregress(n[1:11], est.divergence_[1:11], alternative=side)
    assert est.pvalue_ == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)
    assert est.pvalue_ == ols(n[1:11], est.divergence_[1:11]).pvalue(side)


@pytest.mark.parametrize("cls", [dn.Kantz, dn.Rosenstein])
def test_min_fit_needs_three_points(cls):
    z = np.random.default_rng(1).random(2000)
    with pytest.raises(ValueError, match=r"min_fit=2 .*\[3, 25\]"):
        cls(min_fit=2).fit(z)
    est = cls(min_fit=3, n_ref=200, **({"radius": 1e-3} if cls is dn.Kantz else {})).fit(z)
    assert est.fit_range_[1] >= 3 and 0.0 <= est.r2_ <= 1.0


@pytest.mark.parametrize("cls", [dn.Kantz, dn.Rosenstein])
def test_constant_series_is_an_error(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: the series is constant"):
        cls(n_ref=100).fit(np.ones(500))
    with pytest.raises(ValueError, match=f"{cls.__name__}: data \\(the series\\) contains NaN"):
        cls(n_ref=100).fit(np.r_[np.random.default_rng(0).random(499), np.inf])
    # constant only after the transient: also an error
    with pytest.raises(ValueError, match=r"transient=100\) is constant"):
        cls(n_ref=100, transient=100).fit(np.r_[np.linspace(0, 1, 100), np.ones(500)])


def test_kantz_warns_when_few_references_have_neighbours():
    # N(0, 1e3): no point within 5e-5 of another
    x = np.random.default_rng(0).normal(0, 1e3, 2000)
    msg = r"only 0 of 1000 reference points \(0\.0%\).*radius=5e-05"
    with pytest.warns(RuntimeWarning, match=msg):
        k = dn.Kantz().fit(x)
    assert np.isnan(k.exponent_) and not k.significant_ and k.n_neighbors_.sum() == 0
    # uniform on [0, 4]: P(a neighbour within 5e-5) = 1 - exp(-2000 * 1e-4 / 4) ~ 5 %
    u = np.random.default_rng(0).uniform(0, 4, 2000)
    with pytest.warns(RuntimeWarning, match=r"\d+ of 1000 reference points \([0-9.]+%\)") as rec:
        k = dn.Kantz().fit(u)
    assert len([w for w in rec if issubclass(w.category, RuntimeWarning)]) == 1
    frac = float(np.mean(k.n_neighbors_ > 0))
    assert 0.0 < frac < 0.1 and f"({frac:.1%})" in str(rec[0].message)
    # uniform on [0, 0.1]: about 86 % have neighbours, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        k = dn.Kantz().fit(u / 40.0)
    assert np.mean(k.n_neighbors_ > 0) > 0.5


# --------------------------------------------------------------------------- oracles

@pytest.mark.parametrize("radius", [5e-5, 1e-3])
def test_kantz_logistic_ln2(logistic10k, radius):
    # 5e-5 is the paper's tolerance: ~2 neighbours per point, a third of the
    # reference points have none; 1e-3 gives ~37 neighbours and a shorter
    # linear region (saturation near n = 10).
    k = dn.Kantz(radius=radius).fit(logistic10k)
    assert abs(k.exponent_ - LN2) < 0.05
    assert k.significant_ and k.pvalue_ < 1e-6
    assert k.r2_ > 0.99
    assert k.fit_range_[0] == 1 and 5 <= k.fit_range_[1] <= 25
    assert k.divergence_.shape == (26,)
    has = k.n_neighbors_ > 0
    assert k.exponents_per_ref_.shape == (1000,)
    assert np.isnan(k.exponents_per_ref_[~has]).all()
    # nearly every tested reference point diverges significantly on a chaotic map, on
    # either side of the test; the fraction is taken among tested points only
    assert k.significant_fraction_ > 0.9 and k.significant_fraction_greater_ > 0.9
    assert k.n_tested_ == int(k.tested_per_ref_.sum()) <= int(has.sum())
    assert k.significant_fraction_ == np.mean(k.significant_per_ref_[k.tested_per_ref_])
    # per reference: two-sided p = 2 x one-sided for the (positive) slopes
    pos = k.tested_per_ref_ & (k.exponents_per_ref_ > 0)
    g, t = k.pvalues_per_ref_greater_[pos], k.pvalues_per_ref_two_sided_[pos]
    np.testing.assert_allclose(t[g < 0.5], 2 * g[g < 0.5], rtol=1e-12)
    assert np.median(k.exponents_per_ref_[has]) == pytest.approx(LN2, abs=0.1)


def test_kantz_log_average_logistic(logistic10k):
    k = dn.Kantz(radius=1e-3, average="log").fit(logistic10k)
    assert abs(k.exponent_ - LN2) < 0.05 and k.significant_
    with pytest.raises(ValueError, match="average"):
        dn.Kantz(average="mean").fit(logistic10k)


def test_kantz_distance_average_is_biased_up_log_average_is_not():
    """Jensen: ln<d> >= <ln d>. On 5000 logistic points with radius=1e-3 the distance
    average exceeds the log average by about 0.01 (measured 0.011, 0.014, 0.006 on
    these three orbits; the distance average alone: ln 2 + 0.007, + 0.005, - 0.004)."""
    gaps = []
    for x0 in (0.3, 0.31, 0.17):
        x = logistic_series(5000, x0=x0)
        d = dn.Kantz(radius=1e-3).fit(x).exponent_
        g = dn.Kantz(radius=1e-3, average="log").fit(x).exponent_
        assert abs(d - LN2) < 0.02 and abs(g - LN2) < 0.02
        gaps.append(d - g)
    assert all(gap > 0 for gap in gaps) and 0.003 < np.mean(gaps) < 0.02


def test_rosenstein_logistic_ln2(logistic10k):
    r = dn.Rosenstein().fit(logistic10k)
    assert abs(r.exponent_ - LN2) < 0.05
    assert r.significant_ and r.r2_ > 0.99
    assert np.all(np.abs(r.neighbor_times_ - r.reference_times_) > 10)


def test_henon_embedded():
    x = henon_x(20_000)
    # with dim=2 the delay vectors reconstruct the Henon attractor: 0.4192
    assert dn.Kantz(dim=2, radius=1e-3).fit(x).exponent_ == pytest.approx(0.4192, abs=0.02)
    assert dn.Rosenstein(dim=2).fit(x).exponent_ == pytest.approx(0.4192, abs=0.02)


def test_random_series_not_significant():
    # Under the null the test rejects with probability alpha = 0.05, so over
    # 20 independent iid series the count of "significant" fits is
    # Binomial(20, 0.05): P(count >= 5) = 0.0026.
    n_sig = {"Kantz": 0, "Rosenstein": 0}
    per_ref = []
    for s in range(20):
        z = np.random.default_rng(1000 + s).random(10_000)
        k = dn.Kantz(radius=1e-3).fit(z)
        r = dn.Rosenstein().fit(z)
        for e in (k, r):
            assert abs(e.exponent_) < 0.05          # no divergence at all
            n_sig[type(e).__name__] += e.significant_
        per_ref.append(k.significant_fraction_)
    assert n_sig["Kantz"] <= 4 and n_sig["Rosenstein"] <= 4
    # per reference point the paper's test is of level ~alpha (its residuals,
    # logs of means of a few |differences|, are not exactly Gaussian)
    assert 0.02 <= np.mean(per_ref) <= 0.08


def test_kantz_params_and_errors(logistic10k):
    k = dn.Kantz(radius=1e-3, n_ref=None, n_steps=15, transient=500, seed=3)
    k.fit(logistic10k[:3000])
    assert k.reference_times_.shape[0] == 3000 - 500 - 15
    assert k.divergence_.shape == (16,)
    assert set(k.summary()) >= {"exponent", "pvalue", "significant"}
    with pytest.raises(ValueError, match="radius"):
        dn.Kantz(radius=-1.0).fit(logistic10k)
    with pytest.raises(ValueError, match="min_fit"):
        dn.Rosenstein(min_fit=30).fit(logistic10k)
    with pytest.raises(ValueError, match="too short"):
        dn.Rosenstein().fit(logistic10k[:30])


def test_reference_sampling_is_seeded(logistic10k):
    a = dn.Rosenstein(seed=1).fit(logistic10k).exponent_
    b = dn.Rosenstein(seed=1).fit(logistic10k).exponent_
    c = dn.Rosenstein(seed=2).fit(logistic10k).exponent_
    assert a == b and a != c


# --------------------------------------------------------------------------- ACF

def test_batched_acf_equals_statsmodels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=777)
    rows = np.stack([rng.permutation(x), rng.permutation(x)])
    got = _batched_acf(rows, 40)
    for r in range(2):
        np.testing.assert_allclose(got[r], acf(rows[r], nlags=40, fft=True), atol=1e-13)


def test_acf_iid_six_percent():
    # 20 iid series x 50 lags = 1000 lag tests, each outside the 3-97 % band with
    # probability 0.06: count ~ Binomial(1000, 0.06), mean 60, sd 7.5; accept
    # 4 sd either side.
    count = n_reject = 0
    for s in range(20):
        z = np.random.default_rng(s).normal(size=1000)
        a = dn.ShuffledAutocorrelation(seed=100 + s).fit(z)
        assert a.band_.shape == (2, 51) and a.acf_[0] == 1.0
        assert np.all(a.band_[0, 1:] < a.band_[1, 1:])
        count += a.significant_lags_.size
        assert isinstance(a.significant_, bool)
        n_reject += a.significant_
    assert 30 <= count <= 90
    # the count test has level alpha = 0.05: Binomial(20, 0.05), P(>= 5) = 0.0026
    assert n_reject <= 4


def test_acf_period3_peaks():
    rng = np.random.default_rng(1)
    x = np.tile([0.0, 1.0, 0.4], 400) + 0.1 * rng.normal(size=1200)
    a = dn.ShuffledAutocorrelation(max_lag=12, n_shuffles=300).fit(x)
    top3 = np.sort(np.argsort(a.acf_[1:10])[-3:] + 1)
    np.testing.assert_array_equal(top3, [3, 6, 9])
    assert {3, 6, 9} <= set(a.significant_lags_.tolist())
    assert a.ljung_box_pvalue_ < 1e-10
    assert 0 not in a.significant_lags_
    # no shuffle has as many lags outside as the series: p = 1 / (1 + n_shuffles)
    assert a.significant_ is True and a.pvalue_ == 1 / 301
    s = a.summary()
    assert s["significant"] is True and s["n_significant_lags"] == a.significant_lags_.size


def test_acf_count_test_is_a_permutation_test():
    """pvalue_ = (1 + #{shuffles with at least as many lags outside}) / (1 + n_shuffles)."""
    x = np.random.default_rng(7).normal(size=400)
    a = dn.ShuffledAutocorrelation(max_lag=20, n_shuffles=200, seed=3).fit(x)
    inside = (a.null_acf_[:, 1:] >= a.band_[0, 1:]) & (a.null_acf_[:, 1:] <= a.band_[1, 1:])
    counts = (~inside).sum(axis=1)
    assert a.pvalue_ == (1 + np.sum(counts >= a.significant_lags_.size)) / 201
    assert a.significant_ == (a.pvalue_ < 0.05)
    assert dn.ShuffledAutocorrelation(max_lag=20, n_shuffles=200, seed=3, alpha=0.999).fit(x) \
        .significant_ == (a.pvalue_ < 0.999)


def test_acf_errors():
    with pytest.raises(ValueError, match="ShuffledAutocorrelation: the series is constant"):
        dn.ShuffledAutocorrelation().fit(np.full(100, 3.0))
    with pytest.raises(ValueError, match="NaN"):
        dn.ShuffledAutocorrelation(max_lag=5).fit(np.r_[np.arange(50.0), np.nan])
    with pytest.raises(ValueError, match="alpha"):
        dn.ShuffledAutocorrelation(alpha=0.0).fit(np.arange(100.0))
    with pytest.raises(ValueError, match="quantiles"):
        dn.ShuffledAutocorrelation(quantiles=(0.9, 0.1)).fit(np.arange(100.0))
    with pytest.raises(ValueError, match="max_lag"):
        dn.ShuffledAutocorrelation(max_lag=200).fit(np.arange(100.0))


# --------------------------------------------------------------------------- fit convention

@pytest.mark.parametrize("cls", [dn.Kantz, dn.Rosenstein, dn.ShuffledAutocorrelation])
def test_series_estimators_take_no_map_or_steps(cls, logistic10k):
    x = logistic10k[:2000]
    with pytest.raises(TypeError, match=f"{cls.__name__}.fit takes no map"):
        cls().fit(x, map=dn.LogisticMap())
    with pytest.raises(TypeError, match=f"{cls.__name__}.fit takes no steps"):
        cls().fit(x, steps=np.arange(2000.0))
    with pytest.raises(TypeError):
        cls().fit(x, 5)                                  # map and steps are keyword-only


@pytest.mark.parametrize("cls", [dn.Kantz, dn.Rosenstein])
def test_exponent_summary(cls, logistic10k):
    est = cls(n_ref=200, **({"radius": 1e-3} if cls is dn.Kantz else {})).fit(logistic10k[:3000])
    s = est.summary()
    assert s["exponent"] == est.exponent_ and isinstance(est.exponent_, float)
    assert s["significant"] is est.significant_ is True
    assert isinstance(s["fit_end"], int) and s["fit_end"] == est.fit_range_[1]


# --------------------------------------------------------------------------- scale (issue 10)

SCALES = st.one_of(st.floats(1e-150, 1e150), st.floats(-1e150, -1e-150),
                   st.sampled_from([1e-150, 1e150, 2.0 ** -400, 2.0 ** 400]))


@pytest.fixture(scope="module")
def logistic3k():
    return logistic_series(3000)


@given(c=SCALES, a=st.sampled_from([0.0, 1.0, -1e3]))
def test_rosenstein_is_scale_invariant(logistic3k, c, a):
    x = logistic3k
    ref = dn.Rosenstein(n_ref=300).fit(x)
    got = dn.Rosenstein(n_ref=300).fit(a * abs(c) + c * x)  # an offset of the series' size
    np.testing.assert_array_equal(got.neighbor_times_, ref.neighbor_times_)
    assert got.exponent_ == pytest.approx(ref.exponent_, rel=1e-9)
    np.testing.assert_allclose(got.divergence_, ref.divergence_, rtol=0, atol=1e-8)
    assert got.significant_ == ref.significant_


def test_rosenstein_power_of_two_scaling_is_bitwise(logistic3k):
    ref = dn.Rosenstein(n_ref=300).fit(logistic3k)
    got = dn.Rosenstein(n_ref=300).fit(logistic3k * 2.0 ** 500)
    assert got.exponent_ == ref.exponent_
    np.testing.assert_array_equal(got.divergence_, ref.divergence_)


@given(c=SCALES, a=st.sampled_from([0.0, 1.0, -1e3]))
def test_shuffled_acf_is_scale_invariant(c, a):
    rng = np.random.default_rng(11)
    x = np.tile([0.0, 1.0, 0.4], 200) + 0.3 * rng.normal(size=600)   # some lags significant
    ref = dn.ShuffledAutocorrelation(max_lag=20, n_shuffles=200).fit(x)
    got = dn.ShuffledAutocorrelation(max_lag=20, n_shuffles=200).fit(a * abs(c) + c * x)
    np.testing.assert_allclose(got.acf_, ref.acf_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.band_, ref.band_, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got.significant_lags_, ref.significant_lags_)
    assert got.significant_ is ref.significant_ is True
    assert got.ljung_box_pvalue_ == pytest.approx(ref.ljung_box_pvalue_, rel=1e-8, abs=1e-300)


@given(c=st.one_of(st.floats(1e-150, 1e150), st.sampled_from([1e-150, 1e150])))
def test_kantz_keeps_raw_units_and_is_equivariant(logistic3k, c):
    """Kantz(radius=c r).fit(c x) is Kantz(radius=r).fit(x): radius is in the series' units."""
    ref = dn.Kantz(radius=1e-3, n_ref=300).fit(logistic3k)
    got = dn.Kantz(radius=1e-3 * c, n_ref=300).fit(c * logistic3k)
    assert np.all(np.isfinite(got.divergence_))
    assert got.exponent_ == pytest.approx(ref.exponent_, rel=1e-6)
    np.testing.assert_allclose(got.divergence_ - np.log(c), ref.divergence_, rtol=0, atol=1e-6)
    # a power of two rescales exactly: the same neighbours and the same slope, bit for bit
    two = dn.Kantz(radius=1e-3 * 2.0 ** 300, n_ref=300).fit(logistic3k * 2.0 ** 300)
    assert two.exponent_ == ref.exponent_
    np.testing.assert_array_equal(two.n_neighbors_, ref.n_neighbors_)


def test_kantz_extreme_values_do_not_overflow():
    x = logistic_series(3000)
    k = dn.Kantz(radius=1e-3 * 1e300, n_ref=300).fit(1e300 * (2 * x - 1))   # spans 2e300
    assert abs(k.exponent_ - LN2) < 0.1 and np.all(np.isfinite(k.divergence_))


def test_delay_embed_validates_dim_and_delay():
    from dynnet.estimators.timeseries import delay_embed

    with pytest.raises(ValueError, match="delay"):
        delay_embed(np.arange(10.0), dim=2, delay=0)
    with pytest.raises(ValueError, match="dim"):
        delay_embed(np.arange(10.0), dim=0)
    np.testing.assert_array_equal(delay_embed(np.arange(5.0), dim=2, delay=2), [[0, 2], [1, 3], [2, 4]])
