"""Figure of :class:`~dynnet.PerturbationStudy`: the distance of perturbed copies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import GREY, LOSS, distance_handles, figure, sci

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_distances"]


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
        title += f", ε = {sci(result['eps'].item())}"
    ax.set_title(title)
    if legend:
        ax.legend(handles=distance_handles(loss=has_loss), fontsize=8, loc="best")
    return fig
