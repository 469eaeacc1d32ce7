"""TorchMap: agreement with GradientDescentMap, tangent dynamics, the conformance suite, results."""

import warnings

import dynnet_torch
import numpy as np
import pytest
import torch
from dynnet_torch import ModuleParam, TorchMap, architecture, attach
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
import dynnet.results
from dynnet.base import clone
from dynnet.testing import parametrize_with_checks


def iris_net(act=torch.nn.Sigmoid):
    return torch.nn.Sequential(torch.nn.Linear(4, 10), act(), torch.nn.Linear(10, 3)).double()


def digits_cnn():
    """A small CNN on the 8x8 digits: 2 channels of 3x3, stride 2, then a linear read-out (210 parameters)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, stride=2), torch.nn.Tanh(), torch.nn.Flatten(),
                               torch.nn.Linear(18, 10))


def cnn_map(**kw):
    return TorchMap(module=digits_cnn(), dataset="digits", input_shape=(1, 8, 8), n_samples=120,
                    test_size=20, **kw)


def gd_to_module(gd, w, net):
    """Write GradientDescentMap's flat state into an nn.Sequential of Linear layers (weights transposed)."""
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (W, b) in zip(linears, gd.problem().unpack(np.asarray(w)), strict=True):
            lin.weight.copy_(torch.as_tensor(W.T.copy()))
            lin.bias.copy_(torch.as_tensor(b.copy()))
    return net


def gd_states_as_torch(m, gd, W):
    net = iris_net()
    return np.stack([m.state_of(gd_to_module(gd, w, net)) for w in W])


def rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---- agreement with GradientDescentMap -------------------------------------------------------

@pytest.mark.parametrize("eta", [1.0, 5.0])
def test_iris_network_steps_as_gradient_descent_map(eta):
    gd = dn.GradientDescentMap(eta=eta)
    m = TorchMap(module=iris_net(), eta=eta)
    W = gd.initial_state(6, seed=3)
    x = gd_states_as_torch(m, gd, W)
    assert m.dim == gd.dim == 83
    assert rel(m.step(x), gd_states_as_torch(m, gd, gd.reference_step(W))) <= 1e-12
    for _ in range(20):  # step by step from the same states: every step agrees
        W_next = gd.step(W)
        assert rel(m.step(x), gd_states_as_torch(m, gd, W_next)) <= 1e-12
        W = W_next
        x = gd_states_as_torch(m, gd, W)
    np.testing.assert_allclose(m.loss(x), gd.loss(W), rtol=1e-12)
    np.testing.assert_allclose(m.loss(x, split="test"), gd.loss(W, split="test"), rtol=1e-12)
    np.testing.assert_array_equal(m.accuracy(x, split="test"), gd.accuracy(W, split="test"))
    np.testing.assert_array_equal(m.predict(x), gd.predict(W))


@pytest.mark.parametrize("params", [dict(loss="mse", eta=0.5), dict(weight_decay=0.01, eta=2.0),
                                    dict(stratify=True, scale=True, test_size=0.2),
                                    dict(dataset="wine", n_samples=60, scale=True)])
def test_gradient_descent_map_parameters_have_the_same_meaning(params):
    n_in = {"wine": 13}.get(params.get("dataset"), 4)
    n_out = 3
    gd = dn.GradientDescentMap(**params)
    net = torch.nn.Sequential(torch.nn.Linear(n_in, 10), torch.nn.Sigmoid(),
                              torch.nn.Linear(10, n_out)).double()
    m = TorchMap(module=net, **params)
    for split in ("train", "test"):
        for a, b in zip(m.data(split), gd.data(split), strict=True):
            np.testing.assert_array_equal(a, b)
    W = gd.initial_state(3, seed=1)
    x = np.stack([m.state_of(gd_to_module(gd, w, net)) for w in W])
    y = np.stack([m.state_of(gd_to_module(gd, w, net)) for w in gd.reference_step(W)])
    assert rel(m.step(x), y) <= 1e-12
    np.testing.assert_allclose(m.loss(x), gd.loss(W), rtol=1e-12)


