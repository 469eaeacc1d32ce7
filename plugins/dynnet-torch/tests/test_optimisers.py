"""The dynnet-sgd update rules (mini-batch SGD, momentum, Adam) on a TorchMap network.

The sgd maps train any network map given as ``model=``; on the paper's 4-10-3
MLP a TorchMap and the GradientDescentMap are the same function of the
parameters, so every rule must give the same step (up to the layout: torch
stores each weight matrix transposed) to 1e-12 relative.
"""

import numpy as np
import pytest
import torch
from dynnet_torch import TorchMap

import dynnet as dn

dynnet_sgd = pytest.importorskip("dynnet_sgd")
from dynnet_sgd import AdamMap, MomentumMap, SGDMap  # noqa: E402


def iris_net():
    return torch.nn.Sequential(torch.nn.Linear(4, 10), torch.nn.Sigmoid(), torch.nn.Linear(10, 3)).double()


def layout_permutation(gd, m):
    """Indices ``perm`` with ``torch_state = gd_state[perm]`` (the layouts differ by transposes)."""
    net = iris_net()
    code = np.arange(gd.dim, dtype=np.float64)  # each coordinate carries its own index, exactly
    linears = [mod for mod in net if isinstance(mod, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (W, b) in zip(linears, gd.problem().unpack(code), strict=True):
            lin.weight.copy_(torch.as_tensor(W.T.copy()))
            lin.bias.copy_(torch.as_tensor(b.copy()))
    perm = m.state_of(net).astype(np.int64)
    assert np.array_equal(np.sort(perm), np.arange(gd.dim))  # a permutation
    return perm


def rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _pair(cls, **kw):
    """The same rule on the GradientDescentMap MLP and on a TorchMap of the same network."""
    torch_map = TorchMap(module=iris_net())
    gd_rule = cls(**kw)
    torch_rule = cls(model=torch_map, **kw)
    perm = layout_permutation(gd_rule.network(), torch_map)
    return gd_rule, torch_rule, perm


def _lift(perm, P, x):
    """A gd-layout state of a rule (blocks of P network coordinates, then scalars) in torch layout."""
    out = np.array(x, copy=True)
    for k in range(x.shape[-1] // P):
        out[..., k * P:(k + 1) * P] = x[..., k * P:(k + 1) * P][..., perm]
    return out


RULES = [(SGDMap, dict(eta=0.5, batch_size=20, batch_seed=3)),
         (SGDMap, dict(eta=2.0, batch_size=7, batch_seed=1)),
         (MomentumMap, dict(eta=0.5, beta=0.9)),
         (AdamMap, dict(eta=0.01))]


@pytest.mark.parametrize(("cls", "kw"), RULES, ids=["sgd20", "sgd7", "momentum", "adam"])
def test_rule_on_torch_map_steps_as_on_gradient_descent_map(cls, kw):
    gd_rule, torch_rule, perm = _pair(cls, **kw)
    P = 83
    assert torch_rule.dim == gd_rule.dim
    x = gd_rule.initial_state(5, seed=4)
    for t in range(12):  # twelve steps (two SGD epochs of 20), each from the same state
        y = gd_rule.step(x)
        got = torch_rule.step(_lift(perm, P, x))
        assert rel(got, _lift(perm, P, y)) <= 1e-12, t
        x = y
    # the optimiser's own coordinates moved (the test would not see a rule that ignored them)
    assert np.all(np.abs(x[:, P:]) > 0)


@pytest.mark.parametrize(("cls", "kw"), RULES[::2], ids=["sgd", "momentum"])
def test_rule_jacobian_on_torch_map_matches(cls, kw):
    gd_rule, torch_rule, perm = _pair(cls, **kw)
    x = gd_rule.iterate(gd_rule.initial_state(1, seed=2), 3)[0]
    full = np.concatenate([perm + k * 83 for k in range(gd_rule.dim // 83)]
                          + [np.arange(83 * (gd_rule.dim // 83), gd_rule.dim)])
    Jg = gd_rule.jacobian(x)[np.ix_(full, full)]
    Jt = torch_rule.jacobian(_lift(perm, 83, x[None])[0])
    assert rel(Jt, Jg) <= 1e-10


def test_rule_on_torch_map_takes_its_data_groups_and_initial_states():
    m = TorchMap(module=iris_net(), init_std=0.5)
    rule = MomentumMap(model=m)
    assert rule.network() is m
    assert rule.dim == 2 * m.dim
    x = rule.initial_state(3, seed=0)
    np.testing.assert_array_equal(x[:, :m.dim], m.initial_state(3, seed=0))
    assert np.all(x[:, m.dim:] == 0.0)
    g = rule.coordinate_groups()
    np.testing.assert_array_equal(g["weights"], m.coordinate_groups()["weights"])
    np.testing.assert_array_equal(g["velocity"], np.arange(m.dim, 2 * m.dim))
    np.testing.assert_array_equal(rule.loss(x), m.loss(x[:, :m.dim]))
    sgd = SGDMap(model=m, batch_size=30)
    assert np.array_equal(np.sort(np.concatenate([sgd.batch(t) for t in range(4)])), np.arange(120))


def test_model_refuses_data_parameters_and_maps_without_a_gradient():
    m = TorchMap(module=iris_net())
    with pytest.raises(ValueError, match="hidden, dataset.*defaults") as info:
        SGDMap(model=m, hidden=(5,), dataset="wine").step(np.zeros((1, 84)))
    assert "\n" not in str(info.value)
    with pytest.raises(TypeError, match="lacks gradient"):
        AdamMap(model=dn.LogisticMap()).network()


def test_sgd_on_a_torch_cnn_runs_in_a_study():
    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, stride=2), torch.nn.Tanh(), torch.nn.Flatten(),
                              torch.nn.Linear(18, 10))
    m = TorchMap(module=cnn, dataset="digits", input_shape=(1, 8, 8), n_samples=120, test_size=20)
    rule = SGDMap(model=m, eta=0.5, batch_size=25)
    s = dn.PerturbationStudy(map=rule, n_init=2, n_steps=8, seed=0).run()
    d = s.result_["distance"].values
    assert np.all(np.isfinite(d)) and np.all(d[1:] > 0)
