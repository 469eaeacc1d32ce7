"""Estimators declare what they need; every built-in study feeds each estimator whose needs its
result meets (issue 18 item 2), and refuses the others before computing.

The estimators here are third-party: written in this file, not in dynnet.
"""

import warnings

import numpy as np
import pytest

import dynnet as dn
from dynnet.estimators.base import Needs


class FinalLogDistance(dn.Estimator):
    """A third-party estimator of the distances: the mean log distance at the last record."""

    needs = Needs(data=("distance",))

    def __init__(self, floor=1e-300):
        self.floor = floor

    def fit_result(self, result, map=None):
        d = np.asarray(result["distance"].transpose("step", ...).values[-1], dtype=np.float64)
        self.value_ = float(np.nanmean(np.log(np.maximum(d, self.floor))))
        return self

    def summary(self):
        self._check_fitted("value_")
        return {"value": self.value_}


class LossRange(dn.Estimator):
    """A third-party estimator of a scalar series: max - min of the first loss series."""

    needs = Needs(data=("loss",))

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit_result(self, result, map=None):
        from dynnet.estimators.base import result_series

        s = result_series(self, result, "loss")
        self.value_ = float(self.scale * (s.max() - s.min()))
        return self

    def summary(self):
        self._check_fitted("value_")
        return {"value": self.value_}


class NeedsNothingThere(dn.Estimator):
    needs = Needs(data=("no_such_variable",))

    def __init__(self, a=1):
        self.a = a


class NeedsAHessian(dn.Estimator):
    needs = Needs(data=("distance",), map=("hessian",))

    def __init__(self, a=1):
        self.a = a


def _small(cls, **kw):
    """The quick preset, smaller still (seconds on one core)."""
    sizes = {
        "PerturbationStudy": {"n_init": 3, "n_steps": 40},
        "EdgeOfStabilityStudy": {"n_init": 3, "eps": (1e-8, 1e-4), "n_steps": 60, "n_steps_long": 0},
        "OrbitalStabilityStudy": {"n_init": 2, "n_steps": 40},
        "PostLearningStudy": {"n_init": 2},
        "EtaScanStudy": {"n_init": 2},
        "SharpeningStudy": {"n_init": 2},
        "RegularizationStudy": {"n_init": 2},
        "LearningWindowStudy": {"n_init": 2},
        "IntermittencyStudy": {},
        "BifurcationStudy": {},
    }[cls.__name__]
    return cls.quick(**{**sizes, **kw})


def _with(study, extra):
    """The study's own estimators (its default list or preset) plus ``extra``."""
    own = study.parts().get("estimators") or []
    return study.set_params(estimators=list(own) + list(extra))


