"""Figures of :class:`~dynnet.SharpeningStudy`: sharpness against 2/η, and λ_nMLE against η."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    ETA,
    GREY,
    MLE,
    TWO_ETA,
    figure,
    line_handle,
    sci,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["sharpness_figure", "sharpening_eta_figure"]


def sharpness_figure(result: xr.Dataset) -> Figure:
    r"""The sharpness along training for each η, against the stability threshold 2/η.

    One panel per η: the sharpness :math:`S(t) = \lambda_{\max}(\nabla^2 L(W_t))`
    of each initial network (grey), their median (black) and the threshold
    :math:`2/\eta` (dashed red), on a log axis. Progressive sharpening is a
    rise of :math:`S` towards the dashed line; Cohen et al.'s edge of stability
    is :math:`S` hovering at it.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a SharpeningStudy: ``sharpness (eta, sharpness_step, init)``
        and the coordinates ``eta`` and ``sharpness_step``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per η, sharing both axes.

    References
    ----------
    J. Cohen et al., "Gradient descent on neural networks typically occurs at
    the edge of stability", ICLR (2021), Fig. 1.
    """
    etas = result["eta"].values
    steps = result["sharpness_step"].values
    S = result["sharpness"].transpose("eta", "sharpness_step", "init").values
    n = len(etas)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig = figure(figsize=(3.6 * ncols, 2.9 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)).ravel()
    for k, eta in enumerate(etas):
        ax = axes[k]
        s = S[k]
        pos = np.where(s > 0, s, np.nan)  # a log axis shows positive sharpness only
        ax.plot(steps, pos, color=GREY, lw=0.6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN records (diverged) give NaN
            med = np.nanmedian(pos, axis=1)
        ax.plot(steps, med, color="k", lw=1.5)
        ax.axhline(2.0 / eta, color="tab:red", ls="--", lw=1.2)
        ax.set_yscale("log")
        ax.set_title(f"{ETA} = {sci(eta)}")
        ax.text(0.98, 0.04, f"{TWO_ETA} = {sci(2.0 / eta)}", transform=ax.transAxes, ha="right",
                va="bottom", fontsize=8, color="tab:red")
        if k % ncols == 0:
            ax.set_ylabel("sharpness S(t)")
        if k >= n - ncols:
            ax.set_xlabel("step t")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.legend(handles=[line_handle(color=GREY, lw=0.6, label="each network"),
                        line_handle(color="k", lw=1.5, label="median"),
                        line_handle(color="tab:red", ls="--", label=f"{TWO_ETA}")],
               loc="outside lower center", ncols=3)
    fig.suptitle(f"Sharpness S(t) along training against the stability limit {TWO_ETA}")
    return fig


def sharpening_eta_figure(result: xr.Dataset) -> Figure:
    r"""λ_nMLE and the sharpness ratio :math:`S\eta/2` against η.

    Left: the network maximal Lyapunov exponent :math:`\lambda_{nMLE}` (mean ±
    std of the kept finite exponents) and the kept fraction (right axis).
    Right: the sharpness ratio :math:`S\eta/2` of the median network at the
    start, its maximum and over the second half of training; the dashed line 1
    is Cohen et al.'s edge of stability :math:`S = 2/\eta`.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a SharpeningStudy (``sharpness``, ``finitelyapunov.mle``,
        ``finitelyapunov.mle_std``, ``finitelyapunov.kept_fraction`` when it had
        a FiniteLyapunov).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing a log η axis.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.1; Cohen et al., ICLR (2021).
    """
    from .._summaries import sharpening_summary

    summ = sharpening_summary(result)
    etas = result["eta"].values
    order = np.argsort(etas)
    e = etas[order]
    fig = figure(figsize=(9, 3.6), layout="constrained")
    ax1, ax3 = fig.subplots(1, 2, sharex=True)
    mle = summ["mle"][1][order]
    std = (result["finitelyapunov.mle_std"].values[order] if "finitelyapunov.mle_std" in result
           else np.zeros_like(mle))
    ax1.errorbar(e, mle, yerr=np.nan_to_num(std), fmt="o-", color="k", capsize=3)
    ax1.set_xscale("log")
    ax1.set_xlabel(f"{ETA}")
    ax1.set_ylabel(f"{MLE}")
    if not np.isfinite(mle).any():
        ax1.text(0.5, 0.5, "no fit kept", transform=ax1.transAxes, ha="center")
    ax2 = ax1.twinx()
    ax2.plot(e, summ["kept_fraction"][1][order], "s--", color="tab:blue")
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_ylabel("kept fraction", color="tab:blue")
    ax2.tick_params(axis="y", colors="tab:blue")
    ax1.legend(handles=[line_handle(color="k", marker="o", label=f"{MLE} ± std (left)"),
                        line_handle(color="tab:blue", marker="s", ls="--", label="kept fraction (right)")],
               fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.22), ncols=2, frameon=False)
    for key, style, label in (("initial_ratio", "v:", "at t = 0"), ("max_ratio", "o-", "max over t"),
                              ("late_ratio", "s--", "second half")):
        ax3.plot(e, summ[key][1][order], style, label=label)
    ax3.axhline(1.0, color="tab:red", ls="--", lw=1.2, label=f"S = {TWO_ETA} (edge of stability)")
    ax3.set_yscale("log")
    ax3.set_xlabel(f"{ETA}")
    from matplotlib.ticker import NullFormatter

    for ax in (ax1, ax3):  # the etas themselves as ticks, in plain numbers
        ax.set_xticks(e, [sci(v) for v in e])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax3.set_ylabel(r"$S\eta/2$  (median network)")
    ax3.legend(fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.22), ncols=2, frameon=False)
    fig.suptitle(f"{MLE} and the sharpness ratio against {ETA}")
    return fig
