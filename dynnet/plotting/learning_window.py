"""Figures of :class:`~dynnet.studies.learning_window.LearningWindowStudy`: the learning window."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    ETA,
    LAM,
    MLE,
    figure,
    line_handle,
    patch_handle,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["learning_window_figure", "accuracy_curves_figure"]


def _bands(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each eta's band on a log axis: boundaries at the geometric midpoints."""
    edges = np.sqrt(eta[1:] * eta[:-1]) if eta.size > 1 else np.array([])
    lo = np.concatenate([[eta[0] / 1.3], edges])
    hi = np.concatenate([edges, [eta[-1] * 1.3]])
    return lo, hi


def learning_window_figure(result: xr.Dataset) -> Figure:
    r"""λ_nMLE and the time-to-accuracy against η, with the window shaded.

    Top panel: :math:`\lambda_{nMLE}(\eta)` (mean ± std of the kept finite
    :math:`\Lambda`; a note where no fit was kept), the kept fraction on the
    right axis. Bottom panel: the median time-to-accuracy :math:`T(\eta)`
    (steps until the test accuracy first reaches the threshold), with the
    25%–75% range over the initial networks as error bars, and the fraction of
    networks that reached it on the right axis; an :math:`\eta` whose median
    network never reached it is marked at the top of the panel. Bands:
    red, sensitive :math:`\eta` (positive :math:`\lambda_{nMLE}`); green,
    the window (sensitive and fast); the fastest :math:`\eta` is starred.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a LearningWindowStudy: ``mle``, ``mle_std``,
        ``kept_fraction``, ``time_to_accuracy (eta, init)``, ``median_time``,
        ``reached_fraction``, ``sensitive``, ``in_window``, ``fastest_eta``,
        ``threshold``.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the log η axis, one legend for the bands.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 5 and Supplementary S2.
    """
    eta = result["eta"].values.astype(float)
    fig = figure(figsize=(7.5, 7), layout="constrained")
    ax_l, ax_t = fig.subplots(2, 1, sharex=True)
    mle = result["mle"].values.astype(float)
    ax_l.errorbar(eta, mle, yerr=result["mle_std"].values, fmt="o-", capsize=3, color="tab:blue",
                  label=f"{MLE}: mean ± std of the kept finite {LAM}")
    for x in eta[~np.isfinite(mle)]:  # a mark, not a point (there is no value), explained in the legend
        ax_l.text(x, 0.08, "×", transform=ax_l.get_xaxis_transform(), ha="center", va="bottom",
                  fontsize=11, color="tab:blue", gid="no-mle-note")
    ax_l.axhline(0, color="0.5", lw=0.8)
    ax_l.set_ylabel(f"{MLE} (per step)")
    ax_k = ax_l.twinx()
    ax_k.plot(eta, result["kept_fraction"].values, "s:", color="tab:gray")
    ax_k.set_ylim(-0.05, 1.05)
    ax_k.set_ylabel("kept fraction of the fits", color="tab:gray")
    ax_l.legend(handles=[line_handle(color="tab:blue", marker="o", label=f"{MLE} ± std (left)"),
                         line_handle(color="tab:gray", marker="s", ls=":", label="kept fraction (right)")]
                + ([line_handle(color="tab:blue", marker="x", ls="none", label=f"×: no {MLE} (no fit kept)")]
                   if not np.isfinite(mle).all() else []),
                fontsize=8, loc="best", framealpha=0.9)
    ax_l.set_title("Sensitive dependence on initial conditions")

    tta = result["time_to_accuracy"].values.astype(float)
    med = result["median_time"].values.astype(float)
    with np.errstate(all="ignore"):
        q25 = np.percentile(tta, 25, axis=1)
        q75 = np.percentile(tta, 75, axis=1)
    ok = np.isfinite(med)
    lower = np.where(np.isfinite(q25), med - q25, 0.0)
    upper = np.where(np.isfinite(q75), q75 - med, 0.0)
    ax_t.errorbar(eta[ok], med[ok], yerr=[lower[ok], upper[ok]], fmt="o-", capsize=3, color="tab:green")
    for x in eta[~ok]:
        ax_t.text(x, 0.95, "not reached\n(median)", transform=ax_t.get_xaxis_transform(), ha="center",
                  va="top", fontsize=7, color="tab:green", gid="not-reached-note")
    fastest = float(result["fastest_eta"].values)
    if np.isfinite(fastest):
        k = int(np.argmin(np.abs(eta - fastest)))
        ax_t.plot([eta[k]], [med[k]], marker="*", ms=16, color="gold", mec="k", ls="none")
    thr = float(result["threshold"].values)
    ax_t.set_ylabel(f"steps until test accuracy ≥ {thr:g}\n(median, 25%–75%)")
    ax_r = ax_t.twinx()
    ax_r.plot(eta, result["reached_fraction"].values, "s:", color="tab:gray")
    ax_r.set_ylim(-0.05, 1.05)
    ax_r.set_ylabel("fraction that reached it", color="tab:gray")
    ax_t.legend(handles=[line_handle(color="tab:green", marker="o", label="time-to-accuracy (left)"),
                         line_handle(color="tab:gray", marker="s", ls=":", label="reached fraction (right)"),
                         line_handle(color="gold", marker="*", ms=12, mec="k", ls="none",
                                     label=f"fastest {ETA}")],
                fontsize=8, loc="best")
    ax_t.set_xscale("log")
    ax_t.set_xlabel(f"{ETA} (learning rate)")
    ax_t.set_title("Speed of learning")
    lo, hi = _bands(eta)
    sens = result["sensitive"].values.astype(bool)
    win = result["in_window"].values.astype(bool)
    for ax in (ax_l, ax_t):
        for a, b, s, w in zip(lo, hi, sens, win, strict=True):
            if w:
                ax.axvspan(a, b, color="tab:green", alpha=0.18, lw=0)
            elif s:
                ax.axvspan(a, b, color="tab:red", alpha=0.12, lw=0)
    fig.legend(handles=[patch_handle(color="tab:red", alpha=0.3, label=f"{MLE} > 0 (sensitive)"),
                        patch_handle(color="tab:green", alpha=0.35, label="window: sensitive and fast")],
               loc="outside lower center", ncols=2, fontsize=9)
    fig.suptitle(f"The learning window: chaos and speed of learning against {ETA}")
    return fig


