"""GridStudy: a study over a Cartesian grid of its parameters (shape, cells, seeds, jobs,
checkpoint and resume, save/load, CLI config)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet.studies import grid as grid_mod
from dynnet.studies.grid import GridStudy, grid_label
from dynnet.testing import check_study

EXE = Path(sys.executable).with_name("dynnet")


def henon_study(**kw):
    """A fast study with no dependence on the GD engine."""
    params = dict(map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=3, on="all"),
                  n_init=4, n_steps=20)
    params.update(kw)
    return dn.PerturbationStudy(**params)


def data_vars_equal(a: xr.Dataset, b: xr.Dataset, dtypes=True):
    """Every data variable bitwise equal (``dtypes=False``: a netCDF3 file gives 64-bit ints back
    as 32-bit ones, the same values)."""
    assert set(a.data_vars) == set(b.data_vars)
    for k in a.data_vars:
        x, y = a[k].values, b[k].values
        assert x.shape == y.shape and (x.dtype == y.dtype or not dtypes), k
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), k


# -- shape, coordinates, cells -----------------------------------------------------------------
def test_grid_shape_coordinates_and_labels():
    g = GridStudy(henon_study(), grid={"map__a": [1.2, 1.4], "every": [1, 2, 4],
                                       "perturber__on": ["all"]}).run()
    ds = g.result_
    assert dict(ds.sizes) == {"map__a": 2, "every": 3, "perturber__on": 1}
    assert ds["map__a"].dtype == np.float64 and ds["map__a"].values.tolist() == [1.2, 1.4]
    assert ds["every"].dtype == np.int64 and ds["every"].values.tolist() == [1, 2, 4]
    assert ds["perturber__on"].values.tolist() == ["all"]
    for k in ("final_mean_log_distance", "n_init", "diverged_fraction"):
        assert ds[k].dims == ("map__a", "every", "perturber__on")
    assert set(g.summary().data_vars) == set(ds.data_vars)
    assert g.estimators_ == []
    # a larger a is more chaotic: the distances grow more (the cells really differ)
    d = ds["final_mean_log_distance"].values[:, 0, 0]
    assert d[1] > d[0]


def test_tuples_become_labelled_coordinates():
    g = GridStudy(henon_study(), grid={"perturber__eps": [1e-10, 1e-8],
                                       "estimators": [[], [dn.FiniteLyapunov()]]})
    labels = grid_mod._coordinate(g.grid["estimators"])
    assert labels.tolist() == ["()", "(FiniteLyapunov(),)"]
    assert grid_label((10, 10)) == "(10, 10)" and grid_label([20]) == "(20,)" == grid_label((20,))
    assert grid_label(None) == "None" and grid_label(True) == "True"


def test_every_cell_is_the_study_run_alone_bitwise():
    inner = henon_study(seed=3)
    g = GridStudy(inner, grid={"map__a": [1.2, 1.4], "n_steps": [10, 20]}).run()
    for values, _ in g.cells():
        alone = dn.clone(inner).set_params(**values).run().summary()
        got = g.result_.sel(values).drop_vars(list(values))
        alone = alone.drop_vars([k for k in values if k in alone.data_vars])
        data_vars_equal(got, alone)


@pytest.mark.filterwarnings("ignore::dynnet.NoExponentWarning")  # tiny runs: no fit kept, by design
def test_a_gd_cell_is_the_study_run_alone_bitwise():
    inner = dn.EdgeOfStabilityStudy(n_init=2, eps=(1e-8,), n_steps=40, n_steps_long=0)
    g = GridStudy(inner, grid={"map__eta": [0.5, 1.0]}).run(preflight=False)
    alone = dn.clone(inner).set_params(map__eta=1.0).run(preflight=False).summary()
    data_vars_equal(g.result_.sel(map__eta=1.0).drop_vars("map__eta"), alone)
    assert g.result_["finitelyapunov.mle"].dims == ("map__eta", "eps")
    assert g.result_["final_loss_median"].dims == ("map__eta",)


def test_n_jobs_1_and_2_are_bitwise_the_same():
    g = GridStudy(henon_study(), grid={"map__a": [1.2, 1.3, 1.4]})
    a = dn.clone(g).run(n_jobs=1)
    b = dn.clone(g).run(n_jobs=2, chunk_size=1)
    data_vars_equal(a.result_, b.result_)


def test_an_explicit_joblib_backend_runs_the_cells_bitwise_the_same():
    # the path a dask cluster takes (parallel_config(backend="dask") under dynnet.parallel.scheduler)
    import joblib

    g = GridStudy(henon_study(), grid={"map__a": [1.2, 1.3, 1.4], "perturber__n": [2, 3]})
    a = dn.clone(g).run()
    with joblib.parallel_config(backend="threading"):
        b = dn.clone(g).run(n_jobs=2)
    data_vars_equal(a.result_, b.result_)


def test_check_study_passes():
    check_study(GridStudy(henon_study(n_init=2, n_steps=10), grid={"map__a": [1.2, 1.4]}))


def test_save_load_round_trip(tmp_path):
    g = GridStudy(henon_study(), grid={"map__a": [1.2, 1.4], "perturber__n": [2, 3]}, seed=7,
                  common_seed=False).run()
    g.save(tmp_path / "g.nc")
    t = dn.load(tmp_path / "g.nc")
    assert isinstance(t, GridStudy) and isinstance(t.study, dn.PerturbationStudy)
    assert t.grid == {"map__a": [1.2, 1.4], "perturber__n": [2, 3]} and t.seed == 7
    assert t.common_seed is False
    data_vars_equal(t.result_, g.result_, dtypes=False)
    assert t.result_["map__a"].values.tolist() == [1.2, 1.4]
    # the loaded parameters repeat the run
    data_vars_equal(dn.clone(t).run().result_, g.result_)


@pytest.mark.filterwarnings("ignore::dynnet.NoExponentWarning")  # tiny runs: no fit kept, by design
def test_tuple_grid_values_survive_save_and_load(tmp_path):
    g = GridStudy(henon_study(n_init=2, n_steps=10),
                  grid={"estimators": [(dn.FiniteLyapunov(starts=range(0, 3), lengths=range(4, 8)),),
                                       (dn.FiniteLyapunov(starts=range(0, 2), lengths=range(5, 8)),)]})
    g.run().save(tmp_path / "t.nc")
    t = dn.load(tmp_path / "t.nc")
    assert t.result_["estimators"].values.tolist() == g.result_["estimators"].values.tolist()
    assert t.result_["estimators"].values[1] == "(FiniteLyapunov(lengths=range(5, 8), starts=range(0, 2)),)"
    assert isinstance(t.grid["estimators"][1][0], dn.FiniteLyapunov)
    assert t.grid["estimators"][1][0].starts == range(0, 2)


# -- seeds -------------------------------------------------------------------------------------
def test_seed_none_uses_the_study_seed_and_a_grid_seed_replaces_it():
    inner = henon_study(seed=11)
    same = GridStudy(inner, grid={"map__a": [1.4]}).run()
    alone = dn.clone(inner).set_params(map__a=1.4).run().summary()
    data_vars_equal(same.result_.isel(map__a=0), alone)
    assert same.seed_.entropy == 11
    other = GridStudy(inner, grid={"map__a": [1.4]}, seed=5).run()
    alone5 = dn.clone(inner).set_params(map__a=1.4, seed=5).run().summary()
    data_vars_equal(other.result_.isel(map__a=0), alone5)
    assert (other.result_["final_mean_log_distance"].item()
            != same.result_["final_mean_log_distance"].item())


def test_common_seed_false_gives_each_cell_its_child_seed():
    inner = henon_study(seed=2)
    g = GridStudy(inner, grid={"perturber__n": [3, 4]}, common_seed=False).run()
    for k, n in enumerate([3, 4]):
        child = np.random.SeedSequence(2, spawn_key=(k,))
        alone = dn.clone(inner).set_params(perturber__n=n, seed=child).run().summary()
        data_vars_equal(g.result_.isel(perturber__n=k), alone)
    same = GridStudy(inner, grid={"perturber__n": [3, 4]}).run()
    assert not np.array_equal(same.result_["final_mean_log_distance"].values,
                              g.result_["final_mean_log_distance"].values)


def test_a_drawn_seed_is_shared_by_every_cell_and_saved(tmp_path):
    g = GridStudy(henon_study(seed=None), grid={"perturber__eps": [1e-10, 1e-9]}).run()
    seeds = {c.seed.entropy for _, c in GridStudy(henon_study(seed=None), grid={"map__a": [1.4]},
                                                 seed=g.seed_).cells()}
    assert seeds == {g.seed_.entropy}
    g.save(tmp_path / "s.nc")
    again = dn.clone(dn.load(tmp_path / "s.nc")).run()  # a fresh run: same dtypes
    data_vars_equal(again.result_, g.result_)


# -- checkpoint and resume ---------------------------------------------------------------------
def test_resume_after_a_failing_cell_computes_only_the_unfinished_cells(tmp_path, monkeypatch):
    g = GridStudy(henon_study(), grid={"map__a": [1.1, 1.2, 1.3, 1.4]})  # seed=None: the study's 0
    ref = dn.clone(g).run()
    real = grid_mod._run_cell
    ran = []

    def failing(study, *args):
        if len(ran) == 2:
            raise RuntimeError("cell failed")
        ran.append(study.map.a)
        return real(study, *args)

    monkeypatch.setattr(grid_mod, "_run_cell", failing)
    ck = tmp_path / "ck"
    with pytest.raises(RuntimeError, match="cell failed"):
        dn.clone(g).run(checkpoint=ck, preflight=False)
    assert len(list(ck.glob("chunk-cell-*.npz"))) == 2

    def counting(study, *args):
        ran.append(study.map.a)
        return real(study, *args)

    monkeypatch.setattr(grid_mod, "_run_cell", counting)
    ran.clear()
    r = dn.clone(g).run(checkpoint=ck, resume=True, preflight=False)
    assert ran == [1.3, 1.4]
    data_vars_equal(r.result_, ref.result_)
    assert not ck.exists()
    from dynnet.results import decode_params

    assert r.seed is None and decode_params(r.result_.attrs["dynnet_study"]).seed is None


def test_resume_after_every_cell_finished_computes_nothing(tmp_path, monkeypatch):
    g = GridStudy(henon_study(), grid={"map__a": [1.2, 1.4]}, seed=4)
    ref = dn.clone(g).run()
    real_stack = grid_mod._stack

    def broken(*args):
        raise RuntimeError("killed after the last cell")

    monkeypatch.setattr(grid_mod, "_stack", broken)
    ck = tmp_path / "ck"
    with pytest.raises(RuntimeError, match="last cell"):
        dn.clone(g).run(checkpoint=ck, preflight=False)
    monkeypatch.setattr(grid_mod, "_stack", real_stack)
    real = grid_mod._run_cell
    ran = []
    monkeypatch.setattr(grid_mod, "_run_cell", lambda study, *a: ran.append(1) or real(study, *a))
    r = dn.clone(g).run(checkpoint=ck, resume=True, preflight=False)
    assert ran == []
    data_vars_equal(r.result_, ref.result_)


def test_resume_refuses_another_grid_and_a_drawn_seed(tmp_path, monkeypatch):
    g = GridStudy(henon_study(), grid={"map__a": [1.2, 1.4]})
    real = grid_mod._run_cell

    def fail_second(study, *args):
        if study.map.a == 1.4:
            raise RuntimeError("stop")
        return real(study, *args)

    monkeypatch.setattr(grid_mod, "_run_cell", fail_second)
    ck = tmp_path / "ck"
    with pytest.raises(RuntimeError):
        dn.clone(g).run(checkpoint=ck, preflight=False)
    monkeypatch.setattr(grid_mod, "_run_cell", real)
    with pytest.raises(dn.CheckpointError, match="other parameters"):
        dn.clone(g).set_params(grid={"map__a": [1.2, 1.3]}).run(checkpoint=ck, resume=True)
    with pytest.raises(ValueError, match="fixed seed"):
        GridStudy(henon_study(seed=None), grid={"map__a": [1.2]}).run(checkpoint=ck, resume=True)


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("grid, error, match", [
    ({"map__aa": [1.0]}, ValueError, "grid key 'map__aa'.*did you mean 'a'"),
    ({"n_stpes": [1]}, ValueError, "grid key 'n_stpes'"),
    ({"map__a": []}, ValueError, r"grid\['map__a'\] is empty"),
    ({"map__a": [1.2, 1.2]}, ValueError, "repeats the value 1.2"),
    ({"n_steps": [10, 10.0]}, ValueError, "repeats the value 10"),
    ({"map__a": 1.2}, TypeError, "must be a list of values"),
    ({"perturber__on": "all"}, TypeError, "must be a list of values"),
    ({}, ValueError, "grid={} is empty"),
    ([("map__a", [1.0])], TypeError, "must be a dict"),
    ({"n_steps": [10, -1]}, ValueError, "cell n_steps=-1"),
])
def test_bad_grids_are_refused_naming_the_problem(grid, error, match):
    with pytest.raises(error, match=match):
        GridStudy(henon_study(), grid=grid).run()


def test_bad_parameters_are_refused():
    with pytest.raises(TypeError, match="study=.*must be a dynnet Study"):
        GridStudy(study=dn.HenonMap(), grid={"a": [1.0]}).run()
    with pytest.raises(TypeError, match="common_seed"):
        GridStudy(henon_study(), grid={"map__a": [1.2]}, common_seed="yes").run()
    with pytest.raises(ValueError, match="estimators is set too"):
        GridStudy(henon_study(), grid={"estimators": [[]]}, estimators=[]).run()


def eta_scan(**kw):
    return dn.EtaScanStudy.quick(etas=(0.5,), n_init=1, n_steps=20, transient=5, sharpness_every=10,
                                 estimators=[], **kw)


def test_memory_is_that_of_the_largest_cell_times_the_cells_at_once():
    g = GridStudy(henon_study(n_init=10**9), grid={"map__a": [1.2, 1.4]})
    with pytest.raises(dn.MemoryBudgetError, match=r"of the largest cell x 2 .*lower study__n_init, "
                                                   r"study__n_steps or study__every \(or n_jobs: 2 "
                                                   r"cells run at once\)"):
        g.run(n_jobs=2, memory_budget=2**30)
    swept = GridStudy(henon_study(), grid={"n_init": [10, 10**9]})
    with pytest.raises(dn.MemoryBudgetError, match="lower the grid's values of n_init"):
        swept.run(memory_budget=2**30)


def test_summaries_that_do_not_line_up_are_refused_in_the_preflight():
    # the preflight's tiny cells (first and last values) find it: a full run would name 0.7
    g = GridStudy(eta_scan().set_params(n_init=2), grid={"etas": [(0.5,), (0.7,), (1.0,)]})
    with pytest.raises(ValueError, match=r"cell \(etas=\(0.5,\)\) and cell \(etas=\(1.0,\)\) do not line up: "
                                         r"coordinate 'eta' is \[0.5\] in one and \[1.0\]"):
        g.run()
    with pytest.raises(ValueError, match="name of a variable or dimension"):
        grid_mod._stack("GridStudy", [("eps", [1])], [(0,)],
                        [xr.Dataset({"x": ("eps", [1.0])}, coords={"eps": [1e-8]})])


class Doubler(dn.Study):
    """A user's own study: x = 2 a, along a coordinate k (it draws nothing from its seed)."""

    def __init__(self, a=1.0, estimators=None, seed=0):
        self.a = a
        self.estimators = estimators
        self.seed = seed

    def _compute(self, ctx):
        return xr.Dataset({"x": (("k",), [2.0 * self.a, -2.0 * self.a])}, coords={"k": [0, 1]})

    def _summary(self, ds):
        return xr.Dataset({"x": ds["x"]})


