"""The Study lifecycle (API v1): run settings, preflight, memory, seeds, files a user owns."""

import json
import os
import stat

import numpy as np
import pytest

import dynnet as dn
from dynnet.checkpoint import Checkpoint, CheckpointError
from dynnet.results import ResultFileError


def henon(**kw):
    params = dict(map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=3, on="all"),
                  n_init=6, n_steps=20, seed=0)
    params.update(kw)
    return dn.PerturbationStudy(**params)


# -- run settings are arguments of run(), never parameters ------------------------------------
@pytest.mark.parametrize("cls", [dn.PerturbationStudy, dn.EdgeOfStabilityStudy, dn.OrbitalStabilityStudy,
                                 dn.PostLearningStudy, dn.IntermittencyStudy, dn.EtaScanStudy])
def test_run_settings_are_not_parameters(cls):
    names = cls().get_params(deep=False)
    for setting in ("n_jobs", "progress", "checkpoint", "resume", "chunk_size"):
        assert setting not in names
    with pytest.raises(ValueError, match="n_jobs"):
        cls().set_params(n_jobs=2)
    assert "estimators" in names, "every study takes its estimators the same way"


def test_saved_file_carries_no_run_setting(tmp_path):
    s = henon().run(n_jobs=2, chunk_size=2, checkpoint=tmp_path / "ck")
    s.save(tmp_path / "r.nc")
    text = dn.load(tmp_path / "r.nc").result_.attrs["dynnet_study"]
    for setting in ("checkpoint", "n_jobs", "chunk_size", "resume", "progress"):
        assert setting not in text


def test_run_settings_are_validated():
    with pytest.raises(ValueError, match="n_jobs"):
        henon().run(n_jobs=0)
    with pytest.raises(TypeError, match="chunk_size"):
        henon().run(chunk_size=1.5)
    with pytest.raises(TypeError, match="progress"):
        henon().run(progress="yes")
    with pytest.raises(ValueError, match="resume=True needs a checkpoint"):
        henon().run(resume=True)


# -- seeds ----------------------------------------------------------------------------------
def test_seed_none_saves_the_drawn_entropy(tmp_path):
    s = henon(seed=None).run()
    assert isinstance(s.seed_, np.random.SeedSequence)
    s.save(tmp_path / "r.nc")
    again = dn.clone(dn.load(tmp_path / "r.nc")).run()
    np.testing.assert_array_equal(again.result_["distance"].values, s.result_["distance"].values)
    other = henon(seed=None).run()
    assert not np.array_equal(other.result_["distance"].values, s.result_["distance"].values)


def test_preflight_does_not_consume_a_generator_seed():
    a = henon(seed=np.random.default_rng(7)).run()
    b = henon(seed=np.random.default_rng(7)).run(preflight=False)
    np.testing.assert_array_equal(a.result_["distance"].values, b.result_["distance"].values)


# -- load never refits; refit on request ---------------------------------------------------
def test_load_does_not_refit_and_refit_rebuilds(tmp_path):
    s = dn.EdgeOfStabilityStudy.quick(n_init=4, eps=(1e-8,), n_steps=120).run()
    s.save(tmp_path / "e.nc")
    t = dn.load(tmp_path / "e.nc")
    assert not hasattr(t, "estimators_")
    assert float(t.summary()["finitelyapunov.mle"][0]) == float(s.summary()["finitelyapunov.mle"][0])
    t.refit()
    assert t.estimators_[0].mle_ == s.estimators_[0].mle_


# -- summaries are labelled numbers ---------------------------------------------------------
def test_summary_is_a_dataset_with_stable_keys():
    import xarray as xr

    s = henon(estimators=[dn.FiniteLyapunov(starts=range(0, 6, 5), lengths=range(10, 16, 5))]).run()
    out = s.summary()
    assert isinstance(out, xr.Dataset)
    assert "finitelyapunov.mle" in out and "finitelyapunov1.mle" not in out
    assert float(out["finitelyapunov.mle"]) == s.estimators_[0].mle_
    assert not any("@" in k for k in out.data_vars)
    e = dn.EdgeOfStabilityStudy.quick(n_init=3, eps=(1e-10, 1e-8), n_steps=120).run().summary()
    assert e["finitelyapunov.mle"].dims == ("eps",)
    np.testing.assert_array_equal(e["eps"].values, [1e-10, 1e-8])
    with pytest.raises(ValueError, match="two estimators of class FiniteLyapunov"):
        henon(estimators=[dn.FiniteLyapunov(), dn.FiniteLyapunov(r2_min=0.8)]).run()


# -- errors before computing ------------------------------------------------------------------
def test_misconfigurations_fail_before_the_long_run():
    with pytest.raises(ValueError, match="exactly one FiniteLyapunov"):
        dn.EdgeOfStabilityStudy(estimators=[dn.Kantz()]).run()
    with pytest.raises(ValueError, match="no 'loss' observable"):
        dn.IntermittencyStudy(map=dn.HenonMap(), compare_eta=()).run()
    with pytest.raises(ValueError, match="compare_eta needs a map with an eta"):
        dn.IntermittencyStudy(map=dn.HenonMap()).run()
    with pytest.raises(ValueError, match="etas must hold at least one"):
        dn.EtaScanStudy(etas=()).run()
    with pytest.raises(ValueError, match="tol"):
        dn.PostLearningStudy(tol=()).run()


