"""PerturbationStudy on a user map and on the GD map; results on disk."""

import numpy as np
import pytest

import dynnet as dn


class Henon(dn.Map):
    """The api.md example, literally: a user's own map in a few lines (no sample_state:
    the default draws initial states from a small box at the origin)."""

    def __init__(self, a=1.4, b=0.3): self.a, self.b = a, b  # noqa: E301,E704
    dim = 2

    def step(self, states):
        x, y = states[:, 0], states[:, 1]
        return np.stack([1 - self.a * x * x + y, self.b * x], axis=1)

    def jacobian(self, state):
        return np.array([[-2 * self.a * state[0], 1.0], [self.b, 0.0]])


def henon_study(**kw):
    params = dict(map=Henon(), perturber=dn.UniformPerturber(eps=1e-10, n=5, on="all"),
                  metric=dn.L1(), n_init=12, n_steps=40, seed=0)
    params.update(kw)
    return dn.PerturbationStudy(**params)


def test_user_map_study_shapes_and_growth():
    s = henon_study().run()
    assert s.run() is s
    r = s.result_
    assert r["distance"].dims == ("step", "init", "pert")
    assert r["distance"].shape == (41, 12, 5)
    d = r["distance"].values
    assert np.all(d[0] <= 2e-10) and np.all(d[0] > 0)
    # chaos: log distance grows roughly at the top exponent 0.42 before saturating
    slope = np.polyfit(np.arange(5, 25), np.log(d[5:25]).mean(axis=(1, 2)), 1)[0]
    assert 0.3 < slope < 0.55
    assert r.attrs["param.n_init"] == 12 and "dynnet_version" in r.attrs


def test_distances_equal_direct_computation():
    s = henon_study(n_init=3, n_steps=10).run()
    m = s.map
    x0 = s.result_["initial_state"].values
    for i in range(3):
        p = dn.UniformPerturber(eps=1e-10, n=5, on="all").perturb(x0[i], seed=dn.stream(0, 1, i))
        ref = m.iterate(x0[i], 10)
        np.testing.assert_array_equal(s.result_["distance"].values[-1, i], dn.L1()(m.iterate(p, 10), ref))


def test_results_do_not_depend_on_chunking_or_jobs():
    a = henon_study().run(chunk_size=5).result_
    b = henon_study().run(chunk_size=2, n_jobs=2).result_
    c = henon_study(n_init=5).run().result_
    np.testing.assert_array_equal(a["distance"].values, b["distance"].values)
    np.testing.assert_array_equal(a["distance"].values[:, :5], c["distance"].values)


def test_same_seed_same_bits_other_seed_differs():
    a = henon_study().run().result_["distance"].values
    b = henon_study().run().result_["distance"].values
    c = henon_study(seed=1).run().result_["distance"].values
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gd_study_records_loss_and_norm():
    s = dn.PerturbationStudy(map=dn.GradientDescentMap(eta=0.01), n_init=2, n_steps=30, every=10).run()
    r = s.result_
    assert list(r["step"].values) == [0, 10, 20, 30]
    assert r["loss"].shape == (4, 2) and r["weight_norm"].shape == (4, 2)
    assert np.all(np.diff(r["loss"].values, axis=0) < 0)  # eta = 0.01 descends
    x0 = r["initial_state"].values
    np.testing.assert_allclose(r["loss"].values[0], s.map.loss(x0), rtol=1e-12)
    assert np.all(r["distance"].values[0] <= 70 * 1e-8)


def test_initial_states_given_explicitly():
    x0 = np.array([[0.05, 0.0], [0.0, 0.05]])
    r = henon_study(n_init=2, initial_states=x0).run().result_
    np.testing.assert_array_equal(r["initial_state"].values, x0)
    with pytest.raises(ValueError, match="initial_states has 2 rows but n_init=3"):
        henon_study(n_init=3, initial_states=x0).run()


def test_set_params_on_default_components_and_clone():
    s = dn.PerturbationStudy(n_init=2)
    s2 = dn.clone(s).set_params(map__eta=2.0, perturber__eps=1e-6)
    assert s2.map.eta == 2.0 and s2.perturber.eps == 1e-6 and s.map is None
    with pytest.raises(TypeError, match="must be a dynnet Map"):
        dn.PerturbationStudy(map="henon").run()


