"""The `dynnet` command, called through its real entry point in a subprocess."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

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
    p = run("run", "intermittency", "--quick", "--jobs", "2", check=False)
    assert p.returncode == 2 and "--jobs" in p.stderr
    bad = tmp_path / "bad.nc"
    bad.write_text("garbage")
    p = run("plot", str(bad), check=False)
    assert p.returncode == 2 and "not a readable netCDF" in p.stderr


def test_kill_9_then_resume_is_bitwise_identical(tmp_path):
    # 40 chunks of one initial condition, each ~0.1 s of Henon steps: a run of a few
    # seconds, killed after its third chunk is on disk
    args = ["run", "perturbation", "--set", "n_init=40", "--set", "n_steps=20000",
            "--set", "every=100", "--set", "chunk_size=1", "--set", "map=henon",
            "--set", "perturber__on='all'", "--quiet"]
    ref = tmp_path / "ref.nc"
    run(*args, "--out", str(ref))
    out = tmp_path / "cut.nc"
    proc = subprocess.Popen([str(EXE), *args, "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    ckpt = tmp_path / "cut.nc.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(ckpt.glob("chunk-*.npz"))) < 3:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(ckpt.glob("chunk-*.npz")))
    assert not out.exists(), "the run finished before it was killed: make it longer"
    assert 3 <= done < 40
    run(*args, "--out", str(out), "--resume", "--jobs", "2")
    a = dn.load(ref).result_["distance"].values
    b = dn.load(out).result_["distance"].values
    np.testing.assert_array_equal(a, b)
    assert not ckpt.exists()
