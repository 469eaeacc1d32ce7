"""Figures of :class:`~dynnet.EdgeOfStabilityStudy` (paper Figs. 7-8)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    EPS,
    ETA,
    GREY,
    LAM,
    LOSS,
    MLE,
    distance_handles,
    eta_text,
    figure,
    line_handle,
    pick_eps,
    sci,
    window_fit_line,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["edge_figure", "lyapunov_eps_figure", "edge_long_figure"]


def edge_figure(result: xr.Dataset, inits: Sequence[int] = (0, 1, 2, 3), eps: float = 1e-8,
                late: int = 50, n_perturbed: int | None = None) -> Figure:
    r"""Perturbation growth per initial condition: full run, early phase with its fit, late times, loss.

    One row per initial condition; columns: :math:`d_k(t)` of each copy (grey)
    and their mean :math:`\bar d(t)` (black); the early exponential phase on a
    semi-log scale with the least-squares line of :math:`\ln \bar d(t)` over
    the window the estimator fitted,

    .. math:: \ln \hat d(t) = a + \Lambda t, \qquad t \in [t_1, t_2),

    of slope :math:`\Lambda` (the finite exponent of that initial condition;
    "not kept" when the estimator rejected it); the last ``late`` steps; the loss.
    With ``n_perturbed`` the distances are divided by :math:`\varepsilon N`,
    the largest initial L1 distance of a uniform perturbation of :math:`N`
    coordinates (the paper's normalisation), so that 1 is the initial size;
    the fit's slope is unchanged.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an EdgeOfStabilityStudy: ``distance`` (``eps, step,
        init, pert``), and optionally ``exponent`` and ``window`` (``eps, init
        [, bound]``), ``kept`` (``eps, init``), ``loss`` (``step, init``).
    inits : sequence of int, default (0, 1, 2, 3)
        Initial conditions to show (rows); those beyond the result's ``init`` size are skipped.
    eps : float, default 1e-8
        The perturbation size shown: the result's ε nearest to it on a log scale.
    late : int, default 50
        Number of final steps in the third column.
    n_perturbed : int or None, default None
        :math:`N`, the number of perturbed coordinates; None draws :math:`d(t)` unnormalised.

    Returns
    -------
    matplotlib.figure.Figure
        A grid of ``len(inits)`` rows by 4 columns, one figure legend.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.1, Fig. 7.
    """
    k = pick_eps(result, eps)
    r = result.isel(eps=k)
    inits = [i for i in inits if i < r.sizes["init"]]
    fig = figure(figsize=(13, 2.6 * len(inits) + 0.9), layout="constrained")
    axes = fig.subplots(len(inits), 4, squeeze=False)
    t = r["step"].values
    fitted = False
    scale, ylab = _normalisation(float(r["eps"].item()), n_perturbed)
    for row, i in enumerate(inits):
        d = r["distance"].isel(init=i).values / scale
        mean = np.nanmean(d, axis=1)
        a0, a1, a2, a3 = axes[row]
        a0.plot(t, d, color=GREY, lw=0.5)
        a0.plot(t, mean, color="k", lw=1.2)
        a0.set_ylabel(f"init {i}\n{ylab}")
        a1.semilogy(t, d, color=GREY, lw=0.5)
        a1.semilogy(t, mean, color="k", lw=1.2)
        a1.set_ylabel(ylab)
        if "window" in r:
            lam = float(r["exponent"].isel(init=i))
            line = window_fit_line(t, mean, r["window"].isel(init=i).values.astype(float), lam)
            if line is not None:
                kept = bool(r["kept"].isel(init=i)) if "kept" in r else True
                a1.semilogy(line[0], line[1], "r--", lw=1.4, label=f"{LAM} = {lam:.2f}"
                            + ("" if kept else " (not kept)"))
                a1.legend(loc="lower right", fontsize=8, framealpha=0.9)
                fitted = True
        a1.set_xlim(t[0], min(t[-1], t[0] + 120))
        a2.plot(t[-late:], d[-late:], color=GREY, lw=0.5)
        a2.plot(t[-late:], mean[-late:], color="k", lw=1.2)
        a2.set_ylabel(ylab)
        if "loss" in r:
            a3.plot(t, r["loss"].isel(init=i).values, color=LOSS, lw=1.0)
        a3.set_ylabel("loss")
    for a, title in zip(axes[0], ["the whole run", "early phase (semi-log) and fit",
                                  f"last {late} steps", "loss"], strict=True):
        a.set_title(title)
    for a in axes[-1]:
        a.set_xlabel("t (steps)")
    handles = distance_handles()
    if fitted:
        handles.append(line_handle(color="r", ls="--", lw=1.4,
                                   label=f"least-squares fit of ln(mean d) over the best window, "
                                   f"slope {LAM}"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9)
    norm = "" if n_perturbed is None else f" (N = {int(n_perturbed)} perturbed coordinates)"
    fig.suptitle(f"Perturbation growth at {ETA} = {eta_text(result)}, {EPS} = {sci(r['eps'].item())}{norm}")
    return fig


def _normalisation(eps: float, n_perturbed: int | None) -> tuple[float, str]:
    """The divisor of d(t) and the axis label: (eps N, 'd(t) / (eps N)') or (1, 'd(t)')."""
    if n_perturbed is None:
        return 1.0, "d(t)"
    return eps * int(n_perturbed), f"d(t) / ({EPS} N)"


def lyapunov_eps_figure(result: xr.Dataset, eps: float = 1e-8) -> Figure:
    r"""Distribution of the finite exponents at one ε, and λ_nMLE against ε.

    Left: the histogram :math:`P(\Lambda)` of the kept finite exponents at the
    ε nearest to ``eps``, with their mean. Right: the network maximal Lyapunov
    exponent :math:`\lambda_{nMLE}(\varepsilon) = \langle \Lambda_i \rangle_{\text{kept}}`
    with the standard deviation of the kept :math:`\Lambda_i` as error bars,
    the pooled fit if the result has one, and the paper's value (≈ 0.33) when η = 1.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an EdgeOfStabilityStudy: ``exponent`` and ``kept``
        (``eps, init``), ``mle`` and ``mle_std`` (``eps``), optionally ``pooled_mle`` (``eps``).
    eps : float, default 1e-8
        The perturbation size of the histogram: the result's ε nearest to it on a log scale.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: P(Λ) and λ_nMLE(ε).

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.1, Fig. 8.
    """
    k = pick_eps(result, eps)
    fig = figure(figsize=(11, 4), layout="constrained")
    a0, a1 = fig.subplots(1, 2)
    lam = result["exponent"].values[k]
    kept = result["kept"].values[k].astype(bool)
    e_k = result["eps"].values[k]
    mean = float(np.mean(lam[kept])) if kept.any() else np.nan
    if kept.any():
        a0.hist(lam[kept], bins=min(30, max(5, int(kept.sum()) // 2)), density=True,
                color="tab:blue", alpha=0.8, label=f"kept {LAM} ({kept.sum()} of {kept.size})")
        a0.axvline(mean, color="k", ls="--", lw=1.2, label=f"mean = {mean:.3f}")
        a0.legend(fontsize=8, loc="best", framealpha=0.9)
    else:
        a0.text(0.5, 0.5, f"no fit kept at this {EPS}", transform=a0.transAxes, ha="center")
    a0.set_xlabel(f"{LAM} (finite exponent of one initial condition, per step)")
    a0.set_ylabel(f"P({LAM})")
    a0.set_title(f"P({LAM}) at {EPS} = {sci(e_k)}: {kept.mean():.0%} of fits kept, "
                 f"mean {LAM} = {mean:.3f}")
    e = result["eps"].values
    a1.errorbar(e, result["mle"].values, yerr=result["mle_std"].values, fmt="o-", capsize=3,
                label=f"{MLE}: mean ± std of the kept {LAM}")
    if "pooled_mle" in result:
        a1.plot(e, result["pooled_mle"].values, "s--",
                label="pooled fit (mean ln d over all initial conditions)")
    a1.set_xscale("log")
    a1.set_xlabel(f"{EPS} (perturbation size)")
    a1.set_ylabel(f"{MLE} (per step)")
    a1.set_title(f"{MLE}({EPS})")
    eta = eta_text(result)
    if eta in ("1", "?"):
        a1.axhline(0.33, color="0.5", ls=":", label=f"paper ({ETA} = 1): ≈ 0.33")
    a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False)
    fig.suptitle(f"Finite Lyapunov exponents at {ETA} = {eta}")
    return fig


def edge_long_figure(result: xr.Dataset, n_perturbed: int | None = None) -> Figure:
    r"""The long horizon of Fig. 7: distance and loss of the first networks far beyond the fit.

    One column per network: the distances :math:`d_k(t)` of its perturbed copies
    (grey) and their mean (black), log scale, and the reference's loss (red,
    right axis), over the study's ``n_steps_long`` steps, where the loss comes
    close to zero and the orbits may settle on limit cycles.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an EdgeOfStabilityStudy run with ``n_steps_long > 0``:
        ``long_distance (long_step, long_init, pert)`` and ``long_loss
        (long_step, long_init)``, with the attribute ``long_eps`` on the first.
    n_perturbed : int or None, default None
        :math:`N`, the number of perturbed coordinates: the distances are drawn as
        :math:`d(t) / (\varepsilon N)` (1: the initial size); None draws :math:`d(t)`.

    Returns
    -------
    matplotlib.figure.Figure
        One row of panels, one per network.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), Fig. 7 (late-time columns).
    """
    if "long_distance" not in result:
        fig = figure(figsize=(5, 3))
        fig.subplots().set_title("no long-horizon run in this result (n_steps_long=0)")
        return fig
    d = result["long_distance"]
    t = result["long_step"].values
    n = d.sizes["long_init"]
    eps = float(d.attrs.get("long_eps", float("nan")))
    scale, ylab = _normalisation(eps, n_perturbed)
    fig = figure(figsize=(3.6 * n, 3.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, sharey=True))
    for k, ax in enumerate(axes):
        dk = d.isel(long_init=k).values / scale
        with np.errstate(divide="ignore", invalid="ignore"):
            ax.semilogy(t, dk, color=GREY, lw=0.5)
            ax.semilogy(t, np.nanmean(dk, axis=1), color="k", lw=1.2)
        ax.set_xlabel("t (steps)")
        ax.set_title(f"initial condition {int(result['long_init'].values[k])}")
        if "long_loss" in result:
            twin = ax.twinx()
            twin.plot(t, result["long_loss"].isel(long_init=k).values, color=LOSS, lw=0.8)
            if k == n - 1:
                twin.set_ylabel("loss L(t)", color=LOSS)
    axes[0].set_ylabel(ylab)
    fig.legend(handles=distance_handles(loss="long_loss" in result), loc="outside lower center",
               ncols=3, fontsize=9)
    every = int(np.min(np.diff(t))) if t.size > 1 else 1
    shown = "every step" if every == 1 else f"every {every}th step"
    fig.suptitle(f"Long horizon at {ETA} = {eta_text(result)}, {EPS} = {sci(eps)}: "
                 f"{int(t[-1])} steps, {shown}")
    return fig
