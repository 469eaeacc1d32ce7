"""Studies ask for capabilities, not types (issue 18 item 6): a map written by a user, with only
``step``, ``jvp`` and ``hvp``, runs through every built-in study its capabilities allow, and a
study that needs more refuses it before computing, in one line naming what is missing."""

import warnings

import numpy as np
import pytest

import dynnet as dn

_rng = np.random.default_rng(7)
X = _rng.standard_normal((24, 3))
Y = np.sign(X @ np.array([1.0, -2.0, 0.5]) + 0.3 * _rng.standard_normal(24))


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class LogisticGD(dn.Map):
    """Full-batch gradient descent on a 3-weight logistic regression, written as a user would:
    ``step``, ``jvp`` and ``hvp`` only (no jacobian, hessian, loss method or coordinate groups)."""

    dim = 3
    rows = 0  # rows stepped, by every instance of this class and its subclasses

    def __init__(self, eta=0.5):
        self.eta = eta

    def _grad(self, w):
        s = _sig(-Y * (w @ X.T))
        return -(s * Y) @ X / X.shape[0]

    def step(self, states):
        w = np.asarray(states, dtype=np.float64)
        LogisticGD.rows += w.shape[0]
        return w - float(self.eta) * self._grad(w)

    def hvp(self, states, V):
        w = np.asarray(states, dtype=np.float64)
        p = _sig(w @ X.T)
        c = p * (1.0 - p) / X.shape[0]
        return ((np.asarray(V, dtype=np.float64) @ X.T) * c[:, None, :]) @ X

    def jvp(self, states, V):
        return np.asarray(V, dtype=np.float64) - float(self.eta) * self.hvp(states, V)

    def observables(self, states):
        w = np.asarray(states, dtype=np.float64)
        return {"loss": np.mean(np.logaddexp(0.0, -Y * (w @ X.T)), axis=-1)}


class StepOnly(LogisticGD):
    """The same map without the Hessian: its jvp stays, hvp is gone."""

    hvp = None

    def jvp(self, states, V):
        w = np.asarray(states, dtype=np.float64)
        p = _sig(w @ X.T)
        c = p * (1.0 - p) / X.shape[0]
        return np.asarray(V) - float(self.eta) * (((np.asarray(V) @ X.T) * c[:, None, :]) @ X)


def _quick(cls, m):
    kw = {"map": m}
    if "perturber" in cls().get_params(deep=False):
        kw["perturber"] = None  # the study's default, which must fit a map without a weights group
    return cls.quick(**kw)


def _run(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return study.run(progress=False)


def test_the_user_map_has_the_capabilities_it_says():
    assert LogisticGD().capabilities() == {"jvp", "hvp"}
    assert StepOnly().capabilities() == {"jvp"}
    # jvp is J v with J = I - eta H: against a finite difference of step
    m, rng = LogisticGD(eta=0.7), np.random.default_rng(0)
    w, v = rng.standard_normal((2, 3)), rng.standard_normal((2, 1, 3))
    h = 1e-6
    fd = (m.step(w + h * v[:, 0]) - m.step(w - h * v[:, 0])) / (2 * h)
    np.testing.assert_allclose(m.jvp(w, v)[:, 0], fd, rtol=1e-7, atol=1e-9)


# each study the map's capabilities allow, and the numbers it must not drop
RUNS = {
    dn.PerturbationStudy: ("final_mean_log_distance", "final_loss_mean"),
    dn.EdgeOfStabilityStudy: ("finitelyapunov.mle", "tangent_exponent", "tangent_ftle"),
    dn.OrbitalStabilityStudy: ("d_final_over_d_0", "weight_norm_growth", "final_loss_mean"),
    dn.PostLearningStudy: ("d_final_over_d_0",),
    dn.EtaScanStudy: ("mle", "top_exponent", "sharpness_ratio"),
    dn.SharpeningStudy: ("sharpness_max", "finitelyapunov.mle"),
    dn.IntermittencyStudy: ("kantz_exponent_median", "laminar_fraction_mean"),
    dn.BifurcationStudy: ("period", "tangent_exponent"),
}


@pytest.mark.parametrize("cls", list(RUNS), ids=lambda c: c.__name__)
def test_a_user_map_with_step_jvp_and_hvp_runs_through_the_study(cls):
    s = _run(_quick(cls, LogisticGD()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # medians of all-NaN columns (no neighbours)
        summary = s.summary()
    for key in RUNS[cls]:
        assert key in summary, f"{cls.__name__} dropped {key}: {sorted(summary.data_vars)}"
    # the jvp- and hvp-based numbers are computed, not NaN placeholders (the edge study's
    # tangent_exponent averages over the kept fits only, and this convex loss keeps none)
    for key in ("tangent_ftle", "top_exponent", "sharpness_ratio", "sharpness_max"):
        if key in RUNS[cls]:
            assert np.any(np.isfinite(summary[key].values)), (cls.__name__, key)
    if cls is dn.BifurcationStudy:
        assert np.any(np.isfinite(summary["tangent_exponent"].values))
    if cls is dn.EdgeOfStabilityStudy:
        assert np.all(np.isfinite(s.result_["tangent_log_norm"].values))
        # gradient descent on a convex loss contracts: J = I - eta H has norm < 1 here
        assert float(summary["tangent_ftle"]) < 0


def test_the_edge_study_perturbs_every_coordinate_of_a_map_without_weights():
    s = _quick(dn.EdgeOfStabilityStudy, LogisticGD())
    assert s.parts()["perturber"].on == "all"
    assert _quick(dn.EdgeOfStabilityStudy, dn.GradientDescentMap()).parts()["perturber"].on == "weights"
    given = dn.UniformPerturber(n=2, on="weights")
    kept = _quick(dn.EdgeOfStabilityStudy, LogisticGD()).set_params(perturber=given)
    assert kept.parts()["perturber"] is given


REFUSALS = [
    (dn.RegularizationStudy, LogisticGD, "RegularizationStudy: the map LogisticGD has no weight_decay "
                                         "parameter"),
    (dn.LearningWindowStudy, LogisticGD, "LearningWindowStudy: the map LogisticGD has no accuracy(states, "),
    (dn.SharpeningStudy, StepOnly, "SharpeningStudy: the map StepOnly has neither hvp(states, V) nor "
                                   "hessian(state)"),
]


@pytest.mark.parametrize("cls,make,message", REFUSALS, ids=lambda c: getattr(c, "__name__", "msg"))
def test_a_study_that_needs_more_refuses_the_map_before_computing(cls, make, message):
    LogisticGD.rows = 0
    with pytest.raises((TypeError, ValueError)) as err:
        _quick(cls, make()).run(progress=False)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)
    assert LogisticGD.rows == 0  # nothing was stepped


def test_a_weights_group_named_by_the_user_is_refused_before_computing():
    LogisticGD.rows = 0
    s = _quick(dn.OrbitalStabilityStudy, LogisticGD()).set_params(estimators=[dn.WeightDrift(on="weights")])
    with pytest.raises(ValueError, match=r"WeightDrift\(on='weights'\) names a coordinate group LogisticGD "
                                         r"does not have"):
        s.run(progress=False)
    assert LogisticGD.rows <= 1  # the parts' one-state probe at validation; a run steps thousands
