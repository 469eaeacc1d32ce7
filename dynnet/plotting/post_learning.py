"""Figures of :class:`~dynnet.PostLearningStudy` (paper Fig. 6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    EPS,
    ETA,
    GREY,
    distance_handles,
    eta_text,
    figure,
    sci,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["post_learning_figure"]

_JAC = r"$I - \eta H$"
"""The GD Jacobian, as mathtext."""


def post_learning_figure(result: xr.Dataset, inits: Sequence[int] = (0, 1, 2, 3)) -> list[Figure]:
    r"""Perturbing a trained network: distance per ε, and the spectrum of the GD Jacobian.

    First figure: :math:`d_k(t)` of each copy (grey) and their mean (black) on a
    semi-log scale, one row per initial condition and one column per ε, with t
    counted from the perturbation. Second figure (if the result has
    ``jacobian_eigenvalues``): for each initial condition the eigenvalues
    :math:`\mu` of the GD Jacobian :math:`J = I - \eta H` at the perturbation
    point, sorted, as :math:`|\mu - 1| = \eta |h|` (:math:`h` an eigenvalue of
    the Hessian :math:`H`), with the stability limit :math:`|\mu - 1| = 2`, and,
    when the result has ``jacobian_eigenvalues_initial``, the same at the initial
    networks (grey, dashed): eigenvalues near 1 are common there too.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a PostLearningStudy: ``distance`` (``eps, step, init,
        pert``), optionally ``jacobian_eigenvalues`` (``init, mode``); the
        attribute ``n_before`` (training steps before the perturbation) goes in the title.
    inits : sequence of int, default (0, 1, 2, 3)
        Initial conditions to show (rows); those beyond the result's ``init`` size are skipped.

    Returns
    -------
    list of matplotlib.figure.Figure
        The distance figure, then the spectrum figure when there is one.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.2, Fig. 6.
    """
    eps = result["eps"].values
    eta = eta_text(result)
    inits = [i for i in inits if i < result.sizes["init"]]
    fig = figure(figsize=(3.4 * len(eps) + 0.6, 3.0 * len(inits) + 1.0), layout="constrained")
    axes = fig.subplots(len(inits), len(eps), squeeze=False)
    t = result["step"].values
    for row, i in enumerate(inits):
        for k, e in enumerate(eps):
            d = result["distance"].isel(eps=k, init=i).values
            ax = axes[row, k]
            ax.semilogy(t, d, color=GREY, lw=0.5)
            ax.semilogy(t, d.mean(axis=1), color="k", lw=1.2)
            if row == 0:
                ax.set_title(f"{EPS} = {sci(e)}")
            if k == 0:
                ax.set_ylabel(f"init {i}\nd(t)")
    for ax in axes[-1]:
        ax.set_xlabel("t after the perturbation (steps)")
    fig.legend(handles=distance_handles(), loc="outside lower center", ncols=2, fontsize=9)
    n_before = result.attrs.get("n_before", result.attrs.get("param.n_before", None))
    when = f" after {n_before} training steps" if n_before is not None else ""
    fig.suptitle(f"Perturbing the trained network{when} ({ETA} = {eta})")
    figs = [fig]
    if "jacobian_eigenvalues" in result:
        f2 = figure(figsize=(7, 4.2), layout="constrained")
        ax = f2.add_subplot(1, 1, 1)
        n_init = result.sizes["init"]
        for i in range(n_init):
            mu = np.sort(result["jacobian_eigenvalues"].isel(init=i).values)
            ax.plot(np.abs(mu - 1.0) + 1e-18, "o-", ms=2, lw=0.5,
                    label=f"init {i}" if n_init <= 10 else None)
        if "jacobian_eigenvalues_initial" in result:
            for i in range(n_init):
                mu0 = np.sort(result["jacobian_eigenvalues_initial"].isel(init=i).values)
                ax.plot(np.abs(mu0 - 1.0) + 1e-18, "--", color="0.6", lw=0.7,
                        label="at initialisation W(0)" if i == 0 else None)
        ax.axhline(2.0, color="0.4", ls=":", lw=1.0, label=r"$|\mu - 1| = 2$ ($\mu = -1$: stability limit)")
        ax.set_yscale("log")
        ax.set_xlabel(r"mode (eigenvalues sorted by $\mu$)")
        ax.set_ylabel(r"$|\mu - 1| = \eta |h|$" "\n" rf"($\mu$: eigenvalue of {_JAC}, $h$: of $H$)")
        ax.set_title(f"Spectrum of the GD Jacobian {_JAC} at the perturbation point ({ETA} = {eta})\n"
                     r"$|\mu - 1| \approx 0$: flat directions, where a perturbation neither grows nor "
                     "shrinks", fontsize=10)
        ax.legend(fontsize=8, title=None if n_init <= 10 else f"{n_init} initial conditions",
                  loc="upper left", bbox_to_anchor=(1.02, 1.0))
        figs.append(f2)
    return figs
