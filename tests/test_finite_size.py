"""FiniteSizeLyapunov: the threshold-crossing finite-size Lyapunov exponent (Aurell et al. 1997)."""

import numpy as np
import pytest
import xarray as xr

import dynnet as dn
from dynnet.testing import parametrize_with_checks

HENON_EXPONENT = 0.4192  # Henon a = 1.4, b = 0.3 (Sprott's tables: 0.41922)


def _distances(m, n_init, n_pert, eps, n_steps, n_transient=100, seed=0):
    """L1 distances (n_steps + 1, n_init, n_pert) of copies in an eps box, on the attractor."""
    rng = np.random.default_rng(seed)
    x0 = m.iterate(m.initial_state(n_init, seed=seed), n_transient)
    ref = m.trajectory(x0, n_steps)
    pert = x0[:, None, :] + eps * rng.uniform(-1.0, 1.0, (n_init, n_pert, m.dim))
    tr = m.trajectory(pert.reshape(-1, m.dim), n_steps).reshape(n_steps + 1, n_init, n_pert, m.dim)
    return np.abs(tr - ref[:, :, None, :]).sum(axis=-1)


@parametrize_with_checks([dn.FiniteSizeLyapunov(), dn.FiniteSizeLyapunov(r=np.sqrt(2.0), small_scale=1e-2)])
def test_conformance(obj, check):
    check(obj)


# Tolerances, measured over seeds 0-9 of this set-up (300 orbits x 4 copies, 100 steps): on the
# logistic map the error is +0.0026 (sd 0.0012) at eps = 1e-12 and +0.0041 (sd 0.0021) at 1e-10;
# on Henon +0.0010 (sd 0.0025) and +0.0005 (sd 0.0023). 0.01 is at least 3 sd beyond each mean.

@pytest.mark.parametrize("eps", [1e-12, 1e-10])
def test_logistic_map_small_scale_fsle_is_ln2(eps):
    d = _distances(dn.LogisticMap(), 300, 4, eps, 100)
    f = dn.FiniteSizeLyapunov().fit(d)
    assert abs(f.exponent_ - np.log(2.0)) < 0.01
    assert f.n_small_ >= 15
    # at large scales the distance saturates and lambda(d) falls
    assert f.fsle_[-1] < 0.7 * f.exponent_
    assert np.all(np.isfinite(f.exponents_)) and f.exponents_.shape == (300,)


@pytest.mark.parametrize("eps", [1e-12, 1e-10])
def test_henon_small_scale_fsle_is_its_exponent(eps):
    d = _distances(dn.HenonMap(), 300, 4, eps, 100)
    f = dn.FiniteSizeLyapunov().fit(d)
    assert abs(f.exponent_ - HENON_EXPONENT) < 0.01


def test_thresholds_and_crossing_times_of_a_known_curve():
    # d(t) = 1e-8 * 3^t for one member: lambda(d) = ln 3 at every scale, T_r = ln 2 / ln 3
    t = np.arange(12.0)
    d = (1e-8 * 3.0 ** t)[:, None]
    f = dn.FiniteSizeLyapunov(d0=2e-8, small_scale=1.0).fit(d)
    np.testing.assert_allclose(f.thresholds_, 2e-8 * 2.0 ** np.arange(f.thresholds_.size))
    np.testing.assert_allclose(f.mean_time_, np.log(2.0) / np.log(3.0), rtol=1e-12)
    np.testing.assert_allclose(f.fsle_, np.log(3.0), rtol=1e-12)
    assert f.exponent_ == pytest.approx(np.log(3.0), rel=1e-12)
    # time units: records two steps apart halve the rate
    g = dn.FiniteSizeLyapunov(d0=2e-8, small_scale=1.0, every=2).fit(d)
    assert g.exponent_ == pytest.approx(np.log(3.0) / 2.0, rel=1e-12)
    h = dn.FiniteSizeLyapunov(d0=2e-8, small_scale=1.0).fit(d, steps=2.0 * t)
    assert h.exponent_ == pytest.approx(g.exponent_, rel=1e-12)


