"""Issue 11, items 3, 4 and 6: the defaults follow the paper, and the eps -> 0 reference of GD.

* item 3: the default training split is the authors' (first N - 30 of a seeded shuffle);
* item 4: each eps draws its own perturbation directions (``common_directions=False``);
* item 6: EdgeOfStabilityStudy reports the finite-time tangent-map exponent beside lambda_nMLE.
"""

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dynnet as dn
from dynnet.base import as_seed_sequence
from dynnet.metrics import L1
from dynnet.perturbers import UniformPerturber
from dynnet.studies._ensemble import run_ensemble
from dynnet.studies._sweep import eps_seed
from dynnet.studies.base import RunContext
from dynnet.studies.edge import tangent_log_growth

SWEEPS = (dn.EdgeOfStabilityStudy, dn.OrbitalStabilityStudy, dn.PostLearningStudy)


# ---- item 3: the authors' split ------------------------------------------------------------
def test_default_split_is_the_first_120_of_a_seeded_shuffle():
    """Fails on the old default (stratified, 40/40/40)."""
    from sklearn.datasets import load_iris

    m = dn.GradientDescentMap()
    assert m.stratify is False
    raw = load_iris()
    perm = np.random.default_rng(0).permutation(150)
    X, y = m.data("train")
    np.testing.assert_array_equal(X, raw.data[perm[:120]])  # unscaled, in shuffled order
    np.testing.assert_array_equal(y, raw.target[perm[:120]])
    np.testing.assert_array_equal(m.data("test")[1], raw.target[perm[120:]])
    assert np.bincount(y).tolist() == [42, 38, 40]
    assert np.bincount(dn.GradientDescentMap(stratify=True).data("train")[1]).tolist() == [40, 40, 40]


def test_studies_train_on_the_authors_split_by_default():
    for cls in SWEEPS + (dn.IntermittencyStudy,):
        m = cls().parts()["map"]
        assert isinstance(m, dn.GradientDescentMap) and m.stratify is False, cls.__name__


# ---- item 4: independent perturbation directions per eps -----------------------------------
def test_sweep_studies_default_to_independent_directions():
    for cls in SWEEPS:
        p = inspect.signature(cls.__init__).parameters["common_directions"]
        assert p.default is False, cls.__name__
        assert "common_directions : bool, default False" in cls.__doc__, cls.__name__
        with pytest.raises(TypeError, match="common_directions='yes' must be a bool"):
            cls(common_directions="yes", n_init=2).run(preflight=False)


def _small(common, eps=(1e-6, 1e-3), **kw):
    kw = {"n_init": 3, "n_steps": 40, **kw}
    return dn.EdgeOfStabilityStudy(eps=eps, common_directions=common, **kw).run(preflight=False)


@pytest.mark.filterwarnings("ignore::dynnet.NoExponentWarning")  # tiny runs: no fit kept, by design
def test_initial_distances_scale_with_eps_only_with_common_directions():
    """d(0)/eps at two eps: identical up to rounding (common), different draws (independent).

    eps = 1e-6 and 1e-3 keep the rounding of x + delta at ~1e-10 relative, far below the
    ~7% relative spread of a sum of 70 independent |U(-1, 1)|."""
    for common in (True, False):
        d0 = _small(common).result_["distance"].isel(step=0).values  # (eps, init, pert)
        e = np.array([1e-6, 1e-3])[:, None, None]
        rel = np.abs(d0[0] / e[0] - d0[1] / e[1]) / (d0[1] / e[1])
        if common:
            assert rel.max() < 1e-8
        else:
            assert rel.min() > 1e-6 and rel.max() > 1e-2


@pytest.mark.filterwarnings("ignore::dynnet.NoExponentWarning")  # tiny runs: no fit kept, by design
def test_common_directions_reproduce_the_old_sweep_bitwise():
    """True: every eps is run_ensemble with the run's own seed (the code before issue 11);
    False: with eps_seed(seed, k), so the perturbations come from stream(seed, 1, k, 1, i)."""
    eps = (1e-10, 1e-4)
    for common in (True, False):
        s = _small(common, eps=eps)
        m = s.parts()["map"]
        x0 = s.result_["initial_state"].values
        seed = as_seed_sequence(0)
        ctx = RunContext(seed=seed)
        for k, e in enumerate(eps):
            ss = seed if common else eps_seed(seed, k, False)
            d, _, _ = run_ensemble(m, UniformPerturber(n=5, on="weights", eps=e), L1(), x0, ss, 40, 1, ctx)
            np.testing.assert_array_equal(s.result_["distance"].values[k], d)
    a = _small(True, eps=eps).result_["distance"].values
    b = _small(False, eps=eps).result_["distance"].values
    assert not np.array_equal(a[1], b[1])  # the two options differ, so the test can tell them apart