def test_a_users_own_study_works(tmp_path):
    g = GridStudy(Doubler(), grid={"a": [1.0, 2.5, 4.0]}).run()
    np.testing.assert_array_equal(g.result_["x"].values, [[2.0, -2.0], [5.0, -5.0], [8.0, -8.0]])
    assert g.result_["x"].dims == ("a", "k")
    g.save(tmp_path / "d.nc")
    t = dn.load(tmp_path / "d.nc")
    assert isinstance(t.study, Doubler) and t.grid == {"a": [1.0, 2.5, 4.0]}


def test_the_preflight_runs_tiny_corner_cells():
    g = GridStudy(henon_study(n_init=50), grid={"n_init": [50, 100], "map__a": [1.2, 1.3, 1.4]})
    assert g._tiny_params() == {"grid": {"n_init": (2,), "map__a": (1.2, 1.4)}, "study__n_init": 2}
    one = GridStudy(eta_scan(), grid={"map__eta": [0.5, 1.0]})  # a study without a tiny copy: one cell
    assert one._tiny_params() == {"grid": {"map__eta": (0.5,)}}


def test_a_grid_adds_its_dimensions_before_the_summary_dimensions():
    ds = GridStudy(eta_scan(), grid={"perturber__eps": [1e-8]}).run(preflight=False).result_
    assert ds["final_loss"].dims == ("perturber__eps", "eta")
    assert ds["regime"].dtype.kind == "U"


