"""dynnet's own Studies pass the public study checks (dynnet.testing.check_study), and the
checks catch a study that breaks the lifecycle."""

import numpy as np
import pytest

import dynnet as dn
from dynnet.testing import parametrize_with_checks, study_checks

_STUDIES = [
    dn.PerturbationStudy(map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=3, on="all"),
                         n_init=4, n_steps=20,
                         estimators=[dn.FiniteLyapunov(starts=range(0, 6, 5), lengths=range(10, 16, 5))]),
    dn.EdgeOfStabilityStudy.quick(n_init=3, eps=(1e-8,), n_steps=140),
    dn.OrbitalStabilityStudy.quick(n_init=2, n_steps=60, eps=(1e-8,), every=5),
    dn.PostLearningStudy.quick(n_init=2, n_before=30, n_after=30, eps=(1e-8,)),
    dn.IntermittencyStudy.quick(n_init=2, n_steps=400, transient=100, compare_eta=(2.0,)),
    dn.EtaScanStudy.quick(etas=(0.3, 1.0), n_init=2, n_steps=60, transient=10, sharpness_every=20),
    dn.SharpeningStudy.quick(),
    dn.RegularizationStudy.quick(),
    dn.LearningWindowStudy.quick(etas=(1.0,), n_init=2, n_steps=20, lyapunov_steps=40),
    dn.GridStudy(dn.EdgeOfStabilityStudy(n_init=2, eps=(1e-8,), n_steps=60, n_steps_long=0),
                 grid={"map__eta": (0.5, 1.0)}),
    dn.BifurcationStudy.quick(values=(0.5, 3.0), n_init=2),
    dn.InstabilityStudy.quick(),
]


@parametrize_with_checks(_STUDIES)
def test_builtin_study_conformance(obj, check):
    check(obj)


def test_every_builtin_study_is_checked():
    registered = set(dn.plugins.available("dynnet.studies"))
    classes = {type(s) for s in _STUDIES}
    for name in registered:
        if dn.plugins.available("dynnet.studies")[name] == "dynnet":
            assert dn.plugins.load("dynnet.studies", name) in classes, name


class _SettingsAsParameters(dn.PerturbationStudy):
    """A v0-style study: a run setting among its parameters."""

    def __init__(self, map=None, perturber=None, metric=None, estimators=(), n_init=2, n_steps=5, seed=0,
                 initial_states=None, every=1, n_jobs=1):
        super().__init__(map=map, perturber=perturber, metric=metric, estimators=estimators, n_init=n_init,
                         n_steps=n_steps, seed=seed, initial_states=initial_states, every=every)
        self.n_jobs = n_jobs


class _Unreproducible(dn.PerturbationStudy):
    """Draws its own randomness, outside the seed."""

    def _compute(self, ctx):
        ds = super()._compute(ctx)
        ds["noise"] = ("init",), np.random.default_rng().standard_normal(ds.sizes["init"])
        return ds


def test_the_study_checks_can_fail():
    from dynnet.testing._study_checks import check_study_init, check_study_reproducible

    with pytest.raises(AssertionError, match="run settings"):
        check_study_init(_SettingsAsParameters(map=dn.HenonMap()))
    with pytest.raises(AssertionError, match="noise"):
        check_study_reproducible(_Unreproducible(map=dn.HenonMap(), n_init=2, n_steps=5))
    assert len(study_checks()) == 5