def test_memory_is_estimated_before_allocating():
    with pytest.raises(dn.MemoryBudgetError, match="lower n_init") as info:
        dn.PerturbationStudy(n_init=30_000_000).run()
    assert "budget" in str(info.value)
    with pytest.raises(dn.MemoryBudgetError, match="budget is 1 KiB"):
        henon().run(memory_budget=1024)


# -- divergence: one warning per run ----------------------------------------------------------
def test_divergence_warns_once_per_run():
    import warnings

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        s = dn.EdgeOfStabilityStudy(map=dn.LinearMap(A=[[3.0, 0.0], [0.0, 0.5]]),
                                    perturber=dn.UniformPerturber(n=3, on="all"), n_init=3,
                                    n_steps=800, eps=(1e-8, 1e-6, 1e-4)).run()
    div = [w for w in rec if issubclass(w.category, dn.DivergenceWarning)]
    assert s.result_["diverged"].values.any()
    assert len(div) == 1


# -- checkpoints: owned, locked, fingerprinted ----------------------------------------------
def test_checkpoint_never_touches_a_users_folder(tmp_path):
    v = tmp_path / "v"
    v.mkdir()
    (v / "keep.txt").write_text("x")
    with pytest.raises(CheckpointError, match="not empty and was not made by dynnet"):
        henon().run(checkpoint=v)
    assert (v / "keep.txt").read_text() == "x" and sorted(os.listdir(v)) == ["keep.txt"]


def test_an_empty_user_folder_is_used_and_kept(tmp_path):
    v = tmp_path / "empty"
    v.mkdir()
    henon().run(checkpoint=v, chunk_size=2)
    assert v.is_dir() and os.listdir(v) == []


def test_user_files_put_into_a_checkpoint_survive_the_end_of_the_run(tmp_path):
    ck = tmp_path / "ck"
    with Checkpoint(ck, "fp", resume=False) as c:
        c.save("run", np.array([0]), {"a": np.zeros((1, 2))})
        (ck / "notes.txt").write_text("mine")
    assert (ck / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(ck)) == ["notes.txt"]


def test_a_second_writer_gets_a_clear_error_at_once(tmp_path):
    ck = tmp_path / "ck"
    with Checkpoint(ck, "fp", resume=False):
        with pytest.raises(CheckpointError, match="in use by another dynnet run"):
            henon().run(checkpoint=ck)
    assert not ck.exists()


def test_chunks_of_another_run_are_never_used(tmp_path):
    ck = tmp_path / "ck"
    a = Checkpoint(ck, "run A", resume=False)
    a.open()
    a.save("run", np.array([0, 1]), {"x": np.ones((2, 3))})
    a.close(finished=False)
    marker = ck / ".dynnet-checkpoint"
    meta = json.loads(marker.read_text())
    b = Checkpoint(ck, "run B", resume=False)
    meta["fingerprint"] = b.fingerprint  # a marker rewritten (or lost) under another run
    marker.write_text(json.dumps(meta))
    b.resume = True
    b.open()
    try:
        assert b.load("run") == {}
    finally:
        b.close(finished=True)