def test_a_summary_scalar_that_repeats_the_grid_value_becomes_the_coordinate():
    g = GridStudy(henon_study(), grid={"n_steps": [10, 20]}).run()
    assert "n_steps" not in g.result_.data_vars and g.result_["n_steps"].values.tolist() == [10, 20]


def test_a_grid_of_grids_simply_works():
    inner = GridStudy(henon_study(n_init=2, n_steps=10), grid={"map__a": [1.2, 1.4]})
    g = GridStudy(inner, grid={"study__perturber__n": [2, 3]}).run()
    assert g.result_["final_mean_log_distance"].dims == ("study__perturber__n", "map__a")
    one = dn.clone(inner).set_params(study__perturber__n=3).run().result_
    data_vars_equal(g.result_.isel(study__perturber__n=1).drop_vars("study__perturber__n"), one)


# -- the stacking itself (property) ----------------------------------------------------------------
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(0, 2))
def test_stack_places_each_cell_at_its_grid_index(shape, extra):
    import itertools

    items = [(f"p{d}", list(range(10 * d, 10 * d + n))) for d, n in enumerate(shape)]
    indices = list(itertools.product(*(range(n) for n in shape)))
    summaries = [xr.Dataset({"flat": ((), float(k)), "vec": (("e",), np.full(extra, k, dtype=float))},
                            coords={"e": np.arange(extra)}) for k in range(len(indices))]
    ds = grid_mod._stack("GridStudy", items, indices, summaries)
    assert ds["flat"].shape == tuple(shape) and ds["vec"].shape == tuple(shape) + (extra,)
    for k, ix in enumerate(indices):
        assert ds["flat"].values[ix] == k
        assert np.all(ds["vec"].values[ix] == k)
        assert [ds[f"p{d}"].values[i] for d, i in enumerate(ix)] == [items[d][1][i] for d, i in enumerate(ix)]