def test_callable_loss_is_used_and_is_the_objective():
    def ce(out, target):
        return torch.nn.functional.cross_entropy(out, target)

    a = TorchMap(module=iris_net(), loss=ce)
    b = TorchMap(module=iris_net())
    x = b.initial_state(3, seed=0)
    np.testing.assert_allclose(a.step(x), b.step(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(a.loss(x), b.loss(x), rtol=1e-14)
    half = TorchMap(module=iris_net(), loss=lambda out, t: 0.5 * ce(out, t))
    np.testing.assert_allclose(half.gradient(x), 0.5 * b.gradient(x), rtol=1e-12, atol=1e-15)


# ---- tangent dynamics --------------------------------------------------------------------------

def _fd_jvp(m, x, V, h=1e-6):
    """Central differences of step along each vector: (g(x + h v) - g(x - h v)) / 2h."""
    E, K, d = V.shape
    plus = (x[:, None, :] + h * V).reshape(-1, d)
    minus = (x[:, None, :] - h * V).reshape(-1, d)
    return ((m.step(plus) - m.step(minus)) / (2 * h)).reshape(E, K, d)


@pytest.mark.parametrize("make", [lambda: TorchMap(module=iris_net(torch.nn.Tanh), eta=0.5), cnn_map],
                         ids=["mlp", "cnn"])
def test_jvp_against_finite_differences_of_step(make):
    m = make()
    x = m.initial_state(3, seed=2)
    rng = np.random.default_rng(11)
    V = rng.standard_normal((3, 4, m.dim))
    V /= np.linalg.norm(V, axis=-1, keepdims=True)
    J = m.jvp(x, V)
    F = _fd_jvp(m, x, V)
    assert J.shape == (3, 4, m.dim)
    assert rel(J, F) <= 1e-6
    H = m.hvp(x, V)
    np.testing.assert_allclose(J, V - m.eta * H, rtol=1e-13, atol=1e-14)
    # the dense Hessian of one member agrees with the products, and is symmetric
    Hd = m.hessian(x[1])
    np.testing.assert_allclose(V[1] @ Hd, H[1], rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(Hd, Hd.T)
    # single-state form
    np.testing.assert_allclose(m.jvp(x[0], V[0]), J[0], rtol=1e-14, atol=1e-15)


def test_jvp_of_a_diverged_member_is_nan_and_the_others_unchanged():
    m = TorchMap(module=iris_net())
    x = m.initial_state(3, seed=0)
    V = np.random.default_rng(1).standard_normal((3, 2, m.dim))
    ref = m.jvp(x, V)
    x[1] = np.nan
    out = m.jvp(x, V)
    assert np.all(np.isnan(out[1]))
    np.testing.assert_array_equal(out[[0, 2]], ref[[0, 2]])


def test_lyapunov_spectrum_and_sharpness_run_on_a_torch_map():
    m = TorchMap(module=iris_net(), eta=1.0)
    x = m.initial_state(2, seed=0)
    ls = dn.LyapunovSpectrum(n_steps=40, n_transient=0, n_exponents=3).fit(x[0], map=m)
    assert ls.exponents_.shape == (3,) and np.all(np.diff(ls.exponents_) <= 1e-12)
    sh = dn.Sharpness().fit(x, map=m)
    top = np.linalg.eigvalsh(m.hessian(x[0]))[-1]
    np.testing.assert_allclose(sh.sharpness_[0], top, rtol=1e-6)


# ---- the conformance suite and the ensemble property -------------------------------------------

@parametrize_with_checks([TorchMap(module=iris_net()),
                          TorchMap(module=iris_net(torch.nn.Tanh), eta=3.0, loss="mse", weight_decay=1e-3),
                          cnn_map(eta=0.5)])
def test_conformance(obj, check):
    check(obj)


_PROP_MAP = TorchMap(module=iris_net(), eta=3.0)


@given(n_others=st.integers(0, 12), position=st.integers(0, 12), seed=st.integers(0, 2**31),
       n_steps=st.integers(1, 6))
def test_a_members_trajectory_does_not_depend_on_its_ensemble(n_others, position, seed, n_steps):
    m = _PROP_MAP
    member = m.initial_state(1, seed=seed)
    others = m.initial_state(n_others, seed=seed + 1) if n_others else np.empty((0, m.dim))
    k = min(position, n_others)
    batch = np.concatenate([others[:k], member, others[k:]])
    alone = m.iterate(member, n_steps)
    np.testing.assert_array_equal(m.iterate(batch, n_steps)[k], alone[0])
    np.testing.assert_array_equal(m.trajectory(batch, n_steps)[-1, k], alone[0])


# ---- layout, initial states and the module ---------------------------------------------------

def test_state_layout_groups_and_names_follow_named_parameters():
    net = iris_net()
    m = TorchMap(module=net)
    g = m.coordinate_groups()
    np.testing.assert_array_equal(g["0.weight"], np.arange(0, 40))
    np.testing.assert_array_equal(g["0.bias"], np.arange(40, 50))
    np.testing.assert_array_equal(g["2.weight"], np.arange(50, 80))
    np.testing.assert_array_equal(g["biases"], np.r_[40:50, 80:83])
    np.testing.assert_array_equal(g["weights"], np.r_[0:40, 50:80])
    names = m.coordinate_names()
    assert len(names) == 83 and names[1] == "0.weight[0,1]" and names[4] == "0.weight[1,0]"
    x = m.state_of(net)
    np.testing.assert_array_equal(x[:40], net[0].weight.detach().numpy().ravel())
    copy = m.module_of(x + 1.0)
    assert copy is not net and copy[0].weight.dtype == torch.float64
    np.testing.assert_array_equal(m.state_of(copy), x + 1.0)
    np.testing.assert_array_equal(m.state_of(net), x)  # the map's module is untouched


def test_normal_init_draws_weights_and_zero_biases():
    m = TorchMap(module=iris_net(), init_std=2.0)
    x = m.initial_state(400, seed=0)
    g = m.coordinate_groups()
    assert np.all(x[:, g["biases"]] == 0.0)
    assert abs(x[:, g["weights"]].std() - 2.0) < 0.05
    np.testing.assert_array_equal(m.initial_state(3, seed=0), x[:3])


def test_module_init_is_reset_parameters_seeded_by_dynnet():
    net = iris_net()
    before = TorchMap(module=net).state_of(net)
    m = TorchMap(module=net, init="module")
    a = m.initial_state(3, seed=5)
    np.testing.assert_array_equal(a, m.initial_state(3, seed=5))
    assert not np.array_equal(a, m.initial_state(3, seed=6))
    assert not np.array_equal(a[0], a[1])
    bound = 1.0 / np.sqrt(4)  # Linear's reset_parameters: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.all(np.abs(a[:, :50]) <= bound) and np.any(a[:, 40:50] != 0.0)
    np.testing.assert_array_equal(m.state_of(net), before)  # the user's module is not reset


def test_float32_is_close_to_float64():
    a = TorchMap(module=iris_net())
    b = TorchMap(module=iris_net(), dtype="float32")
    x = a.initial_state(2, seed=0)
    y = b.step(x)
    assert y.dtype == np.float64
    assert 0 < rel(y, a.step(x)) <= 1e-5


#: the GPU tolerance the how-to page states (float64 on both; reductions run in another order)
GPU_RTOL = 1e-10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_agrees_with_cpu():
    cpu = cnn_map(eta=0.5)
    gpu = cnn_map(eta=0.5, device="cuda")
    x = cpu.initial_state(4, seed=0)
    assert rel(gpu.iterate(x, 20), cpu.iterate(x, 20)) <= GPU_RTOL
    V = np.random.default_rng(0).standard_normal((4, 2, cpu.dim))
    assert rel(gpu.jvp(x, V), cpu.jvp(x, V)) <= GPU_RTOL
    assert rel(gpu.hessian(x[0]), cpu.hessian(x[0])) <= GPU_RTOL
    np.testing.assert_allclose(gpu.loss(x), cpu.loss(x), rtol=GPU_RTOL)
    np.testing.assert_array_equal(gpu.predict(x, split="test"), cpu.predict(x, split="test"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_a_gpu_is_refused_in_one_line_before_computing():
    m = cnn_map(device="cuda")
    assert m.dim == 210  # the layout needs no device
    with pytest.raises(ValueError, match="device='cuda' but torch finds no CUDA GPU") as info:
        m.initial_state(2, seed=0)
    assert "\n" not in str(info.value)


def test_entry_point_and_clone():
    assert dn.plugins.load("dynnet.maps", "torch") is TorchMap
    m = TorchMap(module=iris_net(), eta=2.0)
    c = clone(m)
    assert c.module is not m.module and isinstance(c.module, ModuleParam)
    x = m.initial_state(2, seed=0)
    np.testing.assert_array_equal(c.step(x), m.step(x))
    assert dn.clone(m).set_params(eta=3.0).eta == 3.0


# ---- bad input, each one line before any computing -------------------------------------------

class _NoParams(torch.nn.Module):
    def forward(self, x):
        return x


class _IntParam(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(4, 3, dtype=torch.int64), requires_grad=False)

    def forward(self, x):
        return x @ self.w


@pytest.mark.parametrize("kw, err, match", [
    (dict(module=_NoParams()), ValueError, "has no parameters"),
    (dict(module=_IntParam()), TypeError, "only real floating-point"),
    (dict(module=torch.nn.Linear(4, 3, dtype=torch.complex128)), TypeError, "only real floating-point"),
    (dict(module=torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))), ValueError, "buffers"),
    (dict(module=torch.nn.Linear(5, 3)), ValueError, "does not fit the module"),
    (dict(module=torch.nn.Linear(4, 2)), ValueError, r"needs \(2, 3\)"),
    (dict(module=torch.nn.Linear(4, 3), loss=lambda out, t: (out - 1.0) ** 2), ValueError, "scalar"),
    (dict(module=torch.nn.Linear(4, 3), loss="hinge"), ValueError, "loss"),
    (dict(module=torch.nn.Linear(4, 3), input_shape=(2, 3)), ValueError, "input_shape"),
    (dict(module=None), ValueError, "module=None"),
])
def test_bad_input_is_one_line(kw, err, match):
    m = TorchMap(**kw)
    with pytest.raises(err, match=match) as info:
        m.step(np.zeros((1, m.dim)))
    assert "\n" not in str(info.value)


# ---- results: save, load, give the module back --------------------------------------------

def test_a_study_saves_and_loads_and_reruns_with_the_module_given_back(tmp_path):
    net = iris_net()
    s = dn.PerturbationStudy(map=TorchMap(module=net, eta=2.0), n_init=3, n_steps=20, seed=4).run()
    path = tmp_path / "torch.nc"
    s.save(path)
    with pytest.raises(dn.results.ResultFileError, match=r"dynnet_torch\.load\(path, module\)"):
        dn.load(path)  # the file holds no module: plain load says what to do, in one line
    with pytest.raises(dn.results.ResultFileError, match="not the recorded"):
        dynnet_torch.load(path, torch.nn.Sequential(torch.nn.Linear(4, 9), torch.nn.Sigmoid(),
                                                    torch.nn.Linear(9, 3)))
    loaded = dynnet_torch.load(path, iris_net())
    assert loaded.map.module is not net and isinstance(loaded.map.module, torch.nn.Module)
    np.testing.assert_array_equal(loaded.result_["distance"].values, s.result_["distance"].values)
    loaded.run()
    np.testing.assert_array_equal(loaded.result_["distance"].values, s.result_["distance"].values)
    # what the file records: the architecture, never the code
    text = dn.results.decode_params(_saved_params(path)).map.module
    rec = architecture(text)
    assert rec["parameters"] == [["0.weight", [10, 4]], ["0.bias", [10]], ["2.weight", [3, 10]],
                                 ["2.bias", [3]]]
    assert rec["repr"] == repr(net) and rec["sha256"] == architecture(net)["sha256"]
    waiting = TorchMap(module=text)
    assert waiting.dim == 83 and list(waiting.coordinate_groups()["2.bias"]) == [80, 81, 82]
    with pytest.raises(ValueError, match="attach"):
        waiting.step(np.zeros(83))
    with pytest.raises(ValueError, match="not the recorded"):
        attach(waiting, torch.nn.Linear(4, 3))
    assert attach(waiting, iris_net()).step(np.zeros(83)).shape == (83,)


def _saved_params(path):
    import xarray as xr

    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.attrs["dynnet_study"]


def test_an_edited_architecture_record_is_refused(tmp_path):
    text = str(ModuleParam(iris_net()))
    forged = text.replace('"0.bias", [10]', '"0.bias", [11]')
    assert forged != text
    m = TorchMap(module=forged)
    with pytest.raises(ValueError, match="checksum"):
        _ = m.dim


# ---- a study on a TorchMap agrees with the same study on GradientDescentMap ---------------------

class _FiniteOnly(TorchMap):
    """A TorchMap without a dense Jacobian: the edge study then skips its tangent exponent, which
    for a map that is not a GradientDescentMap takes one dense Jacobian per network and step."""

    jacobian = dn.Map.jacobian


def test_edge_of_stability_exponent_agrees_with_gradient_descent_map():
    kw = dict(n_init=24, eps=(1e-8,), n_steps_long=0, seed=0)
    gd = dn.EdgeOfStabilityStudy(map=dn.GradientDescentMap(eta=1.0), **kw)
    tm = _FiniteOnly(module=iris_net(), eta=1.0)
    assert not tm.has_jacobian
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = gd.run().result_
        b = dn.EdgeOfStabilityStudy(map=tm, **kw).run().result_
    lo, hi = a["mle_ci"].values[0]
    lam = float(b["mle"].values[0])
    assert lo <= lam <= hi, (lam, lo, hi)
    assert 0.1 < float(a["mle"].values[0]) < 0.6
