"""The figures of dynnet.plotting, built from the quick presets of the Studies.

Each Study.quick() runs once per module (a few seconds in all); the tests check
what a reader relies on: legends where promised, labels, titles with η/ε/Λ,
and that drawn fits are the fits they claim to be.
"""

import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from dynnet import plotting as P
from dynnet.studies import (EdgeOfStabilityStudy, EtaScanStudy, IntermittencyStudy,
                            OrbitalStabilityStudy, PerturbationStudy, PostLearningStudy)


@pytest.fixture(scope="module")
def runs():
    return {cls.__name__: cls.quick().run()
            for cls in (PerturbationStudy, OrbitalStabilityStudy, PostLearningStudy,
                        EdgeOfStabilityStudy, IntermittencyStudy, EtaScanStudy)}


def _texts(fig):
    """Every piece of text a reader sees: titles, axis labels, legends, free text."""
    out = [fig.get_suptitle()]
    for leg in fig.legends:
        out += [t.get_text() for t in leg.get_texts()]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.texts]
        if ax.get_legend() is not None:
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return [t for t in out if t]


def _legend_labels(fig):
    labels = []
    for leg in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
        labels += [t.get_text() for t in leg.get_texts()]
    return labels


def _figures(study):
    figs = study.plot()
    return figs if isinstance(figs, list) else [figs]


def test_every_study_figure_is_a_figure_with_greek_notation(runs):
    ascii_names = re.compile(r"\b(eta|eps|Lambda|lambda)\b")
    for name, study in runs.items():
        figs = _figures(study)
        assert figs, name
        for fig in figs:
            assert isinstance(fig, Figure), name
            texts = _texts(fig)
            assert texts, name
            bad = [t for t in texts if ascii_names.search(t)]
            assert not bad, (name, bad)
            # every figure says what it shows: a suptitle or an axes title
            assert fig.get_suptitle() or any(ax.get_title() for ax in fig.axes), name


def test_plot_distances_legend_and_labels(runs):
    r = runs["PerturbationStudy"].result_
    fig = P.plot_distances(r, init=1)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "t (steps)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 3
    assert "perturbed copy" in labels[0] and "mean" in labels[1] and "loss" in labels[2]
    # the black line is the mean over the copies of init 1
    black = [ln for ln in ax.get_lines() if ln.get_color() == "k"]
    assert len(black) == 1
    np.testing.assert_allclose(black[0].get_ydata(),
                               r["distance"].isel(init=1).values.mean(axis=1), rtol=1e-12)
    assert P.plot_distances(r, legend=False).axes[0].get_legend() is None


def test_window_fit_line_known_answer():
    t = np.arange(50.0)
    mean = 1e-8 * np.exp(0.3 * t) * (1 + 0.1 * np.sin(t))  # not exactly exponential
    tw, d_hat = P._window_fit_line(t, mean, (10.0, 30.0), 0.3)
    np.testing.assert_array_equal(tw, t[10:30])
    y = np.log(d_hat)
    np.testing.assert_allclose(np.diff(y), 0.3, rtol=1e-12)
    assert abs(y.mean() - np.log(mean[10:30]).mean()) < 1e-9
    assert P._window_fit_line(t, mean, (np.nan, np.nan), 0.3) is None


def test_edge_figure_fit_through_window_mean_point(runs):
    r = runs["EdgeOfStabilityStudy"].result_
    fig = P.edge_figure(r)
    n_rows = min(4, r.sizes["init"])
    assert len(fig.axes) == 4 * n_rows
    assert "η = 1" in fig.get_suptitle() and "ε = 1e-8" in fig.get_suptitle()
    assert all(ax.get_xlabel() == "t (steps)" for ax in fig.axes[-4:])
    labels = _legend_labels(fig)
    assert any("perturbed copy" in s for s in labels) and any("mean" in s for s in labels)
    k = P._pick_eps(r, 1e-8)
    rk = r.isel(eps=k)
    t = rk["step"].values
    checked = 0
    for row in range(n_rows):
        ax = fig.axes[4 * row + 1]
        fits = [ln for ln in ax.get_lines() if ln.get_label().startswith("Λ =")]
        lam = float(rk["exponent"].isel(init=row))
        if not np.isfinite(lam):
            assert not fits
            continue
        (line,) = fits
        w0, w1 = rk["window"].isel(init=row).values
        sel = (t >= w0) & (t < w1)
        m_w = np.log(rk["distance"].isel(init=row).values.mean(axis=1)[sel])
        tl, yl = line.get_xdata(), np.log(line.get_ydata())
        np.testing.assert_array_equal(tl, t[sel])
        # least-squares line: passes through the window's mean point, slope Λ
        assert abs(yl.mean() - m_w.mean()) < 1e-9
        assert abs(np.polyfit(tl, yl, 1)[0] - lam) < 1e-9
        # and its residuals against the data sum to zero (it does not sit above the data)
        assert abs(np.sum(m_w - yl)) < 1e-9 * m_w.size
        checked += 1
    assert checked >= 1


def test_lyapunov_eps_figure(runs):
    r = runs["EdgeOfStabilityStudy"].result_
    fig = P.lyapunov_eps_figure(r)
    a0, a1 = fig.axes
    kept = r["kept"].values[P._pick_eps(r, 1e-8)].astype(bool)
    title = a0.get_title()
    assert "ε = 1e-8" in title and f"{kept.mean():.0%}" in title and "mean" in title
    labels = [t.get_text() for t in a1.get_legend().get_texts()]
    assert any("mean ± std of the kept Λ" in s for s in labels)
    assert a1.get_xlabel().startswith("ε")


