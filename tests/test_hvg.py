"""HorizontalVisibilityGraph: stack algorithm against a naive O(N^2) oracle, and the exact laws."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet.estimators.graphs import hvg_edges

LN_3_2 = math.log(1.5)


def naive_hvg(x):
    """All pairs: i < j linked iff every value strictly between is < min(x_i, x_j)."""
    n = len(x)
    edges = set()
    for i in range(n):
        for j in range(i + 1, n):
            if all(x[k] < min(x[i], x[j]) for k in range(i + 1, j)):
                edges.add((i, j))
    return edges


@given(st.one_of(
    st.lists(st.integers(0, 4), min_size=0, max_size=40),           # many ties
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=0, max_size=40),
))
def test_stack_matches_naive(values):
    x = np.asarray(values, dtype=float)
    edges, deg = hvg_edges(x)
    got = {tuple(e) for e in edges.tolist()}
    assert len(got) == edges.shape[0]                    # no duplicate edges
    assert got == naive_hvg(values)
    np.testing.assert_array_equal(deg, np.bincount(edges.ravel(), minlength=len(x)))


def test_iid_law():
    x = np.random.default_rng(0).random(100_000)
    h = dn.HorizontalVisibilityGraph().fit(x)
    assert abs(h.mean_degree_ - 4.0) < 0.01
    # sampling spread of the TV distance is about 1.25 / sqrt(N) = 0.004
    assert h.iid_distance_ < 0.015
    k = np.arange(2, 10)
    np.testing.assert_allclose(h.degree_distribution_[2:10], (1 / 3) * (2 / 3) ** (k - 2),
                               atol=0.005)
    assert abs(h.lambda_ - LN_3_2) < 4 * h.lambda_se_
    assert h.verdict_ == "noise" and h.period_ == 0
    assert h.degree_distribution_.sum() == pytest.approx(1.0)


def test_chaos_and_correlated_noise():
    n = 10_000
    x = np.empty(n + 100)
    x[0] = 0.3
    for t in range(1, n + 100):
        x[t] = 4.0 * x[t - 1] * (1.0 - x[t - 1])
    h = dn.HorizontalVisibilityGraph().fit(x[100:])
    assert h.lambda_ < LN_3_2 - 0.05 and h.verdict_ == "chaotic"
    assert h.verdict_statistic_ < -3
    # AR(1), phi = 0.7: correlated stochastic, lambda above ln(3/2)
    rng = np.random.default_rng(1)
    e = rng.normal(size=n)
    ar = np.empty(n)
    ar[0] = e[0]
    for t in range(1, n):
        ar[t] = 0.7 * ar[t - 1] + e[t]
    h2 = dn.HorizontalVisibilityGraph().fit(ar)
    assert h2.lambda_ > LN_3_2 and h2.verdict_ == "noise"


def test_iid_z_statistic_is_conservative_as_documented():
    """On iid series the nominal se overstates the spread of lambda about 2x.

    Measured on iid uniform series (k_min=4): N = 2000 (300 series) z has mean
    +0.32 and SD 0.44 (not 0 and 1; the offset is a finite-size bias of
    lambda, +0.0045), minimum -0.71; N = 10^4 (100 series) mean +0.18, SD
    0.46. So z < -3 is about 7 empirical SDs below the iid mean, and a chaotic
    verdict needs lambda below ln(3/2) by 3 se ~ 1.85 / sqrt(N) (0.042 at
    N = 2000): the lambda_tol = 0.03 rule binds for N >~ 4000. The logistic
    map at r = 4 is far beyond both (lambda ~ 0.29, z ~ -10 at N = 2000).
    Here 100 series: SE of the SD ~0.03, of the mean ~0.045.
    """
    z = np.array([dn.HorizontalVisibilityGraph().fit(np.random.default_rng(s).random(2000))
                  .verdict_statistic_ for s in range(100)])
    assert 0.33 <= z.std(ddof=1) <= 0.56
    assert 0.15 <= z.mean() <= 0.5
    assert z.min() > -1.5                               # far from z_crit = -3
    x = np.empty(2100)
    x[0] = 0.3
    for t in range(1, 2100):
        x[t] = 4.0 * x[t - 1] * (1.0 - x[t - 1])
    h = dn.HorizontalVisibilityGraph().fit(x[100:])
    assert h.lambda_ == pytest.approx(0.29, abs=0.03) and h.verdict_statistic_ < -7


@given(st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_periodic_mean_degree(p, seed):
    pattern = np.random.default_rng(seed).random(p)      # distinct values a.s.
    n = 3000
    x = np.tile(pattern, n // p + 1)[:n]
    h = dn.HorizontalVisibilityGraph().fit(x)
    # Nunez et al.: <k> = 4 (1 - 1/(2p)); the two ends miss at most ~p edges
    assert abs(h.mean_degree_ - 4 * (1 - 1 / (2 * p))) <= 2 * (p + 1) / n
    assert h.verdict_ == "periodic" and p % h.period_ == 0
    # finite degree set: a longer series adds no new degree
    h_long = dn.HorizontalVisibilityGraph().fit(np.tile(pattern, 3 * n // p + 1)[:3 * n])
    assert h_long.degree_.max() == h.degree_.max()


def test_graph_is_lazy_and_correct():
    x = np.random.default_rng(3).random(60)
    h = dn.HorizontalVisibilityGraph().fit(x)
    assert "_graph" not in h.__dict__
    g = h.graph_
    assert g is h.graph_
    assert g.number_of_nodes() == 60 and g.number_of_edges() == h.edges_.shape[0]
    assert set(map(tuple, map(sorted, g.edges()))) == naive_hvg(x.tolist())
    assert g.nodes[5]["value"] == x[5]
    assert dict(g.degree()) == dict(enumerate(h.degree_.tolist()))
    assert set(h.summary()) >= {"mean_degree", "lambda", "iid_distance"}


def test_errors():
    with pytest.raises(ValueError, match="at least 2"):
        dn.HorizontalVisibilityGraph().fit([1.0])
    with pytest.raises(ValueError, match=r"HorizontalVisibilityGraph: data \(the series\) contains NaN"):
        dn.HorizontalVisibilityGraph().fit([1.0, np.nan, 2.0])
    with pytest.raises(TypeError, match="HorizontalVisibilityGraph.fit takes no map"):
        dn.HorizontalVisibilityGraph().fit([1.0, 2.0, 0.5], map=dn.LogisticMap())
    with pytest.raises(TypeError, match="HorizontalVisibilityGraph.fit takes no steps"):
        dn.HorizontalVisibilityGraph().fit([1.0, 2.0, 0.5], steps=[0, 1, 2])
    with pytest.raises(RuntimeError, match="not fitted"):
        _ = dn.HorizontalVisibilityGraph().graph_


def test_long_series_against_a_vectorised_oracle():
    """Every pair (i, j) of 2000 points with ties, O(N^2) in numpy: i sees j iff the running
    maximum strictly between them is below min(x_i, x_j)."""
    x = np.random.default_rng(5).integers(0, 50, 2000).astype(float)
    want = set()
    for i in range(len(x) - 1):   # one vectorised row of pairs per i
        between = np.r_[-np.inf, np.maximum.accumulate(x[i + 1:-1])]     # max of x[i+1:j]
        j = np.flatnonzero(between < np.minimum(x[i], x[i + 1:])) + i + 1
        want.update((i, int(k)) for k in j)
    h = dn.HorizontalVisibilityGraph().fit(x)
    assert {tuple(e) for e in h.edges_.tolist()} == want
    np.testing.assert_array_equal(h.degree_, np.bincount(np.array(sorted(want)).ravel(),
                                                         minlength=len(x)))


def test_constant_series_is_a_chain():
    h = dn.HorizontalVisibilityGraph().fit(np.full(300, 2.0))
    assert {tuple(e) for e in h.edges_.tolist()} == {(i, i + 1) for i in range(299)}
    assert h.verdict_ == "periodic" and h.period_ == 1
    s = h.summary()
    assert isinstance(s["period"], int) and s["period"] == 1


@given(c=st.one_of(st.floats(1e-150, 1e150), st.sampled_from([1e-150, 1e150])),
       a=st.sampled_from([0.0, 3.0, -1e3]), seed=st.integers(0, 2**32 - 1))
def test_hvg_is_scale_invariant(c, a, seed):
    """The HVG depends only on the order of the values: x -> a|c| + c x (c > 0) keeps it."""
    x = np.random.default_rng(seed).random(500)
    ref = dn.HorizontalVisibilityGraph().fit(x)
    got = dn.HorizontalVisibilityGraph().fit(a * c + c * x)
    np.testing.assert_array_equal(got.edges_, ref.edges_)
    np.testing.assert_array_equal(got.degree_, ref.degree_)
    assert got.summary() == ref.summary()