@settings(max_examples=10, deadline=None)
@given(k=st.integers(0, 50), entropy=st.integers(0, 2**32))
def test_eps_seed_is_addressed_not_spawned(k, entropy):
    ss = np.random.SeedSequence(entropy)
    a, b = eps_seed(ss, k, False), eps_seed(ss, k, False)
    assert a.spawn_key == (1, k) and a.entropy == entropy
    assert np.array_equal(a.generate_state(4), b.generate_state(4))
    assert not np.array_equal(a.generate_state(4), eps_seed(ss, k + 1, False).generate_state(4))
    assert eps_seed(ss, k, True) is ss


@pytest.mark.filterwarnings("ignore::dynnet.NoExponentWarning")  # tiny runs: no fit kept, by design
def test_independent_directions_do_not_depend_on_chunking():
    a = _small(False).result_["distance"].values
    s = dn.EdgeOfStabilityStudy(eps=(1e-6, 1e-3), n_init=3, n_steps=40)
    b = s.run(preflight=False, chunk_size=1).result_["distance"].values
    np.testing.assert_array_equal(a, b)


# ---- item 6: the tangent-map exponent ------------------------------------------------------
@pytest.fixture(scope="module")
def eos40():
    return dn.EdgeOfStabilityStudy(n_init=40, eps=(1e-14, 1e-8), n_steps=200).run()


def test_tangent_exponent_is_the_eps_to_zero_limit_of_lambda_nmle(eos40):
    """The issue's comparison at a small size: 40 networks, 200 steps, eta = 1.

    Measured (seed 0): tangent 0.3111, lambda_nMLE(1e-14) 0.3066 (39 of 40 kept). The
    per-network differences Lambda_tan - Lambda(1e-14) have a median |.| of 0.004 and, on
    500 networks, a heavy-tailed sd of 0.065 (a few orbits pass through strongly contracting
    steps, where float64 rounding re-seeds the finite-eps orbit in every direction but not the
    tangent vector): the standard error of their mean over 39 networks is 0.065 / sqrt(39) =
    0.010, so the means must agree within 2 standard errors, 0.02. Unpaired networks would
    differ far more per network (the spread of Lambda across networks is 0.10), and the rate
    over the whole run (0.23) is outside the tolerance: the window matters."""
    r, s = eos40.result_, eos40.summary()
    mle = float(s["finitelyapunov.mle"].sel(eps=1e-14))
    tan = float(s["tangent_exponent"])
    assert float(s["tangent_eps"]) == 1e-14
    assert abs(tan - mle) < 0.02
    kept = r["kept"].sel(eps=1e-14).values
    diff = r["tangent_exponent"].values[kept] - r["exponent"].sel(eps=1e-14).values[kept]
    assert np.median(np.abs(diff)) < 0.01
    assert tan == pytest.approx(np.mean(r["tangent_exponent"].values[kept]), rel=1e-12)
    whole = r["tangent_log_norm"].values[-1] / 200.0  # the whole run's rate: not the reference
    assert abs(np.mean(whole[kept]) - mle) > 0.05


def test_whole_run_tangent_exponent_is_ln2_on_the_logistic_map():
    """The window-free check: the logistic map at r = 4 has exponent ln 2. Its perturbations of
    1e-8 saturate after about ln(1e8)/ln 2 = 27 steps, less than the fit's shortest window (30),
    so the finite-size fits are unreliable there (about half kept); the whole run's tangent
    exponent, which cannot saturate, is ln 2 for every orbit. Over 2000 steps one orbit's rate
    scatters by about 5e-4 around ln 2 (seed 0: sd 5.0e-4 over 20 orbits)."""
    st = dn.EdgeOfStabilityStudy(map=dn.LogisticMap(r=4.0), perturber=dn.UniformPerturber(n=2, on="all"),
                                 n_init=20, eps=(1e-8,), n_steps=2000, n_steps_long=0).run()
    r, s = st.result_, st.summary()
    ftle = r["tangent_ftle"].values
    assert np.all(np.abs(ftle - np.log(2)) < 0.005)
    assert abs(float(s["tangent_ftle"]) - np.log(2)) < 0.001
    assert float(s["tangent_ftle"]) == pytest.approx(float(np.mean(ftle)), rel=1e-12)
    np.testing.assert_allclose(ftle, r["tangent_log_norm"].values[-1] / 2000.0, rtol=1e-12)


