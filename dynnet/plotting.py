"""Figures. Every function returns a matplotlib Figure and never calls show()."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_distances"]


def _figure(**kw):
    import matplotlib

    matplotlib.use(matplotlib.get_backend() if matplotlib.get_backend() else "Agg")
    from matplotlib.figure import Figure

    return Figure(**kw)


def plot_distances(result, init=0, ax=None):
    """d(t) of each perturbation of one initial condition (grey), their mean (black),
    and the loss on a right axis if the result has one."""
    fig = _figure(figsize=(6, 4)) if ax is None else ax.figure
    ax = fig.add_subplot(1, 1, 1) if ax is None else ax
    d = result["distance"].isel(init=init).values
    t = result["step"].values
    ax.semilogy(t, d, color="0.7", lw=0.6)
    ax.semilogy(t, np.nanmean(d, axis=1), color="k", lw=1.5, label="mean d(t)")
    ax.set_xlabel("t (GD steps)")
    ax.set_ylabel("d(t)")
    if "loss" in result:
        ax2 = ax.twinx()
        ax2.plot(t, result["loss"].isel(init=init).values, color="tab:red", lw=1.0)
        ax2.set_ylabel("loss", color="tab:red")
    ax.set_title(f"initial condition {init}")
    return fig