def accuracy_curves_figure(result: xr.Dataset) -> Figure:
    """Test accuracy along training, one curve per η (median over the initial networks).

    The shaded band of each curve is the 25%–75% range over the initial
    networks; the dashed line is the accuracy threshold of the time-to-accuracy.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a LearningWindowStudy: ``test_accuracy (eta, step, init)``
        and ``threshold``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel, one curve per η.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), Supplementary S2.
    """
    import matplotlib as mpl

    eta = result["eta"].values.astype(float)
    steps = result["step"].values
    acc = result["test_accuracy"].values.astype(float)
    fig = figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.subplots()
    cmap = mpl.colormaps["viridis"]
    for k, e in enumerate(eta):
        color = cmap(k / max(1, eta.size - 1))
        a = acc[k]
        with np.errstate(all="ignore"):
            good = np.isfinite(a).any(axis=1)
            med = np.full(steps.size, np.nan)
            q25 = np.full(steps.size, np.nan)
            q75 = np.full(steps.size, np.nan)
            if good.any():
                med[good] = np.nanmedian(a[good], axis=1)
                q25[good] = np.nanpercentile(a[good], 25, axis=1)
                q75[good] = np.nanpercentile(a[good], 75, axis=1)
        ax.plot(steps, med, color=color, label=f"{ETA} = {e:g}")
        ax.fill_between(steps, q25, q75, color=color, alpha=0.15, lw=0)
    thr = float(result["threshold"].values)
    ax.axhline(thr, color="k", ls="--", lw=1, label=f"threshold {thr:g}")
    ax.set_xlabel("training step t")
    ax.set_ylabel("test accuracy (median, 25%–75%)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, ncols=2, loc="lower right")
    ax.set_title("Test accuracy along training")
    return fig
