"""dynnet-sgd maps: the conformance suite, and known answers."""

import ast
import importlib.metadata
import inspect
from pathlib import Path

import numpy as np
import pytest

import dynnet as dn
import dynnet_sgd
from dynnet.testing import parametrize_with_checks
from dynnet_sgd import NETWORK_PARAMS, AdamMap, MomentumMap, SGDMap, network_gradient


@parametrize_with_checks([SGDMap(), SGDMap(eta=0.5, batch_size=7, batch_seed=3),
                          MomentumMap(), MomentumMap(beta=0.0), AdamMap()])
def test_conformance(obj, check):
    check(obj)


def test_network_gradient_flags_diverged_members():
    gd = dn.GradientDescentMap()
    x = gd.initial_state(3, seed=0)
    x[1] = np.nan
    g = network_gradient(gd, x)
    assert np.all(np.isnan(g[1]))
    np.testing.assert_array_equal(g[[0, 2]], gd.gradient(x[[0, 2]]))


def test_batch_gradient_and_hessian_are_means_over_samples():
    gd = dn.GradientDescentMap()
    x = gd.initial_state(1, seed=1)
    rows = np.array([3, 17, 40, 99])
    per = np.stack([gd.gradient(x, rows=np.array([r]))[0] for r in rows])
    np.testing.assert_allclose(gd.gradient(x, rows=rows)[0], per.mean(axis=0), rtol=1e-12, atol=1e-16)
    perH = np.stack([gd.hessian(x[0], rows=np.array([r])) for r in rows])
    np.testing.assert_allclose(gd.hessian(x[0], rows=rows), perH.mean(axis=0), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gd.hessian(x[0], rows=np.arange(120)), gd.hessian(x[0]),
                               rtol=1e-12, atol=1e-15)


def test_sgd_step_is_gd_on_its_batch():
    m = SGDMap(eta=0.5, batch_size=20, batch_seed=2)
    gd = dn.GradientDescentMap(eta=0.5)
    x = m.initial_state(2, seed=0)
    x[:, -1] = 4.0
    y = m.step(x)
    np.testing.assert_array_equal(y[:, :-1], x[:, :-1] - 0.5 * gd.gradient(x[:, :-1], rows=m.batch(4)))
    assert np.all(y[:, -1] == 5.0)


def test_sgd_batches_are_a_function_of_seed_and_step_and_cover_each_epoch():
    m = SGDMap(batch_size=20, batch_seed=5)
    epoch = np.concatenate([m.batch(t) for t in range(6)])
    assert np.array_equal(np.sort(epoch), np.arange(120))  # 6 batches partition the 120 samples
    assert np.array_equal(m.batch(7), SGDMap(batch_size=20, batch_seed=5).batch(7))
    assert not np.array_equal(m.batch(0), SGDMap(batch_size=20, batch_seed=6).batch(0))
    assert not np.array_equal(np.sort(m.batch(0)), np.sort(m.batch(6)))  # next epoch reshuffled


def test_full_batch_sgd_is_gradient_descent():
    gd = dn.GradientDescentMap(eta=0.7)
    sgd = SGDMap(eta=0.7, batch_size=120)
    w = gd.initial_state(4, seed=2)
    x = np.concatenate([w, np.zeros((4, 1))], axis=1)
    out = sgd.iterate(x, 10)
    np.testing.assert_allclose(out[:, :-1], gd.iterate(w, 10), rtol=1e-11, atol=1e-13)
    np.testing.assert_array_equal(out[:, -1], 10.0)


def test_momentum_with_beta_zero_is_gradient_descent_and_matches_closed_form_step():
    gd = dn.GradientDescentMap(eta=0.5)
    w = gd.initial_state(2, seed=3)
    x = np.concatenate([w, np.zeros_like(w)], axis=1)
    out = MomentumMap(eta=0.5, beta=0.0).iterate(x, 5)
    np.testing.assert_allclose(out[:, :83], gd.iterate(w, 5), rtol=1e-11, atol=1e-13)
    v = np.full_like(w, 0.01)
    y = MomentumMap(eta=0.5, beta=0.8).step(np.concatenate([w, v], axis=1))
    v1 = 0.8 * v - 0.5 * gd.gradient(w)
    np.testing.assert_allclose(y, np.concatenate([w + v1, v1], axis=1), rtol=1e-12, atol=1e-15)


