"""Figures of :class:`~dynnet.OrbitalStabilityStudy` (paper Figs. 3-5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._regression import ols
from ._common import (
    EPS,
    ETA,
    GREY,
    distance_handles,
    eta_text,
    figure,
    intercept_through_mean,
    pick_eps,
    sci,
)
from .perturbation import plot_distances

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = ["orbital_figure", "eps_panels_figure", "drift_figure", "dataset_figure"]


def orbital_figure(result: xr.Dataset, inits: Sequence[int] = (0, 1, 2, 3), eps: float = 1e-8) -> Figure:
    r"""Distance between perturbed and reference orbits, one panel per initial condition.

    Each panel is :func:`plot_distances` on a linear scale: :math:`d_k(t)` of
    each perturbed copy (grey), their mean (black), and the loss (red, right axis).

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an OrbitalStabilityStudy: ``distance`` (``eps, step,
        init, pert``), optionally ``loss`` (``step, init``).
    inits : sequence of int, default (0, 1, 2, 3)
        Initial conditions to show; those beyond the result's ``init`` size are skipped.
    eps : float, default 1e-8
        The perturbation size shown: the result's ε nearest to it on a log scale.

    Returns
    -------
    matplotlib.figure.Figure
        A row of one panel per initial condition (each with its loss twin axes), one figure legend.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.1, Fig. 3.
    """
    k = pick_eps(result, eps)
    r = result.isel(eps=k)
    inits = [i for i in inits if i < r.sizes["init"]]
    fig = figure(figsize=(4 * len(inits), 3.8), layout="constrained")
    axes = fig.subplots(1, len(inits), squeeze=False)[0]
    for ax, i in zip(axes, inits, strict=True):
        plot_distances(r, init=i, ax=ax, legend=False)
        ax.set_yscale("linear")
        ax.set_title(f"initial condition {i}")
    fig.legend(handles=distance_handles(loss="loss" in r), loc="outside lower center",
               ncols=3, fontsize=9)
    fig.suptitle(f"Distance between perturbed and reference orbits, {ETA} = {eta_text(result)}, "
                 f"{EPS} = {sci(r['eps'].item())}")
    return fig


def eps_panels_figure(result: xr.Dataset, init: int = 0, n_perturbed: int = 70) -> Figure:
    r"""Distance for each perturbation size, raw and normalised by its initial size.

    Top row: :math:`d_k(t)` of each copy (grey) and their mean (black), one
    column per ε. Bottom row: the mean divided by :math:`\varepsilon N`, the
    largest initial L1 distance of a uniform perturbation of :math:`N`
    coordinates, so that curves of different ε can be compared.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an OrbitalStabilityStudy: ``distance`` (``eps, step, init, pert``).
    init : int, default 0
        Position of the initial condition along ``init``.
    n_perturbed : int, default 70
        :math:`N`, the number of perturbed coordinates (70 weights of the paper's 4-10-3 network).

    Returns
    -------
    matplotlib.figure.Figure
        Two rows (raw, normalised) of one panel per ε, one figure legend.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.1, Fig. 4.
    """
    eps = result["eps"].values
    fig = figure(figsize=(3.4 * len(eps) + 0.6, 6), layout="constrained")
    axes = fig.subplots(2, len(eps), squeeze=False)
    t = result["step"].values
    for k, e in enumerate(eps):
        d = result["distance"].isel(eps=k, init=init).values
        axes[0, k].plot(t, d, color=GREY, lw=0.5)
        axes[0, k].plot(t, d.mean(axis=1), color="k", lw=1.2)
        axes[0, k].set_title(f"{EPS} = {sci(e)}")
        axes[1, k].plot(t, d.mean(axis=1) / (e * n_perturbed), color="k", lw=1.2)
        axes[1, k].set_xlabel("t (steps)")
    axes[0, 0].set_ylabel("d(t)")
    axes[1, 0].set_ylabel(f"mean d(t) / ({EPS} N)\nN = {n_perturbed} perturbed weights")
    fig.legend(handles=distance_handles(), loc="outside lower center", ncols=2, fontsize=9)
    fig.suptitle(f"Initial condition {init} at {ETA} = {eta_text(result)}: raw (top) and normalised "
                 "(bottom) distance")
    return fig


def _neuron_ticks(ax, n, axis):
    step = max(1, int(np.ceil(n / 10)))
    ticks = np.arange(0, n, step)
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks)


def _straightness_panel(ax, result, init):
    """Histogram of r_w = |w(T) - w(0)| / D_w of one initial condition, frozen weights counted."""
    r = result["straightness"].isel(init=init).values
    moved = r[np.isfinite(r)]
    n_frozen = int(result["n_frozen"].isel(init=init)) if "n_frozen" in result else 0
    ax.hist(moved, bins=np.linspace(0.0, 1.0, 21), color="0.4", label="weights that moved")
    ax.set_xlim(0.0, 1.0)
    if "n_straight" in result and int(result["n_moved"].isel(init=init)) > 0:
        frac = int(result["n_straight"].isel(init=init)) / int(result["n_moved"].isel(init=init))
        above = result["n_straight"].attrs.get("straight_min", 0.99)
    else:
        frac, above = (float(np.mean(moved > 0.99)) if moved.size else np.nan), 0.99
    ax.set_title(r"$r_w = |w(T) - w(0)| / D_w$  (1: one direction)" "\n"
                 f"{frac:.0%} with $r_w$ > {above:g}, {n_frozen} frozen ($D_w$ = 0)", fontsize=10)
    ax.set_xlabel("$r_w$")
    ax.set_ylabel("weights")


_DRIFT_LAW = r"$\log_{10} \Delta_w = a + b \log_{10} D_w$"


def drift_figure(result: xr.Dataset, groups: Mapping[str, ArrayLike], sizes: Sequence[int] | None = None,
                 init: int = 0) -> Figure:
    r"""Weight importance per weight matrix, and displacement against distance travelled.

    One heatmap per weight matrix ``Wl`` of :math:`L_w / L`, the loss with
    weight :math:`w` set to 0 over the loss (rows: neurons of layer
    :math:`l-1`, columns: those of layer :math:`l`); then the displacement
    :math:`\Delta_w = |w(T) - w(0)| / |w(0)|` against the distance travelled
    :math:`D_w = \sum_t |w(t) - w(t-1)|` (log-log), with the least-squares line

    .. math:: \log_{10} \Delta_w = a + b \log_{10} D_w

    over the finite positive pairs, :math:`b` the result's ``drift_slope``;
    and, when the result has ``straightness``, the histogram of
    :math:`r_w = |w(T) - w(0)| / D_w` (1: the weight moved in one direction),
    the direct test of one-directional motion that the log-log slope is not
    (:math:`\Delta_w` is relative, :math:`D_w` absolute).

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an OrbitalStabilityStudy: ``importance``,
        ``displacement``, ``travelled`` (``init, coord``) and optionally
        ``drift_slope`` (``init``); without it (or if NaN) the slope is fitted here.
    groups : mapping of str to array of int
        Named coordinate index sets, as ``map.coordinate_groups()``; the groups
        named ``W1``, ``W2``, ... are drawn as heatmaps, in that order.
    sizes : sequence of int or None, default None
        Layer sizes, as ``map.sizes`` (``(4, 10, 3)`` for the paper); heatmap
        ``Wl`` has shape ``(sizes[l-1], sizes[l])``. None draws each as one column.
    init : int, default 0
        Position of the initial condition along ``init``.

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap (with colour bar) per weight matrix, the log-log panel, and
        the histogram of :math:`r_w` if the result has ``straightness``.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.1, Fig. 5.
    """
    names = sorted((k for k in groups if k.startswith("W") and k[1:].isdigit()), key=lambda k: int(k[1:]))
    has_r = "straightness" in result
    fig = figure(figsize=(4.2 * len(names) + 4.5 + 4.0 * has_r, 4), layout="constrained")
    axes = fig.subplots(1, len(names) + 1 + has_r, squeeze=False)[0]
    if has_r:
        _straightness_panel(axes[-1], result, init)
        axes = axes[:-1]
    imp = result["importance"].isel(init=init).values
    for ax, name in zip(axes[:-1], names, strict=True):
        vals = imp[np.asarray(groups[name])]
        layer = int(name[1:])
        shape = (sizes[layer - 1], sizes[layer]) if sizes is not None else (vals.size, 1)
        im = ax.imshow(vals.reshape(shape), aspect="auto", cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, label="$L_w / L$")
        ax.set_title(f"{name}: $L_w / L$ ($L_w$: loss with w set to 0)", fontsize=10)
        ax.set_xlabel(f"to neuron (layer {layer})")
        ax.set_ylabel(f"from neuron (layer {layer - 1})")
        _neuron_ticks(ax, shape[1], "x")
        _neuron_ticks(ax, shape[0], "y")
    ax = axes[-1]
    D = result["travelled"].isel(init=init).values
    dl = result["displacement"].isel(init=init).values
    ok = np.isfinite(D) & np.isfinite(dl) & (D > 0) & (dl > 0)
    ax.loglog(D[ok], dl[ok], "o", ms=3, label="one weight")
    b = float(result["drift_slope"].isel(init=init)) if "drift_slope" in result else np.nan
    if ok.sum() >= 2:
        lx, ly = np.log10(D[ok]), np.log10(dl[ok])
        if not np.isfinite(b) and np.ptp(lx) > 0:
            b = float(ols(lx, ly).slope)
        a = intercept_through_mean(lx, ly, b)
        if np.isfinite(a):
            xs = np.array([lx.min(), lx.max()])
            ax.loglog(10 ** xs, 10 ** (a + b * xs), "r-", lw=1.2, label="least-squares line")
            ax.set_title(f"{_DRIFT_LAW}\na = {a:.2f}, b = {b:.2f}")
            ax.legend(fontsize=8)
    if not ax.get_title():
        ax.set_title(f"{_DRIFT_LAW}, b = {b:.2f}")
    ax.set_xlabel(r"distance travelled $D_w = \sum_t |w(t) - w(t-1)|$")
    ax.set_ylabel(r"displacement $\Delta_w = |w(T) - w(0)| / |w(0)|$")
    fig.suptitle(f"Weights after training (initial condition {init}, {ETA} = {eta_text(result)})")
    return fig


_IRIS_FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")


def dataset_figure(result: xr.Dataset, features: Sequence[int] = (1, 0), init: int | None = None) -> Figure:
    r"""The data in two of their features, with the samples a trained network gets wrong (Fig. 2).

    Each sample is a point at its two chosen features, coloured by class
    (training samples filled, held-out samples hollow); the samples that the
    chosen network classifies wrongly after training are circled in red.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an OrbitalStabilityStudy on a classification map:
        ``sample_features (sample, feature)``, ``sample_class``,
        ``sample_split`` (0 train, 1 test), ``predicted_class (init, sample)``,
        ``train_accuracy`` and ``test_accuracy`` (``init``).
    features : sequence of two int, default (1, 0)
        The features on the horizontal and vertical axes (for Iris: sepal width
        and sepal length, the paper's Fig. 2: sepal length against sepal width).
    init : int or None, default None
        The network; None: the one with the median training accuracy (a
        typical network, as in the paper).

    Returns
    -------
    matplotlib.figure.Figure
        One scatter plot.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), Fig. 2.
    """
    fig = figure(figsize=(6.0, 4.8), layout="constrained")
    ax = fig.subplots()
    if "sample_features" not in result:
        ax.set_title("no classification data in this result")
        return fig
    acc = result["train_accuracy"].values
    if init is None:
        order = np.argsort(np.nan_to_num(acc, nan=-1.0), kind="stable")
        init = int(order[len(order) // 2])
    X = result["sample_features"].values
    cls = result["sample_class"].values
    test = result["sample_split"].values == 1
    wrong = result["predicted_class"].values[init] != cls
    f0, f1 = (int(f) for f in features)
    for c in np.unique(cls):
        sel = cls == c
        colour = f"C{int(c)}"
        ax.scatter(X[sel & ~test, f0], X[sel & ~test, f1], s=18, color=colour,
                   label=f"class {int(c)} (train)")
        ax.scatter(X[sel & test, f0], X[sel & test, f1], s=18, facecolors="none", edgecolors=colour,
                   label=f"class {int(c)} (test)")
    ax.scatter(X[wrong, f0], X[wrong, f1], s=90, facecolors="none", edgecolors="red", linewidths=1.4,
               label=f"misclassified ({int(wrong.sum())})")
    names = result["sample_features"].attrs.get("names")
    if names is None and str(result.attrs.get("param.map__dataset", "")) == "iris":
        names = _IRIS_FEATURES
    ax.set_xlabel(names[f0] if isinstance(names, (list, tuple, np.ndarray)) else f"feature {f0}")
    ax.set_ylabel(names[f1] if isinstance(names, (list, tuple, np.ndarray)) else f"feature {f1}")
    ax.legend(fontsize=7)
    ax.set_title(f"network {init}: train accuracy {acc[init]:.2f}, "
                 f"test accuracy {result['test_accuracy'].values[init]:.2f} ({ETA} = {eta_text(result)})")
    return fig
