"""The figures of dynnet.plotting, built from the quick presets of the Studies.

Each Study.quick() runs once per module (a few seconds in all), in its own
fixture so that one study under change does not take the others' tests down.
The tests check what a reader relies on: the data drawn are the result's data,
legends where promised, labels, titles with η/ε/Λ, and that drawn fits are the
fits they claim to be.
"""

import inspect
import re
import types

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

import dynnet as dn
from dynnet import plotting as P
from dynnet.plotting import _common as C
from dynnet.plotting._common import EPS, ETA, LAM, MLE
from dynnet.studies import (
    BifurcationStudy,
    EdgeOfStabilityStudy,
    EtaScanStudy,
    GridStudy,
    IntermittencyStudy,
    LearningWindowStudy,
    OrbitalStabilityStudy,
    PerturbationStudy,
    PostLearningStudy,
    RegularizationStudy,
    SharpeningStudy,
)

STUDIES = (PerturbationStudy, OrbitalStabilityStudy, PostLearningStudy,
           EdgeOfStabilityStudy, IntermittencyStudy, EtaScanStudy, SharpeningStudy, RegularizationStudy,
           LearningWindowStudy, GridStudy, BifurcationStudy)
_RUNS = {}


def _run(cls):
    if cls.__name__ not in _RUNS:
        _RUNS[cls.__name__] = cls.quick().run()
    return _RUNS[cls.__name__]


@pytest.fixture(scope="module", params=STUDIES, ids=lambda c: c.__name__)
def study(request):
    return _run(request.param)


@pytest.fixture(scope="module")
def perturbation():
    return _run(PerturbationStudy).result_


@pytest.fixture(scope="module")
def orbital():
    return _run(OrbitalStabilityStudy).result_


@pytest.fixture(scope="module")
def post_learning():
    return _run(PostLearningStudy).result_


@pytest.fixture(scope="module")
def edge():
    return _run(EdgeOfStabilityStudy).result_


@pytest.fixture(scope="module")
def intermittency():
    return _run(IntermittencyStudy).result_


@pytest.fixture(scope="module")
def eta_scan():
    return _run(EtaScanStudy).result_


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


def _black(ax):
    return [ln for ln in ax.get_lines() if ln.get_color() == "k"]


# ---------------------------------------------------------------- the package


def test_all_is_exactly_the_public_figure_functions():
    names = P.__all__
    assert len(names) == len(set(names))
    for name in names:
        obj = getattr(P, name)
        assert callable(obj) and inspect.isfunction(obj), name
        assert obj.__doc__ and "Returns" in obj.__doc__ and "References" in obj.__doc__, name
    # nothing public is missing from __all__ (submodules aside), nothing private is in it
    public = {n for n, v in vars(P).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert public == set(names)
    assert all(not n.startswith("_") for n in names)
    # each study module lists its own figures, and together they are the package's
    modules = ("perturbation", "orbital", "post_learning", "edge", "intermittency", "eta_scan",
               "sharpening", "regularization", "learning_window", "grid", "bifurcation",
               "instability")
    union = []
    for mod in modules:
        m = getattr(P, mod)
        defined = {n for n, v in vars(m).items() if inspect.isfunction(v) and v.__module__ == m.__name__
                   and not n.startswith("_")}
        assert defined == set(m.__all__), mod
        union += m.__all__
    assert sorted(union) == sorted(names)
    # the README's figure has its own module (python -m dynnet.plotting.headline), documented alike
    import dynnet.plotting.headline as H

    for name in H.__all__:
        obj = getattr(H, name)
        assert obj.__doc__ and "Returns" in obj.__doc__ and "References" in obj.__doc__, name
        assert list(inspect.signature(obj).parameters)[0] == "result", name
    # the figures every study draws today are importable from dynnet.plotting
    for name in ("plot_distances", "edge_figure", "lyapunov_eps_figure", "drift_figure",
                 "eps_panels_figure", "orbital_figure", "post_learning_figure", "loss_norm_figure",
                 "acf_figure", "kantz_figure", "weights_figure", "compare_eta_figure",
                 "phase_diagram_figure"):
        assert name in names


def test_figure_functions_take_the_result_first_and_plain_arguments():
    for name in P.__all__:
        params = list(inspect.signature(getattr(P, name)).parameters)
        assert params[0] == "result", name
        assert not {"map", "estimator", "study"} & set(params), name


# ---------------------------------------------------------------- shared helpers


@given(st.floats(min_value=1e-300, max_value=1e300))
def test_sci_reads_back_as_the_number(x):
    text = C.sci(x)
    assert "e+" not in text and "e-0" not in text
    tol = 5e-6 if 1e-3 <= x < 1e4 else 0.05
    assert abs(float(text) - x) <= tol * x
    assert C.sci(-x) == "-" + text


def test_sci_known_answers():
    assert [C.sci(v) for v in (1e-8, 2.5e-3, 0.3, 1e-12, 12345.0, 0.0)] == \
        ["1e-8", "0.0025", "0.3", "1e-12", "1.2e4", "0"]


def test_window_fit_line_known_answer():
    t = np.arange(50.0)
    mean = 1e-8 * np.exp(0.3 * t) * (1 + 0.1 * np.sin(t))  # not exactly exponential
    tw, d_hat = C.window_fit_line(t, mean, (10.0, 30.0), 0.3)
    np.testing.assert_array_equal(tw, t[10:30])
    y = np.log(d_hat)
    np.testing.assert_allclose(np.diff(y), 0.3, rtol=1e-12)
    assert abs(y.mean() - np.log(mean[10:30]).mean()) < 1e-9
    assert C.window_fit_line(t, mean, (np.nan, np.nan), 0.3) is None
    assert C.window_fit_line(t, mean, (10.0, 30.0), np.nan) is None


@given(st.lists(st.floats(-5, 5), min_size=3, max_size=30), st.floats(-3, 3), st.floats(-3, 3))
def test_intercept_through_mean_is_the_least_squares_intercept(noise, a, b):
    x = np.arange(len(noise), dtype=np.float64)
    y = a + b * x + np.asarray(noise)
    slope = np.polyfit(x, y, 1)[0]   # an independent least-squares oracle
    icpt = C.intercept_through_mean(x, y, slope)
    assert abs(np.sum(y - (icpt + slope * x))) < 1e-8 * (1 + np.abs(y).sum())
    assert abs(icpt - np.polyfit(x, y, 1)[1]) < 1e-7 * (1 + abs(icpt))


def test_intercept_through_mean_skips_non_finite_pairs():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, np.nan, 5.0, 7.0])
    assert C.intercept_through_mean(x, y, 2.0) == pytest.approx((13 / 3) - 2.0 * (5 / 3), abs=1e-12)
    assert np.isnan(C.intercept_through_mean(x, y, np.nan))
    assert np.isnan(C.intercept_through_mean(x[:1], y[:1], 2.0))


