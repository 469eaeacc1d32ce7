"""The `dynnet` command, called through its real entry point in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import dynnet as dn
from dynnet.cli import parse_value

EXE = Path(sys.executable).with_name("dynnet")


def run(*args, check=True, **kw):
    p = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=600, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"dynnet {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def test_entry_point_is_installed():
    assert EXE.exists(), "the dynnet console script is not installed next to the interpreter"
    assert "dynnet" in run("--version").stdout


def test_list_shows_studies_maps_estimators():
    out = run("list").stdout
    for name in ["edge-of-stability", "eta-scan", "gd", "henon", "finite-lyapunov", "l1"]:
        assert name in out
    checked = run("list", "--check").stdout
    assert "BROKEN" not in checked and checked.count("  ok") >= 25


def test_set_values_are_literals_never_code():
    assert parse_value("100") == 100 and parse_value("1e-8") == 1e-8
    assert parse_value("(1e-8, 1e-6)") == (1e-8, 1e-6)
    assert parse_value("__import__('os').system('echo hi')") == "__import__('os').system('echo hi')"
    assert parse_value("sgd") == "sgd"


def test_run_quick_with_set_config_and_plot(tmp_path):
    cfg = tmp_path / "study.toml"
    cfg.write_text("[params]\nn_steps = 40\n[params.map]\neta = 0.5\n")
    out = tmp_path / "p.nc"
    p = run("run", "perturbation", "--quick", "--set", "n_init=3", "--set", "perturber__eps=1e-6",
            "--config", str(cfg), "--out", str(out), "--quiet")
    assert "n_init" in p.stdout
    s = dn.load(out)
    assert s.n_init == 3 and s.n_steps == 40 and s.map.eta == 0.5 and s.perturber.eps == 1e-6
    assert s.result_["distance"].shape == (41, 3, 5)
    figdir = tmp_path / "figs"
    run("plot", str(out), "--out", str(figdir))
    assert list(figdir.glob("*.png"))


def test_bad_input_gives_clear_errors(tmp_path):
    p = run("run", "no-such-study", check=False)
    assert p.returncode == 2 and "no-such-study" in p.stderr
    p = run("run", "perturbation", "--set", "n_int=3", check=False)
    assert p.returncode == 2 and "n_int" in p.stderr
    bad = tmp_path / "bad.nc"
    bad.write_text("garbage")
    p = run("plot", str(bad), check=False)
    assert p.returncode == 2 and "not a readable netCDF" in p.stderr


def test_hard_exit_then_resume_is_bitwise_identical(tmp_path):
    # deterministic fault injection: the run ends hard (as kill -9 would) right after its
    # third chunk file is on disk; no timing is involved
    args = ["run", "perturbation", "--set", "n_init=12", "--set", "n_steps=200", "--set", "every=10",
            "--set", "map=henon", "--set", "perturber__on='all'", "--quiet", "--chunk-size", "2"]
    ref = tmp_path / "ref.nc"
    run(*args, "--out", str(ref))
    out = tmp_path / "cut.nc"
    env = dict(os.environ, DYNNET_TEST_EXIT_AFTER_CHUNKS="3")
    p = run(*args, "--out", str(out), "--jobs", "1", check=False, env=env)
    ckpt = tmp_path / "cut.nc.ckpt"
    assert p.returncode == 137 and not out.exists()
    assert len(list(ckpt.glob("chunk-*.npz"))) == 3
    run(*args, "--out", str(out), "--resume", "--jobs", "2")
    a = dn.load(ref).result_["distance"].values
    b = dn.load(out).result_["distance"].values
    np.testing.assert_array_equal(a, b)
    assert not ckpt.exists()


def test_existing_output_is_refused_before_computing_unless_force(tmp_path):
    out = tmp_path / "r.nc"
    out.write_text("an earlier result")
    p = run("run", "perturbation", "--quick", "--set", "map=henon", "--set", "perturber__on='all'",
            "--out", str(out), "--quiet", check=False)
    assert p.returncode == 2 and "exists" in p.stderr and "--force" in p.stderr
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert out.read_text() == "an earlier result"
    run("run", "perturbation", "--quick", "--set", "map=henon", "--set", "perturber__on='all'",
        "--out", str(out), "--quiet", "--force")
    assert dn.load(out).n_init == 8
    p = run("run", "perturbation", "--quick", "--out", str(tmp_path / "nodir" / "x.nc"), check=False)
    assert p.returncode == 2 and "does not exist" in p.stderr
    p = run("run", "perturbation", "--quick", "--out", str(tmp_path), check=False)
    assert p.returncode == 2 and "folder" in p.stderr


def test_errors_are_one_line_with_usage_and_runtime_statuses(tmp_path):
    p = run("run", "edge-of-stability", "--set", "estimators=kantz", check=False)
    assert p.returncode == 2 and "FiniteLyapunov" in p.stderr and "Traceback" not in p.stderr
    p = run("run", "perturbation", "--set", "n_init=1000000000", "--out", str(tmp_path / "m.nc"),
            check=False)
    assert p.returncode == 1 and "lower n_init" in p.stderr and p.stderr.count("\n") == 1
    p = run("run", "perturbation", "--config", str(tmp_path), check=False)
    assert p.returncode == 2 and "not a regular file" in p.stderr
    p = run("run", "post-learning", "--set", "tol=()", "--out", str(tmp_path / "t.nc"), check=False)
    assert p.returncode == 2 and "tol" in p.stderr
    p = run("run", "perturbation", "--set", "n_init=1000000000", "--out", str(tmp_path / "m.nc"),
            "--debug", check=False)
    assert "Traceback" in p.stderr


def test_a_second_run_on_the_same_output_fails_at_once(tmp_path):
    from dynnet.checkpoint import Checkpoint

    out = tmp_path / "r.nc"
    with Checkpoint(tmp_path / "r.nc.ckpt", "another run", resume=False):
        p = run("run", "perturbation", "--quick", "--out", str(out), check=False)
    assert p.returncode == 1 and "in use by another dynnet run" in p.stderr
    assert not out.exists()


def test_a_file_size_limit_at_save_keeps_the_run_for_resume(tmp_path):
    # issue 24 item 1, as reported (`ulimit -f`): the chunk files fit the limit, the result file
    # does not; the run must survive in its checkpoint and the printed command must finish it
    import resource
    import shlex

    args = ["run", "perturbation", "--set", "n_init=12", "--set", "n_steps=60", "--set", "map=henon",
            "--set", "perturber__on='all'", "--quiet", "--chunk-size", "2"]
    ref = tmp_path / "ref.nc"
    run(*args, "--out", str(ref))
    assert ref.stat().st_size > 16384

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))

    out = tmp_path / "r.nc"
    p = run(*args, "--out", str(out), check=False, preexec_fn=limit, cwd=tmp_path)
    ckpt = tmp_path / "r.nc.ckpt"
    assert p.returncode == 1 and "File too large" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists() and len(list(ckpt.glob("chunk-*.npz"))) == 6
    command = shlex.split(p.stderr.split("`")[1])
    assert command[0] == "dynnet" and "--resume" in command
    run(*command[1:], cwd=tmp_path)
    np.testing.assert_array_equal(dn.load(out).result_["distance"].values,
                                  dn.load(ref).result_["distance"].values)
    assert not ckpt.exists()


def test_the_readme_command_works_twice(tmp_path):
    # issue 23 item 5: the same command a second time writes a second result, beside the first
    args = ["run", "perturbation", "--quick", "--set", "map=henon", "--set", "perturber__on='all'"]
    first = run(*args, cwd=tmp_path)
    assert "result written to perturbation.nc" in first.stdout
    before = (tmp_path / "perturbation.nc").read_bytes()
    second = run(*args, cwd=tmp_path)
    assert "result written to perturbation-2.nc" in second.stdout
    assert (tmp_path / "perturbation.nc").read_bytes() == before
    assert dn.load(tmp_path / "perturbation-2.nc").n_init == 8


def test_a_hard_exit_in_the_save_window_leaves_the_checkpoint(tmp_path):
    # issue 24 item 1: killed (as kill -9 would) after the result is written to its temporary
    # file and before it is renamed into place; deterministic fault injection, no timing
    args = ["run", "perturbation", "--set", "n_init=6", "--set", "n_steps=40", "--set", "map=henon",
            "--set", "perturber__on='all'", "--quiet", "--chunk-size", "2"]
    ref = tmp_path / "ref.nc"
    run(*args, "--out", str(ref))
    out = tmp_path / "r.nc"
    env = dict(os.environ, DYNNET_TEST_EXIT_BEFORE_RESULT_REPLACE="1")
    p = run(*args, "--out", str(out), check=False, env=env)
    ckpt = tmp_path / "r.nc.ckpt"
    assert p.returncode == 137 and not out.exists()
    assert len(list(ckpt.glob("chunk-*.npz"))) == 3, "the finished run must outlive the save window"
    run(*args, "--out", str(out), "--resume")
    np.testing.assert_array_equal(dn.load(out).result_["distance"].values,
                                  dn.load(ref).result_["distance"].values)
    assert not ckpt.exists()


def test_top_level_keys_beside_a_params_table_are_refused(tmp_path):
    cfg = tmp_path / "study.toml"
    cfg.write_text("n_init = 3\n[params]\nn_steps = 40\n")   # n_init would be silently ignored
    p = run("run", "perturbation", "--quick", "--config", str(cfg), "--out", str(tmp_path / "x.nc"),
            check=False)
    assert p.returncode == 2 and "'n_init'" in p.stderr and "[params]" in p.stderr
    assert not (tmp_path / "x.nc").exists()