def test_pack_round_trip_is_exact():
    ds = xr.Dataset({"a": (("e",), np.array([0.1, np.nan])), "s": ((), "chaotic"), "b": ((), True),
                     "i": ((), np.int64(3))}, coords={"e": [1e-8, 1e-6]})
    ds["a"].attrs["units"] = "1/step"
    back = grid_mod._unpack(grid_mod._pack(ds))
    xr.testing.assert_identical(back, ds)
    for k in ds.variables:
        assert back[k].dtype == ds[k].dtype


# -- figures -----------------------------------------------------------------------------------------
def test_plot_line_heat_map_and_errors():
    one = GridStudy(henon_study(), grid={"map__a": [1.2, 1.4]}).run()
    fig = one.plot()[0]
    line = fig.axes[0].lines[0]
    assert np.allclose(line.get_ydata(), one.result_["n_init"].values)  # first numeric variable
    two = GridStudy(henon_study(), grid={"map__a": [1.2, 1.4], "perturber__n": [2, 3, 4]}).run()
    fig = two.plot("final_mean_log_distance")[0]
    img = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(img, two.result_["final_mean_log_distance"].values)
    with pytest.raises(ValueError, match="not in the result"):
        two.plot("nope")


# -- the command line --------------------------------------------------------------------------------
def write(path, text):
    path.write_text(text)
    return path