# ---------------------------------------------------------------- every study's figures


def test_every_study_figure_is_a_figure_with_greek_notation(study):
    ascii_names = re.compile(r"\b(eta|eps|Lambda|lambda)\b")
    figs = study.plot()
    figs = figs if isinstance(figs, list) else [figs]
    assert figs
    for fig in figs:
        assert isinstance(fig, Figure)
        texts = _texts(fig)
        assert texts
        # symbols are mathtext ($\eta$, $\lambda_{\mathrm{nMLE}}$): no ASCII, Unicode or underscore spellings
        plain = [re.sub(r"\$[^$]*\$", "", t) for t in texts]   # the text outside mathtext
        bad = [t for t, u in zip(texts, plain, strict=True)
               if ascii_names.search(u) or re.search(r"[α-ωΑ-Ω]|\w_\w", u)]
        assert not bad, bad
        # and no internal names (parameter paths, estimator prefixes, tuple reprs)
        internal = [t for t in texts if re.search(r"\w__\w|finitelyapunov\.|\(\d+,\)", t)]
        assert not internal, internal
        # every figure says what it shows: a suptitle or an axes title
        assert fig.get_suptitle() or any(ax.get_title() for ax in fig.axes)
        # and draws something
        assert any(ax.get_lines() or ax.get_images() or ax.patches or ax.collections for ax in fig.axes)


# ---------------------------------------------------------------- perturbation


