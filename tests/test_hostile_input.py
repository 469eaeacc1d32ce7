"""Hostile input on the newer surface (issue 23 items 12, 14, 15, 17): refused with one line that
names what to fix, before anything is computed, or accepted as a user means it."""

import numpy as np
import pytest

import dynnet as dn
from dynnet import datasets


def small_gd(**kw):
    return dn.GradientDescentMap(hidden=(2,), **kw)


# -- item 17: duplicates --------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: dn.EtaScanStudy.quick(etas=(0.3, 0.3)),
    lambda: dn.LearningWindowStudy.quick(etas=(0.3, 0.3)),
    lambda: dn.SharpeningStudy.quick(etas=(0.3, 0.3)),
    lambda: dn.EdgeOfStabilityStudy.quick(eps=(1e-8, 1e-8)),
    lambda: dn.OrbitalStabilityStudy.quick(eps=(1e-8, 1e-8)),
    lambda: dn.IntermittencyStudy.quick(compare_eta=(2.0, 2.0)),
    lambda: dn.RegularizationStudy.quick(weight_decays=(0.0, 0.0)),
], ids=["eta_scan", "learning_window", "sharpening", "edge", "orbital", "intermittency", "regularization"])
def test_a_repeated_value_is_refused_with_one_line(make):
    with pytest.raises(ValueError, match="repeats a value|distinct") as info:
        make().run()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("values", [[10, (10,)], [(10,), [10]], [3, 3.0]])
def test_a_grid_listing_the_same_network_twice_is_refused(values):
    g = dn.GridStudy(study=dn.PerturbationStudy(map=small_gd(), n_init=2, n_steps=5),
                     grid={"map__hidden": values})
    with pytest.raises(ValueError, match=r"grid\['map__hidden'\] repeats the value") as info:
        g.run()
    assert "\n" not in str(info.value)


def test_distinct_grid_networks_still_run():
    g = dn.GridStudy(study=dn.PerturbationStudy(map=small_gd(), n_init=2, n_steps=5),
                     grid={"map__hidden": [2, (2, 2)]}, seed=0).run()
    assert g.result_.sizes["map__hidden"] == 2


# -- item 12: data as users pass it ----------------------------------------------------------------
def iris_frame():
    pd = pytest.importorskip("pandas")
    X, y = datasets.load("iris")
    names = ["sepal length", "sepal width", "petal length", "petal width"]
    return pd, pd.DataFrame(np.array(X), columns=names), pd.Series(np.array(y), name="species")


def test_a_dataframe_and_series_load_as_the_arrays():
    pd, X, y = iris_frame()
    Xa, ya = datasets.load((X, y))
    Xb, yb = datasets.load((X.to_numpy(), y.to_numpy()))
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(ya, yb)
    assert datasets.feature_names(X) == tuple(X.columns)
    assert datasets.feature_names(X.to_numpy()) is None
    # a one-column frame as y, a Series as X (one feature)
    np.testing.assert_array_equal(datasets.load((X, y.to_frame()))[1], yb)
    assert datasets.load((X["petal length"], y))[0].shape == (150, 1)
    assert datasets.feature_names(X["petal length"]) == ("petal length",)


def test_pandas_columns_that_cannot_be_features_are_named():
    pd, X, y = iris_frame()
    with pytest.raises(TypeError, match=r"column\(s\) \['kind'\] are not numeric"):
        datasets.load((X.assign(kind="a"), y))
    Xn = X.astype("Float64")
    Xn.iloc[2, 1] = pd.NA
    with pytest.raises(ValueError, match=r"1 missing values .* \['sepal width'\]"):
        datasets.load((Xn, y))
    yn = y.astype("Int64")
    yn.iloc[3] = pd.NA
    with pytest.raises(ValueError, match="y contains 1 missing labels"):
        datasets.load((X, yn))


def test_labels_mixing_strings_and_numbers_get_a_message_about_the_labels():
    X, _ = datasets.load("iris")
    y = np.array(["a", 1, "b"] * 50, dtype=object)
    with pytest.raises(TypeError, match="labels y cannot be sorted") as info:
        dn.GradientDescentMap(dataset=(X, y)).data("train")
    assert "test_size" not in str(info.value)


