"""Every built-in study runs on a TorchMap CNN (issue 19): its quick preset, made smaller.

A small convolutional network on the 8x8 digits (``nn.Conv2d(1, 2, 3, stride=2)``,
tanh, a linear read-out: 210 parameters, 100 training samples) stands in for the
map of each study's quick preset, with fewer members and steps so each run
takes seconds. A study that runs must give finite numbers in its own records and a
summary (single records may be NaN in runs this short: no exponent fit is
kept, an accuracy threshold is not reached, as for any map). The two numbers
that studies once recorded only for GradientDescentMap (PostLearningStudy's
Hessian eigenvalues, BifurcationStudy's time to accuracy) are tested at the end:
the studies now ask for the capabilities (J = I - eta H; ``accuracy`` and a test
split), not the type. A study that refused a TorchMap would go in ``NOT_YET``,
marked ``xfail(strict=True)`` with the missing capability.
"""

import numpy as np
import pytest
import torch
from dynnet_torch import TorchMap

import dynnet as dn
from dynnet.studies.base import Study


def digits_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, stride=2), torch.nn.Tanh(), torch.nn.Flatten(),
                               torch.nn.Linear(18, 10))


def cnn_map(**kw):
    return TorchMap(module=digits_cnn(), dataset="digits", input_shape=(1, 8, 8), n_samples=120,
                    test_size=20, eta=kw.pop("eta", 0.5), **kw)


#: each built-in study's quick preset with the CNN and fewer members and steps
SMALL = {
    "BifurcationStudy": dict(values=(0.1, 1.0, 5.0), n_transient=20, n_keep=16, n_record=16, max_period=4),
    "EdgeOfStabilityStudy": dict(n_init=4, n_steps=60, n_steps_long=40),
    "EtaScanStudy": dict(n_init=2, n_steps=60, transient=20, sharpness_every=20),
    "InstabilityStudy": dict(n_init=2, n_transient=5, n_steps=20, every=5, n_backward=5, lanczos_iter=30),
    "IntermittencyStudy": dict(n_init=2, n_steps=200, transient=50, figure_min_length=50),
    "LearningWindowStudy": dict(etas=(0.1, 1.0), n_init=2, n_steps=60, lyapunov_steps=40),
    "OrbitalStabilityStudy": dict(n_init=2, n_steps=60),
    "PerturbationStudy": dict(n_init=4, n_steps=30),
    "PostLearningStudy": dict(n_init=2, n_before=60, n_after=40),
    "RegularizationStudy": dict(n_init=2, n_steps=60),
    "SharpeningStudy": dict(n_init=2, n_steps=60, sharpness_every=20),
    "GridStudy": None,  # built below: a grid over the CNN's learning rate
}

#: the studies that do not run on a TorchMap yet: study -> (what fails, the capability it should ask for)
NOT_YET: dict[str, str] = {}


def built_in_studies():
    return sorted(n for n in dir(dn) if isinstance(getattr(dn, n), type)
                  and issubclass(getattr(dn, n), Study) and getattr(dn, n) is not Study)


def make_study(name):
    cls = getattr(dn, name)
    if name == "GridStudy":
        inner = dn.EdgeOfStabilityStudy(map=cnn_map(), eps=(1e-8,), n_init=2, n_steps=40, n_steps_long=0)
        return cls.quick(study=inner, grid={"map__eta": (0.5, 1.0)})
    return cls.quick(map=cnn_map(), **SMALL[name])


def test_every_built_in_study_is_listed():
    """A new built-in study must be added to SMALL (so it is tried on the CNN) or the test fails."""
    assert sorted(SMALL) == built_in_studies()


def _params():
    out = []
    for name in sorted(SMALL):
        marks = [pytest.mark.xfail(strict=True, reason=f"{name}: {NOT_YET[name]}")] if name in NOT_YET else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.filterwarnings("ignore::dynnet.NoExponentWarning")  # tiny runs: no fit kept, by design
@pytest.mark.parametrize("name", _params())
def test_study_quick_preset_runs_on_a_torch_cnn(name):
    s = make_study(name)
    s.run()
    m = s.get_params(deep=True)
    assert any(isinstance(v, TorchMap) for v in m.values())  # the CNN is the study's map
    res = s.result_
    floats = [k for k, v in res.data_vars.items() if np.issubdtype(v.dtype, np.floating) and v.size]
    assert floats
    # the study's own records hold numbers of the CNN's runs; single records may be NaN in a run this
    # short (no exponent fit kept, accuracy threshold not reached), as with any map
    own = [k for k in floats if "." not in k]
    assert any(np.isfinite(res[k].values).any() for k in own), f"{name}: all its records are NaN"
    assert len(s.summary()) > 0


# ---- what the studies once decided by a map's type: they ask for capabilities, so a TorchMap gets it ----

def test_post_learning_records_the_hessian_eigenvalues_of_a_torch_map():
    s = dn.PostLearningStudy.quick(map=cnn_map(), n_init=1, n_before=5, n_after=5).run()
    assert "hessian_eigenvalues" in s.result_


def test_bifurcation_times_the_accuracy_of_a_torch_map():
    s = dn.BifurcationStudy.quick(map=cnn_map(), values=(0.1, 1.0), n_init=1, n_transient=4, n_keep=4,
                                  n_record=4, max_period=2).run()
    assert "member_time_to_accuracy" in s.result_