def test_plot_distances_data_legend_and_labels(perturbation):
    r = perturbation
    fig = P.plot_distances(r, init=1)
    ax, twin = fig.axes
    assert ax.get_xlabel() == "t (steps)" and ax.get_ylabel() == "d(t)"
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "initial condition 1"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 3
    assert "perturbed copy" in labels[0] and "mean" in labels[1] and "loss" in labels[2]
    d = r["distance"].isel(init=1).values
    grey = [ln for ln in ax.get_lines() if ln.get_color() == C.GREY]
    assert len(grey) == d.shape[1]
    np.testing.assert_array_equal(grey[2].get_ydata(), d[:, 2])
    # the black line is the mean over the copies of init 1
    (black,) = _black(ax)
    np.testing.assert_allclose(black.get_ydata(), d.mean(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(black.get_xdata(), r["step"].values)
    # the loss of init 1 on the right axis
    np.testing.assert_array_equal(twin.get_lines()[0].get_ydata(), r["loss"].isel(init=1).values)
    assert twin.get_ylabel() == "loss"
    assert P.plot_distances(r, legend=False).axes[0].get_legend() is None


# ---------------------------------------------------------------- orbital


def test_orbital_figure(orbital):
    r = orbital
    fig = P.orbital_figure(r)
    n = min(4, r.sizes["init"])
    assert len(fig.axes) == 2 * n  # each panel has its loss twin
    assert fig.legends
    k = C.pick_eps(r, 1e-8)
    assert f"{EPS} = {C.sci(r['eps'].values[k])}" in fig.get_suptitle()
    panels = [ax for ax in fig.axes if ax.get_title().startswith("initial condition")]
    assert [ax.get_title() for ax in panels] == [f"initial condition {i}" for i in range(n)]
    for i, ax in enumerate(panels):
        assert ax.get_yscale() == "linear"
        (black,) = _black(ax)
        np.testing.assert_allclose(black.get_ydata(),
                                   r["distance"].isel(eps=k, init=i).values.mean(axis=1), rtol=1e-12)


def test_pick_eps_nearest_on_a_log_scale():
    r = xr.Dataset(coords={"eps": [1e-12, 1e-8, 1e-4]})
    assert [C.pick_eps(r, e) for e in (1e-14, 1e-9, 3e-7, 1e-5, 1.0)] == [0, 1, 1, 2, 2]
    # equidistant on a log scale: the first
    assert C.pick_eps(r.isel(eps=[0, 2]), 1e-8) == 0


def test_eps_panels_figure_normalised_distance(orbital):
    r = orbital
    fig = P.eps_panels_figure(r, n_perturbed=70)
    n_eps = r.sizes["eps"]
    assert len(fig.axes) == 2 * n_eps
    assert [ax.get_title() for ax in fig.axes[:n_eps]] == [f"{EPS} = {C.sci(e)}" for e in r["eps"].values]
    label = fig.axes[n_eps].get_ylabel()
    assert f"d(t) / ({EPS} N)" in label and "N = 70 perturbed weights" in label
    for k, e in enumerate(r["eps"].values):
        mean = r["distance"].isel(eps=k, init=0).values.mean(axis=1)
        np.testing.assert_allclose(fig.axes[n_eps + k].get_lines()[0].get_ydata(), mean / (e * 70),
                                   rtol=1e-12)
    assert fig.legends
    other = P.eps_panels_figure(r, init=1, n_perturbed=83)
    assert "N = 83" in other.axes[n_eps].get_ylabel() and "Initial condition 1" in other.get_suptitle()


def _gd_layout(r):
    m = dn.GradientDescentMap()
    assert m.dim == r.sizes["coord"]
    return m.coordinate_groups(), m.sizes


def test_drift_figure(orbital):
    r = orbital
    groups, sizes = _gd_layout(r)
    fig = P.drift_figure(r, groups, sizes=sizes)
    heat = [ax for ax in fig.axes if ax.get_images()]
    assert len(heat) == len(sizes) - 1
    imp = r["importance"].isel(init=0).values
    for layer, ax in enumerate(heat, start=1):
        assert ax.get_xlabel() == f"to neuron (layer {layer})"
        assert ax.get_ylabel() == f"from neuron (layer {layer - 1})"
        np.testing.assert_array_equal(ax.get_xticks(), np.arange(sizes[layer]))
        np.testing.assert_array_equal(ax.get_yticks(), np.arange(sizes[layer - 1]))
        # the heatmap is the importance of W<layer>, rows from-neuron, columns to-neuron
        np.testing.assert_array_equal(ax.get_images()[0].get_array(),
                                      imp[groups[f"W{layer}"]].reshape(sizes[layer - 1], sizes[layer]))
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "$L_w / L$"]
    assert len(bars) == len(heat)
    scatter = fig.axes[len(heat)]
    b = float(r["drift_slope"].isel(init=0))
    assert r"$\log_{10} \Delta_w = a + b \log_{10} D_w$" in scatter.get_title()
    assert f"b = {b:.2f}" in scatter.get_title()
    D, dl = r["travelled"].isel(init=0).values, r["displacement"].isel(init=0).values
    ok = np.isfinite(D) & np.isfinite(dl) & (D > 0) & (dl > 0)
    (points,) = [ln for ln in scatter.get_lines() if ln.get_label() == "one weight"]
    np.testing.assert_array_equal(points.get_xdata(), D[ok])
    (fit,) = [ln for ln in scatter.get_lines() if ln.get_label() == "least-squares line"]
    x, y = np.log10(fit.get_xdata()), np.log10(fit.get_ydata())
    assert abs((y[1] - y[0]) / (x[1] - x[0]) - b) < 1e-9
    # it is the least-squares line of the points (independent oracle: np.polyfit)
    slope, icpt = np.polyfit(np.log10(D[ok]), np.log10(dl[ok]), 1)
    assert abs(b - slope) < 1e-9
    assert abs((y[0] - b * x[0]) - icpt) < 1e-9
    assert f"a = {icpt:.2f}" in scatter.get_title()


def test_drift_figure_fits_the_slope_when_the_result_has_none(orbital):
    r = orbital.drop_vars("drift_slope")
    groups, sizes = _gd_layout(r)
    fig = P.drift_figure(r, groups, sizes=sizes, init=1)
    scatter = fig.axes[len(sizes) - 1]
    D, dl = r["travelled"].isel(init=1).values, r["displacement"].isel(init=1).values
    ok = np.isfinite(D) & np.isfinite(dl) & (D > 0) & (dl > 0)
    slope, icpt = np.polyfit(np.log10(D[ok]), np.log10(dl[ok]), 1)
    (fit,) = [ln for ln in scatter.get_lines() if ln.get_label() == "least-squares line"]
    x, y = np.log10(fit.get_xdata()), np.log10(fit.get_ydata())
    assert abs((y[1] - y[0]) / (x[1] - x[0]) - slope) < 1e-9
    assert abs((y[0] - slope * x[0]) - icpt) < 1e-9
    assert "initial condition 1" in fig.get_suptitle()
    # without layer sizes each weight matrix is one column
    plain = P.drift_figure(orbital, groups)
    assert plain.axes[0].get_images()[0].get_array().shape == (groups["W1"].size, 1)


# ---------------------------------------------------------------- post-learning


def test_post_learning_figures(post_learning):
    r = post_learning
    figs = P.post_learning_figure(r)
    assert len(figs) == 2
    d, spec = figs
    assert d.legends and f"after {r.attrs['n_before']} training steps" in d.get_suptitle()
    n_eps, n_init = r.sizes["eps"], min(4, r.sizes["init"])
    assert len(d.axes) == n_eps * n_init
    assert all(ax.get_xlabel() == "t after the perturbation (steps)" for ax in d.axes[-n_eps:])
    assert [ax.get_title() for ax in d.axes[:n_eps]] == [f"{EPS} = {C.sci(e)}" for e in r["eps"].values]
    # row i, column k: the mean distance of init i at eps k
    ax = d.axes[1 * n_eps + 1]
    (black,) = _black(ax)
    np.testing.assert_allclose(black.get_ydata(),
                               r["distance"].isel(eps=1, init=1).values.mean(axis=1), rtol=1e-12)
    ax = spec.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [s for s in labels if s.startswith("init")] == [f"init {i}" for i in range(r.sizes["init"])]
    assert r"$|\mu - 1|" in ax.get_ylabel() and r"$I - \eta H$" in ax.get_ylabel()
    mu = np.sort(r["jacobian_eigenvalues"].isel(init=2).values)
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "init 2"]
    np.testing.assert_allclose(line.get_ydata(), np.abs(mu - 1.0) + 1e-18, rtol=1e-12)
    assert len(P.post_learning_figure(r.drop_vars("jacobian_eigenvalues"))) == 1


