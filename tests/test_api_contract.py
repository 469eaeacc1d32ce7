"""The user-facing contract (design/api.md), typed as a user would type it."""

import numpy as np

import dynnet as dn


class Henon(dn.Map):                      # a user's own map, exactly as in api.md
    def __init__(self, a=1.4, b=0.3): self.a, self.b = a, b  # noqa: E301,E704
    dim = 2

    def step(self, states):
        x, y = states[:, 0], states[:, 1]
        return np.stack([1 - self.a * x * x + y, self.b * x], axis=1)

    def jacobian(self, state):
        return np.array([[-2 * self.a * state[0], 1.0], [self.b, 0.0]])


def test_maps_contract():
    m = dn.GradientDescentMap(eta=1.0)
    assert m.dim == 83
    W = m.initial_state(n=500, seed=0)
    assert W.shape == (500, 83)
    assert m.step(W).shape == (500, 83)
    assert m.iterate(W, n_steps=200).shape == (500, 83)
    assert m.trajectory(W[:5], n_steps=200, every=1).shape == (201, 5, 83)
    assert m.loss(W).shape == (500,) and m.accuracy(W, split="test").shape == (500,)
    X, y = m.data("train")
    assert X.shape == (120, 4) and y.shape == (120,)
    assert m.gradient(W).shape == (500, 83)
    assert m.hessian(W[0]).shape == (83, 83) and m.jacobian(W[0]).shape == (83, 83)
    np.testing.assert_allclose(m.jacobian(W[0]), np.eye(83) - 1.0 * m.hessian(W[0]))
    G = m.to_graph(W[0])
    np.testing.assert_array_equal(m.from_graph(G), W[0])


def test_perturbers_metrics_estimators_contract():
    m = dn.GradientDescentMap(eta=1.0)
    W = m.initial_state(n=3, seed=0)
    p = dn.UniformPerturber(eps=1e-8, n=5, on="weights")
    P = p.perturb(W[0], map=m, seed=1)
    assert P.shape == (5, 83) and np.abs(P - W[0]).max() <= 1e-8
    assert dn.L1()(W[0], W[1:]).shape == (2,)
    dn.L2()(W[0], W[1:]), dn.LInf()(W[0], W[1:])
    ls = dn.LyapunovSpectrum(n_steps=10_000, n_transient=1_000).fit(Henon(), [0.1, 0.1])
    np.testing.assert_allclose(ls.exponents_, [0.4192, -1.6232], atol=0.005)
    series = dn.LogisticMap().trajectory(np.array([0.3]), 3000)[:, 0]
    assert np.isfinite(dn.Kantz().fit(series).exponent_)
    assert np.isfinite(dn.Rosenstein().fit(series).exponent_)
    acf = dn.ShuffledAutocorrelation(n_shuffles=1000).fit(series)
    acf.acf_, acf.band_, acf.significant_
    hvg = dn.HorizontalVisibilityGraph().fit(series)
    hvg.graph_, hvg.degree_distribution_


def test_studies_contract(tmp_path):
    s = dn.PerturbationStudy(map=Henon(), perturber=dn.UniformPerturber(eps=1e-10, n=5, on="all"),
                             metric=dn.L1(), estimators=[dn.FiniteLyapunov(starts=range(0, 11, 5),
                                                                           lengths=range(10, 31, 5))],
                             n_init=50, n_steps=60, seed=0, initial_states=None).run()
    s.result_, s.estimators_
    fl = s.estimators_[0]
    fl.exponents_, fl.r2_, fl.windows_, fl.kept_, fl.mle_, fl.mle_std_
    assert 0.3 < fl.mle_ < 0.6
    s.summary(), s.plot()
    s.save(tmp_path / "henon.nc")
    t = dn.load(tmp_path / "henon.nc")
    np.testing.assert_array_equal(t.result_["distance"].values, s.result_["distance"].values)
    for cls in (dn.OrbitalStabilityStudy, dn.PostLearningStudy, dn.EdgeOfStabilityStudy,
                dn.IntermittencyStudy, dn.EtaScanStudy):
        assert isinstance(cls(), dn.Study) and isinstance(cls.quick(), cls)
    c = dn.clone(s).set_params(map__a=1.3)
    assert c.map.a == 1.3 and s.map.a == 1.4


def test_plugins_contract():
    assert "gd" in dn.plugins.available("dynnet.maps")
    assert dn.plugins.load("dynnet.maps", "gd") is dn.GradientDescentMap
    try:
        dn.plugins.load("dynnet.maps", "no-such-map")
    except ImportError as exc:
        assert "no-such-map" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a missing plugin must raise ImportError")