def test_config_builds_the_grid_with_tuples(tmp_path):
    from dynnet.cli import build_grid

    cfg = write(tmp_path / "sweep.toml", 'study = "edge-of-stability"\nquick = true\nseed = 3\n'
                "[params]\nn_init = 10\n[params.map]\neta = 0.5\n"
                "[grid]\nmap__eta = [0.5, 1.0]\nmap__hidden = [[10], [20, 20]]\n"
                '[grid.map]\nactivation = ["sigmoid", "tanh"]\n')
    g = build_grid(GridStudy, cfg)
    assert isinstance(g.study, dn.EdgeOfStabilityStudy) and g.study.n_init == 10
    assert g.study.eps == dn.EdgeOfStabilityStudy._quick_params["eps"] and g.study.map.eta == 0.5
    assert g.grid == {"map__eta": [0.5, 1.0], "map__hidden": [(10,), (20, 20)],
                      "map__activation": ["sigmoid", "tanh"]}
    assert g.seed == 3 and g.common_seed is True
    parts = build_grid(GridStudy, write(tmp_path / "p.toml", 'study = "perturbation"\n[grid]\n'
                                        'map = ["henon", "logistic"]\n'))
    assert [type(m).__name__ for m in parts.grid["map"]] == ["HenonMap", "LogisticMap"]


