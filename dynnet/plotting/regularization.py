"""Figures of :class:`~dynnet.RegularizationStudy`: stability against the weight decay."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    LAM,
    LOSS,
    MLE,
    figure,
    line_handle,
    sci,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["regularization_figure", "regularization_distance_figure"]

_MU = r"$\mu$"
_BELOW = {"fontsize": 8, "loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "ncols": 1, "frameon": False}
"""The weight decay."""


def _positions(decays: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Evenly spaced x positions (the decays span decades and include 0) and their labels."""
    return np.arange(decays.size, dtype=float), [sci(v) for v in decays]


def regularization_figure(result: xr.Dataset) -> Figure:
    r"""λ_nMLE and the orbital-stability measures against the weight decay μ.

    Three panels over the weight decays (evenly spaced, in increasing order):
    :math:`\lambda_{nMLE}` (mean ± std of the kept finite exponents) with the
    kept fraction on a right axis; the paired change
    :math:`\langle \Lambda_i(\mu) - \Lambda_i(0)\rangle` ± 2 standard errors
    (below 0: weight decay lowers the exponent); the distance growth
    :math:`\langle d(T)\rangle/\langle d(0)\rangle` (log axis) with the weight
    norm growth :math:`\|W(T)\|_1/\|W(0)\|_1` on a right axis.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a RegularizationStudy.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels sharing the weight-decay axis.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), sections 3.1 (Figs. 3-4), 4.1 and 5.
    """
    from .._summaries import regularization_summary

    summ = regularization_summary(result)
    decays = result["weight_decay"].values
    order = np.argsort(decays)
    x, labels = _positions(decays[order])
    fig = figure(figsize=(11, 3.6), layout="constrained")
    ax1, ax3, ax4 = fig.subplots(1, 3, sharex=True)
    mle = summ["mle"][1][order]
    std = (result["finitelyapunov.mle_std"].values[order] if "finitelyapunov.mle_std" in result
           else np.zeros_like(mle))
    ax1.errorbar(x, mle, yerr=np.nan_to_num(std), fmt="o-", color="k", capsize=3)
    ax1.set_ylabel(f"{MLE}")
    if not np.isfinite(mle).any():
        ax1.text(0.5, 0.5, "no fit kept", transform=ax1.transAxes, ha="center")
    ax2 = ax1.twinx()
    ax2.plot(x, summ["kept_fraction"][1][order], "s--", color="tab:blue")
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_ylabel("kept fraction", color="tab:blue")
    ax2.tick_params(axis="y", colors="tab:blue")
    ax1.legend(handles=[line_handle(color="k", marker="o", label=f"{MLE} ± std (left)"),
                        line_handle(color="tab:blue", marker="s", ls="--", label="kept fraction (right)")],
               **_BELOW)
    ch, se = summ["mle_change"][1][order], summ["mle_change_se"][1][order]
    ax3.errorbar(x, ch, yerr=2 * np.nan_to_num(se), fmt="o-", color="tab:purple", capsize=3)
    ax3.axhline(0.0, color="0.5", lw=0.8)
    ax3.set_ylabel(f"paired change of {LAM} vs {_MU} = 0")
    ax4.plot(x, summ["d_final_over_d_0"][1][order], "o-", color="k")
    ax4.set_yscale("log")
    ax4.set_ylabel("⟨d(T)⟩ / ⟨d(0)⟩")
    if "weight_norm_growth" in summ:
        ax5 = ax4.twinx()
        ax5.plot(x, summ["weight_norm_growth"][1][order], "s--", color=LOSS)
        ax5.set_ylabel("‖W(T)‖₁ / ‖W(0)‖₁", color=LOSS)
        ax5.tick_params(axis="y", colors=LOSS)
        ax4.legend(handles=[line_handle(color="k", marker="o", label="distance growth (left)"),
                            line_handle(color=LOSS, marker="s", ls="--", label="weight-norm growth (right)")],
                   **_BELOW)
    for ax in (ax1, ax3, ax4):
        ax.set_xticks(x, labels)
        ax.set_xlabel(f"weight decay {_MU}")
    ax3.set_title("paired change ± 2 standard errors", fontsize=10)
    fig.suptitle(f"{MLE} and orbital stability against the weight decay {_MU}")
    return fig


def regularization_distance_figure(result: xr.Dataset) -> Figure:
    r"""The mean distance :math:`\langle d(t)\rangle/\langle d(0)\rangle` and the median loss
    along training, one line per weight decay.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a RegularizationStudy (``distance``, ``loss``).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the step axis (log vertical axes).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), Figs. 3 and 7.
    """
    decays = result["weight_decay"].values
    steps = result["step"].values
    d = result["distance"].transpose("weight_decay", "step", "init", "pert").values
    fig = figure(figsize=(9, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, sharex=True)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_d = np.nanmean(d, axis=(2, 3))
        loss = (np.nanmedian(result["loss"].transpose("weight_decay", "step", "init").values, axis=2)
                if "loss" in result else None)
    for k in np.argsort(decays):
        ax1.plot(steps, mean_d[k] / mean_d[k, 0], label=f"{_MU} = {sci(decays[k])}")
        if loss is not None:
            ax2.plot(steps, loss[k], label=f"{_MU} = {sci(decays[k])}")
    ax1.set_yscale("log")
    ax1.set_xlabel("step t")
    ax1.set_ylabel("⟨d(t)⟩ / ⟨d(0)⟩")
    ax1.legend(fontsize="small")
    ax2.set_yscale("log")
    ax2.set_xlabel("step t")
    ax2.set_ylabel("median loss")
    fig.suptitle(f"Mean distance and median loss along training, one line per weight decay {_MU}")
    return fig
