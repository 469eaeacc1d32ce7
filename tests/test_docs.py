"""The API reference (docs/api.rst) lists every public name.

Cheap: reads the rst source, does not build the docs (CI builds them with
``docs/build.sh``, warnings as errors).
"""

import re
from pathlib import Path

import pytest

import dynnet
import dynnet.base
import dynnet.plugins
import dynnet.testing

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def documented_names(text):
    """Fully qualified names listed in the autosummary blocks of ``text``."""
    names = set()
    module = None
    in_summary = False
    for line in text.splitlines():
        m = re.match(r"\.\. currentmodule:: (\S+)", line)
        if m:
            module = m.group(1)
            continue
        if line.startswith(".. autosummary::"):
            in_summary = True
            continue
        if in_summary:
            if line.strip() == "" or line.lstrip().startswith(":"):
                continue
            if line.startswith("   "):
                names.add(f"{module}.{line.strip()}")
                continue
            in_summary = False
    return names


@pytest.fixture(scope="module")
def api_text():
    if not API.exists():
        pytest.skip("docs/api.rst is not in this checkout")
    return API.read_text()


def test_parser_finds_entries_and_only_entries():
    text = (".. currentmodule:: a\n\n.. autosummary::\n   :toctree: x\n\n   One\n   two\n\n"
            "Some text\n   indented prose\n")
    assert documented_names(text) == {"a.One", "a.two"}


def test_every_top_level_public_name_is_in_the_api_reference(api_text):
    listed = documented_names(api_text)
    missing = [n for n in dynnet.__all__ if n not in ("__version__", "plugins", "datasets")
               and f"dynnet.{n}" not in listed]
    assert not missing, f"add these to an autosummary block of docs/api.rst: {missing}"
    assert ".. automodule:: dynnet.plugins" in api_text
    assert ".. automodule:: dynnet.datasets" in api_text
    assert "__version__" in api_text


@pytest.mark.parametrize("module", [dynnet.plugins, dynnet.base, dynnet.datasets], ids=lambda m: m.__name__)
def test_every_public_name_of_a_documented_module_is_listed(api_text, module):
    listed = documented_names(api_text)
    top = {n for n in dynnet.__all__}
    missing = [n for n in module.__all__
               if f"{module.__name__}.{n}" not in listed and not (n in top and f"dynnet.{n}" in listed)]
    assert not missing, f"add these {module.__name__} names to docs/api.rst: {missing}"


def test_every_name_of_the_conformance_suite_is_listed(api_text):
    listed = documented_names(api_text)
    missing = [n for n in dynnet.testing.__all__
               if f"dynnet.testing.{n}" not in listed
               and f"dynnet.testing.strategies.{n}" not in listed]
    assert not missing, f"add these dynnet.testing names to docs/api.rst: {missing}"


# ---- the files that keep the package maintainable -------------------------------------

ROOT = API.parents[1]


def _pyproject():
    path = ROOT / "pyproject.toml"
    if not path.exists():
        pytest.skip("pyproject.toml is not in this checkout")
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(path.read_text())


def _lower_bounds(requirements):
    """{name: lower bound} of the ``name>=X`` requirements without an environment marker."""
    bounds = {}
    for req in requirements:
        if ";" in req:
            continue
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][0-9.]*)\s*", req)
        if m:
            bounds[m.group(1).lower().replace("_", "-")] = m.group(2)
    return bounds


def test_lower_bound_parser():
    assert _lower_bounds(["numpy>=1.25", "jax[cpu]>=0.4.20", "nolds==0.6.2",
                          "tomli>=2; python_version < '3.11'"]) == {"numpy": "1.25", "jax": "0.4.20"}


def test_minimum_constraints_pin_every_lower_bound():
    project = _pyproject()["project"]
    bounds = _lower_bounds(project["dependencies"] + project["optional-dependencies"]["test"])
    assert {"numpy", "scipy", "xarray", "pytest"} <= set(bounds)
    pins = {}
    for line in (ROOT / "constraints" / "minimum.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    # the lowest release series: ">=7" -> "7.0.*", ">=1.25" -> "1.25.*", ">=0.4.20" -> "0.4.20.*"
    want = {n: ".".join((b.split(".") + ["0"])[:max(2, b.count(".") + 1)]) + ".*" for n, b in bounds.items()}
    wrong = {n: (bounds[n], pins.get(n)) for n in bounds if pins.get(n) != want[n]}
    assert not wrong, f"constraints/minimum.txt must pin name==<lower bound>.* (bound, pin): {wrong}"
    extra = set(pins) - set(bounds)
    assert not extra, f"constraints/minimum.txt pins packages without a lower bound in pyproject: {extra}"


def test_license_is_the_declared_bsd_3_clause():
    project = _pyproject()["project"]
    assert project["license"] == "BSD-3-Clause"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, dynnet developers" in text
    assert "Neither the name of the copyright holder" in text   # the third clause


def test_py_typed_ships_with_the_package():
    assert (Path(dynnet.__file__).parent / "py.typed").is_file()
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["dynnet"]


def test_changelog_has_the_unreleased_sections():
    text = (ROOT / "CHANGELOG.md").read_text()
    head = text.split("\n## ", 2)[1]          # the first release section
    assert head.startswith("Unreleased")
    for section in ("Changed (API v1)", "Added", "Fixed", "Removed"):
        assert f"\n### {section}\n" in head, section


def test_numpydoc_validation_checks_parameters_and_excludes_only_private_names():
    import runpy

    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))
    assert {"PR01", "PR02", "RT01", "GL08"} <= set(conf["numpydoc_validation_checks"])
    patterns = [re.compile(p) for p in conf["numpydoc_validation_exclude"]]

    def excluded(name):
        return any(p.search(name) for p in patterns)

    assert excluded("dynnet.Map._stream") and excluded("dynnet.maps._gd_engine.run")
    assert not any(excluded(n) for n in ("dynnet.Map.step", "dynnet.L1.__call__", "dynnet.FiniteLyapunov",
                                         "dynnet.testing.check_map", "dynnet.GradientDescentMap.data"))