def test_orbital_figures(runs):
    study = runs["OrbitalStabilityStudy"]
    r = study.result_
    orbit, panels, drift = study.plot()
    assert len(orbit.axes) == 2 * min(4, r.sizes["init"])  # each panel has its loss twin
    assert orbit.legends and "ε" in orbit.get_suptitle()
    n_eps = r.sizes["eps"]
    assert len(panels.axes) == 2 * n_eps
    label = panels.axes[n_eps].get_ylabel()
    assert "d(t) / (ε N)" in label and "N = 70 perturbed weights" in label
    e = r["eps"].values[0]
    np.testing.assert_allclose(panels.axes[n_eps].get_lines()[0].get_ydata(),
                               r["distance"].isel(eps=0, init=0).values.mean(axis=1) / (e * 70),
                               rtol=1e-12)
    assert panels.legends


def test_drift_figure(runs):
    study = runs["OrbitalStabilityStudy"]
    r = study.result_
    m = study._resolved()["map"]
    fig = P.drift_figure(r, m)
    sizes = m.sizes
    heat = [ax for ax in fig.axes if ax.get_images()]
    assert len(heat) == len(sizes) - 1
    for l, ax in enumerate(heat, start=1):
        assert ax.get_xlabel() == f"to neuron (layer {l})"
        assert ax.get_ylabel() == f"from neuron (layer {l - 1})"
        np.testing.assert_array_equal(ax.get_xticks(), np.arange(sizes[l]))
        np.testing.assert_array_equal(ax.get_yticks(), np.arange(sizes[l - 1]))
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "L_w / L"]
    assert len(bars) == len(heat)
    scatter = fig.axes[len(heat)]
    b = float(r["drift_slope"].isel(init=0))
    assert "log10 Δ_w = a + b log10 D_w" in scatter.get_title()
    assert f"b = {b:.2f}" in scatter.get_title()
    (fit,) = [ln for ln in scatter.get_lines() if ln.get_label() == "least-squares line"]
    x, y = np.log10(fit.get_xdata()), np.log10(fit.get_ydata())
    assert abs((y[1] - y[0]) / (x[1] - x[0]) - b) < 1e-9


def test_post_learning_figures(runs):
    r = runs["PostLearningStudy"].result_
    figs = runs["PostLearningStudy"].plot()
    assert len(figs) == 2
    d, spec = figs
    assert d.get_suptitle() and d.legends
    n_eps = r.sizes["eps"]
    assert all(ax.get_xlabel() == "t after the perturbation (steps)" for ax in d.axes[-n_eps:])
    ax = spec.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [s for s in labels if s.startswith("init")] == [f"init {i}" for i in range(r.sizes["init"])]
    assert "|μ − 1|" in ax.get_ylabel() and "I − ηH" in ax.get_ylabel()


def test_intermittency_figures(runs):
    study = runs["IntermittencyStudy"]
    r = study.result_
    figs = study.plot()
    assert len(figs) == 5
    loss_norm, acf, kantz, weights, compare = figs
    assert "η = 5" in loss_norm.get_suptitle()
    assert all(ax.get_xlabel() for ax in loss_norm.axes)
    assert any("3%–97%" in s for s in _legend_labels(acf))
    assert "initial condition" in acf.get_suptitle()
    assert kantz.axes[0].get_legend() is not None and "η = 5" in kantz.axes[0].get_title()
    names = study._resolved()["map"].coordinate_names()
    w = r["weights"].isel(series=0).values
    top = np.argsort(-np.nanvar(w, axis=0))[:6]
    assert [ax.get_ylabel() for ax in weights.axes] == [names[j] for j in top]
    assert all(re.fullmatch(r"[Wb]\d\[[\d,]+\]", ax.get_ylabel()) for ax in weights.axes)
    assert weights.get_suptitle()
    plain = P.weights_figure(r, n_weights=3)
    assert [ax.get_ylabel() for ax in plain.axes] == [f"w[{j}]" for j in top[:3]]
    etas = r["compare_eta"].values
    assert [ax.get_title() for ax in compare.axes] == [f"η = {e:g}" for e in etas]
    assert compare.axes[0].get_ylabel()


def test_phase_diagram_figure(runs):
    r = runs["EtaScanStudy"].result_
    fig = P.phase_diagram_figure(r)
    main = fig.axes[:4]
    twin = fig.axes[4]
    # twin axes colour-coded like their curves
    loss_line = main[0].get_lines()[0]
    acc_line = twin.get_lines()[0]
    assert loss_line.get_color() != acc_line.get_color()
    assert main[0].yaxis.label.get_color() == loss_line.get_color()
    assert twin.yaxis.label.get_color() == acc_line.get_color()
    # regimes in a figure-level legend, one entry per regime present, with η
    (leg,) = fig.legends
    labels = [t.get_text() for t in leg.get_texts()]
    present = {str(x).replace("eta", "η") for x in r["regime"].values}
    assert set(labels) == present
    # a note at each η without λ_nMLE
    notes = [t for t in main[1].texts if t.get_gid() == "no-mle-note"]
    assert len(notes) == int(np.sum(~np.isfinite(r["mle"].values)))
    assert main[3].get_xlabel().startswith("η")
