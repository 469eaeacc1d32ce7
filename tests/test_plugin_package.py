"""End to end: install the real plugin package plugins/dynnet-sgd and run a Study with it."""

import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dynnet as dn

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "dynnet-sgd"


def _can_build_without_isolation():
    """setuptools >= 70.1 builds wheels itself; older ones need the `wheel` package."""
    import importlib.metadata

    try:
        version = importlib.metadata.version("setuptools")  # no import: pytest and distutils clash
    except importlib.metadata.PackageNotFoundError:
        return False
    major, minor = (int(p) for p in version.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """pip-install the plugin into a private directory put on sys.path for these tests
    only: the user's environment and the source tree are left as they were."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not available in this environment; cannot install plugins/dynnet-sgd")
    root = tmp_path_factory.mktemp("plugin")
    src = root / "src"
    shutil.copytree(PLUGIN, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    if _can_build_without_isolation():
        cmd.append("--no-build-isolation")
    # else pip builds in an isolated environment (fetches setuptools from the index)
    out = subprocess.run(cmd + [str(src)], capture_output=True, text=True)
    assert out.returncode == 0, f"pip install of {PLUGIN} failed:\n{out.stdout}\n{out.stderr}"
    already = {k for k in sys.modules if k.split(".")[0] == "dynnet_sgd"}
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    dn.plugins.refresh()
    yield
    sys.path.remove(str(target))
    for k in [k for k in sys.modules if k.split(".")[0] == "dynnet_sgd" and k not in already]:
        del sys.modules[k]
    importlib.invalidate_caches()
    dn.plugins.refresh()


def test_installed_plugin_runs_a_perturbation_study(installed_plugin):
    maps = dn.plugins.available("dynnet.maps")
    assert maps["sgd"] == "dynnet-sgd"
    assert maps["momentum"] == "dynnet-sgd" and maps["adam"] == "dynnet-sgd"
    assert ("dynnet.maps", "sgd", "dynnet-sgd", "dynnet_sgd.maps:SGDMap") in dn.plugins.describe()
    SGD = dn.plugins.load("dynnet.maps", "sgd")
    assert dn.plugins.is_registered_module(SGD.__module__)
    s = dn.PerturbationStudy(map=SGD(eta=1.0, batch_size=20),
                             perturber=dn.UniformPerturber(eps=1e-8, n=3, on="weights"),
                             n_init=4, n_steps=30, seed=0).run()
    r = s.result_
    d = r["distance"].values
    assert d.shape == (31, 4, 3)
    assert np.all(np.isfinite(d)) and np.all(d > 0)
    # the perturbation is on weights only: the step counters of all members agree
    P = SGD().dim - 1
    assert np.array_equal(r["final_state"].values[..., P], np.full((4, 4), 30.0))
    # the loss observable of the reference orbits decreases on average over training
    assert float(r["loss"].values[-1].mean()) < float(r["loss"].values[0].mean())


def test_saved_plugin_study_loads_back(installed_plugin, tmp_path):
    SGD = dn.plugins.load("dynnet.maps", "sgd")
    s = dn.PerturbationStudy(map=SGD(batch_size=30), n_init=2, n_steps=5, seed=1).run()
    s.save(tmp_path / "sgd.nc")
    back = dn.load(tmp_path / "sgd.nc")  # the plugin's module is registered, so it is rebuilt
    assert type(back.map) is SGD and repr(back.map) == repr(s.map)
    np.testing.assert_array_equal(back.result_["distance"].values, s.result_["distance"].values)
