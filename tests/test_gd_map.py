"""GradientDescentMap: data, layout, derivatives, graph view, reference check."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn

M = dn.GradientDescentMap(eta=1.0)
W = M.initial_state(6, seed=0)


def test_defaults_match_the_paper():
    assert M.dim == 83 and M.sizes == (4, 10, 3)
    X, y = M.data("train")
    Xt, yt = M.data("test")
    assert X.shape == (120, 4) and y.shape == (120,) and Xt.shape == (30, 4)
    assert np.bincount(y).tolist() == [42, 38, 40]  # the authors' split: first 120 of a seeded shuffle
    assert M.stratify is False
    assert X.dtype == np.float64
    from sklearn.datasets import load_iris

    raw = load_iris().data
    assert np.isin(X[:, 0], raw[:, 0]).all()  # no scaling by default


def test_split_is_seeded():
    a = dn.GradientDescentMap(split_seed=1).data("test")[0]
    b = dn.GradientDescentMap(split_seed=1).data("test")[0]
    c = dn.GradientDescentMap(split_seed=2).data("test")[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_scaling_is_optional():
    X, _ = dn.GradientDescentMap(scale=True).data("train")
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, atol=1e-12)


def test_layout_groups_and_mask():
    g = M.coordinate_groups()
    assert g["W1"].tolist() == list(range(0, 40)) and g["b1"].tolist() == list(range(40, 50))
    assert g["W2"].tolist() == list(range(50, 80)) and g["b2"].tolist() == list(range(80, 83))
    assert M.mask("weights").sum() == 70 and M.mask("biases").sum() == 13
    assert not (M.mask("weights") & M.mask("biases")).any()


def test_initial_state_weights_normal_biases_zero():
    x = M.initial_state(400, seed=1)
    w = x[:, M.mask("weights")]
    assert np.all(x[:, M.mask("biases")] == 0)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


def test_hidden_tuple_and_other_datasets():
    deep = dn.GradientDescentMap(hidden=(16, 8))
    assert deep.sizes == (4, 16, 8, 3) and deep.dim == 4 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3
    dig = dn.GradientDescentMap(dataset="digits", hidden=(5,))
    assert dig.sizes == (64, 5, 10)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    user = dn.GradientDescentMap(dataset=(X, y), hidden=(4,), test_size=10)
    assert user.sizes == (3, 4, 2) and user.data("train")[0].shape == (30, 3)


@pytest.mark.parametrize("params,exc,msg", [
    ({"eta": -1.0}, ValueError, r"eta=-1.0 is out of range"),
    ({"eta": "big"}, TypeError, r"eta='big' must be a real number"),
    ({"hidden": (0,)}, ValueError, r"hidden\[i\]=0 is out of range"),
    ({"dataset": "cifar"}, ValueError, r"dataset='cifar' is not allowed"),
    ({"test_size": 1000}, ValueError, r"test_size=1000 is out of range"),
])
def test_bad_parameters_raise_documented_errors(params, exc, msg):
    m = dn.GradientDescentMap(**params)  # nothing is validated in __init__
    with pytest.raises(exc, match=msg):
        m.iterate(np.zeros(83) if "hidden" not in params else np.zeros(3), 1)


def test_loss_never_overflows():
    x = W[0] * 1e6
    assert np.isfinite(M.loss(x)) and np.all(np.isfinite(M.gradient(x)))


def test_loss_matches_sklearn_log_loss():
    from scipy.special import expit, softmax
    from sklearn.metrics import log_loss

    X, y = M.data("train")
    x = W[1]
    h = expit(X @ x[:40].reshape(4, 10) + x[40:50])
    p = softmax(h @ x[50:80].reshape(10, 3) + x[80:83], axis=1)
    assert M.loss(x) == pytest.approx(log_loss(y, p), rel=1e-12)
    acc = (np.argmax(p, 1) == y).mean()
    assert M.accuracy(x, split="train") == pytest.approx(acc)


@pytest.mark.parametrize("m", [M, dn.GradientDescentMap(hidden=(5, 4), eta=0.3)], ids=["4-10-3", "4-5-4-3"])
def test_gradient_and_hessian_match_central_differences(m):
    x = m.initial_state(1, seed=5)[0] * 0.5
    g = m.gradient(x)
    H = m.hessian(x)
    h = 1e-5
    E = np.eye(m.dim)
    fd_g = np.array([(m.loss(x + h * e) - m.loss(x - h * e)) / (2 * h) for e in E])
    fd_H = np.array([(m.gradient(x + h * e) - m.gradient(x - h * e)) / (2 * h) for e in E])
    scale = np.abs(g).max()
    assert np.abs(fd_g - g).max() < 1e-7 * max(scale, 1)
    assert np.abs(fd_H - H).max() < 1e-6 * max(np.abs(H).max(), 1)
    np.testing.assert_array_equal(H, H.T)
    np.testing.assert_allclose(m.jacobian(x), np.eye(m.dim) - m.eta * H, rtol=0, atol=1e-15)


def test_hessian_is_symmetric_before_symmetrisation():
    x = W[2]
    raw = M._hvp(x[None], np.eye(83)[None])[0]
    assert np.abs(raw - raw.T).max() < 1e-13 * np.abs(raw).max()


def test_hvp_is_batched_and_linear():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(3, 2, 83))
    out = M.hvp(W[:3], V)
    for e in range(3):
        np.testing.assert_allclose(out[e], V[e] @ M.hessian(W[e]), rtol=1e-10, atol=1e-13)


@given(seed=st.integers(0, 10_000))
def test_eta_zero_is_the_identity(seed):
    m = dn.GradientDescentMap(eta=0.0)
    x = m.initial_state(3, seed=seed)
    np.testing.assert_array_equal(m.iterate(x, 7), x)
    np.testing.assert_array_equal(m.step(x), x)


@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3))
def test_graph_round_trip_is_exact(seed, scale):
    x = M.initial_state(1, seed=seed)[0] * scale
    x[M.mask("biases")] = np.random.default_rng(seed).normal(size=13)
    G = M.to_graph(x)
    np.testing.assert_array_equal(M.from_graph(G), x)


def test_graph_structure():
    G = M.to_graph(W[0])
    assert isinstance(G, nx.DiGraph)
    assert G.number_of_nodes() == 17 and G.number_of_edges() == 70
    assert G.nodes[(1, 3)]["layer"] == 1 and G.nodes[(2, 0)]["role"] == "output"
    assert G.nodes[(1, 3)]["bias"] == W[0][43]
    assert G[(0, 2)][(1, 5)]["weight"] == W[0][2 * 10 + 5]
    # networkx tools read the weights
    assert nx.to_numpy_array(G, weight="weight").sum() == pytest.approx(W[0][M.mask("weights")].sum())
    G.remove_edge((0, 0), (1, 0))
    assert M.from_graph(G)[0] == 0.0  # a pruned connection reads as 0


def _independent_step(x, X, Y, eta):
    """A plain single-state implementation, written independently of dynnet."""
    W1 = x[:40].reshape(4, 10)
    b1 = x[40:50]
    W2 = x[50:80].reshape(10, 3)
    b2 = x[80:83]
    n = X.shape[0]
    h = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
    z = h @ W2 + b2
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    dz = (p - Y) / n
    dh = dz @ W2.T * h * (1 - h)
    g = np.concatenate([(X.T @ dh).ravel(), dh.sum(0), (h.T @ dz).ravel(), dz.sum(0)])
    return x - eta * g


def test_gd_map_agrees_with_independent_implementation_along_200_steps():
    """At every state visited in 200 steps at eta = 1, one step of dynnet and of the
    independent implementation agree to 1e-10 relative.

    Whole trajectories are not compared: at eta = 1 the map is chaotic, so a
    last-bit difference grows like exp(0.33 t) and two correct implementations
    part after ~100 steps (measured: 0.27 relative at t = 200).
    """
    X, y = M.data("train")
    Y = np.eye(3)[y]
    x = M.initial_state(20, seed=11)
    orbit = M.trajectory(x, 200)
    worst = 0.0
    for t in range(0, 201, 5):
        ours = M.step(orbit[t])
        for e in range(20):
            ref = _independent_step(orbit[t, e], X, Y, 1.0)
            worst = max(worst, np.abs(ours[e] - ref).max() / np.abs(ref).max())
    assert worst < 1e-10


def test_mini_batch_rows():
    x = W[:2]
    np.testing.assert_allclose(M.gradient(x, rows=np.arange(120)), M.gradient(x), rtol=1e-12, atol=1e-16)
    rows = np.array([0, 5, 77])
    per = np.mean([M.loss(x, rows=np.array([r])) for r in rows], axis=0)
    np.testing.assert_allclose(M.loss(x, rows=rows), per, rtol=1e-12)
    H = M.hessian(x[0], rows=rows)
    h = 1e-5
    fd = np.array([(M.gradient(x[0] + h * e, rows=rows) - M.gradient(x[0] - h * e, rows=rows)) / (2 * h)
                   for e in np.eye(83)])
    assert np.abs(fd - H).max() < 1e-6 * max(np.abs(H).max(), 1)
    with pytest.raises(ValueError, match="rows must be"):
        M.gradient(x, rows=np.array([120]))


def test_step_validates_before_the_compiled_engine():
    np.testing.assert_array_equal(M.step(W[0]), M.step(W[:1])[0])
    with pytest.raises(ValueError, match=r"shape \(E, 83\)"):
        M.step(np.ones((3, 50)))
    x = W[:3].copy()
    x[1] = np.nan  # a diverged member goes on as NaN, the others are unaffected
    out = M.iterate(x, 5)
    assert np.isnan(out[1]).all()
    np.testing.assert_array_equal(out[[0, 2]], M.iterate(W[[0, 2]], 5))
    assert np.isnan(M.gradient(x)[1]).all()


def test_stratified_split_is_an_option():
    m = dn.GradientDescentMap(stratify=True)
    y, yt = m.data("train")[1], m.data("test")[1]
    assert np.bincount(y).tolist() == [40, 40, 40] and np.bincount(yt).tolist() == [10, 10, 10]
    assert not np.array_equal(y, dn.GradientDescentMap().data("train")[1])


def test_unstratified_split_is_the_first_of_a_seeded_shuffle():
    m = dn.GradientDescentMap(stratify=False, split_seed=3)
    X, y = m.data("train")
    perm = np.random.default_rng(3).permutation(150)
    from sklearn.datasets import load_iris

    raw = load_iris()
    np.testing.assert_array_equal(X, raw.data[perm[:120]])
    np.testing.assert_array_equal(m.data("test")[1], raw.target[perm[120:]])
    with pytest.raises(TypeError, match="stratify='no' must be a bool"):
        _ = dn.GradientDescentMap(stratify="no").dim


def test_coordinate_names_follow_the_layout():
    names = M.coordinate_names()
    assert len(names) == 83
    assert names[0] == "W1[0,0]" and names[2 * 10 + 5] == "W1[2,5]" and names[40] == "b1[0]"
    assert names[50 + 3 * 3 + 1] == "W2[3,1]" and names[82] == "b2[2]"
    assert dn.HenonMap().coordinate_names() == ["x0", "x1"]


# ---- the data cache is keyed by content and by every parameter ------------------------

def test_editing_user_data_in_place_changes_the_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = (X[:, 0] > 0).astype(int)
    m = dn.GradientDescentMap(dataset=(X, y), hidden=(4,), test_size=0)
    x = m.initial_state(3, seed=1)
    before = m.loss(x)
    X[:, 1] += 2.0  # the same array object, other numbers
    after = m.loss(x)
    assert not np.allclose(before, after)
    fresh = dn.GradientDescentMap(dataset=(X.copy(), y), hidden=(4,), test_size=0)
    np.testing.assert_array_equal(after, fresh.loss(x))
    np.testing.assert_array_equal(m.iterate(x, 3), fresh.iterate(x, 3))  # the engine too
    y[:5] = 1 - y[:5]  # labels as well
    np.testing.assert_array_equal(m.data("train")[1], y)
    X[:] = X  # unchanged content: the prepared problem is reused
    p = m.problem()
    assert m.problem() is p


@pytest.mark.parametrize("name,value", [("stratify", True), ("split_seed", 4), ("test_size", 20),
                                        ("scale", True), ("hidden", (7,))])
def test_every_data_parameter_is_in_the_cache_key(name, value):
    m = dn.GradientDescentMap()
    before = m.problem()
    setattr(m, name, value)  # plain attribute assignment, no set_params
    after = m.problem()
    assert after is not before
    expected = dn.GradientDescentMap(**{name: value}).problem()
    np.testing.assert_array_equal(after.X, expected.X)
    np.testing.assert_array_equal(after.y, expected.y)
    assert after.sizes == expected.sizes


@pytest.mark.parametrize("labels,exc,msg", [
    ("nan", ValueError, "y contains 1 NaN or infinite labels"),
    ("none", ValueError, "y contains 1 missing labels"),
    ("mixed", TypeError, "cannot be sorted into classes"),
])
def test_missing_labels_are_refused(labels, exc, msg):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    y = {"nan": np.r_[np.zeros(6), np.ones(5), np.nan],
         "none": np.array([0, 1] * 5 + [1, None], dtype=object),
         "mixed": np.array([0, "a"] * 6, dtype=object)}[labels]
    with pytest.raises(exc, match=msg):
        dn.GradientDescentMap(dataset=(X, y), test_size=0).loss(np.zeros(3 * 10 + 10 + 10 * 2 + 2))


# ---- observe: the fused engine records loss, weight norm and projections --------------

def test_observe_fused_matches_trajectory_and_is_independent_of_segments(monkeypatch):
    m = dn.GradientDescentMap(eta=5.0)
    x = m.initial_state(11, seed=4)  # 11 members: padding lanes
    x[3] = np.nan  # a member that diverged earlier
    V = np.random.default_rng(0).standard_normal((3, 83))
    ref, fref = m.observe(x, 60, every=2, project=V)
    assert set(ref) == {"loss", "weight_norm", "projection"}
    assert ref["loss"].shape == (31, 11) and ref["projection"].shape == (31, 11, 3)
    for seg in (2, 6, 14):
        monkeypatch.setattr(dn.Map, "_observe_segment", seg)
        rec, final = m.observe(x, 60, every=2, project=V)
        for k in ref:
            np.testing.assert_array_equal(rec[k], ref[k])
        np.testing.assert_array_equal(final, fref)
    np.testing.assert_array_equal(fref, m.iterate(x, 60))
    tr = m.trajectory(x, 60, every=2)
    ok = np.arange(11) != 3
    assert np.isnan(ref["loss"][:, 3]).all() and np.isnan(ref["projection"][:, 3]).all()
    np.testing.assert_allclose(ref["projection"][:, ok], np.einsum("tei,ki->tek", tr[:, ok], V),
                               rtol=1e-12, atol=1e-12)
    obs = m.observables(tr[:, ok].reshape(-1, 83))
    for k in ("loss", "weight_norm"):
        np.testing.assert_allclose(ref[k][:, ok], obs[k].reshape(31, 10), rtol=1e-12)
    one, _ = m.observe(x, 60, every=2, project=V[1])
    np.testing.assert_array_equal(one["projection"], ref["projection"][..., 1])
    no_proj, _ = m.observe(x, 60, every=2)
    assert set(no_proj) == {"loss", "weight_norm"}
    np.testing.assert_array_equal(no_proj["loss"], ref["loss"])


def test_observe_of_a_subclass_with_other_observables_uses_the_generic_path():
    class WithAccuracy(dn.GradientDescentMap):
        def observables(self, states):
            out = super().observables(states)
            out["accuracy"] = self.accuracy(states)
            return out

    m = WithAccuracy(eta=1.0)
    x = m.initial_state(3, seed=0)
    rec, final = m.observe(x, 10, project=np.ones(83))
    assert set(rec) == {"loss", "weight_norm", "accuracy", "projection"}
    tr = m.trajectory(x, 10)
    np.testing.assert_array_equal(rec["accuracy"], m.accuracy(tr.reshape(-1, 83)).reshape(11, 3))
    np.testing.assert_allclose(rec["projection"], tr.sum(axis=-1), rtol=1e-13)
    np.testing.assert_array_equal(final, m.iterate(x, 10))


def test_predict_and_test_loss_agree_with_a_direct_computation():
    from scipy.special import logsumexp

    m = dn.GradientDescentMap(eta=0.01)
    W = m.iterate(m.initial_state(3, seed=0), 500)
    for split in ("train", "test"):
        X, y = m.data(split)
        z = m._forward(W, X)[3]
        np.testing.assert_array_equal(m.predict(W, split=split), z.argmax(axis=-1))
        np.testing.assert_allclose((m.predict(W, split=split) == y).mean(axis=1), m.accuracy(W, split=split))
        logp = z - logsumexp(z, axis=-1, keepdims=True)
        direct = -logp[:, np.arange(y.size), y].mean(axis=1)
        np.testing.assert_allclose(m.loss(W, split=split), direct, rtol=1e-12)
    bad = W.copy()
    bad[1] = np.nan
    assert np.all(m.predict(bad, split="test")[1] == -1) and np.isnan(m.loss(bad, split="test")[1])
    with pytest.raises(ValueError, match="rows index training samples"):
        m.loss(W, rows=[0, 1], split="test")


def test_an_init_std_that_overflows_is_refused_naming_it():
    with pytest.raises(ValueError, match="init_std=1e\\+308"):
        dn.GradientDescentMap(init_std=1e308).initial_state(2, seed=0)