def test_fast_burst_then_drift_is_counted_by_its_crossing_times():
    # the fragile case of issue 22: growth by e^14 within 28 steps, then a slow drift; the crossing
    # times see the burst (rate 0.5) at every small scale, whatever the fit windows would pick
    t = np.arange(201.0)
    logd = np.where(t <= 28, np.log(1e-8) + 0.5 * t, np.log(1e-8) + 14.0 + 0.01 * (t - 28))
    d = np.exp(logd)[:, None, None] * np.ones((1, 2, 3))
    f = dn.FiniteSizeLyapunov(d0=1e-7, small_scale=1e-3).fit(d)
    assert f.exponent_ == pytest.approx(0.5, rel=1e-9)


def test_diverged_members_are_excluded_and_counted():
    d = _distances(dn.LogisticMap(), 10, 4, 1e-10, 60)
    d[5:, 2, 1] = np.nan
    f = dn.FiniteSizeLyapunov().fit(d)
    assert f.n_excluded_ == 1 and np.isfinite(f.exponent_)


def test_nan_exponent_warns_with_its_reason():
    d = np.full((20, 3, 2), 1e-8)  # nothing grows
    with pytest.warns(dn.NoExponentWarning, match=r"exponent_ is NaN: no two thresholds fit"):
        f = dn.FiniteSizeLyapunov().fit(d)
    assert np.isnan(f.exponent_) and np.isnan(f.summary()["exponent"])
    with pytest.warns(RuntimeWarning, match="every member has a NaN or infinite distance"):
        dn.FiniteSizeLyapunov().fit(np.full((20, 3), np.inf))
    with pytest.warns(RuntimeWarning, match="every initial distance is 0"):
        dn.FiniteSizeLyapunov().fit(np.zeros((20, 3)))


def test_parameters_are_validated_when_fitting():
    d = np.exp(0.3 * np.arange(50.0))[:, None] * 1e-8
    with pytest.raises(ValueError, match="r"):
        dn.FiniteSizeLyapunov(r=1.0).fit(d)
    with pytest.raises(ValueError, match="d0"):
        dn.FiniteSizeLyapunov(d0=-1.0).fit(d)
    with pytest.raises(ValueError, match="distances must be >= 0"):
        dn.FiniteSizeLyapunov().fit(-d)
    with pytest.raises(TypeError, match="takes no map"):
        dn.FiniteSizeLyapunov().fit(d, map=dn.LogisticMap())


def test_fit_result_reads_a_perturbation_result_like_finite_lyapunov():
    d = _distances(dn.HenonMap(), 20, 5, 1e-10, 80)
    steps = np.arange(d.shape[0]) * 1.0
    ds = xr.Dataset({"distance": (("init", "step", "pert"), d.transpose(1, 0, 2))},
                    coords={"step": steps})
    a = dn.FiniteSizeLyapunov().fit_result(ds)
    b = dn.FiniteSizeLyapunov().fit(d, steps=steps)
    assert a.exponent_ == b.exponent_
    np.testing.assert_array_equal(a.fsle_, b.fsle_)
    with pytest.raises(ValueError, match="FiniteSizeLyapunov: the result has no 'distance'"):
        dn.FiniteSizeLyapunov().fit_result(xr.Dataset())


def test_registered_as_a_plugin_and_exported():
    import pathlib

    tomllib = pytest.importorskip("tomllib" if __import__("sys").version_info >= (3, 11) else "tomli")
    assert "FiniteSizeLyapunov" in dn.__all__
    assert "FiniteSizeLyapunov" in dn.estimators.__all__
    # the entry point (an editable install lists it once reinstalled; the source is pyproject.toml)
    root = pathlib.Path(dn.__file__).parent.parent
    eps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]
    assert eps["dynnet.estimators"]["finite-size-lyapunov"] == "dynnet.estimators.lyapunov:FiniteSizeLyapunov"


def test_a_study_feeds_it_as_it_feeds_finite_lyapunov():
    s = dn.PerturbationStudy(estimators=[dn.FiniteLyapunov(), dn.FiniteSizeLyapunov()], n_init=5,
                             n_steps=100).run(progress=False)
    direct = dn.FiniteSizeLyapunov().fit(s.result_["distance"].transpose("step", "init", "pert").values)
    got = float(s.summary()["finitesizelyapunov.exponent"])
    assert got == direct.exponent_ and 0.1 < got < 0.5
