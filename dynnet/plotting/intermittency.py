"""Figures of :class:`~dynnet.IntermittencyStudy` (paper Figs. 9-12 and the η comparison)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    ETA,
    LAM,
    eta_text,
    figure,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = ["loss_norm_figure", "acf_figure", "kantz_figure", "weights_figure", "compare_eta_figure"]


def loss_norm_figure(result: xr.Dataset, inits: Sequence[int] = (0, 1, 2, 3)) -> Figure:
    r"""Loss and weight norm during training, one column per initial condition.

    Top: the loss :math:`L(t)` (log scale). Bottom: the L1 norm of all
    parameters :math:`\lVert w(t) \rVert_1 = \sum_i |w_i(t)|`.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an IntermittencyStudy: ``loss`` and ``weight_norm`` (``step, init``).
    inits : sequence of int, default (0, 1, 2, 3)
        Initial conditions to show; those beyond the result's ``init`` size are skipped.

    Returns
    -------
    matplotlib.figure.Figure
        Two rows (loss, norm) of one panel per initial condition.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.2, Fig. 9.
    """
    inits = [i for i in inits if i < result.sizes["init"]]
    fig = figure(figsize=(3.6 * len(inits), 5.4), layout="constrained")
    axes = fig.subplots(2, len(inits), squeeze=False)
    t = result["step"].values
    for k, i in enumerate(inits):
        axes[0, k].plot(t, result["loss"].isel(init=i).values, lw=0.4)
        axes[0, k].set_yscale("log")
        axes[0, k].set_title(f"initial condition {i}")
        axes[0, k].set_xlabel("t (steps)")
        axes[1, k].plot(t, result["weight_norm"].isel(init=i).values, lw=0.6, color="tab:green")
        axes[1, k].set_xlabel("t (steps)")
    axes[0, 0].set_ylabel("loss L(t)")
    axes[1, 0].set_ylabel(r"$\|w\|_1 = \sum_i |w_i|$ (all parameters)")
    fig.suptitle(f"Loss and weight norm during training at {ETA} = {eta_text(result)}")
    return fig


def _burstiest(result):
    """The initial condition with the smallest laminar fraction (0 without one)."""
    if "laminar_fraction" in result:
        lf = np.nan_to_num(result["laminar_fraction"].values, nan=2.0)
        return int(np.argmin(lf))
    return 0


def _figure_stretch(result):
    """``(init, start, stop, verdict)`` of the study's Figs. 10-11 stretch (steps; stop
    exclusive), or None when the result has no checked aperiodic stretch."""
    if "figure_init" not in result or int(result["figure_init"].values) < 0:
        return None
    return (int(result["figure_init"].values), int(result["figure_start"].values),
            int(result["figure_stop"].values), str(result["figure_hvg_verdict"].values))


def _quantiles(result, quantiles):
    """The null band's quantiles: ``quantiles`` if given, else the result's
    ``param.acf__quantiles`` attribute, else None."""
    if quantiles is not None:
        return tuple(float(q) for q in quantiles)
    text = result.attrs.get("param.acf__quantiles", None)
    if text is not None:
        try:
            return tuple(float(v) for v in str(text).strip("()[] ").split(",") if v.strip())
        except ValueError:
            pass
    return None


def acf_figure(result: xr.Dataset, init: int | None = None, zoom: int = 50,
               quantiles: Sequence[float] | None = None) -> Figure:
    r"""The loss series after the transient, a zoom, and its autocorrelation with the shuffled null band.

    The sample autocorrelation of the loss :math:`L(t)`, :math:`t \ge t_0`,

    .. math:: \hat\rho(k) = \frac{\sum_t (L_t - \bar L)(L_{t+k} - \bar L)}{\sum_t (L_t - \bar L)^2},

    against the band that randomly shuffled copies of the series (no memory)
    fall in.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an IntermittencyStudy: ``loss`` (``step, init``),
        optionally ``acf`` (``init, lag``), ``acf_band`` (``init, bound, lag``),
        ``laminar_fraction`` (``init``), the Figs. 10-11 stretch (see ``init``),
        and the attribute ``transient`` (:math:`t_0`).
    init : int or None, default None
        Initial condition, shown after the transient with its ``acf``. None
        shows the study's Figs. 10-11 stretch (``figure_init``,
        ``figure_start``, ``figure_stop``, with ``figure_acf`` and
        ``figure_acf_band``): the longest stretch of any loss series inside no
        laminar phase, checked aperiodic (its HVG verdict is not "periodic");
        the title says so. Without such a stretch (``figure_init = -1``, or a
        result without it) it falls back to the series with the smallest
        laminar fraction, and the title says it was not checked aperiodic (0
        without ``laminar_fraction``).
    zoom : int, default 50
        Number of steps in the zoom panel.
    quantiles : pair of float or None, default None
        The band's quantiles, for the legend; None reads them from the result's
        attribute ``param.acf__quantiles``, and without it the legend does not state them.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: the series, its zoom, its autocorrelation.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.2, Fig. 10.
    """
    chosen = ""
    tr = int(result.attrs.get("transient", 0))
    stretch = _figure_stretch(result) if init is None else None
    acf = band = None
    if stretch is not None:
        init, start, stop, verdict = stretch
        chosen = (f", steps {start}–{stop - 1}: the longest stretch without a laminar phase "
                  f"(checked aperiodic: HVG verdict {verdict})")
        if "figure_acf" in result:
            acf, band = result["figure_acf"].values, result["figure_acf_band"].values
    else:
        start, stop = tr, result.sizes["step"]
        if init is None:
            init = _burstiest(result)
            if "laminar_fraction" in result:
                chosen = " (the one with the smallest laminar fraction)"
                if "figure_init" in result:
                    chosen += ": NOT checked aperiodic (no stretch without a laminar phase was long enough)"
        if "acf" in result:
            acf, band = result["acf"].isel(init=init).values, result["acf_band"].isel(init=init).values
    s = result["loss"].isel(init=init).values[start:stop]
    t = result["step"].values[start:stop]
    fig = figure(figsize=(13, 3.8), layout="constrained")
    a0, a1, a2 = fig.subplots(1, 3)
    a0.plot(t, s, lw=0.4)
    a0.set_title(f"loss L(t) after the transient (t ≥ {tr})" if stretch is None
                 else f"loss L(t), {start} ≤ t < {stop}")
    a0.set_xlabel("t (steps)")
    a0.set_ylabel("loss L(t)")
    a1.plot(t[:zoom], s[:zoom], "o-", ms=3, lw=0.6)
    a1.set_title(f"zoom: its first {zoom} steps")
    a1.set_xlabel("t (steps)")
    if acf is not None:
        lags = np.arange(acf.size)
        q = _quantiles(result, quantiles)
        what = (f"{q[0]:.0%}–{q[1]:.0%} quantiles" if q is not None and len(q) == 2 else "quantile band")
        a2.fill_between(lags, band[0], band[1], color="0.85",
                        label=f"shuffled series: {what} (no memory)")
        a2.vlines(lags, 0, acf, color="tab:blue")
        a2.plot(lags, acf, "o", ms=3, color="tab:blue", label="ACF of the loss")
        a2.axhline(0, color="0.5", lw=0.6)
        a2.set_xlabel("lag (steps)")
        a2.set_ylabel("autocorrelation")
        a2.set_title("autocorrelation of the loss")
        a2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2, frameon=False)
    fig.suptitle(f"Loss series of initial condition {init}{chosen} at {ETA} = {eta_text(result)}")
    return fig


def kantz_figure(result: xr.Dataset, divergence: ArrayLike | None = None, n_examples: int = 4) -> Figure:
    r"""Histogram of the Kantz exponents of the loss series, one per reference point, by significance.

    For each reference point of the delay-embedded loss series, the finite
    exponent :math:`\Lambda` is the slope of the mean log distance to its
    neighbours against time, :math:`S(\tau) \approx S_0 + \Lambda \tau`;
    the stacked histogram separates the significant slopes (p < 0.05 in the
    slope test on the first 10 points; two-sided by default, the paper's
    test: :math:`H_0` slope 0) from the rest. Only reference points with a
    neighbour have an exponent; the others are not counted.

    With ``divergence`` a second panel shows the example curves
    :math:`\ln d_n(t_0)` against :math:`n` of ``n_examples`` reference points
    with a neighbour (half significant, half not, where there are both; red
    significant, blue not), whose slopes the histogram counts, and their mean
    over every tested reference point, :math:`S(n)` (black).

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an IntermittencyStudy: ``kantz_ref_exponent`` and
        ``kantz_ref_significant`` (``ref``), of the Figs. 10-11 stretch
        (``figure_init``, ``figure_start``, ``figure_stop``), their attribute
        ``alternative`` (the side of the slope test; the paper's is
        two-sided), and ``kantz_ref_tested`` (reference points with a
        neighbour). Without the Kantz variables the axes are empty.
    divergence : array of float, shape (n_ref, n_steps + 1), or None, default None
        :math:`\ln d_n(t_0)` of each reference point, in the order of
        ``kantz_ref_exponent`` (the fitted Kantz's ``divergence_per_ref_``);
        None: no example panel.
    n_examples : int, default 4
        Number of example curves in the second panel.

    Returns
    -------
    matplotlib.figure.Figure
        One panel: the stacked histogram (empty without the Kantz variables);
        the title names the series, the stretch, the test and the fraction of
        significant reference points among the tested ones.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.2, Fig. 11;
    H. Kantz, "A robust method to estimate the maximal Lyapunov exponent of a time
    series", Phys. Lett. A 185, 77 (1994).
    """
    examples = divergence is not None and "kantz_ref_exponent" in result
    fig = figure(figsize=(12.5 if examples else 7, 4.6), layout="constrained")
    ax = fig.add_subplot(1, 2 if examples else 1, 1)
    if examples:
        _kantz_examples(fig.add_subplot(1, 2, 2), result, np.asarray(divergence, dtype=np.float64),
                        int(n_examples))
    which, detail = "", ""
    if "kantz_ref_exponent" in result:
        lam = result["kantz_ref_exponent"].values
        sig = result["kantz_ref_significant"].values.astype(bool)
        ok = np.isfinite(lam)
        bins = np.linspace(np.nanmin(lam[ok]) if ok.any() else -1, np.nanmax(lam[ok]) if ok.any() else 1, 30)
        ax.hist([lam[ok & ~sig], lam[ok & sig]], bins=bins, stacked=True,
                color=["tab:blue", "tab:red"],
                label=[f"not significant (p > 0.05): {int((ok & ~sig).sum())}",
                       f"significant (p < 0.05): {int((ok & sig).sum())}"])
        ax.axvline(0, color="0.4", lw=0.8)
        ax.legend(fontsize=8)
        stretch = _figure_stretch(result)
        if stretch is not None:
            which = f", initial condition {stretch[0]}, steps {stretch[1]}–{stretch[2] - 1}"
        elif "init" in result["kantz_ref_exponent"].attrs:
            which = f", initial condition {int(result['kantz_ref_exponent'].attrs['init'])}"
        side = str(result["kantz_ref_significant"].attrs.get("alternative", ""))
        tested = (result["kantz_ref_tested"].values.astype(bool) if "kantz_ref_tested" in result else ok)
        n_t = int(tested.sum())
        frac = f"{(sig & tested).sum() / n_t:.0%}" if n_t else "n/a"
        detail = (f"\n{side + ' ' if side else ''}slope test on n = 1..10; significant: {frac} "
                  f"of the {n_t} of {lam.size}\nreference points with a neighbour")
    ax.set_xlabel(f"{LAM} (Kantz exponent of one reference point, per step)")
    ax.set_ylabel("number of reference points")
    ax.set_title(f"Kantz exponents of the loss series ({ETA} = {eta_text(result)})\n{which.lstrip(', ')}"
                 f"{detail}",
                 fontsize=10)
    return fig


def _kantz_examples(ax, result, div, n_examples):
    """Example ln d_n(t0) curves (half significant, half not) and the mean S(n) over the tested."""
    sig = result["kantz_ref_significant"].values.astype(bool)
    tested = (result["kantz_ref_tested"].values.astype(bool) if "kantz_ref_tested" in result
              else np.isfinite(result["kantz_ref_exponent"].values))
    tested &= np.isfinite(div).all(axis=1)
    n = np.arange(div.shape[1])
    picks = []
    for pool in (np.flatnonzero(tested & sig), np.flatnonzero(tested & ~sig)):
        want = (n_examples + 1) // 2 if not picks else n_examples - len(picks)
        if pool.size:
            picks += [int(j) for j in pool[np.linspace(0, pool.size - 1, min(want, pool.size)).astype(int)]]
    times = result["kantz_ref_time"].values if "kantz_ref_time" in result else np.arange(div.shape[0])
    for j in picks:
        ax.plot(n, div[j], "o-", ms=2.5, lw=0.9, color="tab:red" if sig[j] else "tab:blue",
                label=f"$t_0$ = {int(times[j])}" + (" (significant)" if sig[j] else ""))
    if tested.any():
        ax.plot(n, div[tested].mean(axis=0), color="k", lw=2.0,
                label=f"S(n): mean over the {int(tested.sum())} tested")
    ax.set_xlabel("n (steps after the reference time)")
    ax.set_ylabel(r"$\ln d_n(t_0)$")
    ax.set_title(r"Example divergence curves $\ln d_n(t_0)$ of single reference points", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, frameon=False)


def weights_figure(result: xr.Dataset, series: int = 0, n_weights: int = 6,
                   names: Sequence[str] | None = None) -> Figure:
    r"""The individual parameters of largest variance over time, one panel each.

    The ``n_weights`` coordinates :math:`w_j` of largest variance
    :math:`\operatorname{Var}_t w_j(t)` of one stored weight trajectory.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an IntermittencyStudy: ``weights`` (``step, series, coord``).
    series : int, default 0
        Position along ``series`` (series k is initial condition k).
    n_weights : int, default 6
        Number of parameters shown.
    names : sequence of str or None, default None
        A name per coordinate (e.g. ``map.coordinate_names()``) for the panel
        labels; None labels them ``w[k]``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per parameter, sharing the time axis.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.2, Fig. 12.
    """
    w = result["weights"].isel(series=series).values
    var = np.nanvar(w, axis=0)
    top = np.argsort(-var)[:n_weights]
    t = result["step"].values
    fig = figure(figsize=(10, 1.6 * len(top) + 0.8), layout="constrained")
    axes = fig.subplots(len(top), 1, squeeze=False, sharex=True)[:, 0]
    for ax, j in zip(axes, top, strict=True):
        label = str(names[j]) if names is not None and j < len(names) else f"w[{j}]"
        ax.plot(t, w[:, j], lw=0.4)
        ax.set_ylabel(label)
    axes[-1].set_xlabel("t (steps)")
    title = (f"The {len(top)} parameters of largest variance over time "
             f"(series {series}: initial condition {series}, {ETA} = {eta_text(result)})")
    if names is not None and any(str(n).startswith("W") and "[" in str(n) for n in names):
        title += "\nWl[i,j]: weight from neuron i of layer l−1 to neuron j of layer l; bl[j]: bias"
    fig.suptitle(title)
    return fig


def compare_eta_figure(result: xr.Dataset, init: int = 0) -> Figure:
    r"""Loss trajectories of the same initial network at the comparison learning rates.

    One panel per learning rate η of the ``compare_eta`` coordinate: the loss
    :math:`L(t)` (log scale) of gradient descent
    :math:`W(t+1) = W(t) - \eta \nabla L(W(t))` from the same :math:`W(0)`.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an IntermittencyStudy: ``compare_loss`` (``step, init, compare_eta``).
    init : int, default 0
        Position of the initial condition along ``init``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per comparison learning rate.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.2.
    """
    etas = result["compare_eta"].values
    fig = figure(figsize=(3.6 * len(etas), 3.6), layout="constrained")
    axes = fig.subplots(1, len(etas), squeeze=False)[0]
    t = result["step"].values
    for k, ax in enumerate(axes):
        ax.plot(t, result["compare_loss"].isel(compare_eta=k, init=init).values, lw=0.4)
        ax.set_yscale("log")
        ax.set_title(f"{ETA} = {etas[k]:g}")
        ax.set_xlabel("t (steps)")
    axes[0].set_ylabel("loss L(t)")
    fig.suptitle(f"The same initial network (initial condition {init}) trained at several {ETA}")
    return fig
