"""Every example runs with its quick flag, in a subprocess, in a scratch directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_quick(script, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.run([sys.executable, str(script), "--quick"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, f"{script.name} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    assert p.stdout.strip(), f"{script.name} printed nothing"


def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert {"edge_of_stability.py", "eta_scan.py", "load_and_plot.py"} <= names


def test_the_bifurcation_tutorial_quotes_the_records_of_its_figures():
    """docs/tutorials/bifurcation.rst quotes the wall time, sizes and regime counts that
    examples/bifurcation_diagrams.py wrote beside each figure (docs/img/*-bifurcation.json)."""
    import json

    root = Path(__file__).parent.parent
    text = " ".join((root / "docs" / "tutorials" / "bifurcation.rst").read_text().split())
    for name in ("iris", "digits"):
        rec = json.loads((root / "docs" / "img" / f"{name}-bifurcation.json").read_text())
        assert (root / "docs" / "img" / f"{name}-bifurcation.png").is_file()
        assert f"../img/{name}-bifurcation.png" in text
        assert rec["command"] in text
        assert f"**{rec['wall_s']:.1f} s**" in text, name
        sz = rec["sizes"]
        assert f"{sz['values']:,} values x {sz['networks']} networks x " \
               f"{sz['n_transient'] + sz['n_keep']:,} steps" in text, name
        assert f"load average {rec['load_before_after'][0]:g} before" in text, name
        for regime, count in rec["regimes"].items():
            assert f"{count} values {regime}" in text or f"{count} {regime}" in text, (name, regime)


def test_a_fresh_diagram_run_has_the_committed_sizes_and_regimes():
    """CI runs ``examples/bifurcation_diagrams.py`` at full size (DYNNET_DIAGRAMS_DIR: its
    output folder): each fresh record has the committed sizes, command and regime counts, so
    the figures of docs/tutorials/bifurcation.rst are the output of the current code."""
    import json

    fresh = os.environ.get("DYNNET_DIAGRAMS_DIR")
    if not fresh:
        pytest.skip("CI runs this after examples/bifurcation_diagrams.py (DYNNET_DIAGRAMS_DIR)")
    root = Path(__file__).parent.parent
    for name in ("iris", "digits"):
        new = json.loads((Path(fresh) / f"{name}-bifurcation.json").read_text())
        old = json.loads((root / "docs" / "img" / f"{name}-bifurcation.json").read_text())
        assert new["sizes"] == old["sizes"], name
        assert new["regimes"] == old["regimes"], (name, new["regimes"], old["regimes"])
        assert (Path(fresh) / f"{name}-bifurcation.png").stat().st_size > 10_000
