"""A loaded result must fit its own parameters, whatever its checksum says (issue 23 item 13).

Each crafted file below carries a valid SHA-256 checksum (recomputed with
``dynnet.results.checksums``, as ``save`` computes it), so only the consistency
checks of ``dn.load`` can refuse it.
"""

import json
import warnings

import numpy as np
import pytest

import dynnet as dn
from dynnet.results import ResultFileError, checksums


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    s = dn.PerturbationStudy(map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=3, on="all"),
                             n_init=6, n_steps=20, seed=0).run()
    path = tmp_path_factory.mktemp("r") / "r.nc"
    s.save(path)
    return path


def _craft(src, out, edit):
    import xarray as xr

    with xr.open_dataset(src, engine="scipy", mask_and_scale=False) as ds:
        ds = ds.load()
    ds = edit(ds)
    ds.attrs.pop("dynnet_checksum", None)
    ds.attrs["dynnet_checksum"] = json.dumps(checksums(ds), sort_keys=True)
    with warnings.catch_warnings():  # scipy casting a float fill value for an int variable
        warnings.simplefilter("ignore", RuntimeWarning)
        ds.to_netcdf(out, engine="scipy", format="NETCDF3_64BIT")
    return out


def _set_param(ds, key, value):
    params = json.loads(ds.attrs["dynnet_study"])
    params["params"][key] = value
    ds.attrs["dynnet_study"] = json.dumps(params, sort_keys=True)
    return ds


def _as_int(ds):
    ds["distance"] = ds["distance"].astype(np.int32)
    return ds


CRAFTS = {
    "dropped": (lambda ds: ds.drop_vars("final_state"), "record final_state .* is missing"),
    "int-distance": (_as_int, "record distance is int32, expected float64"),
    "object-array": (lambda ds: _set_param(ds, "initial_states", {"__array__": [[{"a": 1}, 2]] * 6,
                                                                   "dtype": "object"}),
                     "parameter initial_states is an array of dtype object"),
    "huge-n_init": (lambda ds: _set_param(ds, "n_init", 10**15),
                    "dimension init has 6 entries but n_init=1000000000000000"),
    "range-seed": (lambda ds: _set_param(ds, "seed", {"__range__": [0, 10**18, 1]}),
                   r"parameter seed=range\(0, 1000000000000000000\) has 1e\+18 values"),
    "list-seed": (lambda ds: _set_param(ds, "seed", [1.5]), "seed=.* is not an int"),
    "float32": (lambda ds: ds.assign(loss_copy=ds["distance"].astype(np.float32)),
                "variable loss_copy is float32"),
    "int-states": (lambda ds: ds.assign(initial_state=ds["initial_state"].astype(np.int32)),
                   "initial_state .*int32"),
    "pert-size": (lambda ds: _set_param(ds, "perturber", {"__class__": "dynnet.perturbers:UniformPerturber",
                                                          "params": {"eps": 1e-10, "n": 7, "on": "all"}}),
                  "dimension pert has 3 entries but perturber__n=7 implies 7"),
}


@pytest.mark.parametrize("case", sorted(CRAFTS))
def test_a_well_checksummed_but_inconsistent_file_is_refused_in_one_line(saved, tmp_path, case):
    edit, match = CRAFTS[case]
    out = _craft(saved, tmp_path / f"{case}.nc", edit)
    with pytest.raises(ResultFileError, match=match) as info:
        dn.load(out)
    assert "\n" not in str(info.value)
    assert "inconsistent PerturbationStudy result" in str(info.value)


def test_the_untouched_file_and_a_rechecksummed_copy_load(saved, tmp_path):
    a = dn.load(saved)
    b = dn.load(_craft(saved, tmp_path / "same.nc", lambda ds: ds))
    np.testing.assert_array_equal(a.result_["distance"].values, b.result_["distance"].values)


def test_sizes_implied_by_parameters_are_generic():
    s = dn.EtaScanStudy(etas=(0.1, 1.0, 2.0), n_init=4)
    sizes = s._result_sizes()
    assert sizes["eta"][0] == 3 and sizes["init"][0] == 4
    o = dn.OrbitalStabilityStudy(n_steps=400, every=5, eps=(1e-10, 1e-6))
    assert o._result_sizes()["step"][0] == 81 and o._result_sizes()["eps"][0] == 2


def test_check_records_names_the_problem():
    import xarray as xr

    from dynnet.results import check_records

    ds = xr.Dataset({"d": (("a",), np.zeros(3))})
    assert check_records(ds, {"d": (("a",), "f")}) is None
    assert "dimensions" in check_records(ds, {"d": (("b",), "f")})
    assert "expected bool" in check_records(ds, {"d": (("a",), "b")})
    assert "missing" in check_records(ds, {"e": (("a",), None)})