# ---------------------------------------------------------------- edge of stability


def test_edge_figure_fit_through_window_mean_point(edge):
    r = edge
    fig = P.edge_figure(r)
    n_rows = min(4, r.sizes["init"])
    assert len(fig.axes) == 4 * n_rows
    assert f"{ETA} = 1" in fig.get_suptitle() and f"{EPS} = 1e-8" in fig.get_suptitle()
    assert all(ax.get_xlabel() == "t (steps)" for ax in fig.axes[-4:])
    labels = _legend_labels(fig)
    assert any("perturbed copy" in s for s in labels) and any("mean" in s for s in labels)
    assert any("least-squares fit of ln(mean d)" in s for s in labels)
    k = C.pick_eps(r, 1e-8)
    rk = r.isel(eps=k)
    t = rk["step"].values
    checked = 0
    for row in range(n_rows):
        ax = fig.axes[4 * row + 1]
        fits = [ln for ln in ax.get_lines() if ln.get_label().startswith(f"{LAM} =")]
        lam = float(rk["exponent"].isel(init=row))
        if not np.isfinite(lam):
            assert not fits
            continue
        (line,) = fits
        assert line.get_label().startswith(f"{LAM} = {lam:.2f}")
        assert line.get_label().endswith("(not kept)") != bool(rk["kept"].isel(init=row))
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
    # the last column is the loss of each init
    np.testing.assert_array_equal(fig.axes[3].get_lines()[0].get_ydata(), r["loss"].isel(init=0).values)


def test_lyapunov_eps_figure(edge):
    r = edge
    fig = P.lyapunov_eps_figure(r)
    a0, a1 = fig.axes
    k = C.pick_eps(r, 1e-8)
    kept = r["kept"].values[k].astype(bool)
    lam = r["exponent"].values[k][kept]
    title = a0.get_title()
    assert f"{EPS} = 1e-8" in title and f"{kept.mean():.0%}" in title
    assert f"mean {LAM} = {lam.mean():.3f}" in title
    (vline,) = [ln for ln in a0.get_lines() if ln.get_label().startswith("mean =")]
    assert vline.get_xdata()[0] == pytest.approx(lam.mean(), rel=1e-12)
    # the histogram holds exactly the kept exponents (density: areas sum to 1)
    assert sum(p.get_width() * p.get_height() for p in a0.patches) == pytest.approx(1.0, rel=1e-9)
    assert f"kept {LAM} ({kept.sum()} of {kept.size})" in [t.get_text() for t in a0.get_legend().get_texts()]
    labels = [t.get_text() for t in a1.get_legend().get_texts()]
    assert any(f"mean ± std of the kept {LAM}" in s for s in labels)
    assert f"paper ({ETA} = 1): ≈ 0.33" in labels
    (mle,) = [ln for ln in a1.get_lines() if ln.get_marker() == "o"]
    np.testing.assert_array_equal(mle.get_xdata(), r["eps"].values)
    np.testing.assert_array_equal(mle.get_ydata(), r["mle"].values)
    # error bars: mle ± mle_std
    (bars,) = a1.containers[0].lines[2]
    ends = np.array([seg[:, 1] for seg in bars.get_segments()])
    np.testing.assert_allclose(ends[:, 1] - ends[:, 0], 2 * r["mle_std"].values, rtol=1e-12)
    (pooled,) = [ln for ln in a1.get_lines() if ln.get_marker() == "s"]
    np.testing.assert_array_equal(pooled.get_ydata(), r["pooled_mle"].values)
    assert a1.get_xlabel().startswith(f"{EPS}") and a1.get_xscale() == "log"


