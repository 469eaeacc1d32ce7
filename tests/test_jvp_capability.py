"""Tangent dynamics ask for a capability (jvp or jacobian), not a type: a map with only step and jvp."""

import numpy as np

import dynnet as dn
from dynnet.studies.edge import tangent_log_growth

A = np.array([[1.2, 0.7], [0.0, 0.5]])  # non-normal; eigenvalues 1.2 and 0.5


class JvpOnlyLinear(dn.Map):
    """x -> A x with a matrix-free jvp and no jacobian."""

    dim = 2

    def step(self, states):
        return states @ A.T

    def jvp(self, states, V):
        return np.asarray(V, dtype=np.float64) @ A.T


def test_a_jvp_only_map_has_tangent_dynamics():
    m = JvpOnlyLinear()
    assert m.has_jvp and not m.has_jacobian
    assert dn.LogisticMap().has_jvp and not dn.Map.has_jvp.fget(_Bare())


class _Bare(dn.Map):
    dim = 1

    def step(self, states):
        return states


def test_tangent_growth_of_a_jvp_only_map_is_its_top_eigenvalue():
    m = JvpOnlyLinear()
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=(3, 2)) * 1e-3
    v0 = rng.normal(size=(3, 2))
    ell = tangent_log_growth(m, x0, v0, 2000, every=100)
    # the start's direction costs O(1) in ln|v|, so the rate is ln 1.2 to O(1/T)
    assert np.allclose(ell[-1] / 2000, np.log(1.2), atol=2e-3)


def test_the_edge_study_reports_tangent_numbers_for_a_jvp_only_map():
    s = dn.EdgeOfStabilityStudy(map=JvpOnlyLinear(), perturber=dn.UniformPerturber(eps=1e-10, n=2, on="all"),
                                eps=(1e-10, 1e-9), n_init=3, n_steps=40, n_steps_long=0, seed=0).run()
    assert "tangent_ftle" in s.result_
    assert np.allclose(s.result_["tangent_ftle"].values, np.log(1.2), atol=0.05)
