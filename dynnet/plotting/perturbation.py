"""Figure of :class:`~dynnet.PerturbationStudy`: the distance of perturbed copies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    EPS,
    GREY,
    LAM,
    LOSS,
    MLE,
    distance_handles,
    figure,
    sci,
    window_fit_line,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = ["plot_distances", "perturbation_figure"]


def plot_distances(result: xr.Dataset, init: int = 0, ax: Axes | None = None,
                   legend: bool = True) -> Figure:
    r"""Distance of each perturbed copy to its reference orbit, for one initial condition.

    Draws :math:`d_k(t) = \lVert W_k(t) - W(t) \rVert` of each perturbed copy
    :math:`k` (grey), their mean :math:`\frac{1}{n}\sum_k d_k(t)` (black), on a
    log scale, and the loss :math:`L(t)` of the reference orbit on a right axis
    (red) if the result has a ``loss`` variable.

    Parameters
    ----------
    result : xarray.Dataset
        A study's ``result_`` with ``distance`` (dims ``step, init, pert``, or
        with a scalar ``eps`` coordinate) and optionally ``loss`` (``step, init``).
    init : int, default 0
        Position of the initial condition along ``init``.
    ax : matplotlib.axes.Axes or None, default None
        Axes to draw on; None makes a new Figure with one axes.
    legend : bool, default True
        Draw the legend; False leaves it out (for callers that draw one per figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax`` (or the new one).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.1, Fig. 3.
    """
    fig = figure(figsize=(6, 4), layout="constrained") if ax is None else ax.figure
    ax = fig.add_subplot(1, 1, 1) if ax is None else ax
    d = result["distance"].isel(init=init).values
    t = result["step"].values
    ax.semilogy(t, d, color=GREY, lw=0.6)
    ax.semilogy(t, np.nanmean(d, axis=1), color="k", lw=1.5)
    ax.set_xlabel("t (steps)")
    ax.set_ylabel("d(t)")
    has_loss = "loss" in result
    if has_loss:
        ax2 = ax.twinx()
        ax2.plot(t, result["loss"].isel(init=init).values, color=LOSS, lw=1.0)
        ax2.set_ylabel("loss", color=LOSS)
        ax2.tick_params(axis="y", colors=LOSS)
    title = f"initial condition {init}"
    if "eps" in result.coords and result["eps"].ndim == 0:
        title += f", {EPS} = {sci(result['eps'].item())}"
    ax.set_title(title)
    if legend:
        ax.legend(handles=distance_handles(loss=has_loss), fontsize=8, loc="best")
    return fig


def perturbation_figure(result: xr.Dataset, exponents: ArrayLike | None = None,
                        windows: ArrayLike | None = None, kept: ArrayLike | None = None,
                        inits: Sequence[int] = (0, 1, 2, 3)) -> Figure:
    r"""Mean distance of several initial conditions with their fitted lines, and P(Λ).

    Left: for each initial condition in ``inits``, the mean distance of its
    copies :math:`\bar d(t)` (semi-log, one colour each) and, when the fit is
    given, the least-squares line :math:`\ln \hat d(t) = a + \Lambda t` over its
    window (dashed, same colour). Right: the histogram :math:`P(\Lambda)` of the
    kept finite exponents of every initial condition, with their mean
    :math:`\lambda_{\mathrm{nMLE}}`.

    Parameters
    ----------
    result : xarray.Dataset
        A study's ``result_`` with ``distance`` (``step, init, pert``).
    exponents : array of float, shape (n_init,), or None, default None
        :math:`\Lambda` of each initial condition (``FiniteLyapunov.exponents_``);
        None: no fit is drawn and the right panel says so.
    windows : array of float, shape (n_init, 2), or None, default None
        The fitted window ``[t1, t2)`` of each (``FiniteLyapunov.windows_``).
    kept : array of bool, shape (n_init,), or None, default None
        Which fits are kept (``FiniteLyapunov.kept_``); None keeps the finite ones.
    inits : sequence of int, default (0, 1, 2, 3)
        Initial conditions drawn on the left; those beyond the result's ``init`` size are skipped.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: the distances with their fits, and P(Λ).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), sections 3.1 and 4.1, Figs. 3 and 8.
    """
    d = result["distance"].values
    t = result["step"].values.astype(np.float64)
    inits = [i for i in inits if i < d.shape[1]]
    fig = figure(figsize=(11, 4.2), layout="constrained")
    a0, a1 = fig.subplots(1, 2)
    lam = None if exponents is None else np.asarray(exponents, dtype=np.float64)
    win = None if windows is None else np.asarray(windows, dtype=np.float64)
    for c, i in enumerate(inits):
        with np.errstate(all="ignore"):
            mean = np.nanmean(d[:, i, :], axis=1)
        a0.semilogy(t, mean, color=f"C{c}", lw=1.2, label=f"initial condition {i}")
        if lam is not None and win is not None:
            line = window_fit_line(t, mean, tuple(win[i]), float(lam[i]))
            if line is not None:
                a0.semilogy(line[0], line[1], "--", color=f"C{c}", lw=1.6,
                            label=f"fit: {LAM} = {lam[i]:.2f}")
    a0.set_xlabel("t (steps)")
    a0.set_ylabel("mean d(t) over the copies")
    a0.set_title("Distance and the fitted exponential growth")
    a0.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False)
    if lam is None:
        a1.text(0.5, 0.5, "no FiniteLyapunov in this study:\nno fitted exponents", ha="center",
                va="center", transform=a1.transAxes)
        a1.set_title(f"P({LAM})")
    else:
        ok = np.isfinite(lam) if kept is None else np.asarray(kept, dtype=bool) & np.isfinite(lam)
        if ok.any():
            m = float(lam[ok].mean())
            a1.hist(lam[ok], bins=min(30, max(5, int(ok.sum()) // 2)), density=True, color="tab:blue",
                    alpha=0.8, label=f"kept {LAM} ({int(ok.sum())} of {ok.size})")
            a1.axvline(m, color="k", ls="--", lw=1.2, label=f"{MLE} = {m:.3f}")
            a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False)
            a1.set_title(f"P({LAM}): {ok.mean():.0%} of fits kept")
        else:
            a1.text(0.5, 0.5, "no fit kept", ha="center", va="center", transform=a1.transAxes)
            a1.set_title(f"P({LAM})")
        a1.set_xlabel(f"{LAM} (per step)")
        a1.set_ylabel(f"P({LAM})")
    title = "Perturbed orbits"
    if "eps" in result.coords and result["eps"].ndim == 0:
        title += f" at {EPS} = {sci(result['eps'].item())}"
    fig.suptitle(title)
    return fig
