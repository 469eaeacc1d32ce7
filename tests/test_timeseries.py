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
from dynnet.estimators.timeseries import (_batched_acf, _best_r2_fit, _slope_pvalue,
                                          delay_embed)

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


@given(st.integers(3, 12), st.sampled_from(["greater", "two-sided"]), st.integers(0, 10**6))
def test_slope_pvalue_matches_linregress(k, alternative, seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(3, k + 1)) + 0.3 * np.arange(k + 1)
    slope, p = _slope_pvalue(y, 1, k, alternative)
    for r in range(3):
        ref = stats.linregress(np.arange(k), y[r, 1:1 + k], alternative=alternative)
        assert slope[r] == pytest.approx(ref.slope, rel=1e-10, abs=1e-12)
        assert p[r] == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-14)


def test_best_r2_finds_linear_region():
    n = np.arange(26, dtype=float)
    y = np.where(n <= 12, -10 + 0.7 * n, -10 + 0.7 * 12)    # linear, then saturated
    b, a, r2, m = _best_r2_fit(y[None], 1, 5, 25)
    assert 5 <= m[0] <= 12
    assert b[0] == pytest.approx(0.7, abs=1e-12)
    assert a[0] == pytest.approx(-10.0, abs=1e-10)
    assert r2[0] == pytest.approx(1.0, abs=1e-12) and r2[0] <= 1.0
    y2 = y.copy()
    y2[3] = np.nan                                          # every window holds n = 3
    assert np.isnan(_best_r2_fit(y2[None], 1, 5, 25)[0][0])


@given(a=st.floats(-50, 50), b=st.floats(-3, 3), noise=st.sampled_from([0.0, 1e-12, 1e-3]),
       seed=st.integers(0, 2**32 - 1))
def test_best_r2_is_within_0_1(a, b, noise, seed):
    # unclipped, cxy^2 / (vx vy) exceeds 1 by a few ulp on most exact lines
    y = a + b * np.arange(26.0) + noise * np.random.default_rng(seed).standard_normal(26)
    _, _, r2, _ = _best_r2_fit(y[None], 1, 3, 25)
    assert 0.0 <= r2[0] <= 1.0
    if abs(b) > 1e-3 and noise == 0:
        assert r2[0] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("cls", [dn.Kantz, dn.Rosenstein])
def test_min_fit_needs_three_points(cls):
    z = np.random.default_rng(1).random(2000)
    with pytest.raises(ValueError, match=r"min_fit=2 .*\[3, 25\]"):
        cls(min_fit=2).fit(z)
    est = cls(min_fit=3, n_ref=200, **({"radius": 1e-3} if cls is dn.Kantz else {})).fit(z)
    assert est.fit_range_[1] >= 3 and 0.0 <= est.r2_ <= 1.0


@pytest.mark.parametrize("cls", [dn.Kantz, dn.Rosenstein])
def test_constant_series_is_an_error(cls):
    with pytest.raises(ValueError, match="constant"):
        cls(n_ref=100).fit(np.ones(500))
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
    # nearly every reference point diverges significantly on a chaotic map
    assert k.significant_fraction_ > 0.9
    assert np.median(k.exponents_per_ref_[has]) == pytest.approx(LN2, abs=0.1)


def test_kantz_log_average_logistic(logistic10k):
    k = dn.Kantz(radius=1e-3, average="log").fit(logistic10k)
    assert abs(k.exponent_ - LN2) < 0.05 and k.significant_
    with pytest.raises(ValueError, match="average"):
        dn.Kantz(average="mean").fit(logistic10k)


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
    count = 0
    for s in range(20):
        z = np.random.default_rng(s).normal(size=1000)
        a = dn.ShuffledAutocorrelation(seed=100 + s).fit(z)
        assert a.band_.shape == (2, 51) and a.acf_[0] == 1.0
        assert np.all(a.band_[0, 1:] < a.band_[1, 1:])
        count += a.significant_.size
    assert 30 <= count <= 90


def test_acf_period3_peaks():
    rng = np.random.default_rng(1)
    x = np.tile([0.0, 1.0, 0.4], 400) + 0.1 * rng.normal(size=1200)
    a = dn.ShuffledAutocorrelation(max_lag=12, n_shuffles=300).fit(x)
    top3 = np.sort(np.argsort(a.acf_[1:10])[-3:] + 1)
    np.testing.assert_array_equal(top3, [3, 6, 9])
    assert {3, 6, 9} <= set(a.significant_.tolist())
    assert a.ljung_box_pvalue_ < 1e-10
    assert 0 not in a.significant_


def test_acf_errors():
    with pytest.raises(ValueError, match="quantiles"):
        dn.ShuffledAutocorrelation(quantiles=(0.9, 0.1)).fit(np.arange(100.0))
    with pytest.raises(ValueError, match="max_lag"):
        dn.ShuffledAutocorrelation(max_lag=200).fit(np.arange(100.0))
