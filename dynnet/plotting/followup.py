"""The figure of ``dynnet reproduce --followup``: chaos and speed of learning against the learning rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import ETA, MLE, figure, line_handle

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["followup_figure"]

_COLOURS = {"digits": "tab:blue", "mnist1d": "tab:orange", "mnist": "tab:purple"}


def followup_figure(tables: dict[str, xr.Dataset]) -> Figure:
    r"""λ_nMLE and the median time to the test-accuracy threshold against η, one line per dataset.

    Top panel: :math:`\lambda_{nMLE}(\eta)` with its 95% bootstrap interval
    (an × at the bottom where no fit was kept). Bottom panel: the median
    number of steps until the test accuracy first reaches the dataset's
    threshold; an η whose median network never reaches it is marked at the top
    of the panel, and the fastest η of each dataset is starred. Both panels
    share the logarithmic η axis.

    Parameters
    ----------
    tables : dict of str to xarray.Dataset
        Dataset name to :func:`dynnet.followup.followup_table` of its run
        (``mle``, ``mle_ci_low``, ``mle_ci_high``, ``median_time`` along ``eta``;
        ``threshold``).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the log η axis.

    References
    ----------
    P. Jiménez-González, M. C. Soriano, L. Lacasa, "Leveraging chaos in the
    training of artificial neural networks", arXiv:2506.08523 (2025).
    """
    fig = figure(figsize=(7.5, 7), layout="constrained")
    ax_l, ax_t = fig.subplots(2, 1, sharex=True)
    handles = []
    missing = False
    never = False
    for k, (name, t) in enumerate(tables.items()):
        colour = _COLOURS.get(name, f"C{k}")
        eta = t["eta"].values.astype(float)
        mle = t["mle"].values.astype(float)
        lo = t["mle_ci_low"].values.astype(float)
        hi = t["mle_ci_high"].values.astype(float)
        ok = np.isfinite(mle)
        with np.errstate(invalid="ignore"):  # a bar never points backwards (a mean outside its interval)
            yerr = np.vstack([np.where(np.isfinite(lo), np.maximum(mle - lo, 0.0), 0.0),
                              np.where(np.isfinite(hi), np.maximum(hi - mle, 0.0), 0.0)])
        ax_l.errorbar(eta[ok], mle[ok], yerr=yerr[:, ok], fmt="o-", capsize=3, color=colour)
        for x in eta[~ok]:
            missing = True
            ax_l.text(x, 0.03 + 0.06 * k, "×", transform=ax_l.get_xaxis_transform(), ha="center",
                      va="bottom", fontsize=11, color=colour, gid="no-mle-note")
        med = t["median_time"].values.astype(float)
        fin = np.isfinite(med)
        ax_t.plot(eta[fin], med[fin], "o-", color=colour)
        for x in eta[~fin]:
            never = True
            ax_t.text(x, 0.97 - 0.06 * k, "×", transform=ax_t.get_xaxis_transform(), ha="center",
                      va="top", fontsize=11, color=colour, gid="not-reached-note")
        if fin.any():
            i = int(np.flatnonzero(fin & (med == np.min(med[fin])))[0])
            ax_t.plot([eta[i]], [med[i]], marker="*", ms=16, color=colour, mec="k", ls="none")
        thr = float(t["threshold"].values)
        handles.append(line_handle(color=colour, marker="o", label=f"{name} (test accuracy ≥ {thr:g})"))
    ax_l.axhline(0, color="0.5", lw=0.8)
    ax_l.set_ylabel(f"{MLE} (per step), 95% interval")
    ax_l.set_title("Sensitive dependence on initial conditions")
    ax_t.set_ylabel("median steps to the\ntest-accuracy threshold")
    ax_t.set_xscale("log")
    every = np.concatenate([t["eta"].values.astype(float) for t in tables.values()])
    if every.size:  # every eta in view, also those marked with a × only
        ax_t.set_xlim(every.min() / 1.5, every.max() * 1.5)
    ax_t.set_xlabel(f"{ETA} (learning rate)")
    ax_t.set_title("Speed of learning")
    extra = [line_handle(color="0.3", marker="*", ms=12, mec="k", ls="none", label=f"fastest {ETA}")]
    if missing:
        extra.append(line_handle(color="0.3", marker="x", ls="none", label=f"× (top panel): no {MLE} kept"))
    if never:
        extra.append(line_handle(color="0.3", marker="x", ls="none",
                                 label="× (bottom panel): median network never reaches it"))
    fig.legend(handles=handles + extra, loc="outside lower center", ncols=2, fontsize=8)
    fig.suptitle(f"Chaos and speed of learning against {ETA} (the follow-up protocol)")
    return fig