# ---------------------------------------------------------------- intermittency


def test_loss_norm_figure(intermittency):
    r = intermittency
    fig = P.loss_norm_figure(r)
    n = min(4, r.sizes["init"])
    assert len(fig.axes) == 2 * n
    assert f"{ETA} = 5" in fig.get_suptitle()
    assert all(ax.get_xlabel() for ax in fig.axes)
    np.testing.assert_array_equal(fig.axes[1].get_lines()[0].get_ydata(), r["loss"].isel(init=1).values)
    np.testing.assert_array_equal(fig.axes[n + 1].get_lines()[0].get_ydata(),
                                  r["weight_norm"].isel(init=1).values)
    assert fig.axes[0].get_ylabel() == "loss L(t)" and fig.axes[0].get_yscale() == "log"
    assert r"$\|w\|_1" in fig.axes[n].get_ylabel()


def test_acf_figure(intermittency):
    r = intermittency
    fig = P.acf_figure(r, quantiles=(0.03, 0.97))
    assert any("3%–97%" in s for s in _legend_labels(fig))
    a0, a1, a2 = fig.axes
    init = int(r["figure_init"])
    if init >= 0:  # the Figs. 10-11 stretch: the longest one without a laminar phase, checked aperiodic
        a, b = int(r["figure_start"]), int(r["figure_stop"])
        assert (f"initial condition {init}, steps {a}–{b - 1}: the longest stretch without a laminar phase"
                in fig.get_suptitle())
        np.testing.assert_array_equal(a0.get_lines()[0].get_ydata(), r["loss"].values[a:b, init])
        (acf,) = [ln for ln in a2.get_lines() if ln.get_label() == "ACF of the loss"]
        np.testing.assert_array_equal(acf.get_ydata(), r["figure_acf"].values)
    else:
        assert "NOT checked aperiodic" in fig.get_suptitle()
    assert len(a1.get_lines()[0].get_ydata()) == 50
    other = (max(init, 0) + 1) % r.sizes["init"]
    fixed = P.acf_figure(r, init=other, zoom=20)
    assert "smallest laminar fraction" not in fixed.get_suptitle()
    assert f"initial condition {other} " in fixed.get_suptitle()
    tr = int(r.attrs["transient"])
    np.testing.assert_array_equal(fixed.axes[0].get_lines()[0].get_ydata(),
                                  r["loss"].isel(init=other).values[tr:])
    assert len(fixed.axes[1].get_lines()[0].get_ydata()) == 20
    (acf,) = [ln for ln in fixed.axes[2].get_lines() if ln.get_label() == "ACF of the loss"]
    np.testing.assert_array_equal(acf.get_ydata(), r["acf"].isel(init=other).values)
    # the null band spans the shuffled quantiles of that init
    (band,) = fixed.axes[2].collections[:1]
    lo, hi = r["acf_band"].isel(init=other).values
    verts = band.get_paths()[0].vertices
    assert np.isclose(verts[:, 1].min(), lo.min()) and np.isclose(verts[:, 1].max(), hi.max())


def test_kantz_figure(intermittency):
    r = intermittency
    fig = P.kantz_figure(r)
    ax = fig.axes[0]
    assert ax.get_legend() is not None and f"{ETA} = 5" in ax.get_title()
    lam = r["kantz_ref_exponent"].values
    sig = r["kantz_ref_significant"].values.astype(bool)
    ok = np.isfinite(lam)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"not significant (p > 0.05): {int((ok & ~sig).sum())}",
                      f"significant (p < 0.05): {int((ok & sig).sum())}"]
    # the stacked bars count every finite exponent once
    assert sum(p.get_height() for p in ax.patches) == ok.sum()
    empty = P.kantz_figure(r.drop_vars(["kantz_ref_exponent", "kantz_ref_significant"]))
    assert empty.axes[0].get_legend() is None and not empty.axes[0].patches


