"""Every figure of every built-in study reads cleanly: no text overlaps other text, none is
clipped by the figure's edge, no in-axes legend sits on the data; and the README's figure
states the numbers of the headline table.

The studies run once per session (their quick presets, shared with test_plotting.py's
cache); the checks draw each figure and compare the window extents of its texts.
"""

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from test_plotting import _run

from dynnet import plugins
from dynnet.plotting import _common as C

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = sorted(n for n, dist in plugins.available("dynnet.studies").items() if dist == "dynnet")


@pytest.fixture(scope="module", params=BUILTIN)
def figures(request):
    import warnings

    study = _run(plugins.load("dynnet.studies", request.param))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a quick preset's NaN note is not under test
        figs = study.plot()
    return request.param, figs if isinstance(figs, list) else [figs]


def test_every_builtin_study_is_checked():
    assert {"perturbation", "orbital-stability", "post-learning", "edge-of-stability", "intermittency",
            "eta-scan", "sharpening", "regularization", "learning-window", "grid",
            "bifurcation", "instability"} <= set(BUILTIN)


def test_no_text_overlaps_or_is_clipped_and_no_legend_covers_data(figures):
    name, figs = figures
    assert figs
    for k, fig in enumerate(figs):
        problems = C.text_problems(fig) + C.legends_on_data(fig)
        assert not problems, f"{name} figure {k}: {problems}"


# ---------------------------------------------------------------- the checks can fail


def test_overlapping_text_is_caught():
    fig = C.figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.set_title("a title")
    ax.text(0.5, 0.5, "some words", transform=ax.transAxes)
    assert C.text_problems(fig) == []
    ax.text(0.52, 0.51, "other words", transform=ax.transAxes)   # on top of the first
    (problem,) = C.text_problems(fig)
    assert "overlapping" in problem and "some words" in problem and "other words" in problem


def test_overlap_across_axes_and_tick_labels_are_caught():
    fig = C.figure(figsize=(3, 2.5))
    a0, a1 = fig.subplots(1, 2)
    for ax in (a0, a1):
        ax.plot([0, 1e6], [0, 1e6])
        ax.set_ylabel("a long label for the y axis")
    a0.set_xticks([0, 5e5, 1e6], ["zero", "five hundred thousand", "a million"])
    problems = C.text_problems(fig)   # no layout: tick labels and the second axes' label collide
    assert any("five hundred thousand" in p for p in problems)
    assert any("a long label for the y axis" in p for p in problems)


def test_clipped_text_is_caught():
    fig = C.figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    fig.text(0.9, 0.5, "runs off the right edge")
    (problem,) = C.text_problems(fig)
    assert problem.startswith("clipped") and "runs off the right edge" in problem
    fig2 = C.figure(figsize=(4, 3))
    fig2.subplots().set_title("a title far too long for so small a figure, clipped at both ends " * 2)
    assert any(p.startswith("clipped") for p in C.text_problems(fig2))


def test_legend_on_data_is_caught():
    fig = C.figure(figsize=(4, 3), layout="constrained")
    ax = fig.subplots()
    x = np.linspace(0, 1, 200)
    ax.plot(x, np.full_like(x, 0.95), label="a line along the top")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right")
    (problem,) = C.legends_on_data(fig)
    assert "covers" in problem
    ax.legend(loc="lower left")
    assert C.legends_on_data(fig) == []


# ---------------------------------------------------------------- the README's figure


def _headline_rows():
    with open(ROOT / "docs" / "headline.csv", newline="") as fh:
        return {row["key"]: row for row in csv.DictReader(fh)}


def test_readme_figure_states_the_headline_numbers():
    from PIL import Image

    png = ROOT / "docs" / "img" / "edge_of_stability_lyapunov.png"
    side = json.loads(png.with_suffix(".json").read_text())
    rows = _headline_rows()
    keys = ("edge.mle[eps=1e-08]", "edge.kept_fraction[eps=1e-08]")
    assert set(side["numbers"]) == set(keys)
    for key in keys:
        assert side["numbers"][key] == rows[key]["dynnet"], key   # to the printed digits
    # the PNG carries the same numbers, and its title prints them
    with Image.open(png) as im:
        meta = dict(im.text)
    assert json.loads(meta["Description"]) == side["numbers"]
    mle, kept = side["numbers"][keys[0]], side["numbers"][keys[1]]
    assert f"{C.MLE} = {mle}" in meta["Title"]
    assert f"{100 * float(kept):.1f}% of fits kept" in meta["Title"]
    # and the README embeds that figure
    assert "docs/img/edge_of_stability_lyapunov.png" in (ROOT / "README.md").read_text()


def test_headline_figure_reads_cleanly():
    from dynnet.plotting.headline import headline_figure
    from dynnet.studies import EdgeOfStabilityStudy

    fig = headline_figure(_run(EdgeOfStabilityStudy).result_)
    assert C.text_problems(fig) == [] and C.legends_on_data(fig) == []