def test_save_load_round_trip(tmp_path):
    s = henon_study(n_init=3, n_steps=8).run()
    path = tmp_path / "henon.nc"
    s.save(path)
    t = dn.load(path)  # the user's class is in an imported module (like __main__)
    assert type(t) is dn.PerturbationStudy and type(t.map) is Henon
    assert type(dn.load(path, classes=[Henon]).map) is Henon
    np.testing.assert_array_equal(t.result_["distance"].values, s.result_["distance"].values)
    assert t.result_["diverged"].dtype == bool
    assert t.get_params()["perturber__eps"] == 1e-10


def test_load_rejects_corrupt_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not a netcdf file at all")
    with pytest.raises(ValueError, match="not a readable netCDF"):
        dn.load(bad)
    import xarray as xr

    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(foreign, engine="scipy")
    with pytest.raises(ValueError, match="not a dynnet result"):
        dn.load(foreign)
    with pytest.raises(FileNotFoundError):
        dn.load(tmp_path / "missing.nc")


def test_load_refuses_classes_outside_dynnet(tmp_path):
    from dynnet.results import ResultFileError, decode_params

    evil = '{"__class__": "os:system", "params": {}}'  # imported, but not a parameter object
    with pytest.raises(ResultFileError, match="not a dynnet parameter object"):
        decode_params(evil)
    never_imported = '{"__class__": "antigravity:Thing", "params": {}}'
    with pytest.raises(ResultFileError, match="refusing to rebuild"):
        decode_params(never_imported)
    import sys

    assert "antigravity" not in sys.modules


class Flaky(Henon):
    """Henon that raises once, at a given step call (class attributes, not parameters)."""

    fail_at = None
    calls = 0

    def step(self, states):
        Flaky.calls += 1
        if Flaky.calls == Flaky.fail_at:
            raise KeyboardInterrupt("simulated crash")
        return super().step(states)


def test_resume_from_checkpoint_is_bitwise_identical(tmp_path):
    full = henon_study().run(chunk_size=3).result_["distance"].values
    ck = tmp_path / "ck"
    # preflight: 40 step calls of the tiny copy; then two chunks of 41 step calls, then a crash
    Flaky.calls, Flaky.fail_at = 0, 40 + 2 * 41 + 5
    with pytest.raises(KeyboardInterrupt):
        henon_study(map=Flaky()).run(chunk_size=3, checkpoint=ck)
    assert len(list(ck.glob("chunk-*.npz"))) == 2
    (ck / ".chunk-torn.part").write_bytes(b"torn")
    Flaky.fail_at = None
    resumed = henon_study(map=Flaky()).run(chunk_size=5, n_jobs=2, checkpoint=ck, resume=True)
    np.testing.assert_array_equal(resumed.result_["distance"].values, full)
    assert not ck.exists(), "a finished run removes the checkpoint folder it made"
    Flaky.calls, Flaky.fail_at = 0, 40 + 41 + 5  # the preflight, one chunk, then a crash
    with pytest.raises(KeyboardInterrupt):
        henon_study(map=Flaky()).run(chunk_size=3, checkpoint=ck)
    assert len(list(ck.glob("chunk-*.npz"))) == 1
    Flaky.fail_at = None
    with pytest.raises(dn.checkpoint.CheckpointError, match="other parameters"):
        henon_study(map=Flaky(), seed=5).run(checkpoint=ck, resume=True)


def test_seeds_that_are_generators_or_large_ints_are_saved(tmp_path):
    s = henon_study(n_init=2, n_steps=5, seed=np.random.default_rng(0)).run()
    s.save(tmp_path / "g.nc")
    t = dn.load(tmp_path / "g.nc")
    np.testing.assert_array_equal(dn.clone(t).run().result_["distance"].values,
                                  s.result_["distance"].values)
    big = henon_study(n_init=2, n_steps=5, seed=2**40).run()
    big.save(tmp_path / "b.nc")
    assert dn.load(tmp_path / "b.nc").seed == 2**40


def test_problems_are_reported_before_computing(tmp_path):
    with pytest.raises(TypeError, match="Generator cannot be saved"):
        henon_study(estimators=[dn.FiniteLyapunov(seed=np.random.default_rng(1))]).run()
    with pytest.raises(ValueError, match="estimator Kantz needs the result variable 'loss', which this "
                                         "study does not have"):
        henon_study(estimators=[dn.Kantz()]).run()
    with pytest.raises(ValueError, match="not a multiple of every"):
        henon_study(n_steps=25, every=10).run()
    with pytest.raises(ValueError, match="resume=True needs a fixed seed"):
        henon_study(seed=None).run(checkpoint=tmp_path / "ck", resume=True)