def test_whole_run_tangent_exponent_is_bounded_by_the_top_eigenvalue_of_a_linear_map():
    """x -> A x with A = diag(1.5, 0.5, -0.8): ln|A^T v| <= T ln 1.5 + ln|v| for every v, and
    the rate tends to ln 1.5 (its deficit is ln(|v_1| / |v|) / T, for the component v_1 along the
    top direction)."""
    m = dn.LinearMap(np.diag([1.5, 0.5, -0.8]))
    st = dn.EdgeOfStabilityStudy(map=m, perturber=dn.UniformPerturber(n=2, on="all"), n_init=5,
                                 eps=(1e-8,), n_steps=400, n_steps_long=0).run()
    ftle = st.result_["tangent_ftle"].values
    assert np.all(ftle <= np.log(1.5) + 1e-12)
    assert np.all(ftle > np.log(1.5) - 0.02)


def test_tangent_exponent_survives_save_load_and_refit(eos40, tmp_path):
    p = tmp_path / "eos.nc"
    eos40.save(p)
    t = dn.load(p)
    assert float(t.summary()["tangent_exponent"]) == float(eos40.summary()["tangent_exponent"])
    t.refit()
    np.testing.assert_array_equal(t.result_["tangent_exponent"].values,
                                  eos40.result_["tangent_exponent"].values)


def test_tangent_follows_the_same_reference_orbits(eos40):
    """The orbits stepped by the tangent pass are the ensemble's references: the loss along
    them matches the recorded loss at t = 200 (a different orbit would be O(1) away after
    200 steps at Lambda ~ 0.3)."""
    r = eos40.result_
    m = eos40.parts()["map"]
    x = m.iterate(r["initial_state"].values, 200)
    np.testing.assert_allclose(m.loss(x), r["loss"].values[-1], rtol=1e-12, atol=0)


class _DenseGD(dn.GradientDescentMap):
    """The GD map through the generic path (a dense Jacobian per state)."""

    def jacobian(self, state):
        return super().jacobian(state)


def test_hvp_path_equals_the_dense_jacobian_path():
    m, dense = dn.GradientDescentMap(eta=1.0), _DenseGD(eta=1.0)
    x0 = m.initial_state(3, seed=1)
    v0 = np.random.default_rng(2).standard_normal((3, 83))
    a = tangent_log_growth(m, x0, v0, 30, every=3)
    b = tangent_log_growth(dense, x0, v0, 30, every=3)
    assert a.shape == (11, 3) and np.all(a[0] == 0.0)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    assert np.ptp(a[-1]) > 0.1  # the networks differ, so the comparison means something


def test_tangent_growth_of_the_logistic_map_is_ln2():
    """r = 4: the Lyapunov exponent is ln 2 (Ulam and von Neumann); any map with a Jacobian."""
    m = dn.LogisticMap(r=4.0)
    x0 = np.random.default_rng(0).uniform(0.1, 0.9, size=(4, 1))
    logn = tangent_log_growth(m, x0, np.ones((4, 1)), 4000)
    rate = logn[-1] / 4000
    assert np.all(np.abs(rate - np.log(2)) < 0.02)  # finite-time sd about 0.01 at 4000 steps


def test_tangent_log_growth_refuses_bad_input():
    with pytest.raises(ValueError, match="vectors \\[1\\] are zero"):
        tangent_log_growth(dn.LogisticMap(), [[0.3], [0.4]], [[1.0], [0.0]], 5)
    with pytest.raises(ValueError, match="shape of states"):
        tangent_log_growth(dn.LogisticMap(), [[0.3], [0.4]], [[1.0]], 5)
