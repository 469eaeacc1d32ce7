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
    # the docstring's figures: on iid series the nominal se overstates the spread
    # of lambda about 2x, so z has SD ~0.44 (not 1) and mean ~+0.3 at N = 2000.
    # 100 series: SE of the SD ~0.03, of the mean ~0.045.
    z = np.array([dn.HorizontalVisibilityGraph().fit(np.random.default_rng(s).random(2000))
                  .verdict_statistic_ for s in range(100)])
    assert 0.33 <= z.std(ddof=1) <= 0.56
    assert 0.15 <= z.mean() <= 0.5
    assert z.min() > -1.5                               # far from z_crit = -3


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
    with pytest.raises(ValueError, match="NaN"):
        dn.HorizontalVisibilityGraph().fit([1.0, np.nan, 2.0])
    with pytest.raises(RuntimeError, match="not fitted"):
        dn.HorizontalVisibilityGraph().graph_


def test_same_graph_as_ts2vg():
    ts2vg = pytest.importorskip("ts2vg")
    x = np.random.default_rng(5).random(5000)
    g = ts2vg.HorizontalVG().build(x)
    h = dn.HorizontalVisibilityGraph().fit(x)
    np.testing.assert_array_equal(np.asarray(g.degrees), h.degree_)