def test_adam_first_step_is_eta_times_sign_of_the_gradient():
    """With m = v = 0 and t = 0, the bias-corrected first step is eta * g / (|g| + eps)."""
    m = AdamMap(eta=0.01, epsilon=1e-8)
    x = m.initial_state(2, seed=4)
    g = dn.GradientDescentMap().gradient(x[:, :83])
    y = m.step(x)
    np.testing.assert_allclose(y[:, :83], x[:, :83] - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(y[:, -1], 1.0)


def test_momentum_jacobian_eigenvalues_from_hessian():
    """Each Hessian eigenvalue h gives Jacobian eigenvalues solving
    mu^2 - (1 + beta - eta h) mu + beta = 0."""
    m = MomentumMap(eta=0.3, beta=0.5)
    x = m.initial_state(1, seed=0)[0]
    h = np.linalg.eigvalsh(m.network().hessian(x[:83]))
    mu = np.linalg.eigvals(m.jacobian(x))
    expected = np.concatenate([np.roots([1.0, -(1.5 - 0.3 * hi), 0.5]) for hi in h])
    np.testing.assert_allclose(np.sort_complex(mu), np.sort_complex(expected), atol=1e-9)


def test_plugin_registered_and_study_runs():
    pytest.importorskip("importlib.metadata")
    dn.plugins.refresh()
    if dn.plugins.available("dynnet.maps").get("sgd") != "dynnet-sgd":
        pytest.skip("dynnet-sgd is not installed (pip install ./plugins/dynnet-sgd)")
    assert dn.plugins.load("dynnet.maps", "sgd") is SGDMap
    s = dn.PerturbationStudy(map=SGDMap(), n_init=3, n_steps=20, seed=0).run()
    d = s.result_["distance"].values
    assert d.shape == (21, 3, 5) and np.all(np.isfinite(d)) and np.all(d > 0)


@pytest.mark.parametrize("cls", [SGDMap, MomentumMap, AdamMap])
def test_network_parameters_have_the_gradient_descent_defaults(cls):
    """The maps take every data parameter of GradientDescentMap (stratify included) with
    its default, so a default plugin map trains the same network on the same split."""
    gd = inspect.signature(dn.GradientDescentMap.__init__).parameters
    own = inspect.signature(cls.__init__).parameters
    for name in NETWORK_PARAMS:
        if name != "eta":  # Adam's learning rate has its own default
            assert own[name].default == gd[name].default, name
    assert set(NETWORK_PARAMS) <= set(gd)


@pytest.mark.parametrize("stratify", [True, False])
def test_stratify_reaches_the_network(stratify):
    m = MomentumMap(stratify=stratify)
    X, y = m.network().data("train")
    X_gd, y_gd = dn.GradientDescentMap(stratify=stratify).data("train")
    np.testing.assert_array_equal(X, X_gd)
    np.testing.assert_array_equal(y, y_gd)
    assert m.network().stratify is stratify
    other = dn.GradientDescentMap(stratify=not stratify).data("train")[1]
    assert not np.array_equal(y, other)  # the two splits differ, so the test can tell them apart
    # set_params changes the network too
    m.set_params(stratify=not stratify)
    np.testing.assert_array_equal(m.network().data("train")[1], other)


def test_editing_the_data_in_place_reaches_the_network():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.arange(40) % 2
    m = SGDMap(dataset=(X, y), test_size=0, batch_size=40)
    x = m.initial_state(2, seed=0)
    before = m.observables(x)["loss"]
    X *= 3.0  # the same array object, new numbers
    after = m.observables(x)["loss"]
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, dn.GradientDescentMap(
        dataset=(X.copy(), y), test_size=0).loss(x[:, :-1]))


def test_only_public_dynnet_api():
    """Every private name (``_x``) the package touches is one it defines itself, or the
    conformance suite's documented hook ``_check_states``."""
    src = Path(dynnet_sgd.__file__).parent
    tree = {p.name: ast.parse(p.read_text()) for p in src.glob("*.py")}
    own = {n.name for t in tree.values() for n in ast.walk(t)
           if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | {"_check_states"}
    used = {(f, n.attr) for f, t in tree.items() for n in ast.walk(t)
            if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")}
    assert {a for _, a in used} <= own, sorted(used)
    imported = {(n.module, a.name) for t in tree.values() for n in ast.walk(t)
                if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("dynnet")
                for a in n.names}
    assert all(not name.startswith("_") for _, name in imported), imported


def test_version_has_one_source():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "dynnet_sgd._version.__version__" in pyproject
    try:
        installed = importlib.metadata.version("dynnet-sgd")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("dynnet-sgd is not installed")
    assert installed == dynnet_sgd.__version__


@pytest.mark.parametrize("cls", [SGDMap, MomentumMap, AdamMap])
def test_the_maps_run_in_the_orbital_study(cls):
    """The study reads the loss by capability: every optimiser map has the network's loss."""
    m = cls(hidden=(2,))
    W = m.initial_state(2, seed=0)
    np.testing.assert_array_equal(m.loss(W), m.network().loss(m.weights(W)))
    s = dn.OrbitalStabilityStudy.quick(map=m, n_init=2, n_steps=10, every=1).run()
    assert np.isfinite(s.summary()["final_loss_mean"].values)
    assert not s.result_["reference_diverged"].values.any()


def test_adam_refuses_a_negative_second_moment_with_one_line():
    """on='all' perturbs Adam's v below 0 (sqrt of a negative): refused, naming the fix."""
    s = dn.PerturbationStudy(map=AdamMap(hidden=(2,)), perturber=dn.UniformPerturber(n=2, on="all"),
                             n_init=2, n_steps=5)
    with pytest.raises(ValueError, match="second moment v is negative.*on='params'") as info:
        s.run()
    assert "\n" not in str(info.value)
    ok = dn.PerturbationStudy(map=AdamMap(hidden=(2,)), perturber=dn.UniformPerturber(n=2, on="params"),
                              n_init=2, n_steps=5).run()
    assert not ok.result_["diverged"].values.any()
