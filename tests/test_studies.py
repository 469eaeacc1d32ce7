"""The paper's studies: quick presets, shapes, attrs, save/load, invariances."""

import numpy as np
import pytest

import dynnet as dn


@pytest.fixture(scope="module")
def edge():
    return dn.EdgeOfStabilityStudy.quick(n_init=12).run()


def test_edge_quick_shapes_attrs_and_estimates(edge):
    r = edge.result_
    assert r["distance"].dims == ("eps", "step", "init", "pert")
    assert r["distance"].shape == (3, 201, 12, 5)
    assert r["exponent"].shape == (3, 12) and r["mle"].shape == (3,)
    assert r.attrs["param.map__eta"] == 1.0 and r.attrs["param.n_init"] == 12
    assert r.attrs["dynnet_version"] == dn.__version__ and "seed_entropy" in r.attrs
    s = edge.summary().sel(eps=1e-12)
    # lambda_nMLE is the mean of the kept exponents, the kept fraction their share
    kept = r["kept"].sel(eps=1e-12).values
    assert float(s["finitelyapunov.mle"]) == pytest.approx(r["exponent"].sel(eps=1e-12).values[kept].mean(),
                                                           rel=1e-12)
    assert float(s["finitelyapunov.kept_fraction"]) == kept.mean()
    assert len(edge.estimators_) == 3


def test_edge_save_load_round_trip(edge, tmp_path):
    p = tmp_path / "eos.nc"
    edge.save(p)
    t = dn.load(p)
    assert type(t) is dn.EdgeOfStabilityStudy
    np.testing.assert_array_equal(t.result_["distance"].values, edge.result_["distance"].values)
    assert t.summary().identical(edge.summary())
    assert len(t.plot()) == 3  # Figs. 7 and 8, and the long horizon


def test_edge_jobs_do_not_change_bits():
    a = dn.EdgeOfStabilityStudy.quick(n_init=6, eps=(1e-8,), n_steps=60).run()
    b = dn.EdgeOfStabilityStudy.quick(n_init=6, eps=(1e-8,), n_steps=60).run(n_jobs=2, chunk_size=2)
    np.testing.assert_array_equal(a.result_["distance"].values, b.result_["distance"].values)


def test_orbital_quick_monotone_loss_and_drift():
    s = dn.OrbitalStabilityStudy.quick().run()
    r = s.result_
    assert r["distance"].shape[:2] == (2, 81)  # 2 eps, 400 steps recorded every 5
    loss = r["loss"].values
    assert np.all(np.diff(loss, axis=0) < 0), "the loss must decrease monotonically at eta = 0.01"
    assert bool(r["loss_monotone"].all())
    w = s.parts()["map"].mask("weights")
    assert np.all(np.isfinite(r["importance"].values[:, w]))
    assert np.all(np.isnan(r["importance"].values[:, ~w]))
    assert np.all(np.isfinite(r["drift_slope"].values))
    assert float(s.summary()["loss_monotone_fraction"]) == 1.0
    assert len(s.plot()) == 4  # Figs. 3, 4, 5 and 2


def test_post_learning_quick_spectrum():
    s = dn.PostLearningStudy.quick().run()
    r = s.result_
    assert r["distance"].shape == (2, 201, 3, 5)
    assert r["jacobian_eigenvalues"].shape == (3, 83)
    # the Jacobian spectrum is that of I - eta H at the perturbation point, and its
    # count at 1 is what it says
    mu = np.sort(r["jacobian_eigenvalues"].values, axis=1)
    m = dn.GradientDescentMap(eta=0.01)
    h0 = np.linalg.eigvalsh(m.hessian(r["perturbed_state"].values[0]))
    np.testing.assert_allclose(mu[0], np.sort(1 - 0.01 * h0), atol=1e-12)
    np.testing.assert_allclose(np.sort(r["hessian_eigenvalues"].values[0]), h0, atol=1e-9)
    tol = r["tol"].values
    np.testing.assert_array_equal(r["n_unit"].values,
                                  (np.abs(mu[:, :, None] - 1) <= tol).sum(axis=1))
    # the counts at initialisation are those of I - eta H at the start state, computed here
    mu0 = 1 - 0.01 * np.linalg.eigvalsh(m.hessian(r["start_state"].values[1]))
    np.testing.assert_array_equal(r["n_unit_initial"].values[1],
                                  (np.abs(mu0[:, None] - 1) <= tol).sum(axis=0))
    np.testing.assert_allclose(r["grad_norm"].values[0],
                               np.linalg.norm(m.gradient(r["perturbed_state"].values[0])), rtol=1e-12)
    s.summary()
    assert len(s.plot()) == 2


def test_intermittency_quick():
    s = dn.IntermittencyStudy.quick().run()
    r = s.result_
    assert r["loss"].shape == (1501, 3)
    assert r["compare_loss"].shape == (3, 1501, 3)
    assert r["weights"].shape == (1501, 1, 83)
    assert r["acf"].dims == ("init", "lag")
    assert r["projection"].shape == (1501, 3)
    v = r["projection_vector"].values
    np.testing.assert_allclose(r["projection"].values[:, 0], r["weights"].values[:, 0] @ v, rtol=1e-12)
    assert r["laminar_steps_by_period_weights"].dims == ("init", "period")
    out = s.summary()
    assert "weights_inits_with_period3_phases" in out
    assert int(out["hvg_verdict_count"].sum()) == 3
    assert len(s.plot()) == 5