@pytest.mark.parametrize("text, match", [
    ('quick = true\n[grid]\nn_init = [1]\n', "needs study"),
    ('study = "perturbation"\n', "grid] table is empty or missing"),
    ('study = "perturbation"\n[grid]\nn_init = 3\n', "must be an array of values"),
    ('study = "perturbation"\nfoo = 1\n[grid]\nn_init = [3]\n', r"unknown key\(s\) \['foo'\]"),
    ('study = "perturbation"\nquick = "yes"\n[grid]\nn_init = [3]\n', "quick = 'yes'"),
    ('study = "no-such"\n[grid]\nn_init = [3]\n', "no-such"),
    ('study = "perturbation"\n[params]\nn_int = 3\n[grid]\nn_init = [3]\n', "n_int"),
])
def test_config_errors_are_clear(tmp_path, text, match):
    from dynnet.cli import CLIError, build_grid

    with pytest.raises(CLIError, match=match):
        build_grid(GridStudy, write(tmp_path / "bad.toml", text))


def test_a_grid_table_is_refused_for_another_study(tmp_path):
    from dynnet.cli import CLIError, _read_config

    with pytest.raises(CLIError, match="dynnet run grid --config"):
        _read_config(write(tmp_path / "g.toml", "[grid]\nn_init = [3]\n"))


