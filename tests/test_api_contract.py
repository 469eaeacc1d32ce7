"""The user-facing contract (design/api.md), typed as a user would type it."""

import numpy as np
import pytest

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
    np.testing.assert_allclose(dn.L1()(W[0], W[1:]), np.abs(W[1:] - W[0]).sum(axis=1))
    np.testing.assert_allclose(dn.L2()(W[0], W[1:]), np.linalg.norm(W[1:] - W[0], axis=1))
    np.testing.assert_allclose(dn.LInf()(W[0], W[1:]), np.abs(W[1:] - W[0]).max(axis=1))
    # v1: one estimator convention, fit(data, *, map=None, steps=None) -> self
    ls = dn.LyapunovSpectrum(n_steps=10_000, n_exponents=2).fit([0.1, 0.1], map=Henon())
    np.testing.assert_allclose(ls.exponents_, [0.4192, -1.6232], atol=0.005)
    assert ls.exponent_ == ls.exponents_[0]
    series = dn.LogisticMap().trajectory(np.array([0.3]), 3000)[:, 0]
    assert abs(dn.Kantz().fit(series).exponent_ - np.log(2)) < 0.2
    assert abs(dn.Rosenstein().fit(series).exponent_ - np.log(2)) < 0.2
    acf = dn.ShuffledAutocorrelation(n_shuffles=1000).fit(series)
    assert acf.acf_.shape[0] == acf.band_.shape[1] and isinstance(acf.significant_, (bool, np.bool_))
    hvg = dn.HorizontalVisibilityGraph().fit(series)
    assert hvg.graph_.number_of_nodes() == series.size
    np.testing.assert_allclose(sum(hvg.degree_distribution_.values()) if isinstance(
        hvg.degree_distribution_, dict) else np.sum(hvg.degree_distribution_), 1.0)
    sh = dn.Sharpness().fit(W, map=m)
    np.testing.assert_allclose(sh.sharpness_[0], np.linalg.eigvalsh(m.hessian(W[0]))[-1], rtol=1e-8)
    t = np.arange(61)
    distances = 1e-10 * np.exp(0.4 * t)[:, None, None] * np.ones((1, 4, 3))
    fl = dn.FiniteLyapunov(starts=range(0, 11, 5), lengths=range(10, 31, 5)).fit(distances, steps=t)
    np.testing.assert_allclose(fl.exponent_, 0.4, rtol=1e-9)


def test_studies_contract(tmp_path):
    s = dn.PerturbationStudy(map=Henon(), perturber=dn.UniformPerturber(eps=1e-10, n=5, on="all"),
                             metric=dn.L1(), estimators=[dn.FiniteLyapunov(starts=range(0, 11, 5),
                                                                           lengths=range(10, 31, 5))],
                             n_init=50, n_steps=60, seed=0, initial_states=None).run()
    assert s.result_["distance"].shape == (61, 50, 5)
    fl = s.estimators_[0]
    assert fl.exponents_.shape == (50,) and fl.windows_.shape == (50, 2)
    assert 0.3 < fl.mle_ < 0.6 and fl.exponent_ == fl.mle_
    assert float(s.summary()["finitelyapunov.mle"]) == fl.mle_
    assert len(s.plot()) == 1
    s.save(tmp_path / "henon.nc")
    with pytest.raises(FileExistsError):
        s.save(tmp_path / "henon.nc")
    s.save(tmp_path / "henon.nc", overwrite=True)
    t = dn.load(tmp_path / "henon.nc")
    np.testing.assert_array_equal(t.result_["distance"].values, s.result_["distance"].values)
    assert t.refit().estimators_[0].mle_ == fl.mle_
    for cls in (dn.OrbitalStabilityStudy, dn.PostLearningStudy, dn.EdgeOfStabilityStudy,
                dn.IntermittencyStudy, dn.EtaScanStudy):
        assert isinstance(cls(), dn.Study) and isinstance(cls.quick(), cls)
    c = dn.clone(s).set_params(map__a=1.3)
    assert c.map.a == 1.3 and s.map.a == 1.4
    # v1: run settings are arguments of run(), never parameters
    r = dn.clone(s).run(n_jobs=2, progress=False, checkpoint=tmp_path / "ckpt", resume=False,
                        chunk_size=None)
    np.testing.assert_array_equal(r.result_["distance"].values, s.result_["distance"].values)
    assert not (tmp_path / "ckpt").exists()


def test_general_gd_map_contract():
    m = dn.GradientDescentMap(eta=1.0, hidden=(10,), activation="sigmoid", loss="cross-entropy",
                              weight_decay=0.0, init="normal", dataset="iris", stratify=False)
    assert m.dim == 83
    assert m.loss == "cross-entropy"           # the parameter ...
    W = m.initial_state(3, seed=0)
    assert m.loss(W).shape == (3,)             # ... and the method, one name
    assert m.get_params()["loss"] == "cross-entropy"


def test_plugins_contract():
    assert "gd" in dn.plugins.available("dynnet.maps")
    assert dn.plugins.load("dynnet.maps", "gd") is dn.GradientDescentMap
    try:
        dn.plugins.load("dynnet.maps", "no-such-map")
    except ImportError as exc:
        assert "no-such-map" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a missing plugin must raise ImportError")