# -- item 15: messages that name what to fix -------------------------------------------------------
def test_a_network_too_large_for_memory_names_hidden_before_allocating():
    s = dn.PerturbationStudy(map=dn.GradientDescentMap(hidden=(2**40,)), n_init=2, n_steps=5)
    with pytest.raises(dn.MemoryBudgetError, match=r"hidden=\(1099511627776,\).*lower hidden") as info:
        s.run()
    assert "Unable to allocate" not in str(info.value)


def test_a_grid_estimator_its_study_cannot_feed_names_what_it_can():
    g = dn.GridStudy(study=dn.PerturbationStudy(map=dn.HenonMap(), perturber=dn.UniformPerturber(on="all"),
                                                n_init=2, n_steps=5),
                     grid={"n_steps": [5, 6]}, estimators=[dn.Kantz()])
    with pytest.raises(ValueError, match=r"PerturbationStudy can feed: .*FiniteLyapunov") as info:
        g.run()
    assert "Kantz" in str(info.value).split("can feed")[0]
    assert "Kantz" not in str(info.value).split("can feed")[1]


# -- item 14: no silent hour ------------------------------------------------------------------------
def test_a_grid_of_a_million_cells_is_refused_at_once_with_its_size():
    g = dn.GridStudy(study=dn.PerturbationStudy(), grid={"map__eta": list(np.linspace(0.1, 1.0, 1000)),
                                                         "n_steps": list(range(5, 1005))})
    with pytest.raises(ValueError, match=r"1,000,000 cells \(map__eta: 1000 x n_steps: 1000\)"):
        g.run()


def test_a_large_grid_checks_each_value_once_and_still_finds_a_bad_one():
    from dynnet.studies.grid import CHECK_ALL_CELLS

    etas = list(np.linspace(0.1, 1.0, CHECK_ALL_CELLS // 2))
    g = dn.GridStudy(study=dn.PerturbationStudy(map=small_gd(), n_init=2, n_steps=5),
                     grid={"map__eta": etas, "n_steps": [5, 6, -1]})
    checked = g._checked_indices(g._grid_items())
    assert len(checked) == len(etas) + 2 < len(etas) * 3
    with pytest.raises(ValueError, match="n_steps=-1"):
        g.run()


def test_the_learning_window_preflight_is_short_whatever_lyapunov_steps():
    """The tiny copy checked before the run does not run the user's 100,000 steps."""
    s = dn.LearningWindowStudy(lyapunov_steps=100_000)
    tiny = s._tiny_params()
    assert tiny["lyapunov_steps"] == 300 and tiny["n_init"] == 1
    assert dn.LearningWindowStudy(lyapunov_steps=40)._tiny_params()["lyapunov_steps"] == 40


@pytest.mark.parametrize("kw, left", [({"test_size": 0.999}, 0), ({"n_samples": 10, "test_size": 0.96}, 0),
                                      ({"test_size": 149}, 1)])
def test_a_test_size_that_leaves_no_training_rows_is_refused_before_computing(kw, left):
    with pytest.raises(ValueError, match=f"leaves {left} of the .* samples for training"):
        dn.PerturbationStudy(map=small_gd(**kw), n_init=2, n_steps=5).run()


def test_n_samples_with_the_default_test_size_says_how_to_set_it():
    with pytest.raises(ValueError, match=r"with n_samples=10, give test_size <= 8 \(e.g. 2\) or a fraction"):
        small_gd(n_samples=10).data("train")
    assert small_gd(n_samples=10, test_size=0.2).data("train")[0].shape == (8, 4)


def test_a_huge_data_set_gets_small_batches_so_the_progress_bar_moves():
    """The batch of orbits is sized by its work too (rows x dim x steps): on a million rows a
    batch is a few networks, on Iris it stays the memory-sized batch."""
    from dynnet.studies._ensemble import default_chunk, orbit_work

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((1000, 4)), rng.integers(0, 3, 1000)
    big = dn.GradientDescentMap(dataset=(X, y), test_size=0)
    assert orbit_work(big, 60) == 6.0 * big.dim * 1000 * 60
    iris = dn.GradientDescentMap()
    assert default_chunk(5, 83, 201, 2**34, 1, orbit_work(iris, 200)) == default_chunk(5, 83, 201, 2**34, 1)
    million_rows = orbit_work(big, 60) * 1000  # the same network on 10^6 rows
    assert default_chunk(5, big.dim, 61, 2**34, 1, million_rows) <= 20
    assert orbit_work(dn.HenonMap(), 100) == 6.0 * 2 * 100
