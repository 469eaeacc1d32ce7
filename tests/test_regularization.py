"""RegularizationStudy: lambda_nMLE and the orbital-stability measures against the weight decay."""

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet.studies.regularization import RegularizationStudy, regularization_summary
from dynnet.testing import check_study

SMALL = {"weight_decays": (0.0, 0.1), "n_init": 3, "n_steps": 150,
         "perturber": dn.UniformPerturber(eps=1e-8, n=2, on="weights")}


@pytest.fixture(scope="module")
def small():
    return RegularizationStudy(**SMALL).run()


def test_conformance():
    check_study(RegularizationStudy(**{**SMALL, "weight_decays": (0.0, 1e-2), "n_init": 2, "n_steps": 60}))


def test_quick_preset_runs_and_has_every_summary_key():
    s = RegularizationStudy.quick().run()
    summ = s.summary()
    for key in ("mle", "kept_fraction", "mle_change", "mle_change_se", "n_paired", "d_final_over_d_0",
                "log_growth_median", "d_max_over_d_0", "loss_monotone_fraction", "weight_norm_growth",
                "final_loss", "test_accuracy", "max_decay", "mle_change_at_max_decay", "mle_change_z",
                "lowest_lowering_decay",
                "mle_change_z_at_max_decay", "finitelyapunov.mle"):
        assert key in summ, key
    assert len(s.plot()) == 2


def test_records_shapes(small):
    r = small.result_
    assert r["distance"].dims == ("weight_decay", "step", "init", "pert")
    assert r["distance"].shape == (2, 151, 3, 2)
    assert r["loss"].shape == r["weight_norm"].shape == (2, 151, 3)
    assert r["exponent"].shape == r["kept"].shape == (2, 3)


def test_weight_decay_changes_the_orbits_and_shrinks_the_weights(small):
    """The study must train the regularised loss: with mu = 0.1 the weights shrink (each step
    multiplies them by 1 - eta*mu = 0.9 besides the gradient) and the orbits differ."""
    r = small.result_
    wn = r["weight_norm"].values
    assert not np.array_equal(r["distance"].values[0], r["distance"].values[1])
    assert np.all(wn[1, -1] < wn[0, -1])
    assert np.all(wn[1, -1] < wn[1, 0])


def test_the_trained_loss_is_the_regularised_one(small):
    """The reference orbit at mu = 0.1 is GD on L + (mu/2) sum w^2: the recorded loss at step 0
    exceeds the plain loss by (mu/2) * sum of the squared weights (biases excluded)."""
    r = small.result_
    m = dn.GradientDescentMap(eta=1.0)
    x0 = r["initial_state"].values
    w = m.mask("weights")
    plain = m.loss(x0)
    np.testing.assert_allclose(r["loss"].values[0, 0], plain, rtol=1e-12)
    np.testing.assert_allclose(r["loss"].values[1, 0], plain + 0.05 * (x0[:, w] ** 2).sum(axis=1), rtol=1e-10)


def test_zero_decay_is_the_paper_map():
    """mu = 0 reproduces a plain perturbation study of the paper's map, bit for bit."""
    s = RegularizationStudy(**{**SMALL, "weight_decays": (0.0,)}).run()
    p = dn.PerturbationStudy(map=dn.GradientDescentMap(eta=1.0), perturber=SMALL["perturber"],
                             metric=dn.L1(), n_init=3, n_steps=150, seed=0,
                             initial_states=s.result_["initial_state"].values).run()
    np.testing.assert_array_equal(s.result_["distance"].values[0],
                                  p.result_["distance"].transpose("step", "init", "pert").values)


def test_lambda_columns_are_finite_lyapunov_on_the_distances(small):
    r = small.result_
    for k in range(r.sizes["weight_decay"]):
        f = dn.FiniteLyapunov().fit(r["distance"].values[k], steps=r["step"].values.astype(float))
        np.testing.assert_array_equal(r["exponent"].values[k], f.exponents_)
        np.testing.assert_array_equal(r["kept"].values[k], f.kept_)
        assert np.array_equal(r["finitelyapunov.mle"].values[k], f.mle_, equal_nan=True)


