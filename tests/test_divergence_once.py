"""Divergence is data, once (issue 24 item 9): one DivergenceWarning per study run, NaN and a flag
in the result, wherever the orbits overflowed (the ensemble, a reference orbit, a spectrum, a cell)."""

import warnings

import numpy as np
import pytest

import dynnet as dn
from dynnet.studies._ensemble import divergence_once, held_divergence, warn_divergence


def tiny(eta=1e6):
    """A 4-2-3 tanh network with the squared error: at eta = 1e6 every orbit overflows within
    about 30 steps."""
    return dn.GradientDescentMap(eta=eta, hidden=(2,), activation="tanh", loss="mse")


STUDIES = {
    "edge": lambda: dn.EdgeOfStabilityStudy.quick(map=tiny(), n_init=2, eps=(1e-8, 1e-6), n_steps=40,
                                                   n_steps_long=0),
    "eta_scan": lambda: dn.EtaScanStudy.quick(map=tiny(), etas=(1e5, 1e6), n_init=2, n_steps=40,
                                              transient=5, sharpness_every=10),
    "learning_window": lambda: dn.LearningWindowStudy.quick(map=tiny(), etas=(1e5, 1e6), n_init=2,
                                                            n_steps=40, lyapunov_steps=30),
    "intermittency": lambda: dn.IntermittencyStudy.quick(map=tiny(), n_init=2, n_steps=60, transient=10,
                                                         compare_eta=(1e6,)),
    "grid": lambda: dn.GridStudy(study=dn.PerturbationStudy(map=tiny(), n_init=2, n_steps=40),
                                 grid={"map__eta": [1e5, 1e6]}, seed=0),
    "orbital": lambda: dn.OrbitalStabilityStudy.quick(map=tiny(), n_init=2, n_steps=40, every=1),
}


def run_recording(make):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        s = make().run()
    return s, [w for w in rec if issubclass(w.category, dn.DivergenceWarning)]


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_a_diverging_run_warns_exactly_once(name):
    s, div = run_recording(STUDIES[name])
    assert len(div) == 1, [str(w.message) for w in div]
    assert str(div[0].message).startswith(type(s).__name__ + ":")
    assert "diverged" in str(div[0].message)
    assert div[0].filename == __file__  # the user's line that ran the study


def test_the_grid_names_the_cells_that_diverged():
    g = dn.GridStudy(study=dn.PerturbationStudy(map=tiny(), n_init=2, n_steps=40),
                     grid={"map__eta": [0.1, 1e6]}, seed=0)
    _, div = run_recording(lambda: g)
    assert len(div) == 1
    text = str(div[0].message)
    assert "in 1 of 2 cells" in text and "map__eta=1000000.0" in text and "map__eta=0.1" not in text


def test_a_grid_cell_returns_its_divergence_as_data():
    """A cell run in a worker process cannot warn in this one: its divergence travels with its
    summary, and the grid warns."""
    from dynnet.studies.grid import _run_cell

    cell = dn.PerturbationStudy(map=tiny(), n_init=2, n_steps=40, seed=0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        packed = _run_cell(cell, 1, None, 2**30, False)
    assert not [w for w in rec if issubclass(w.category, dn.DivergenceWarning)]
    n, total, n_warnings = packed["divergence"].tolist()
    assert n == total == 12 and n_warnings == 1
    calm = _run_cell(dn.PerturbationStudy(map=tiny(0.1), n_init=2, n_steps=5, seed=0), 1, None, 2**30, False)
    assert calm["divergence"].tolist() == [0, 0, 0]


def test_orbital_study_flags_a_diverged_network_and_gives_nan():
    s, div = run_recording(STUDIES["orbital"])
    assert len(div) == 1
    ds = s.result_
    assert ds["reference_diverged"].values.all()
    assert np.isnan(ds["importance"].values).all() and np.isnan(ds["drift_slope"].values).all()
    assert ds["diverged"].values.all()


def test_a_calm_run_does_not_warn_and_other_warnings_pass():
    s, div = run_recording(lambda: dn.EdgeOfStabilityStudy.quick(map=tiny(0.1), n_init=2, eps=(1e-8,),
                                                                   n_steps=30, n_steps_long=0))
    assert not div and not s.result_["diverged"].values.any()

    class Owner:
        pass

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with divergence_once(Owner()):
            warnings.warn("unrelated", UserWarning, stacklevel=1)
            warnings.warn("GradientDescentMap: 1 of 2 members diverged", dn.DivergenceWarning, stacklevel=1)
            warn_divergence(Owner(), np.array([True, False, True]))
            warn_divergence(Owner(), np.array([False, True]))
    assert [w.category for w in rec] == [UserWarning, dn.DivergenceWarning]
    assert str(rec[1].message).startswith("Owner: 3 of 5 orbits diverged")


def test_held_divergence_keeps_the_counts():
    class Owner:
        pass

    with held_divergence() as held:
        warn_divergence(Owner(), np.array([True, True, False]))
    assert len(held) == 1 and held[0].counts == (2, 3)