def test_eta_scan_quick_regimes():
    s = dn.EtaScanStudy.quick().run()
    r = s.result_
    assert list(r["eta"].values) == [0.01, 0.3, 1.0, 5.0]
    assert r["regime"].values[0] == "convergent"
    assert r["mle"].values[2] > 0.1  # chaos at eta = 1
    assert r["sharpness_ratio"].values[0] < 1.0  # far below 2/eta at eta = 0.01
    assert len(s.plot()) == 1


def test_study_parameters_and_clone():
    s = dn.EdgeOfStabilityStudy()
    assert s.get_params()["n_init"] == 500 and len(s.eps) == 14
    c = dn.clone(s).set_params(map__eta=2.0, n_init=5)
    assert c.map.eta == 2.0 and s.map is None
    with pytest.raises(ValueError, match="eps"):
        dn.EdgeOfStabilityStudy(eps=(-1.0,), n_init=2).run()
    with pytest.raises(RuntimeError, match="not been run"):
        dn.EdgeOfStabilityStudy().summary()


def test_balanced_classes_hide_a_period_3_weight_cycle_in_the_loss():
    """At eta = 5 saturated networks cycle with period 3 in weight space. With the
    class-balanced split (40/40/40) the loss barely changes along the cycle, so it looks
    period 1; with the authors' unbalanced split (stratify=False) it changes by > 5%."""
    rel = {}
    for stratify in (True, False):
        m = dn.GradientDescentMap(eta=5.0, stratify=stratify)
        x0 = m.initial_state(20, seed=np.random.SeedSequence(0, spawn_key=(0,)))
        tr = m.trajectory(m.iterate(x0, 4000), 3)
        back = np.abs(tr[3] - tr[0]).max(axis=1)      # W(t+3) ~ W(t) ...
        moved = np.abs(tr[1] - tr[0]).max(axis=1)     # ... while W(t+1) is far from W(t)
        cyc = np.flatnonzero((back < 1e-3) & (moved > 1.0))
        assert cyc.size >= 3, "expected period-3 weight cycles at eta = 5"
        loss = m.loss(tr[:2, cyc].reshape(-1, 83)).reshape(2, -1)
        rel[stratify] = np.abs(loss[1] - loss[0]) / loss[0]
    assert np.all(rel[True] < 1e-4)
    assert np.all(rel[False] > 0.05)
    assert np.bincount(dn.GradientDescentMap(stratify=False).data("train")[1]).tolist() != [40, 40, 40]


def test_headline_rows_read_each_eps_of_the_summary(edge):
    from dynnet.reproduce import headline_rows

    rows = {r["key"]: r for r in headline_rows({"edge": edge})}
    s = edge.summary()
    a, b = rows["edge.mle[eps=1e-12]"], rows["edge.mle[eps=1e-08]"]
    assert a["dynnet"] == f"{float(s['finitelyapunov.mle'].sel(eps=1e-12)):.3f}"
    assert b["dynnet"] == f"{float(s['finitelyapunov.mle'].sel(eps=1e-8)):.3f}"
    assert a["dynnet"] != b["dynnet"]
    # the verdict follows from the stated rule: 0.33 inside the 95% interval
    lo, hi = (float(s[f"finitelyapunov.mle_ci_{k}"].sel(eps=1e-12)) for k in ("low", "high"))
    assert a["verdict"] == ("yes" if lo <= 0.33 <= hi else "no")
    assert b["verdict"] == "n/a" and b["rule"] == "the paper's number is for eps -> 0"


def test_orbital_reports_the_supplementary_metrics_and_the_fig2_data():
    s = dn.OrbitalStabilityStudy.quick(n_init=2, n_steps=100, eps=(1e-8,)).run()
    r, m = s.result_, s.parts()["map"]
    W = r["final_reference"].values
    np.testing.assert_array_equal(r["train_accuracy"].values, m.accuracy(W, split="train"))
    np.testing.assert_array_equal(r["test_loss"].values, m.loss(W, split="test"))
    X_tr, y_tr = m.data("train")
    n = y_tr.size
    np.testing.assert_array_equal(r["sample_features"].values[:n], X_tr)
    assert (r["sample_split"].values == 1).sum() == m.data("test")[1].size
    wrong = (r["predicted_class"].values[:, :n] != y_tr).mean(axis=1)
    np.testing.assert_allclose(1 - wrong, r["train_accuracy"].values)
    assert float(s.summary()["test_accuracy_mean"]) == pytest.approx(r["test_accuracy"].values.mean())


def test_edge_long_horizon_continues_the_same_orbits(edge):
    r = edge.result_
    k = int(np.argmin(np.abs(np.log10(r["eps"].values) + 8)))
    n = r.sizes["long_init"]
    assert int(r["long_step"].values[-1]) == 400 and r["long_step"].values[1] == 1
    # the long run starts from the same networks and copies as the sweep at that eps
    np.testing.assert_array_equal(r["long_distance"].values[:201], r["distance"].values[k, :, :n])
    np.testing.assert_array_equal(r["long_loss"].values[:201], r["loss"].values[:, :n])
    assert float(edge.summary()["long_final_loss_median"]) == np.median(r["long_loss"].values[-1])
