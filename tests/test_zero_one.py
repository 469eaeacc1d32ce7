"""The 0-1 test for chaos (Gottwald and Melbourne): known answers, the definition, study use."""

import numpy as np
import pytest
import xarray as xr
from hypothesis import given

import dynnet as dn
from dynnet.estimators.chaos01 import _kc
from dynnet.testing import parametrize_with_checks, series


def logistic(r, n, x0=0.3, transient=1000):
    return dn.LogisticMap(r=r).trajectory(np.array([x0]), n_steps=transient + n - 1)[transient:, 0]


def test_logistic_chaotic_at_r4():
    assert dn.ZeroOneTest().fit(logistic(4.0, 2000)).K_ > 0.9


def test_logistic_period_four_at_r35():
    x = logistic(3.5, 2000)
    np.testing.assert_allclose(x[4:], x[:-4], atol=1e-9)     # the series is period 4
    assert abs(dn.ZeroOneTest().fit(x).K_) < 0.1


def test_quasi_periodic_series_is_regular():
    j = np.arange(1, 2001, dtype=float)
    assert abs(dn.ZeroOneTest().fit(np.sin(j) + np.sin(np.sqrt(2.0) * j)).K_) < 0.1


def test_displacement_follows_the_definition():
    """D_c(n) from cumulative sums and one FFT equals the double sum written out."""
    rng = np.random.default_rng(4)
    phi = rng.uniform(0.2, 1.0, size=150)              # a nonzero mean: the oscillating term matters
    c = rng.uniform(np.pi / 5, 4 * np.pi / 5, size=3)
    n_cut = 15
    Kc, D = _kc(phi, c, n_cut)
    N = phi.size
    for a, ca in enumerate(c):
        p = np.cumsum(phi * np.cos(np.arange(1, N + 1) * ca))
        q = np.cumsum(phi * np.sin(np.arange(1, N + 1) * ca))
        want = np.empty(n_cut)
        for n in range(1, n_cut + 1):
            M = np.mean((p[n:] - p[:-n]) ** 2 + (q[n:] - q[:-n]) ** 2)
            want[n - 1] = M - phi.mean() ** 2 * (1 - np.cos(n * ca)) / (1 - np.cos(ca))
        np.testing.assert_allclose(D[a], want, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(Kc[a], np.corrcoef(np.arange(1, n_cut + 1), want)[0, 1], atol=1e-12)


@given(series(min_size=20, max_size=300))
def test_k_is_a_correlation_and_does_not_see_the_scale(x):
    z = dn.ZeroOneTest(n_c=10).fit(x)
    ok = np.isfinite(z.Kc_)
    assert np.all(np.abs(z.Kc_[ok]) <= 1.0 + 1e-12)
    # D_c(n) scales with phi^2, so K_c does not change; by a power of two, not even in its last bit
    np.testing.assert_array_equal(dn.ZeroOneTest(n_c=10).fit(4.0 * x).Kc_, z.Kc_)


def test_results_and_seed():
    x = logistic(4.0, 500)
    z = dn.ZeroOneTest(n_c=20, seed=3).fit(x)
    assert z.Kc_.shape == (20,) and z.c_.shape == (20,) and z.D_.shape == (20, 50) and z.n_cut_ == 50
    assert np.all((z.c_ > np.pi / 5) & (z.c_ < 4 * np.pi / 5))
    assert z.K_ == np.median(z.Kc_)
    again = dn.ZeroOneTest(n_c=20, seed=3).fit(x)
    np.testing.assert_array_equal(z.Kc_, again.Kc_)
    other = dn.ZeroOneTest(n_c=20, seed=4).fit(x)
    assert not np.array_equal(z.c_, other.c_)
    assert dn.ZeroOneTest(n_cut=30).fit(x).D_.shape == (100, 30)


def test_fit_result_tests_each_series():
    x = np.stack([logistic(4.0, 1000), logistic(3.5, 1000), np.full(1000, np.nan)], axis=1)
    ds = xr.Dataset({"x": (("step", "init"), x)}, coords={"step": np.arange(1000)})
    z = dn.ZeroOneTest(variable="x").fit_result(ds)
    assert z.series_K_[0] > 0.9 and abs(z.series_K_[1]) < 0.1 and np.isnan(z.series_K_[2])
    assert z.Kc_.shape == (3, 100)
    assert z.K_ == np.nanmedian(z.series_K_[:2])
    with pytest.raises(ValueError, match="variable"):
        dn.ZeroOneTest().fit_result(ds)                     # no "loss" in this result


def test_a_study_feeds_it_the_loss():
    s = dn.PerturbationStudy(map=dn.GradientDescentMap(eta=1.0), perturber=dn.UniformPerturber(n=2),
                             metric=dn.L1(), estimators=[dn.ZeroOneTest()], n_init=2, n_steps=200,
                             seed=0).run()
    z = s.estimators_[0]
    assert z.series_K_.shape == (2,) and np.all(np.isfinite(z.series_K_))
    assert float(s.summary()["zeroonetest.K"]) == z.K_


def test_arguments_are_validated():
    x = logistic(4.0, 100)
    with pytest.raises(TypeError, match="ZeroOneTest"):
        dn.ZeroOneTest().fit(x, map=dn.LogisticMap())
    with pytest.raises(TypeError, match="ZeroOneTest"):
        dn.ZeroOneTest().fit(x, steps=np.arange(100))
    with pytest.raises(ValueError, match="c_range"):
        dn.ZeroOneTest(c_range=(1.0, 4.0)).fit(x)
    with pytest.raises(ValueError, match="n_cut"):
        dn.ZeroOneTest(n_cut=100).fit(x)
    with pytest.raises(ValueError, match="N >= 20"):
        dn.ZeroOneTest().fit(x[:15])
    with pytest.raises(ValueError):
        dn.ZeroOneTest().fit(np.r_[x, np.nan])


@parametrize_with_checks([dn.ZeroOneTest(), dn.ZeroOneTest(n_c=10, n_cut=20, seed=1)])
def test_conformance(obj, check):
    check(obj)