def cli(*args, check=True, **kw):
    """The real `dynnet` command in a subprocess (only where the process must end or the entry
    point itself is tested; each start costs seconds)."""
    p = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=600, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"dynnet {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture
def main(capsys):
    """`dynnet ...` in this process: (status, stdout, stderr); the SIGTERM handler it installs
    is put back."""
    import signal

    from dynnet.cli import main as cli_main

    old = signal.getsignal(signal.SIGTERM)

    def call(*args):
        try:
            status = cli_main(list(args))
        finally:
            signal.signal(signal.SIGTERM, old)
        out = capsys.readouterr()
        return status, out.out, out.err

    return call


HENON_TOML = ('study = "perturbation"\n[params]\nmap = "henon"\nn_init = 3\nn_steps = 20\n'
              '[params.perturber]\non = "all"\n[grid]\nmap__a = [1.2, 1.3, 1.4]\n')


def test_cli_run_grid_config_set_and_plot(tmp_path, main):
    cfg = write(tmp_path / "sweep.toml", HENON_TOML)
    out = tmp_path / "g.nc"
    p = cli("run", "grid", "--config", str(cfg), "--set", "study__n_steps=30", "--out", str(out), "--quiet")
    assert "map__a" in p.stdout and "final_mean_log_distance" in p.stdout
    g = dn.load(out)
    assert g.study.n_steps == 30 and g.result_.sizes["map__a"] == 3
    status, _, _ = main("plot", str(out), "--out", str(tmp_path / "figs"))
    assert status == 0 and len(list((tmp_path / "figs").glob("*.png"))) == 1
    status, _, err = main("run", "grid", "--config", str(tmp_path / "none.toml"))
    assert status == 2 and err.startswith("dynnet: error: config file not found")
    bad = write(tmp_path / "bad.toml", 'study = "perturbation"\n[grid]\nmap__aa = [1]\n')
    status, _, err = main("run", "grid", "--config", str(bad), "--out", str(tmp_path / "b.nc"))
    assert status == 2 and "map__aa" in err and err.count("\n") == 1
    status, _, err = main("run", "perturbation", "--config", str(cfg), "--out", str(tmp_path / "c.nc"))
    assert status == 2 and "dynnet run grid --config" in err


def test_cli_grid_quick_preset_runs(tmp_path, main):
    status, out, _ = main("run", "grid", "--quick", "--set", "study__n_init=2", "--set",
                          "grid={'map__eta': (0.5, 1.0)}", "--out", str(tmp_path / "q.nc"), "--quiet")
    assert status == 0 and "map__eta" in out
    g = dn.load(tmp_path / "q.nc")
    assert g.result_["finitelyapunov.mle"].dims == ("map__eta", "eps") and g.study.n_init == 2


def test_cli_hard_exit_then_resume_is_bitwise_identical(tmp_path, main):
    cfg = write(tmp_path / "sweep.toml", HENON_TOML)
    ref, out = tmp_path / "ref.nc", tmp_path / "cut.nc"
    assert main("run", "grid", "--config", str(cfg), "--out", str(ref), "--quiet")[0] == 0
    # deterministic fault injection: the process ends hard (as kill -9 would) right after the
    # second cell is on disk
    env = dict(os.environ, DYNNET_TEST_EXIT_AFTER_CHUNKS="2")
    p = cli("run", "grid", "--config", str(cfg), "--out", str(out), "--quiet", check=False, env=env)
    ckpt = tmp_path / "cut.nc.ckpt"
    assert p.returncode == 137 and not out.exists()
    assert len(list(ckpt.glob("chunk-cell-*.npz"))) == 2
    assert main("run", "grid", "--config", str(cfg), "--out", str(out), "--quiet", "--resume")[0] == 0
    data_vars_equal(dn.load(out).result_, dn.load(ref).result_)  # both loaded: same dtypes
    assert not ckpt.exists()