def test_resume_after_a_hard_exit_is_bitwise_identical(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "run.py"
    script.write_text(
        "import sys, dynnet as dn\n"
        "s = dn.PerturbationStudy(map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=3, on='all'),"
        " n_init=10, n_steps=30, seed=3)\n"
        "s.run(chunk_size=2, checkpoint=sys.argv[1], resume=len(sys.argv) > 2)\n"
        "s.save(sys.argv[1] + '.nc')\n")
    ck = tmp_path / "ck"
    env = dict(os.environ, DYNNET_TEST_EXIT_AFTER_CHUNKS="2")
    p = subprocess.run([sys.executable, str(script), str(ck)], env=env, capture_output=True, timeout=300)
    assert p.returncode == 137, p.stderr.decode()
    assert len(list(ck.glob("chunk-*.npz"))) == 2
    p = subprocess.run([sys.executable, str(script), str(ck), "resume"], capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()
    ref = dn.PerturbationStudy(map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=3, on="all"),
                               n_init=10, n_steps=30, seed=3).run()
    got = dn.load(str(ck) + ".nc")
    np.testing.assert_array_equal(got.result_["distance"].values, ref.result_["distance"].values)
    assert not ck.exists()


# -- result files: never replace, never a non-regular file, atomic, checksummed -------------
def test_save_refuses_existing_paths_unless_overwrite(tmp_path):
    s = henon().run()
    p = tmp_path / "r.nc"
    p.write_text("an earlier result")
    with pytest.raises(FileExistsError, match="exists"):
        s.save(p)
    assert p.read_text() == "an earlier result"
    s.save(p, overwrite=True)
    assert dn.load(p).result_["distance"].shape == s.result_["distance"].shape


def test_save_writes_only_regular_files(tmp_path):
    s = henon().run()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = tmp_path / "target.nc"
    target.write_text("keep")
    link = tmp_path / "link.nc"
    link.symlink_to(target)
    for p in (fifo, link, tmp_path):
        with pytest.raises(FileExistsError, match="regular files"):
            s.save(p, overwrite=True)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and target.read_text() == "keep"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        s.save(tmp_path / "no-such-dir" / "r.nc")


def test_a_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    s = henon().run()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space"):
        s.save(tmp_path / "r.nc")
    assert os.listdir(tmp_path) == []


def test_bit_flips_are_detected_on_load(tmp_path):
    s = henon().run()
    p = tmp_path / "r.nc"
    s.save(p)
    raw = bytearray(p.read_bytes())
    d = s.result_["distance"].values
    needle = np.asarray(d[-1, 0, 0], dtype=">f8").tobytes()  # netCDF3 stores big-endian
    at = bytes(raw).index(needle)
    raw[at + 7] ^= 0x01
    p.write_bytes(bytes(raw))
    with pytest.raises(ResultFileError, match="corrupted.*distance"):
        dn.load(p)


@pytest.mark.parametrize("text", ["[" * 100000 + "]" * 100000, '{"__class__": 3}', '"a string"',
                                  '{"__class__": "dynnet.maps.classic:HenonMap", "params": {"a": 1}}',
                                  '{"__class__": "dynnet.studies.perturbation:PerturbationStudy", '
                                  '"params": {"no_such": 1}}', "not json"])
def test_crafted_parameters_give_result_file_error(tmp_path, text):
    s = henon().run()
    p = tmp_path / "r.nc"
    s.save(p)
    import xarray as xr

    with xr.open_dataset(p, engine="scipy") as ds:
        ds = ds.load()
    ds.attrs["dynnet_study"] = text
    q = tmp_path / "crafted.nc"
    ds.to_netcdf(q, engine="scipy", format="NETCDF3_64BIT")
    with pytest.raises(ResultFileError):
        dn.load(q)


def _rewrite(path, out, edit):
    import xarray as xr

    with xr.open_dataset(path, engine="scipy", mask_and_scale=False) as ds:
        ds = ds.load()
    edit(ds)
    ds.to_netcdf(out, engine="scipy", format="NETCDF3_64BIT")


def test_the_parameters_and_attributes_are_checksummed_too(tmp_path):
    s = henon().run()
    p = tmp_path / "r.nc"
    s.save(p)
    flipped = tmp_path / "seed.nc"
    flipped.write_bytes(p.read_bytes().replace(b'"seed": 0', b'"seed": 1', 1))
    with pytest.raises(ResultFileError, match="attributes"):
        dn.load(flipped)

    def as_bool(ds):
        ds["distance"].attrs["dynnet_bool"] = 1

    _rewrite(p, tmp_path / "bool.nc", as_bool)
    with pytest.raises(ResultFileError, match="distance"):
        dn.load(tmp_path / "bool.nc")


def test_a_file_whose_parameters_do_not_fit_its_data_is_refused(tmp_path):
    import json

    from dynnet.results import checksums

    s = henon().run()
    p = tmp_path / "r.nc"
    s.save(p)

    def swap(ds):  # a crafted file: another study's parameters, checksums recomputed
        ds.attrs["dynnet_study"] = json.dumps({"__class__": "dynnet.studies.eta_scan:EtaScanStudy",
                                               "params": {}})
        ds.attrs["dynnet_checksum"] = json.dumps(checksums(ds))

    _rewrite(p, tmp_path / "swap.nc", swap)
    with pytest.raises(ResultFileError):
        dn.load(tmp_path / "swap.nc")

    def bad_param(ds):
        text = ds.attrs["dynnet_study"].replace('"n_init": 6', '"n_init": -5')
        ds.attrs["dynnet_study"] = text
        ds.attrs["dynnet_checksum"] = json.dumps(checksums(ds))

    _rewrite(p, tmp_path / "neg.nc", bad_param)
    with pytest.raises(ResultFileError, match="n_init"):
        dn.load(tmp_path / "neg.nc")


@pytest.mark.parametrize("make, match", [
    (lambda: dn.EtaScanStudy.quick().set_params(map="abc"), "map='abc' must be a dynnet Map"),
    (lambda: dn.OrbitalStabilityStudy.quick().set_params(perturber=()), "must be a dynnet Perturber"),
    (lambda: dn.EdgeOfStabilityStudy.quick().set_params(perturber=dn.L1()), "must be a dynnet Perturber"),
    (lambda: dn.PostLearningStudy.quick().set_params(metric=3), "must be a dynnet Metric"),
    (lambda: dn.EdgeOfStabilityStudy.quick().set_params(n_steps=0), "n_steps=0"),
])
def test_wrong_parts_and_sizes_name_the_parameter(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make().run()


def test_a_run_that_fails_before_any_chunk_leaves_no_checkpoint(tmp_path):
    ck = tmp_path / "ck"
    with pytest.raises(ValueError, match="Kantz needs the result variable 'loss'"):
        henon(estimators=[dn.Kantz()]).run(checkpoint=ck)
    assert not ck.exists()