def test_weights_figure(intermittency):
    r = intermittency
    names = dn.GradientDescentMap(eta=5.0).coordinate_names()
    fig = P.weights_figure(r, names=names)
    w = r["weights"].isel(series=0).values
    top = np.argsort(-np.nanvar(w, axis=0))[:6]
    assert [ax.get_ylabel() for ax in fig.axes] == [names[j] for j in top]
    assert all(re.fullmatch(r"[Wb]\d\[[\d,]+\]", ax.get_ylabel()) for ax in fig.axes)
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), w[:, top[0]])
    assert "Wl[i,j]: weight from neuron i" in fig.get_suptitle()
    plain = P.weights_figure(r, n_weights=3)
    assert [ax.get_ylabel() for ax in plain.axes] == [f"w[{j}]" for j in top[:3]]
    assert "Wl[i,j]" not in plain.get_suptitle()


def test_compare_eta_figure(intermittency):
    r = intermittency
    fig = P.compare_eta_figure(r, init=1)
    etas = r["compare_eta"].values
    assert [ax.get_title() for ax in fig.axes] == [f"{ETA} = {e:g}" for e in etas]
    assert fig.axes[0].get_ylabel() == "loss L(t)"
    for k, ax in enumerate(fig.axes):
        np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(),
                                      r["compare_loss"].isel(compare_eta=k, init=1).values)
    assert "initial condition 1" in fig.get_suptitle()


# ---------------------------------------------------------------- eta scan


def test_phase_diagram_figure(eta_scan):
    r = eta_scan
    fig = P.phase_diagram_figure(r)
    main = fig.axes[:4]
    twin = fig.axes[4]
    # the curves are the result's columns against eta
    loss_line = main[0].get_lines()[0]
    acc_line = twin.get_lines()[0]
    np.testing.assert_array_equal(loss_line.get_xdata(), r["eta"].values)
    np.testing.assert_array_equal(loss_line.get_ydata(), r["final_loss"].values)
    np.testing.assert_array_equal(acc_line.get_ydata(), r["test_accuracy"].values)
    np.testing.assert_array_equal(main[2].get_lines()[0].get_ydata(), r["sharpness_ratio"].values)
    np.testing.assert_array_equal(main[3].get_lines()[0].get_ydata(), r["laminar_fraction"].values)
    (top,) = [ln for ln in main[1].get_lines() if ln.get_marker() == "s"]
    np.testing.assert_array_equal(top.get_ydata(), r["top_exponent"].values)
    # twin axes colour-coded like their curves
    assert loss_line.get_color() != acc_line.get_color()
    assert main[0].yaxis.label.get_color() == loss_line.get_color()
    assert twin.yaxis.label.get_color() == acc_line.get_color()
    # regimes in a figure-level legend, one entry per regime present, with η
    (leg,) = fig.legends
    labels = [t.get_text() for t in leg.get_texts()]
    present = {str(x).replace("eta", f"{ETA}") for x in r["regime"].values}
    assert set(labels) == present
    # one shaded band per eta on every panel
    assert all(len(ax.patches) == r.sizes["eta"] for ax in main)
    # a note at each η without λ_nMLE
    notes = [t for t in main[1].texts if t.get_gid() == "no-mle-note"]
    missing = ~np.isfinite(r["mle"].values)
    assert len(notes) == int(np.sum(missing))
    assert sorted(t.get_position()[0] for t in notes) == sorted(r["eta"].values[missing])
    assert main[3].get_xlabel().startswith(f"{ETA}") and main[3].get_xscale() == "log"


