"""The compiled GD engine: accuracy against the numpy reference, bitwise determinism."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

import dynnet as dn
from dynnet.maps import _gd_engine as eng
from dynnet.maps._gd_simd import vexp, vrelu, vtanh
from dynnet.maps.base import Map


def _rel(a, b):
    """Norm-wise relative difference per member: max|a - b| / max|b|."""
    return np.max(np.abs(a - b), axis=-1) / np.max(np.abs(b), axis=-1)


@pytest.fixture(scope="module")
def iris():
    return dn.GradientDescentMap(eta=1.0)


@njit
def _vexp_array(x, out):
    for i in range(x.size):
        out[i] = vexp(x[i])


def test_vexp_within_one_ulp_of_the_exact_value():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 100_000), rng.uniform(-745, 709.7, 200_000),
                        [0.0, 1.0, -1.0, 709.78, -708.4, -745.0]])
    got = np.empty_like(x)
    _vexp_array(x, got)
    # the reference in extended precision (80-bit on x86), so it does not depend on the
    # float64 exp of the numpy or libm at hand (numpy 1.25's is itself 1 ulp off at places)
    exact = np.exp(x.astype(np.longdouble))
    ref = exact.astype(np.float64)
    assert np.all(np.abs(got.astype(np.longdouble) - exact) <= np.spacing(ref).astype(np.longdouble))
    special = np.array([np.nan, np.inf, -np.inf, 710.0, -746.0])
    got = np.empty_like(special)
    _vexp_array(special, got)
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == 0.0
    assert got[3] == np.inf and got[4] == 0.0


def test_one_step_agrees_with_reference_along_chaotic_orbit(iris):
    # At eta = 1 the map is chaotic: whole trajectories separate from last-bit
    # differences, so the honest check is the one-step map at every visited state.
    x = iris.initial_state(50, seed=3)
    worst = 0.0
    for _ in range(200):
        nxt = iris.step(x)
        worst = max(worst, _rel(nxt, iris.reference_step(x)).max())
        x = nxt
    assert np.all(np.isfinite(x))
    assert worst < 1e-12


@given(E=st.integers(1, 19), n=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_iterate_is_bitwise_n_steps(iris, E, n, seed):
    x = iris.initial_state(E, seed=seed)
    y = x
    for _ in range(n):
        y = iris.step(y)
    assert np.array_equal(iris.iterate(x, n), y)


def test_bitwise_independent_of_batch_lane_and_threads(iris):
    W = iris.initial_state(37, seed=1)  # not a multiple of the block size
    ref = eng.advance(iris, W, 30, n_threads=1)
    assert np.array_equal(eng.advance(iris, W, 30, n_threads=2), ref)
    perm = np.random.default_rng(0).permutation(37)
    assert np.array_equal(eng.advance(iris, W[perm], 30, n_threads=2), ref[perm])
    for i in (0, 13, 36):
        assert np.array_equal(iris.iterate(W[i], 30), ref[i])
    # run to run
    assert np.array_equal(eng.advance(iris, W, 30), ref)


def test_deeper_network_and_digits():
    deep = dn.GradientDescentMap(eta=0.5, hidden=(16, 8))
    x = deep.initial_state(10, seed=0)
    for _ in range(20):
        nxt = deep.step(x)
        assert _rel(nxt, deep.reference_step(x)).max() < 1e-12
        x = nxt
    digits = dn.GradientDescentMap(eta=1.0, dataset="digits", hidden=(12,))
    x = digits.initial_state(9, seed=0)
    for _ in range(3):
        nxt = digits.step(x)
        assert _rel(nxt, digits.reference_step(x)).max() < 1e-12
        x = nxt


def test_eta_zero_is_the_identity():
    m = dn.GradientDescentMap(eta=0.0)
    W = m.initial_state(11, seed=0)
    assert np.array_equal(m.iterate(W, 7), W)
    assert np.array_equal(m.step(W), W)
    d, obs, final = m._stream(W[:6], 4, 1, 6, dn.L1())
    assert np.array_equal(final, W[:6])
    assert np.all(d == d[0]) and np.all(obs["loss"] == obs["loss"][0])


def test_diverging_member_becomes_nan_others_go_on(iris):
    W = iris.initial_state(9, seed=2)
    W[4, 40:] = 1e308  # the logits overflow in the first forward pass
    with pytest.warns(dn.maps.DivergenceWarning):
        out = iris.iterate(W, 5)
    assert np.all(np.isnan(out[4]))
    keep = np.arange(9) != 4
    assert np.array_equal(out[keep], iris.iterate(W[keep], 5))
    assert np.all(np.isnan(iris.step(W)[4]))


@pytest.mark.parametrize("metric", [dn.L1(), dn.L2(), dn.LInf()])
def test_fused_stream_matches_generic_path(iris, metric):
    W = iris.initial_state(11, seed=5)  # 11 groups: padding lanes in the last tile
    p = dn.UniformPerturber(eps=1e-6, n=5)
    batch = np.concatenate([np.vstack([w, p.perturb(w, map=iris, seed=i)])
                            for i, w in enumerate(W)])
    for n_steps, every in ((40, 1), (41, 3), (0, 1)):
        d1, o1, f1 = iris._stream(batch, n_steps, every, 6, metric)
        d2, o2, f2 = Map._stream(iris, batch, n_steps, every, 6, metric)
        assert d1.shape == d2.shape == (n_steps // every + 1, 11, 5)
        assert set(o1) == set(o2) == {"loss", "weight_norm"}
        assert np.all(np.abs(d1 - d2) <= 1e-12 * np.abs(d2))
        for k in o2:
            assert np.all(np.abs(o1[k] - o2[k]) <= 1e-12 * np.abs(o2[k]))
        assert np.array_equal(f1, f2)  # the same engine advances both
    assert np.array_equal(f1, batch)


def test_stream_other_metrics_fall_back_and_agree_with_the_numpy_reference(iris):
    """A metric without a fused kernel takes the generic path; its records are checked
    against an independent computation: numpy reference steps and the metric by hand."""
    W = iris.initial_state(12, seed=0)
    metric = dn.metrics.PerLayer(layer="W1")
    d, obs, final = iris._stream(W, 5, 1, 6, metric)
    x = W.copy()
    w1 = iris.coordinate_groups()["W1"]
    for t in range(6):
        if t:
            x = iris.reference_step(x)
        v = x.reshape(2, 6, 83)
        expected = np.abs(v[:, 1:, w1] - v[:, :1, w1]).sum(axis=-1)
        np.testing.assert_allclose(d[t], expected, rtol=1e-10)
        np.testing.assert_allclose(obs["loss"][t], iris.loss(v[:, 0]), rtol=1e-12)
        np.testing.assert_allclose(obs["weight_norm"][t], np.abs(v[:, 0]).sum(axis=-1), rtol=1e-13)
    assert d.shape == (6, 2, 5) and np.all(d[1:] > 0)
    np.testing.assert_allclose(final, x, rtol=1e-11, atol=1e-13)


def test_fused_projections_are_sums_over_coordinates(iris):
    """The projections recorded in the compiled loop equal x . v of the stored states."""
    W = iris.initial_state(9, seed=7)
    V = np.random.default_rng(1).standard_normal((2, 83))
    rec, final = eng.observe(iris, W, 12, 3, V)
    tr = iris.trajectory(W, 12, every=3)
    exact = np.array([[[float(np.sum(np.array(tr[t, e], dtype=np.longdouble) * V[k]))
                        for k in range(2)] for e in range(9)] for t in range(5)])
    np.testing.assert_allclose(rec["projection"], exact, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(final, iris.iterate(W, 12))
    rec1, _ = eng.observe(iris, W, 12, 3, None)
    assert "projection" not in rec1
    np.testing.assert_array_equal(rec1["loss"], rec["loss"])


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "2 threads"])
def test_bad_thread_variable_is_one_clear_error(monkeypatch, iris, value):
    monkeypatch.setenv("DYNNET_NUM_THREADS", value)
    W = iris.initial_state(2, seed=0)
    for call in (lambda: iris.step(W), lambda: iris.iterate(W, 3), lambda: iris.observe(W, 2),
                 lambda: eng.n_threads_default()):
        with pytest.raises(ValueError, match=f"DYNNET_NUM_THREADS={value!r} is not allowed"):
            call()


def test_thread_count_respects_user_limits(monkeypatch):
    monkeypatch.setenv("DYNNET_NUM_THREADS", "1")
    assert eng.n_threads_default() == 1
    monkeypatch.delenv("DYNNET_NUM_THREADS")
    assert 1 <= eng.n_threads_default() <= eng.numba.config.NUMBA_NUM_THREADS
    monkeypatch.setenv("DYNNET_NUM_THREADS", "")  # empty means unset
    assert eng.n_threads_default() >= 1


def test_advance_in_interruptible_segments_is_bitwise_one_run(iris, monkeypatch):
    from dynnet.maps import _gd_engine

    W = iris.initial_state(7, seed=3)
    whole = iris.iterate(W, 300)
    monkeypatch.setattr(_gd_engine, "_SEGMENT_WORK", 1.0)  # one step per compiled call
    np.testing.assert_array_equal(iris.iterate(W, 300), whole)
    monkeypatch.setattr(_gd_engine, "_SEGMENT_WORK", 7 * 83 * 120 * 37.0)  # 37 steps per call
    np.testing.assert_array_equal(iris.iterate(W, 300), whole)


# ---------------------------------------------------------------------------
# activations, losses and weight decay in the kernels; supports()
# ---------------------------------------------------------------------------
_CONFIGS = [(act, loss, wd) for act in ("sigmoid", "tanh", "relu")
            for loss in ("cross-entropy", "mse") for wd in (0.0, 0.01)]


def _general_map(act, loss, wd):
    # mse at eta = 0.5 diverges on this network; 0.1 keeps the orbit bounded
    return dn.GradientDescentMap(eta=0.5 if loss == "cross-entropy" else 0.1, hidden=(10, 6),
                                 activation=act, loss=loss, weight_decay=wd)


def test_supports_names_what_the_kernels_compute():
    for act, loss, wd in _CONFIGS:
        assert eng.supports(_general_map(act, loss, wd))
    assert not eng.supports(dn.GradientDescentMap(activation="softplus"))

    class Bare:  # no attributes: the defaults (sigmoid, cross-entropy, no weight decay)
        pass

    assert eng.supports(Bare())
    for attrs in ({"weight_decay": -1.0}, {"weight_decay": float("nan")}, {"weight_decay": "x"},
                  {"activation": "gelu"}, {"loss": "hinge"}, {"activation": None}):
        obj = Bare()
        obj.__dict__.update(attrs)
        assert not eng.supports(obj), attrs


def test_unsupported_configuration_is_refused_by_the_kernels():
    m = dn.GradientDescentMap(activation="softplus")
    with pytest.raises(ValueError, match="activation='softplus'"):
        eng.advance(m, m.initial_state(3, seed=0), 1)


@pytest.mark.parametrize(("act", "loss", "wd"), _CONFIGS)
def test_general_network_agrees_with_reference_step(act, loss, wd):
    m = _general_map(act, loss, wd)
    x = m.initial_state(11, seed=1)  # 11 members: a padded tile
    worst = 0.0
    for _ in range(15):
        nxt = eng.advance(m, x, 1)
        worst = max(worst, _rel(nxt, m.reference_step(x)).max())
        x = nxt
    assert np.all(np.isfinite(x))
    assert worst < 1e-12
    # n steps at once are bitwise n single steps, independent of threads and batch order
    W = m.initial_state(19, seed=2)
    ref = eng.advance(m, W, 6, n_threads=1)
    y = W
    for _ in range(6):
        y = eng.advance(m, y, 1, n_threads=1)
    assert np.array_equal(ref, y)
    perm = np.random.default_rng(0).permutation(19)
    assert np.array_equal(eng.advance(m, W[perm], 6, n_threads=2), ref[perm])
    # the recorded loss includes the weight-decay term and equals the map's loss
    rec, final = eng.observe(m, W, 4, 2)
    np.testing.assert_array_equal(final, eng.advance(m, W, 4))
    np.testing.assert_allclose(rec["loss"][0], m.loss(W), rtol=1e-13)
    np.testing.assert_allclose(rec["loss"][2], m.loss(final), rtol=1e-13)


def test_weight_decay_acts_on_weights_not_biases():
    """A zero data gradient isolates the decay: eta = 1e-300 would underflow, so compare the
    decayed step with the undecayed one instead: their difference is -eta * wd * W on weight
    coordinates and exactly zero on biases (up to the rounding of the sum)."""
    wd = 0.25
    m0 = dn.GradientDescentMap(eta=0.5, weight_decay=0.0)
    m1 = dn.GradientDescentMap(eta=0.5, weight_decay=wd)
    W = m0.initial_state(5, seed=4)
    d = eng.advance(m1, W, 1) - eng.advance(m0, W, 1)
    groups = m0.coordinate_groups()
    for name, idx in groups.items():
        if name.startswith("b"):
            np.testing.assert_allclose(d[:, idx], 0.0, atol=1e-15)
        else:
            np.testing.assert_allclose(d[:, idx], -0.5 * wd * W[:, idx], rtol=1e-12, atol=1e-15)


@njit
def _apply(kind, x):
    out = x.copy()
    for i in range(0, x.size, 8):
        if kind == 0:
            vtanh(out, i)
        else:
            vrelu(out, i)
    return out


def test_vector_tanh_and_relu():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 4000), rng.uniform(-30, 30, 4000), rng.normal(0, 1e-3, 4000),
                        [0.0, -0.0, 1e-300, -1e-300, 19.0, -19.0, 400.0, -400.0]])
    got = _apply(0, x)
    assert np.max(np.abs(got - np.tanh(x))) <= 4 * np.finfo(float).eps
    big = np.abs(x) > 0.5  # away from 0: within 2 ulp of the exact value (measured: 1.8)
    exact = np.tanh(x[big].astype(np.longdouble))
    assert np.all(np.abs(got[big] - exact) <= 2 * np.spacing(np.abs(np.tanh(x[big]))))
    nz = np.abs(x) > 1e-12  # below, 1 - 2/(1 + exp(2z)) rounds to 0 (an absolute error < eps)
    assert np.all(np.sign(got[nz]) == np.sign(x[nz]))
    special = np.array([np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0, 1.0, -1.0])
    got = _apply(0, special)
    assert np.isnan(got[0]) and got[1] == 1.0 and got[2] == -1.0 and got[3] == 1.0 and got[4] == -1.0
    r = _apply(1, np.concatenate([x[:8000], special]))
    expected = np.maximum(np.concatenate([x[:8000], special]), 0.0)
    assert np.isnan(r[8000]) and np.array_equal(np.delete(r, 8000), np.delete(expected, 8000))


def test_dynamic_schedule_is_bitwise_independent_of_threads_and_tiles():
    """Many tiles, fewer workers: whichever thread takes a tile, the bits are the same."""
    m = dn.GradientDescentMap(eta=1.0)
    W = m.initial_state(101, seed=9)  # 13 tiles, the last one with 5 members
    ref = eng.advance(m, W, 7, n_threads=1)
    assert np.array_equal(eng.advance(m, W, 7, n_threads=2), ref)
    for i in (0, 50, 100):
        assert np.array_equal(eng.advance(m, W[i:i + 1], 7, n_threads=1), ref[i:i + 1])
    S = W[:96]
    d1, o1, f1 = eng.stream(m, S, 5, 1, 6, "L2", n_threads=1)
    d2, o2, f2 = eng.stream(m, S, 5, 1, 6, "L2", n_threads=2)
    assert np.array_equal(d1, d2) and np.array_equal(o1["loss"], o2["loss"]) and np.array_equal(f1, f2)
    assert np.array_equal(f1, eng.advance(m, S, 5))


@pytest.mark.parametrize("chunk_bytes", [1, 3 * 2 * 13 * 8 * 8, 10**9])
def test_bitwise_independent_of_the_sample_chunk(iris, monkeypatch, chunk_bytes):
    """The gradient is accumulated per chunk of samples; for every entry the samples are
    added in order, so chunks of 1, 3 and 16 samples (120 = 40 x 3; 16 leaves a remainder)
    give the same bits."""
    W = iris.initial_state(13, seed=6)
    deep = dn.GradientDescentMap(eta=0.5, hidden=(9, 5), activation="tanh", weight_decay=0.01)
    Wd = deep.initial_state(10, seed=2)
    ref = eng.advance(iris, W, 4)
    ref_d = eng.advance(deep, Wd, 3)
    ref_obs, _ = eng.observe(deep, Wd, 3, 1)
    monkeypatch.setattr(eng, "_CHUNK_BYTES", chunk_bytes)
    assert eng._chunk(iris.problem()) == {1: 1, 3 * 2 * 13 * 8 * 8: 3, 10**9: 16}[chunk_bytes]
    assert np.array_equal(eng.advance(iris, W, 4), ref)
    assert np.array_equal(eng.advance(deep, Wd, 3), ref_d)
    assert np.array_equal(eng.observe(deep, Wd, 3, 1)[0]["loss"], ref_obs["loss"])