def _run(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return study.run(progress=False)


# the studies whose result holds the distances of a perturbation ensemble, and the dimension that
# indexes their ensembles (None: one ensemble)
DISTANCE_STUDIES = [
    (dn.PerturbationStudy, None),
    (dn.EdgeOfStabilityStudy, "eps"),
    (dn.OrbitalStabilityStudy, "eps"),
    (dn.PostLearningStudy, "eps"),
    (dn.SharpeningStudy, "eta"),
    (dn.RegularizationStudy, "weight_decay"),
    (dn.EtaScanStudy, "eta"),
    (dn.LearningWindowStudy, "eta"),
]


@pytest.mark.parametrize("cls,dim", DISTANCE_STUDIES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_a_third_party_distance_estimator_runs_in_every_study_with_distances(cls, dim):
    s = _run(_with(_small(cls), [FinalLogDistance()]))
    summary = s.summary()
    assert "finallogdistance.value" in summary, sorted(summary.data_vars)
    got = summary["finallogdistance.value"]
    ds = s.result_
    if "distance" not in ds:  # EtaScanStudy keeps its table only: the number is there per eta
        assert got.dims == (dim,) and np.all(np.isfinite(got.values))
        return
    dist = ds["distance"]
    if cls is dn.LearningWindowStudy:
        dist = dist.rename(lstep="step")
    if dim is None:
        want = FinalLogDistance().fit_result(ds).value_
        assert float(got) == want
    else:
        assert got.dims == (dim,)
        want = [FinalLogDistance().fit_result(dist.isel({dim: k}).to_dataset(name="distance")).value_
                for k in range(ds.sizes[dim])]
        np.testing.assert_array_equal(got.values, want)


# the studies whose records hold a loss series along step
LOSS_STUDIES = [
    (dn.PerturbationStudy, None),
    (dn.EdgeOfStabilityStudy, "eps"),
    (dn.OrbitalStabilityStudy, "eps"),
    (dn.PostLearningStudy, "eps"),
    (dn.SharpeningStudy, "eta"),
    (dn.RegularizationStudy, "weight_decay"),
    (dn.EtaScanStudy, "eta"),
    (dn.IntermittencyStudy, "init"),
    (dn.BifurcationStudy, "eta"),
]


@pytest.mark.parametrize("cls,dim", LOSS_STUDIES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_a_third_party_series_estimator_runs_where_a_study_has_a_loss_series(cls, dim):
    s = _run(_with(_small(cls), [LossRange()]))
    got = s.summary()["lossrange.value"] if cls is not dn.IntermittencyStudy else s.result_["lossrange.value"]
    if dim is None:
        assert got.dims == ()
    else:
        assert got.dims == (dim,)
    ds = s.result_
    if "loss" in ds and cls is not dn.IntermittencyStudy:
        loss = ds["loss"]
        if dim is None or dim not in loss.dims:
            sub = [loss] * (1 if dim is None else ds.sizes[dim])
        else:
            sub = [loss.isel({dim: k}) for k in range(ds.sizes[dim])]
        want = [LossRange().fit_result(v.to_dataset(name="loss")).value_ for v in sub]
        np.testing.assert_array_equal(np.atleast_1d(got.values), want)
    elif cls is dn.IntermittencyStudy:
        loss = ds["loss"].values[int(s.transient):]
        np.testing.assert_array_equal(got.values, loss.max(axis=0) - loss.min(axis=0))
    else:
        assert np.all(np.isfinite(got.values))


ALL_STUDIES = [dn.PerturbationStudy, dn.EdgeOfStabilityStudy, dn.OrbitalStabilityStudy,
               dn.PostLearningStudy, dn.SharpeningStudy, dn.RegularizationStudy, dn.EtaScanStudy,
               dn.LearningWindowStudy, dn.IntermittencyStudy, dn.BifurcationStudy]


@pytest.mark.parametrize("cls", ALL_STUDIES, ids=lambda c: c.__name__)
def test_unmet_needs_are_refused_in_one_line_naming_the_estimator_and_what_is_missing(cls):
    with pytest.raises(ValueError) as err:
        _with(_small(cls), [NeedsNothingThere()]).run()
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{cls.__name__}: estimator NeedsNothingThere needs the result variable "
                          "'no_such_variable'"), msg


def test_series_estimators_are_refused_where_there_is_no_series():
    """The learning-window ensemble offers distances only; a loss reader is refused there."""
    with pytest.raises(ValueError, match="estimator LossRange needs the result variable 'loss'"):
        _with(_small(dn.LearningWindowStudy), [LossRange()]).run()
    with pytest.raises(ValueError, match="estimator FinalLogDistance needs the result variable 'distance'"):
        _with(_small(dn.IntermittencyStudy), [FinalLogDistance()]).run()


def test_an_estimator_that_declares_no_needs_is_refused_before_computing():
    with pytest.raises(ValueError, match="estimator Sharpness cannot be fitted from a study result"):
        _small(dn.EdgeOfStabilityStudy, estimators=[dn.FiniteLyapunov(), dn.Sharpness()]).run()


class CountingHenon(dn.HenonMap):
    """A user's map that counts the rows it steps (a class attribute: clones share it)."""

    rows = 0

    def step(self, states):
        type(self).rows += np.asarray(states).shape[0]
        return super().step(states)


def test_unmet_needs_are_refused_before_anything_is_computed():
    CountingHenon.rows = 0
    p = dn.UniformPerturber(eps=1e-8, n=3, on="all")
    study = dn.PerturbationStudy(map=CountingHenon(), perturber=p, n_init=20, n_steps=500,
                                 estimators=[dn.FiniteLyapunov(), LossRange()])
    with pytest.raises(ValueError, match="estimator LossRange needs the result variable 'loss'"):
        study.run(progress=False)
    # a run would step 20 * 4 rows 500 times; not even one orbit was advanced
    assert CountingHenon.rows == 0
    with pytest.raises(ValueError, match=r"estimator NeedsAHessian needs a map with hessian"):
        study.set_params(estimators=[NeedsAHessian()]).run(progress=False)
    assert CountingHenon.rows == 0
    # and with its needs met it runs (the same map: the counter shows the run)
    ran = _run(study.set_params(n_steps=10, estimators=[FinalLogDistance()]))
    assert CountingHenon.rows >= 20 * 4 * 10
    assert np.isfinite(float(ran.summary()["finallogdistance.value"]))


def test_builtin_estimators_declare_what_they_read():
    distance = (dn.FiniteLyapunov, dn.FiniteSizeLyapunov)
    series = (dn.Rosenstein, dn.Kantz, dn.ShuffledAutocorrelation, dn.HorizontalVisibilityGraph,
              dn.LaminarPhases)
    for cls in distance:
        assert cls().needs == Needs(data=("distance",))
    for cls in series:
        assert cls().needs == Needs(data=("loss",))
    assert dn.ZeroOneTest(variable="weight_norm").needs == Needs(data=("weight_norm",))
    for cls in (dn.Sharpness, dn.LyapunovSpectrum, dn.WeightDrift, dn.WeightImportance):
        assert cls().needs is None


def test_a_series_estimator_fits_the_first_finite_series_of_a_result():
    import xarray as xr

    rng = np.random.default_rng(3)
    good = rng.standard_normal(400)
    X = np.stack([np.full(400, np.nan), good, rng.standard_normal(400)], axis=1)
    ds = xr.Dataset({"loss": (("step", "init"), X)})
    a = dn.HorizontalVisibilityGraph().fit_result(ds).summary()
    b = dn.HorizontalVisibilityGraph().fit(good).summary()
    assert a == b
    with pytest.raises(ValueError, match="every series of result\\['loss'\\] has non-finite values"):
        dn.LaminarPhases().fit_result(xr.Dataset({"loss": (("step", "init"), np.full((50, 2), np.nan))}))


class Undeclared(dn.Estimator):
    """An estimator written before needs existed: its own fit_result, nothing declared."""

    def __init__(self, a=1):
        self.a = a

    def fit_result(self, result, map=None):
        self.n_ = int(result.sizes["init"])
        return self

    def summary(self):
        return {"n": self.n_}


def test_an_own_fit_result_without_declared_needs_is_still_fed():
    assert Undeclared().needs is None and Undeclared().unmet_needs(set()) is None
    assert dn.Sharpness().unmet_needs({"distance"}) is not None  # the default fit_result: refused
    s = _run(_small(dn.PerturbationStudy, estimators=[Undeclared()]))
    assert int(s.summary()["undeclared.n"]) == 3
