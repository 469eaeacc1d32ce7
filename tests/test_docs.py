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
    missing = [n for n in dynnet.__all__ if n not in ("__version__", "plugins")
               and f"dynnet.{n}" not in listed]
    assert not missing, f"add these to an autosummary block of docs/api.rst: {missing}"
    assert ".. automodule:: dynnet.plugins" in api_text
    assert "__version__" in api_text


@pytest.mark.parametrize("module", [dynnet.plugins, dynnet.base], ids=lambda m: m.__name__)
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
