"""Figure of :class:`~dynnet.EtaScanStudy`: the phase diagram of the learning rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    ETA,
    LAM,
    MLE,
    TWO_ETA,
    figure,
    line_handle,
    patch_handle,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["phase_diagram_figure"]

_BELOW = {"fontsize": 8, "loc": "upper center", "bbox_to_anchor": (0.5, -0.03), "ncols": 2,
          "frameon": False}
"""A panel's legend just below it (off the data; the shared η axis has no tick labels there)."""

_REGIME_COLORS = {"convergent": "tab:green", "sharpness at 2/eta": "tab:orange",
                  "chaotic": "tab:red", "intermittent": "tab:purple", "divergent": "k"}


def phase_diagram_figure(result: xr.Dataset) -> Figure:
    r"""Every quantity of an η scan against η, with the regimes shaded.

    Four panels sharing a log η axis: final loss (left axis) and test
    accuracy (right axis); the network maximal Lyapunov exponent
    :math:`\lambda_{nMLE}` (mean ± std of the kept finite :math:`\Lambda`, a
    note where no fit was kept) and the top Lyapunov exponent of the GD map;
    the sharpness ratio :math:`S \eta / 2` (:math:`S` the largest Hessian
    eigenvalue, max over the run; 1 is the GD stability limit
    :math:`S = 2/\eta`); the laminar fraction of the loss series. Each η's
    band is shaded by its regime (boundaries at geometric midpoints).

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an EtaScanStudy, indexed by ``eta``: ``final_loss``,
        ``test_accuracy``, ``mle``, ``mle_std``, ``top_exponent``,
        ``sharpness_ratio``, ``laminar_fraction``, ``regime``.

    Returns
    -------
    matplotlib.figure.Figure
        Four panels sharing the η axis (and a right axis for the accuracy), one regime legend.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 5 (open question);
    J. Cohen et al., "Gradient descent on neural networks typically occurs at
    the edge of stability", ICLR (2021).
    """
    eta = result["eta"].values
    fig = figure(figsize=(7.5, 10), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True)
    c_loss, c_acc = "tab:blue", "tab:green"
    axes[0].plot(eta, result["final_loss"].values, "o-", color=c_loss)
    axes[0].set_yscale("log")
    from matplotlib.ticker import NullFormatter

    axes[0].yaxis.set_minor_formatter(NullFormatter())  # 2, 3, 4, 6 x 10^k labels collide
    axes[0].set_ylabel("final loss", color=c_loss)
    axes[0].tick_params(axis="y", which="both", colors=c_loss)
    ax2 = axes[0].twinx()
    ax2.plot(eta, result["test_accuracy"].values, "s--", color=c_acc)
    ax2.set_ylabel("test accuracy", color=c_acc)
    ax2.tick_params(axis="y", colors=c_acc)
    axes[0].legend(handles=[line_handle(color=c_loss, marker="o", label="final loss (left)"),
                            line_handle(color=c_acc, marker="s", ls="--", label="test accuracy (right)")],
                   **_BELOW)
    axes[0].set_title("Training outcome")
    mle = result["mle"].values
    axes[1].errorbar(eta, mle, yerr=result["mle_std"].values, fmt="o-", capsize=3,
                     label=f"{MLE}: mean ± std of the kept finite {LAM}")
    axes[1].plot(eta, result["top_exponent"].values, "s--",
                 label="top Lyapunov exponent of the GD map (QR)")
    missing = ~np.isfinite(mle)
    # a mark (text, not a point: there is no value) at each η without λ_nMLE, explained in the legend
    for x in eta[missing]:
        axes[1].text(x, 0.08, "×", transform=axes[1].get_xaxis_transform(), ha="center", va="bottom",
                     fontsize=11, color="tab:blue", gid="no-mle-note")
    axes[1].axhline(0, color="0.5", lw=0.8)
    axes[1].set_ylabel("exponent (per step)")
    axes[1].set_title("Lyapunov exponents")
    handles, _ = axes[1].get_legend_handles_labels()
    if missing.any():
        handles.append(line_handle(color="tab:blue", marker="x", ls="none",
                                   label=f"×: no {MLE} (no fit kept)"))
    axes[1].legend(handles=handles, **_BELOW)
    axes[2].plot(eta, result["sharpness_ratio"].values, "o-")
    axes[2].axhline(1, color="tab:red", ls=":", label=f"S = {TWO_ETA} (GD stability limit)")
    axes[2].set_ylabel(f"S {ETA} / 2\n(S: max Hessian eigenvalue,\nmax over the run)")
    axes[2].set_yscale("log")
    axes[2].set_title("Sharpness")
    axes[2].legend(**_BELOW)
    axes[3].plot(eta, result["laminar_fraction"].values, "o-")
    axes[3].set_ylabel("laminar fraction\nof the loss series")
    axes[3].set_xlabel(f"{ETA} (learning rate)")
    axes[3].set_xscale("log")
    from matplotlib.ticker import LogLocator

    axes[3].xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axes[3].xaxis.set_minor_formatter(NullFormatter())  # 3, 4, 6... x 10^k labels collide
    axes[3].set_title("Intermittency")
    regime = result["regime"].values
    edges = np.sqrt(eta[1:] * eta[:-1]) if eta.size > 1 else np.array([])
    lo = np.concatenate([[eta[0] / 1.3], edges])
    hi = np.concatenate([edges, [eta[-1] * 1.3]])
    for ax in axes:
        for a, b, r in zip(lo, hi, regime, strict=True):
            ax.axvspan(a, b, color=_REGIME_COLORS.get(str(r), "0.8"), alpha=0.12, lw=0)
    present = [str(r) for r in regime]
    handles = [patch_handle(color=c, alpha=0.35, label=name.replace("eta", f"{ETA}"))
               for name, c in _REGIME_COLORS.items() if name in present]
    handles += [patch_handle(color="0.8", alpha=0.35, label=name) for name in dict.fromkeys(present)
                if name not in _REGIME_COLORS]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5),
               fontsize=9, title="regime (shaded)")
    fig.suptitle(f"Phase diagram of the learning rate {ETA}")
    return fig