def test_dataset_figure_marks_what_the_typical_network_gets_wrong(orbital):
    r = orbital
    fig = P.dataset_figure(r, features=(2, 3), init=1)
    ax = fig.axes[0]
    wrong = r["predicted_class"].values[1] != r["sample_class"].values
    (ring,) = [c for c in ax.collections if c.get_label().startswith("misclassified")]
    np.testing.assert_array_equal(ring.get_offsets(), r["sample_features"].values[wrong][:, [2, 3]])
    assert ring.get_label() == f"misclassified ({int(wrong.sum())})"
    assert f"train accuracy {r['train_accuracy'].values[1]:.2f}" in ax.get_title()
    # None picks the network with the median training accuracy
    acc = r["train_accuracy"].values
    typical = int(np.argsort(acc, kind="stable")[len(acc) // 2])
    assert f"network {typical}:" in P.dataset_figure(r).axes[0].get_title()


def test_edge_long_figure_shows_the_long_run(edge):
    r = edge
    fig = P.edge_long_figure(r)
    n = r.sizes["long_init"]
    assert len([a for a in fig.axes if a.get_ylabel() != "loss L(t)"]) >= n
    black = [ln for ln in fig.axes[0].get_lines() if ln.get_color() == "k"]
    np.testing.assert_allclose(black[0].get_ydata(), r["long_distance"].isel(long_init=0).values.mean(axis=1))
    assert f"{int(r['long_step'].values[-1])} steps" in fig.get_suptitle()


# ---------------------------------------------------------------- figures fit to publish (issues 22, 23)


def test_dataset_figure_plots_sepal_length_against_sepal_width_by_default(orbital):
    r = orbital
    fig = P.dataset_figure(r, init=0)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "sepal width (cm)" and ax.get_ylabel() == "sepal length (cm)"
    X = r["sample_features"].values
    cls, test = r["sample_class"].values, r["sample_split"].values == 1
    (train0,) = [c for c in ax.collections if c.get_label() == "class 0 (train)"]
    np.testing.assert_array_equal(train0.get_offsets(), X[(cls == 0) & ~test][:, [1, 0]])


def test_edge_figures_normalise_by_eps_n(edge):
    r = edge
    k = C.pick_eps(r, 1e-8)
    e = float(r["eps"].values[k])
    fig = P.edge_figure(r, n_perturbed=70)
    assert fig.axes[1].get_ylabel() == f"d(t) / ({EPS} N)" and "N = 70" in fig.get_suptitle()
    mean = r["distance"].isel(eps=k, init=0).values.mean(axis=1)
    (black,) = _black(fig.axes[0])
    np.testing.assert_allclose(black.get_ydata(), mean / (e * 70), rtol=1e-12)
    # the fitted slope is the estimator's exponent, whatever the normalisation
    for row in range(min(4, r.sizes["init"])):
        fits = [ln for ln in fig.axes[4 * row + 1].get_lines() if ln.get_label().startswith(f"{LAM} =")]
        for line in fits:
            slope = np.polyfit(line.get_xdata(), np.log(line.get_ydata()), 1)[0]
            assert abs(slope - float(r["exponent"].isel(eps=k, init=row))) < 1e-9
    long = P.edge_long_figure(r, n_perturbed=70)
    le = float(r["long_distance"].attrs["long_eps"])
    (black,) = _black(long.axes[0])
    np.testing.assert_allclose(black.get_ydata(),
                               r["long_distance"].isel(long_init=0).values.mean(axis=1) / (le * 70),
                               rtol=1e-12)
    assert long.legends and long.axes[0].get_legend() is None   # the legend is off the data
    # the study draws them normalised by its own N (the perturber's 70 weights)
    study = _run(EdgeOfStabilityStudy)
    assert "N = 70" in study.plot()[0].get_suptitle()


def test_edge_long_figure_says_how_often_it_samples(edge):
    r = edge
    assert np.all(np.diff(r["long_step"].values) == 1)
    assert "every step" in P.edge_long_figure(r).get_suptitle()
    every4 = r.isel(long_step=slice(None, None, 4))
    assert "every 4th step" in P.edge_long_figure(every4).get_suptitle()


def test_perturbation_study_plot_shows_fits_and_p_lambda():
    fl = dn.FiniteLyapunov(starts=range(0, 21, 5), lengths=range(10, 31, 5))
    s = PerturbationStudy.quick(estimators=[fl]).run()
    (fig,) = s.plot()
    a0, a1 = fig.axes
    fitted = s.estimators_[0]
    n = min(4, s.result_.sizes["init"])
    means = [ln for ln in a0.get_lines() if ln.get_label().startswith("initial condition")]
    assert len(means) == n  # not only initial condition 0
    d = s.result_["distance"].values
    np.testing.assert_allclose(means[2].get_ydata(), d[:, 2, :].mean(axis=1), rtol=1e-12)
    fits = [ln for ln in a0.get_lines() if ln.get_label().startswith("fit:")]
    assert len(fits) == int(np.isfinite(fitted.exponents_[:n]).sum()) >= 1
    for line in fits:
        i = int(np.flatnonzero(np.isclose(fitted.exponents_[:n], float(line.get_label().split("= ")[1]),
                                          atol=5e-3))[0])
        slope = np.polyfit(line.get_xdata(), np.log(line.get_ydata()), 1)[0]
        assert abs(slope - fitted.exponents_[i]) < 1e-9
    # P(Lambda): the kept exponents of every initial condition, their mean the estimator's mle_
    kept = fitted.kept_ & np.isfinite(fitted.exponents_)
    assert sum(p.get_width() * p.get_height() for p in a1.patches) == pytest.approx(1.0, rel=1e-9)
    (vline,) = [ln for ln in a1.get_lines() if ln.get_label().startswith(MLE)]
    assert vline.get_xdata()[0] == pytest.approx(fitted.exponents_[kept].mean(), rel=1e-12)
    assert vline.get_xdata()[0] == pytest.approx(fitted.mle_, rel=1e-12)
    # without an estimator the figure says there is no fit
    (plain,) = _run(PerturbationStudy).plot()
    assert any("no FiniteLyapunov" in t.get_text() for t in plain.axes[1].texts)


def test_sharpening_eta_figure_legends_the_twin_axes_and_the_limit():
    from dynnet.studies import SharpeningStudy

    s = _run(SharpeningStudy)
    fig = P.sharpening_eta_figure(s.result_)
    left, ratio = fig.axes[0], fig.axes[1]
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert any("(left)" in x and MLE in x for x in labels)
    assert any("kept fraction (right)" in x for x in labels)
    (limit,) = [ln for ln in ratio.get_lines() if "edge of stability" in ln.get_label()]
    assert np.all(np.asarray(limit.get_ydata()) == 1.0) and C.TWO_ETA in limit.get_label()
    assert C.TWO_ETA in [t.get_text() for t in ratio.get_legend().get_texts()][-1]
    assert ratio.get_ylabel().startswith(r"$S\eta/2$")


def test_grid_figure_reads_as_a_figure_not_as_internal_names():
    from dynnet.studies import GridStudy

    fig = P.grid_figure(_run(GridStudy).result_)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "activation" and ax.get_ylabel() == "hidden layer sizes"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["10", "20"]
    assert fig.get_suptitle().startswith(MLE) and f"{EPS} = 1e-8" in fig.get_suptitle()
    assert fig.axes[-1].get_ylabel() == MLE   # the colour bar


def test_labels_and_values_in_one_place():
    assert C.label("map__hidden") == "hidden layer sizes" and C.label("finitelyapunov.mle") == MLE
    assert C.label("map__eta") == ETA and C.label("perturber__eps") == EPS
    assert C.label("study__map__some_new_param") == "some new param"
    assert [C.value_text(v) for v in ("(10,)", "(10, 10)", "1e-08", "tanh", "()")] == \
        ["10", "10-10", "1e-8", "tanh", "none"]


def test_headline_figure_states_the_result_numbers(edge):
    from dynnet.plotting import headline

    r = edge
    k = C.pick_eps(r, 1e-8)
    nums = headline.headline_numbers(r)
    assert nums == {"edge.mle[eps=1e-08]": f"{float(r['mle'].values[k]):.3f}",
                    "edge.kept_fraction[eps=1e-08]": f"{float(r['kept_fraction'].values[k]):.3f}"}
    fig = headline.headline_figure(r)
    title = fig.get_suptitle()
    assert f"{MLE} = {nums['edge.mle[eps=1e-08]']}" in title
    assert f"{100 * float(nums['edge.kept_fraction[eps=1e-08]']):.1f}% of fits kept" in title
    (mean,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("mean")]
    assert mean.get_xdata()[0] == pytest.approx(float(r["mle"].values[k]), rel=1e-12)
    # the error bars are the 95% interval
    (bars,) = fig.axes[1].containers[0].lines[2]
    ends = np.array([seg[:, 1] for seg in bars.get_segments()])
    np.testing.assert_allclose(ends, r["mle_ci"].transpose("eps", "bound").values, rtol=1e-12)


def test_edge_long_horizon_records_every_step_at_paper_length():
    # the paper's 2000 steps (the quick preset's 400 were never sampled): every step is recorded
    s = EdgeOfStabilityStudy.quick(n_init=2, n_steps_long=2000, eps=(1e-8,)).run()
    t = s.result_["long_step"].values
    np.testing.assert_array_equal(t, np.arange(2001))
    assert "every step" in P.edge_long_figure(s.result_).get_suptitle()


def test_kantz_figure_shows_example_divergence_curves(intermittency):
    from dynnet.studies import IntermittencyStudy as I

    s = _run(I)
    div = s._stretch_divergence()
    assert div is not None and div.shape[0] == intermittency.sizes["ref"]
    fig = P.kantz_figure(intermittency, divergence=div, n_examples=4)
    hist, ex = fig.axes
    assert hist.get_legend() is not None   # the histogram is unchanged, first
    curves = [ln for ln in ex.get_lines() if ln.get_label().startswith("$t_0$")]
    assert len(curves) == 4
    times = list(intermittency["kantz_ref_time"].values)
    sig = intermittency["kantz_ref_significant"].values.astype(bool)
    for ln in curves:
        j = times.index(int(ln.get_label().split("= ")[1].split(" ")[0]))
        np.testing.assert_array_equal(ln.get_ydata(), div[j])
        assert ln.get_label().endswith("(significant)") == bool(sig[j])
    if sig.any() and (~sig).any():
        assert {ln.get_label().endswith("(significant)") for ln in curves} == {True, False}
    (mean,) = [ln for ln in ex.get_lines() if ln.get_label().startswith("S(n)")]
    tested = intermittency["kantz_ref_tested"].values.astype(bool) & np.isfinite(div).all(axis=1)
    np.testing.assert_allclose(mean.get_ydata(), div[tested].mean(axis=0), rtol=1e-12)
    assert len(P.kantz_figure(intermittency).axes) == 1   # without the curves: one panel


def test_kantz_example_curves_survive_save_and_load(tmp_path):
    from dynnet.studies import IntermittencyStudy as I

    s = _run(I)
    s.save(tmp_path / "intermittency.nc")
    back = dn.load(tmp_path / "intermittency.nc")
    assert not getattr(back, "estimators_", None)   # load never refits: the figure fits the stretch again
    np.testing.assert_array_equal(back._stretch_divergence(), s._stretch_divergence())
    assert len([f for f in back.plot() if len(f.axes) == 2 and "Kantz" in f.axes[0].get_title()]) == 1