# -- pandas data sets are saved with the result (issue 23 item 12) ---------------------------------
def _wine_frame():
    import pandas as pd

    X, y = dn.datasets.load("wine")
    names = [f"f{i}" for i in range(X.shape[1])]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return pd.DataFrame(X, columns=names), pd.Series(y, name="cultivar")


def test_a_pandas_dataset_is_saved_and_loaded_as_pandas(tmp_path):
    import pandas as pd

    X, y = _wine_frame()
    s = dn.PerturbationStudy(map=dn.GradientDescentMap(eta=0.5, dataset=(X, y)), n_init=2, n_steps=5,
                             seed=0).run()
    s.save(tmp_path / "wine.nc")
    back = dn.load(tmp_path / "wine.nc")
    X2, y2 = back.map.dataset
    assert isinstance(X2, pd.DataFrame) and isinstance(y2, pd.Series)
    assert list(X2.columns) == list(X.columns) and y2.name == "cultivar"
    pd.testing.assert_frame_equal(X2, X)
    pd.testing.assert_series_equal(y2, y)
    again = dn.clone(back).run()
    np.testing.assert_array_equal(again.result_["distance"].values, s.result_["distance"].values)


def test_pandas_codec_keeps_a_non_default_index_strings_and_names():
    import pandas as pd

    from dynnet.results import decode_params, encode_params

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], 7: [4, 5, 6]}, index=[10, 20, 30])
    y = pd.Series(["x", "y", "x"], index=[10, 20, 30])
    m = decode_params(encode_params(dn.GradientDescentMap(dataset=(X, y))))
    X2, y2 = m.dataset
    pd.testing.assert_frame_equal(X2, X)
    pd.testing.assert_series_equal(y2, y)


def test_a_pandas_column_of_objects_is_refused_before_running():
    import pandas as pd

    X = pd.DataFrame({"a": [1.0, 2.0]})
    X["b"] = [object(), object()]
    from dynnet.results import encode_params

    with pytest.raises(TypeError, match="column 'b'"):
        encode_params(dn.GradientDescentMap(dataset=(X, pd.Series([0, 1]))))


# -- `dynnet plot RESULT` writes beside the result, never a folder in the current one (item 8) -----
def test_plot_without_out_writes_beside_the_result_and_nothing_in_the_current_folder(
        saved, tmp_path, monkeypatch, capsys):
    import shutil

    from dynnet.cli import main

    data = tmp_path / "data"
    data.mkdir()
    result = data / "henon.nc"
    shutil.copy(saved, result)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["plot", str(result)]) == 0
    figures = sorted(p.name for p in data.glob("*.png"))
    assert figures and figures[0] == "henon-1.png"
    assert list(cwd.iterdir()) == []  # no folder, no file where the command was typed
    assert sorted(p.name for p in data.iterdir()) == sorted(["henon.nc", *figures])
    before = (data / "henon-1.png").read_bytes()
    (data / "henon-1.png").write_bytes(b"mine")
    capsys.readouterr()
    assert main(["plot", str(result)]) != 0  # an existing figure is not replaced unasked
    err = capsys.readouterr().err
    assert "henon-1.png exists" in err and "--force" in err and "overwrite=True" not in err
    assert (data / "henon-1.png").read_bytes() == b"mine"
    assert main(["plot", str(result), "--force"]) == 0
    assert (data / "henon-1.png").read_bytes()[:8] == before[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_with_out_makes_that_folder(saved, tmp_path, monkeypatch):
    from dynnet.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(saved), "--out", "figs"]) == 0
    assert [p.name for p in (tmp_path / "figs").iterdir()][0].startswith("r-")
    assert main(["plot", str(saved), "--out", "no/such/figs"]) != 0
    assert not (tmp_path / "no").exists()


def test_the_checks_are_generic_for_a_study_that_declares_nothing(tmp_path):
    s = dn.OrbitalStabilityStudy.quick().run()
    assert type(s)._records == {}  # no schema written by hand for this study
    path = tmp_path / "orbital.nc"
    s.save(path)
    dn.load(path)
    cases = {
        "n_init": (lambda ds: _set_param(ds, "n_init", 10**15), "dimension init has 3 entries but n_init"),
        "eps": (lambda ds: _set_param(ds, "eps", {"__tuple__": [1e-10, 1e-8, 1e-6]}),
                "dimension eps has 2 entries but eps with 3 values"),
        "every": (lambda ds: _set_param(ds, "every", 1), "dimension step has 81 entries but n_steps=400"),
        "states": (lambda ds: ds.assign(initial_state=ds["initial_state"].astype(np.int32)), "initial_state"),
    }
    for name, (edit, match) in cases.items():
        with pytest.raises(ResultFileError, match=match):
            dn.load(_craft(path, tmp_path / f"{name}.nc", edit))
