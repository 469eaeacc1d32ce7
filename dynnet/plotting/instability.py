r"""Figures of :class:`~dynnet.InstabilityStudy`: CLV 1 against the top Hessian eigenvector."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from ._common import ETA, GREY, TWO_ETA, figure, line_handle, sci

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["instability_alignment_figure", "instability_shares_figure", "instability_ipr_figure"]

COS = r"$|v^{(1)} \cdot u_1|$"
RATIO = r"$\eta S / 2$"


def _median(a: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (diverged) records give NaN
        return np.nanmedian(a, axis=axis)


def _eta(result: xr.Dataset) -> float:
    return 2.0 / float(result["threshold"].values)


def instability_alignment_figure(result: xr.Dataset) -> Figure:
    r"""The alignment of CLV 1 with the top Hessian eigenvector, and the sharpness ratio, against step.

    Top: :math:`|v^{(1)}_t \cdot u_1(t)|` of each network (grey) and their
    median (black), with the random-direction level :math:`\sqrt{2/(\pi n)}`
    (dotted). Bottom: :math:`\eta S(t)/2` with the stability limit
    :math:`S = 2/\eta` (dashed red line at 1).

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an InstabilityStudy.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the step axis.

    References
    ----------
    F. Ginelli, H. Chaté, R. Livi, A. Politi, "Covariant Lyapunov vectors",
    J. Phys. A 46, 254005 (2013); J. Cohen et al., "Gradient descent on neural
    networks typically occurs at the edge of stability", ICLR (2021).
    """
    steps = result["step"].values
    cos = result["cosine"].isel(vector=0).transpose("init", "step").values
    ratio = result["ratio"].transpose("init", "step").values
    dim = int(result.sizes["coord"])
    fig = figure(figsize=(6.0, 5.0), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(steps, cos.T, color=GREY, lw=0.6)
    ax1.plot(steps, _median(cos, 0), color="k", lw=1.5)
    ax1.axhline(np.sqrt(2.0 / (np.pi * dim)), color="tab:blue", ls=":", lw=1.2)
    ax1.set_ylim(0.0, 1.02)
    ax1.set_ylabel(COS)
    ax2.plot(steps, ratio.T, color=GREY, lw=0.6)
    ax2.plot(steps, _median(ratio, 0), color="k", lw=1.5)
    ax2.axhline(1.0, color="tab:red", ls="--", lw=1.2)
    ax2.set_ylabel(RATIO)
    ax2.set_xlabel("step t")
    fig.legend(handles=[line_handle(color=GREY, lw=0.6, label="each network"),
                        line_handle(color="k", lw=1.5, label="median"),
                        line_handle(color="tab:blue", ls=":", label=r"random direction $\sqrt{2/(\pi n)}$"),
                        line_handle(color="tab:red", ls="--", label=f"S = {TWO_ETA}")],
               loc="outside lower center", ncols=2)
    fig.suptitle(f"CLV 1 against the top Hessian eigenvector, {ETA} = {sci(_eta(result))}")
    return fig


def instability_shares_figure(result: xr.Dataset) -> Figure:
    r"""CLV 1's share :math:`\sum_{i \in g} (v^{(1)}_i)^2` on each coordinate group.

    Bars: the median over networks of each network's median over the records;
    dots: each network. The last bar is the share on the ``m`` coordinates that
    travel furthest over the window, beside a uniform vector's share :math:`m/n`
    (open marker).

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an InstabilityStudy.

    Returns
    -------
    matplotlib.figure.Figure
        One bar chart.

    References
    ----------
    M. Danovski, M. C. Soriano, L. Lacasa, "Dynamical stability and chaos in
    artificial neural network trajectories along training", Front. Complex
    Syst. 2:1367957 (2024), section 4.2 (a few weights carry the bursts).
    """
    groups = [str(g) for g in result["group"].values]
    share = _median(result["share"].isel(vector=0).transpose("init", "step", "group").values, 1)
    top = _median(result["top_share"].isel(vector=0).transpose("init", "step").values, 1)
    vals = np.concatenate([share, top[:, None]], axis=1)            # (init, G + 1)
    dim = int(result.sizes["coord"])
    n_top = int(result["n_top"].values)
    names = groups + [f"top {n_top} by drift"]
    x = np.arange(len(names))
    fig = figure(figsize=(max(4.0, 0.75 * len(names) + 1.5), 3.6), layout="constrained")
    ax = fig.subplots()
    ax.bar(x, _median(vals, 0), color="0.85", edgecolor="k", lw=0.8)
    for i in range(vals.shape[0]):
        ax.plot(x, vals[i], "o", color="k", ms=3, alpha=0.6)
    ax.plot(x[-1], n_top / dim, "D", mfc="none", color="tab:red", ms=6)
    ax.set_xticks(x, names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel(r"share $\sum_{i \in g} (v^{(1)}_i)^2$")
    fig.legend(handles=[line_handle(color="k", marker="o", ls="none", ms=3, label="each network"),
                        line_handle(color="tab:red", marker="D", mfc="none", ls="none",
                                    label=r"uniform vector $m/n$")],
               loc="outside lower center", ncols=2)
    fig.suptitle(f"Where CLV 1 lives, {ETA} = {sci(_eta(result))}")
    return fig


def instability_ipr_figure(result: xr.Dataset) -> Figure:
    r"""The inverse participation ratio :math:`\sum_i v_i^4` of each kept CLV against step.

    The median over networks per CLV, on a log axis, with the levels of a
    uniform vector (:math:`1/n`) and of a random direction (:math:`3/(n+2)`).

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an InstabilityStudy.

    Returns
    -------
    matplotlib.figure.Figure
        One panel, log axis.

    References
    ----------
    F. Wegner, "Inverse participation ratio in 2+epsilon dimensions",
    Z. Phys. B 36, 209 (1980).
    """
    steps = result["step"].values
    ipr = result["ipr"].transpose("init", "step", "vector").values
    dim = int(result.sizes["coord"])
    fig = figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.subplots()
    handles = []
    for j, v in enumerate(result["vector"].values):
        line, = ax.plot(steps, _median(ipr[:, :, j], 0), lw=1.3)
        handles.append(line_handle(color=line.get_color(), lw=1.3, label=f"CLV {int(v)}"))
    ax.axhline(1.0 / dim, color="k", ls=":", lw=1.0)
    ax.axhline(3.0 / (dim + 2.0), color="k", ls="--", lw=1.0)
    handles += [line_handle(color="k", ls=":", label=r"uniform $1/n$"),
                line_handle(color="k", ls="--", label=r"random $3/(n+2)$")]
    ax.set_yscale("log")
    ax.set_ylabel(r"IPR $\sum_i v_i^4$")
    ax.set_xlabel("step t")
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)))
    fig.suptitle(f"Localisation of the CLVs (median over networks), {ETA} = {sci(_eta(result))}")
    return fig
