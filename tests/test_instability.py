"""InstabilityStudy: CLVs against the Hessian along training, on oracles whose answer is known."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dynnet as dn
from dynnet.base import check_array
from dynnet.maps.classic import LinearMap
from dynnet.studies.instability import (
    InstabilityStudy,
    instability_groups,
    participation,
    top_hessian_pairs,
)


class QuadraticGD(LinearMap):
    r"""GD on :math:`L = \tfrac12 w^\top H w`: :math:`w \mapsto (I - \eta H) w`, with ``hvp``."""

    def __init__(self, H=((1.0, 0.0), (0.0, 0.5)), eta: float = 1.0) -> None:
        self.H = H
        self.eta = eta

    def _matrix(self):
        H = check_array(self, "H", self.H, ndim=2)
        return np.eye(H.shape[0]) - float(self.eta) * H

    def hvp(self, states, V):
        H = np.asarray(self.H, dtype=np.float64)
        return np.einsum("ekj,ij->eki", np.asarray(V, dtype=np.float64), H)

    def coordinate_groups(self):
        n = self.dim
        return {"x1": np.arange(0, n // 2), "x2": np.arange(n // 2, n), "all": np.arange(n)}


def _rotated(eigs, seed):
    rng = np.random.default_rng(seed)
    rot, _ = np.linalg.qr(rng.standard_normal((len(eigs), len(eigs))))
    return rot @ np.diag(eigs) @ rot.T, rot


def _quadratic_study(H, eta, **kw):
    params = {"map": QuadraticGD(H=H, eta=eta), "eta": None, "n_init": 2, "n_transient": 60, "n_steps": 20,
              "every": 5, "n_backward": 80, "n_vectors": 2, "n_hessian": 2, "lanczos_iter": 50}
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dn.DivergenceWarning)  # an unstable quadratic grows, by design
        return InstabilityStudy(**params).run()


def test_quadratic_past_two_over_eta_clv1_is_top_hessian_eigenvector():
    # eta * lambda_max = 3 > 2: 1 - eta*lambda = -2 is the only multiplier outside (-1, 1)
    H, rot = _rotated([3.0, 0.8, 0.3, 0.1, 0.05, -0.2], seed=1)
    s = _quadratic_study(H, eta=1.0)
    r = s.result_
    np.testing.assert_allclose(r["cosine"].isel(vector=0).values, 1.0, atol=1e-10)
    np.testing.assert_allclose(r["sharpness"].values, 3.0, rtol=1e-12)
    # the growth rates of a constant linear map are ln|multipliers|, sorted: ln 2 and ln 1.2
    np.testing.assert_allclose(r["growth"].values[..., 0], np.log(2.0), atol=1e-10)
    np.testing.assert_allclose(r["growth"].values[..., 1], np.log(1.2), atol=1e-10)
    sm = s.summary()
    assert float(sm["fraction_crossing"]) == 1.0
    np.testing.assert_allclose(float(sm["cosine_median"]), 1.0, atol=1e-10)
    np.testing.assert_allclose(np.abs(r["cosine_hessian"].isel(hessian=1).values), 0.0, atol=1e-10)
    # CLV 2 is the eigenvector of -0.2 (multiplier 1.2): orthogonal to u_1
    np.testing.assert_allclose(r["cosine"].isel(vector=1).values, 0.0, atol=1e-10)


def test_quadratic_where_they_differ_negative_curvature_is_the_unstable_direction():
    # eta * lambda_max = 0.9 < 2, but lambda = -3 gives the multiplier 1 + 3 * eta = 4: the CLV is
    # the negative-curvature eigenvector, orthogonal to the top Hessian eigenvectors
    H, rot = _rotated([0.9, 0.5, 0.2, -3.0], seed=2)
    s = _quadratic_study(H, eta=1.0)
    r = s.result_
    np.testing.assert_allclose(r["cosine"].isel(vector=0).values, 0.0, atol=1e-10)
    u = rot[:, 3]
    v1 = np.abs(r["cosine_hessian"].values)  # CLV 1 against the top 2 eigenvectors: both ~0
    np.testing.assert_allclose(v1, 0.0, atol=1e-10)
    assert float(s.summary()["fraction_crossing"]) == 0.0
    assert np.isnan(float(s.summary()["cosine_median"]))
    # its IPR is that of the eigenvector itself
    np.testing.assert_allclose(r["ipr"].isel(vector=0).values, np.sum(u**4), rtol=1e-8)
    np.testing.assert_allclose(r["growth"].values[..., 0], np.log(4.0), atol=1e-10)


def test_lanczos_pairs_match_dense_eigh_on_the_network():
    m = dn.GradientDescentMap(eta=1.0)
    x = m.initial_state(3, seed=4)
    vals, vecs, res = top_hessian_pairs(m, x, 2, 200, seed=0)
    for e in range(3):
        w, U = np.linalg.eigh(m.hessian(x[e]))
        np.testing.assert_allclose(vals[e], w[::-1][:2], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(np.abs(np.sum(vecs[e] * U[:, ::-1][:, :2].T, axis=1)), 1.0, atol=1e-8)
    assert np.all(res < 1e-8)
    # fewer iterations than dim: an eigenvalue lies within the recorded residual of each Ritz value
    vals, _, res = top_hessian_pairs(m, x, 1, 20, seed=0)
    for e in range(3):
        w = np.linalg.eigvalsh(m.hessian(x[e]))
        assert np.min(np.abs(w - vals[e, 0])) <= res[e, 0] * (1 + 1e-6) + 1e-12


def test_lanczos_survives_a_breakdown():
    # H with a repeated eigenvalue: the Krylov space of any start is invariant after few steps
    H = np.diag([3.0, 1.0, 1.0, 1.0, 1.0])
    m = QuadraticGD(H=H, eta=0.1)
    vals, vecs, _ = top_hessian_pairs(m, np.zeros((1, 5)), 2, 5, seed=3)
    np.testing.assert_allclose(vals[0], [3.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(vecs[0, 0, 0]), 1.0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 50), i=st.integers(0, 49))
def test_ipr_localised_is_one_and_uniform_is_one_over_dim(n, i):
    e = np.zeros(n)
    e[i % n] = -1.0
    assert participation(e) == 1.0
    np.testing.assert_allclose(participation(np.full(n, n ** -0.5)), 1.0 / n, rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 40))
def test_ipr_lies_between_uniform_and_localised(seed, n):
    v = np.random.default_rng(seed).standard_normal(n)
    v /= np.linalg.norm(v)
    assert 1.0 / n - 1e-12 <= participation(v) <= 1.0 + 1e-12


@pytest.fixture(scope="module")
def quick():
    return InstabilityStudy.quick().run()


def test_shares_of_a_partition_sum_to_one(quick):
    r = quick.result_
    groups = [str(g) for g in r["group"].values]
    share = r["share"]
    for part in (["W1", "b1", "W2", "b2"], ["weights", "biases"], ["layer1", "layer2"]):
        total = share.sel(group=part).sum("group").values
        np.testing.assert_allclose(total, 1.0, atol=1e-12)
    m = dn.GradientDescentMap()
    g = instability_groups(m)
    assert set(groups) == set(g)
    np.testing.assert_array_equal(g["layer1"], np.sort(np.concatenate([g["W1"], g["b1"]])))


def test_quick_records_are_consistent(quick):
    r = quick.result_
    assert r.sizes["step"] == 40 // 5 + 1
    assert np.all((r["cosine"].values >= 0) & (r["cosine"].values <= 1 + 1e-12))
    np.testing.assert_allclose(r["ratio"].values, r["sharpness"].values * 1.0 / 2.0)
    # the subspace overlap is at least the cosine with u_1
    assert np.all(r["subspace_overlap"].values >= r["cosine"].isel(vector=0).values - 1e-12)
    # top-drift coordinates: n_top of them, and they are the ones that moved furthest
    n_top = max(1, round(0.1 * r.sizes["coord"]))
    assert int(r["n_top"]) == n_top == 8
    d = r["drift"].values
    for i in range(d.shape[0]):
        top = np.argsort(-d[i], kind="stable")[:n_top]
        assert d[i][top].min() >= np.delete(d[i], top).max()
    # the top share is the share on those coordinates, at most 1 and at least 0
    assert np.all((r["top_share"].values >= 0) & (r["top_share"].values <= 1 + 1e-12))
    s = quick.summary()
    assert float(s["cosine_null"]) == pytest.approx(np.sqrt(2 / (np.pi * 83)))
    assert float(s["top_share_null"]) == pytest.approx(8 / 83)


def test_same_seed_same_bits(quick):
    again = InstabilityStudy.quick().run()
    for k in quick.result_.data_vars:
        np.testing.assert_array_equal(again.result_[k].values, quick.result_[k].values)
    other = InstabilityStudy.quick(seed=1).run()
    assert not np.array_equal(other.result_["cosine"].values, quick.result_["cosine"].values)


def test_save_load_round_trip(quick, tmp_path):
    path = tmp_path / "inst.nc"
    quick.save(path)
    back = dn.load(path)
    assert type(back) is InstabilityStudy
    for k in quick.result_.data_vars:
        np.testing.assert_array_equal(back.result_[k].values, quick.result_[k].values)
    a, b = quick.summary(), back.summary()
    for k in a.data_vars:
        np.testing.assert_array_equal(a[k].values, b[k].values)


def test_plots_have_mathtext_labels(quick):
    figs = quick.plot()
    assert len(figs) == 3
    ylabels = [ax.get_ylabel() for f in figs for ax in f.axes]
    assert any("$" in y for y in ylabels)


def test_refuses_a_map_without_hvp():
    with pytest.raises(TypeError, match="hvp"):
        InstabilityStudy(map=dn.HenonMap(), eta=None).run()


def test_every_must_divide_n_steps():
    with pytest.raises(ValueError, match="every"):
        InstabilityStudy(n_steps=10, every=3).run()


def test_rows_have_the_table_columns_and_follow_the_rules(quick):
    from dynnet.instability_questions import (
        ALIGN_NO,
        ALIGN_YES,
        INSTABILITY_RULES,
        align_verdict,
        instability_rows,
        instability_studies,
        local_verdict,
    )
    from dynnet.reproduce import FIELDS

    rows = instability_rows({"instability_iris_eta1": quick})
    assert rows and all(list(r) == list(FIELDS) for r in rows)
    verdict = [r for r in rows if r["key"] == "instability.aligns[iris]"]
    assert len(verdict) == 1 and verdict[0]["rule"] == INSTABILITY_RULES["instability.aligns"]
    s = quick.summary()
    assert verdict[0]["verdict"] == align_verdict(float(s["cosine_median"]), float(s["fraction_crossing"]))
    assert align_verdict(ALIGN_YES, 1.0) == "yes"
    assert align_verdict(ALIGN_NO - 1e-9, 1.0) == "no"
    assert align_verdict(0.5 * (ALIGN_YES + ALIGN_NO), 1.0) == "not clear"
    assert align_verdict(0.99, 0.4) == "not clear"
    assert local_verdict(0.9) == "yes" and local_verdict(0.05) == "no" and local_verdict(0.3) == "not clear"
    assert local_verdict(float("nan")) == "not clear"
    names = [n for n, _ in instability_studies(quick=True)]
    assert names == ["instability_iris_eta1", "instability_iris_eta5", "instability_digits_eta1",
                     "instability_digits_eta5"]
    full = dict(instability_studies())
    assert full["instability_digits_eta5"].parts()["map"].dataset == "digits"
    assert full["instability_iris_eta5"].eta == 5.0


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_shares_of_the_two_halves_sum_to_one_for_any_quadratic(seed):
    rng = np.random.default_rng(seed)
    H, _ = _rotated(np.concatenate([[3.0], rng.uniform(-0.5, 1.5, 5)]), seed=seed)
    s = _quadratic_study(H, eta=1.0, n_init=1, n_transient=5, n_backward=5, n_steps=10)
    total = s.result_["share"].sel(group=["x1", "x2"]).sum("group").values
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert np.all(s.result_["ipr"].values >= 1.0 / 6 - 1e-12)