def _synthetic(d, decays, lam=None, kept=None):
    d = np.asarray(d, dtype=float)
    n_v, n_rec, n_init, n_pert = d.shape
    diverged = np.zeros((n_v, n_init, 1 + n_pert), bool)
    ds = xr.Dataset({"distance": (("weight_decay", "step", "init", "pert"), d),
                     "diverged": (("weight_decay", "init", "member"), diverged)},
                    coords={"weight_decay": np.asarray(decays, float), "step": np.arange(n_rec)})
    if lam is not None:
        ds["exponent"] = (("weight_decay", "init"), np.asarray(lam, float))
        ds["kept"] = (("weight_decay", "init"), np.asarray(kept, bool))
    return ds


def test_summary_on_known_records():
    d = np.ones((2, 3, 2, 2))
    d[0, -1] = 100.0  # mu = 0: every distance grows 100-fold
    d[1, 1] = 10.0  # mu = 0.01: a bump, then back
    lam = [[0.3, 0.5, 0.2], [0.1, 0.4, 0.9]]
    kept = [[True, True, False], [True, True, True]]
    d3 = np.ones((2, 3, 3, 2))
    d3[:, :, :2] = d
    out = regularization_summary(_synthetic(d3, (0.0, 0.01), lam, kept))
    np.testing.assert_allclose(out["d_final_over_d_0"][1], [(2 * 100 + 1) / 3, 1.0])
    np.testing.assert_allclose(out["d_max_over_d_0"][1], [(2 * 100 + 1) / 3, (2 * 10 + 1) / 3])
    np.testing.assert_allclose(out["log_growth_median"][1], [np.log(100.0), 0.0])
    # paired over the networks kept at both: 0 and 1
    np.testing.assert_allclose(out["mle_change"][1], [0.0, np.mean([0.1 - 0.3, 0.4 - 0.5])])
    np.testing.assert_allclose(out["mle_change_se"][1][1], np.std([-0.2, -0.1], ddof=1) / np.sqrt(2))
    assert out["n_paired"][1].tolist() == [2, 2]
    assert out["max_decay"][1] == 0.01
    assert out["mle_change_at_max_decay"][1] == pytest.approx(-0.15)
    assert out["mle_change_z_at_max_decay"][1] == pytest.approx(-0.15 / (np.std([-0.2, -0.1], ddof=1)
                                                                         / np.sqrt(2)))
    assert np.isnan(out["mle_change_z"][1][0])  # no spread at mu = 0 itself
    assert out["mle_change_z"][1][1] == pytest.approx(-3.0)
    assert out["lowest_lowering_decay"][1] == 0.01


def test_summary_without_zero_decay_has_no_paired_change():
    out = regularization_summary(_synthetic(np.ones((2, 3, 2, 1)), (1e-3, 1e-2), [[0.2, 0.3]] * 2,
                                            [[True, True]] * 2))
    assert np.all(np.isnan(out["mle_change"][1])) and out["n_paired"][1].tolist() == [0, 0]
    assert np.isnan(out["mle_change_at_max_decay"][1]) and np.isnan(out["lowest_lowering_decay"][1])


@given(st.lists(st.floats(1e-12, 1e6), min_size=3, max_size=10), st.floats(1e-3, 1e3))
def test_growth_measures_are_scale_free(series, c):
    """d(T)/d(0) and its log are ratios: scaling every distance by c changes neither."""
    d = np.asarray(series)[None, :, None, None]
    a = regularization_summary(_synthetic(d, (0.0,)))
    b = regularization_summary(_synthetic(c * d, (0.0,)))
    for key in ("d_final_over_d_0", "d_max_over_d_0", "log_growth_median"):
        np.testing.assert_allclose(a[key][1], b[key][1], rtol=1e-9, atol=1e-12)
    assert a["d_max_over_d_0"][1][0] >= a["d_final_over_d_0"][1][0] * (1 - 1e-12)


@pytest.mark.parametrize("params, match", [
    ({"weight_decays": (0.0, -1e-3)}, "weight_decays"),
    ({"weight_decays": (1e-3, 1e-3)}, "repeats a value"),
    ({"weight_decays": ()}, "weight_decays"),
    ({"every": 7}, "not a multiple of every=7"),
])
def test_bad_parameters_are_refused_naming_them(params, match):
    with pytest.raises(ValueError, match=match):
        RegularizationStudy(**{**SMALL, **params}).run()


def test_a_map_without_weight_decay_is_refused():
    with pytest.raises(ValueError, match="no weight_decay"):
        RegularizationStudy(map=dn.HenonMap(), n_init=1, n_steps=100).run()
