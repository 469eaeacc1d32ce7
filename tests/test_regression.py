"""dynnet._regression: OLS and the best-linear-window fitter, against numpy and scipy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from dynnet._regression import best_window, ols


def naive_best(x, y, starts, stops, limit=None):
    """Reference: loop over windows with np.polyfit; best R^2, first on ties."""
    best = (-np.inf, np.nan, np.nan, -1)
    for w, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if b - a < 3 or (limit is not None and b - 1 > limit) or not np.all(np.isfinite(y[a:b])):
            continue
        seg, xs = y[a:b], x[a:b]
        if np.all(seg == seg[0]):
            r2, slope, icpt = 0.0, 0.0, seg[0]
        else:                                           # centred: well conditioned
            xc, yc = xs - xs.mean(), seg - seg.mean()
            slope = np.polyfit(xc, yc, 1)[0]
            icpt = seg.mean() - slope * xs.mean()
            r2 = 1.0 - np.sum((yc - slope * xc) ** 2) / np.sum(yc ** 2)
        if r2 > best[0]:
            best = (r2, slope, icpt, w)
    return best


# ---------------------------------------------------------------------------- ols

@given(n=st.integers(3, 40), a=st.floats(-1e3, 1e3), b=st.floats(-10, 10),
       noise=st.sampled_from([1e-6, 1e-2, 1.0, 100.0]), x0=st.floats(-1e4, 1e4),
       alternative=st.sampled_from(["two-sided", "greater", "less"]),
       seed=st.integers(0, 2**32 - 1))
def test_ols_matches_linregress_and_polyfit(n, a, b, noise, x0, alternative, seed):
    rng = np.random.default_rng(seed)
    x = x0 + np.sort(rng.uniform(0, 50, n))
    x[0] -= 1.0                                          # at least two distinct values
    y = a + b * x + noise * rng.standard_normal(n)
    f = ols(x, y)
    ref = stats.linregress(x, y, alternative=alternative)
    p_slope, p_icpt = np.polyfit(x, y, 1)
    scale = np.abs(y).max() / np.ptp(x)
    assert f.slope == pytest.approx(ref.slope, rel=1e-8, abs=1e-10 * scale)
    assert f.slope == pytest.approx(p_slope, rel=1e-8, abs=1e-10 * scale)
    assert f.intercept == pytest.approx(p_icpt, rel=1e-8, abs=1e-9 * np.abs(y).max())
    assert f.r2 == pytest.approx(ref.rvalue ** 2, rel=1e-8, abs=1e-10)
    # the standard error from explicit residuals (linregress derives it from r, which
    # loses digits on near-perfect lines); the p-value against linregress
    resid = y - (p_slope * x + p_icpt)
    se = np.sqrt(resid @ resid / (n - 2) / np.sum((x - x.mean()) ** 2))
    assert f.slope_stderr == pytest.approx(se, rel=1e-6)
    if ref.rvalue ** 2 < 1 - 1e-6:
        assert f.slope_stderr == pytest.approx(ref.stderr, rel=1e-6)
        assert f.pvalue(alternative) == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
    t = f.slope / se
    p = {"two-sided": 2 * stats.t.sf(abs(t), n - 2), "greater": stats.t.sf(t, n - 2),
         "less": stats.t.cdf(t, n - 2)}[alternative]
    assert f.pvalue(alternative) == pytest.approx(p, rel=1e-5, abs=1e-14)
    assert 0.0 <= f.r2 <= 1.0 and f.n == n


def test_ols_is_vectorised_over_rows():
    rng = np.random.default_rng(1)
    x = np.arange(12.0)
    Y = rng.standard_normal((4, 3, 12)) + 0.2 * x
    f = ols(x, Y)
    assert f.slope.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            ref = stats.linregress(x, Y[i, j])
            assert f.slope[i, j] == pytest.approx(ref.slope, rel=1e-12)
            assert f.pvalue()[i, j] == pytest.approx(ref.pvalue, rel=1e-9)
    Y[1, 2, 5] = np.nan                                 # a non-finite row gives NaN there only
    g = ols(x, Y)
    assert np.isnan(g.slope[1, 2]) and np.isnan(g.pvalue("greater")[1, 2])
    assert np.isfinite(np.delete(g.slope.ravel(), 5)).all()


@pytest.mark.parametrize("value", [0.1, -3e7, 0.0, 1e-300])
def test_ols_flat_is_r2_zero_and_no_evidence(value):
    x = np.arange(7.0)
    f = ols(x, np.full(7, value))
    assert f.slope == 0.0 and f.r2 == 0.0 and f.slope_stderr == 0.0
    assert f.intercept == pytest.approx(value, rel=1e-15)
    assert f.pvalue("two-sided") == 1.0 and f.pvalue("greater") == 0.5 and f.pvalue("less") == 0.5


def test_ols_perfect_line_and_errors():
    x = np.arange(10.0)
    f = ols(x, 2.0 - 0.5 * x)
    assert f.slope == pytest.approx(-0.5, abs=1e-15) and f.r2 == pytest.approx(1.0, abs=1e-15)
    assert f.pvalue("less") < 1e-12 and f.pvalue("greater") > 1 - 1e-12
    two = ols([0.0, 1.0], [1.0, 3.0])                   # two points: a line, no test
    assert two.slope == 2.0 and np.isnan(two.slope_stderr) and np.isnan(two.pvalue())
    with pytest.raises(ValueError, match="distinct"):
        ols(np.ones(5), np.arange(5.0))
    with pytest.raises(ValueError, match="alternative"):
        f.pvalue("bigger")


# ---------------------------------------------------------------------------- best window

def test_best_window_finds_the_linear_piece():
    # linear with slope 0.7 up to t = 40, then a noisy plateau
    rng = np.random.default_rng(0)
    t = np.arange(100.0)
    y = np.where(t <= 40, -20 + 0.7 * t, -20 + 0.7 * 40 + 0.3 * rng.standard_normal(100))
    y = np.c_[y, 3.0 + y]                               # two curves, the second shifted
    a = np.repeat(np.arange(0, 60, 5), 9)
    b = a + np.tile(np.arange(10, 55, 5), 12)
    keep = b <= 100
    a, b = a[keep], b[keep]
    f = best_window(t, y, a, b)
    for c in range(2):
        w = f.index[c]
        assert b[w] - 1 <= 40                           # inside the linear piece
        assert f.slope[c] == pytest.approx(0.7, abs=1e-12)
        assert f.r2[c] == pytest.approx(1.0, abs=1e-12) and f.r2[c] <= 1.0
    assert f.intercept[0] == pytest.approx(-20.0, abs=1e-10)
    assert f.intercept[1] == pytest.approx(-17.0, abs=1e-10)
    # limit: windows may not include index 25 or later
    g = best_window(t, y, a, b, limit=[24, 100])
    assert b[g.index[0]] <= 25 and g.slope[0] == pytest.approx(0.7, abs=1e-12)
    assert g.index[1] == f.index[1]


@given(seed=st.integers(0, 2**32 - 1), T=st.integers(3, 40),
       slope=st.floats(-2, 2).filter(lambda s: s == 0 or abs(s) > 1e-6),
       noise=st.sampled_from([0.0, 1e-3, 1.0]), offset=st.floats(-1e3, 1e3),
       x0=st.sampled_from([0.0, 4000.0]),
       windows=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 40)), min_size=1, max_size=12),
       hole=st.one_of(st.none(), st.integers(0, 39)))
def test_best_window_matches_polyfit_search(seed, T, slope, noise, offset, x0, windows, hole):
    rng = np.random.default_rng(seed)
    x = x0 + np.arange(T, dtype=float)
    y = offset + slope * np.minimum(np.arange(T), T // 2)[:, None] + noise * rng.standard_normal((T, 2))
    if hole is not None and hole < T:
        y[hole, 0] = np.nan
    a = np.array([min(s, T) for s, _ in windows])
    b = np.minimum(a + np.array([n for _, n in windows]), T)
    f = best_window(x, y, a, b)
    for c in range(2):
        r2, sl, icpt, w = naive_best(x, y[:, c], a, b)
        if w < 0:
            assert f.index[c] == -1 and np.isnan(f.slope[c]) and np.isnan(f.r2[c])
            continue
        # the reported numbers are those of the chosen window, to rounding ...
        got = naive_best(x, y[:, c], a[f.index[c]:f.index[c] + 1], b[f.index[c]:f.index[c] + 1])
        if got[0] > 1e-9:                                # (not a window flat up to rounding)
            assert f.r2[c] == pytest.approx(got[0], rel=1e-9, abs=1e-12)
            assert f.slope[c] == pytest.approx(got[1], rel=1e-7, abs=1e-9)
            assert f.intercept[c] == pytest.approx(got[2], rel=1e-7, abs=1e-6)
        # ... and it is the best window, up to the scores' rounding (near-ties)
        assert f.r2[c] == pytest.approx(r2, abs=1e-6)
        others = [naive_best(x, y[:, c], a[v:v + 1], b[v:v + 1])[0] for v in range(len(a)) if v != w]
        if 1e-6 < r2 < 1 - 1e-6 and all(o < r2 - 1e-6 for o in others):
            assert f.index[c] == w


def test_best_window_flat_window_has_r2_zero_and_loses():
    t = np.arange(30.0)
    y = np.where(t < 15, 0.25, 0.25 + 1e-3 * (t - 14) + 1e-4 * np.sin(t))   # flat, then a trend
    f = best_window(t, y, [0, 15, 0], [15, 30, 30])
    assert f.index == 1 and f.slope > 0 and 0 < f.r2 <= 1
    flat = best_window(t, y, [0, 2], [15, 12])           # only flat windows: R^2 = 0, slope 0
    assert flat.index == 0 and flat.r2 == 0.0 and flat.slope == 0.0
    assert flat.intercept == pytest.approx(0.25, abs=1e-14)
    # the same rule as ols: a flat fit is R^2 = 0
    assert ols(t[:15], y[:15]).r2 == 0.0


def test_best_window_skips_short_invalid_and_limited_windows():
    t = np.arange(10.0)
    y = 2.0 * t
    f = best_window(t, y, [0, 0], [2, 10])               # 2 points never count
    assert f.index == 1
    none = best_window(t, y, [0, 4], [2, 5])
    assert none.index == -1 and np.isnan(none.slope) and np.isnan(none.intercept)
    y2 = y.copy()
    y2[5] = np.inf
    assert best_window(t, y2, [0, 6], [10, 10]).index == 1
    assert best_window(t, y, [0], [10], limit=8).index == -1
    with pytest.raises(ValueError, match="stop"):
        best_window(t, y, [0], [11])
