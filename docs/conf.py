"""Sphinx configuration of the dynnet documentation.

Build (warnings are errors; under a minute on 2 cores, most of it the quick
studies whose figures the tutorials show):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

or ``docs/build.sh``. Nothing is fetched from the network: no intersphinx.
Figures are generated at build time into ``docs/generated/`` (gitignored) by
the ``dynnet-run`` directive of ``docs/_ext/dynnet_docs.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the checkout, if dynnet is not installed

import dynnet  # noqa: E402

project = "dynnet"
author = "dynnet developers"
copyright = "2026, dynnet developers"
release = dynnet.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "dynnet_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
language = "en"
pygments_style = "sphinx"

# ---- autodoc / autosummary / numpydoc ---------------------------------------
autosummary_generate = True          # stubs go to generated/api (gitignored)
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"           # the numpydoc sections carry the types
autodoc_inherit_docstrings = True
numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Validation of the public docstrings during the build (warnings, so errors under -W). Checked:
# what a reader needs to call the object right; not checked: pure style (capitals, final
# periods, summary mood and length, See Also / Examples sections).
numpydoc_validation_checks = {
    "GL08",  # the object has no docstring
    "SS01",  # no one-line summary
    "GL06",  # unknown section (a misspelt "Parameters" / "Returns" hides the section)
    "GL10",  # a reST directive without its two colons (renders as text)
    "PR01",  # a parameter of the signature is not documented
    "PR02",  # a documented parameter is not in the signature
    "PR03",  # documented in another order than the signature
    "PR04",  # a parameter without a type (autodoc_typehints = "none": the section is the only type)
    "PR07",  # a parameter without a description
    "PR10",  # "name: type" without the space numpydoc needs to parse it
    "RT01",  # returns a value but has no Returns section
    "RT03",  # a return value without a description
    "YD01",  # a generator without a Yields section
}
# Private names only: a path component with a single leading underscore (dunders such as
# Metric.__call__ are public and are checked).
numpydoc_validation_exclude = {r"(^|\.)_(?!_)"}

# ---- HTML ---------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"dynnet {release}"
html_static_path: list = []
html_theme_options = {
    "description": "Training a neural network, as a dynamical system",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}

# ---- the dynnet-run directive -------------------------------------------------
dynnet_figure_dir = "generated/figures"  # relative to this directory
dynnet_figure_dpi = 80
