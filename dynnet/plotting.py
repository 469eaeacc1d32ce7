"""Figures. Every function returns a matplotlib Figure and never calls show().

Notation in every title and label: η the learning rate, ε the perturbation
size, d(t) the distance between a perturbed copy and its reference orbit,
Λ the finite exponent of one initial condition, λ_nMLE the mean of the kept
Λ (the network maximal Lyapunov exponent).
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_distances"]

_GREY = "0.7"
_LOSS = "tab:red"


def _figure(**kw):
    import matplotlib

    matplotlib.use(matplotlib.get_backend() if matplotlib.get_backend() else "Agg")
    from matplotlib.figure import Figure

    return Figure(**kw)


def _line(**kw):
    """A legend handle that is not drawn on any axes."""
    from matplotlib.lines import Line2D

    return Line2D([], [], **kw)


def _patch(**kw):
    from matplotlib.patches import Patch

    return Patch(**kw)


def _sci(x) -> str:
    """1e-08 -> '1e-8', 2.5e-3 -> '2.5e-3', 0.3 -> '0.3'."""
    x = float(x)
    if not np.isfinite(x) or x == 0:
        return f"{x:g}"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:g}"
    m, e = f"{x:.1e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def _eta(result) -> str:
    """The map's learning rate from the result's attributes, as text ('?' if unknown)."""
    v = result.attrs.get("param.map__eta", None)
    if v is None:
        return "?"
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def _distance_handles(mean_label="mean over the copies", loss=False):
    h = [_line(color=_GREY, lw=1.0, label="d(t) of each perturbed copy"),
         _line(color="k", lw=1.5, label=mean_label)]
    if loss:
        h.append(_line(color=_LOSS, lw=1.0, label="loss (right axis)"))
    return h


def plot_distances(result, init=0, ax=None, legend=True):
    """d(t) of each perturbed copy of one initial condition (grey), their mean
    (black), and the loss on a right axis (red) if the result has one.

    ``legend=False`` leaves the legend out (for callers that draw one per figure).
    """
    fig = _figure(figsize=(6, 4), layout="constrained") if ax is None else ax.figure
    ax = fig.add_subplot(1, 1, 1) if ax is None else ax
    d = result["distance"].isel(init=init).values
    t = result["step"].values
    ax.semilogy(t, d, color=_GREY, lw=0.6)
    ax.semilogy(t, np.nanmean(d, axis=1), color="k", lw=1.5)
    ax.set_xlabel("t (steps)")
    ax.set_ylabel("d(t)")
    has_loss = "loss" in result
    if has_loss:
        ax2 = ax.twinx()
        ax2.plot(t, result["loss"].isel(init=init).values, color=_LOSS, lw=1.0)
        ax2.set_ylabel("loss", color=_LOSS)
        ax2.tick_params(axis="y", colors=_LOSS)
    title = f"initial condition {init}"
    if "eps" in result.coords and result["eps"].ndim == 0:
        title += f", ε = {_sci(result['eps'].item())}"
    ax.set_title(title)
    if legend:
        ax.legend(handles=_distance_handles(loss=has_loss), fontsize=8, loc="best")
    return fig


def _pick_eps(result, target=1e-8):
    eps = result["eps"].values
    return int(np.argmin(np.abs(np.log10(eps) - np.log10(target))))


def _window_fit_line(t, mean, window, lam):
    """The least-squares line of ln(mean d) over the window ``[w0, w1)`` with
    slope ``lam``: it passes through the window's mean point,
    ``ln d_hat(t) = mean(ln m_w) + lam (t - mean(t_w))``. Returns ``(t_w, d_hat)``
    or None when there is nothing to draw."""
    w0, w1 = window
    if not (np.isfinite(w0) and np.isfinite(w1) and np.isfinite(lam)):
        return None
    sel = (t >= w0) & (t < w1)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(mean[sel])
    tw = t[sel].astype(np.float64)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return None
    y_bar = float(y[ok].mean())
    t_bar = float(tw[ok].mean())
    return tw, np.exp(y_bar + lam * (tw - t_bar))


def edge_figure(result, inits=(0, 1, 2, 3), eps=1e-8, late=50):
    """Paper Fig. 7: rows are initial conditions; columns are d(t), the early
    exponential phase (semi-log, with the least-squares line of ln(mean d) over
    the fitted window, slope Λ), the last ``late`` steps, and the loss."""
    k = _pick_eps(result, eps)
    r = result.isel(eps=k)
    inits = [i for i in inits if i < r.sizes["init"]]
    fig = _figure(figsize=(13, 2.6 * len(inits) + 0.9), layout="constrained")
    axes = fig.subplots(len(inits), 4, squeeze=False)
    t = r["step"].values
    fitted = False
    for row, i in enumerate(inits):
        d = r["distance"].isel(init=i).values
        mean = np.nanmean(d, axis=1)
        a0, a1, a2, a3 = axes[row]
        a0.plot(t, d, color=_GREY, lw=0.5)
        a0.plot(t, mean, color="k", lw=1.2)
        a0.set_ylabel(f"init {i}\nd(t)")
        a1.semilogy(t, d, color=_GREY, lw=0.5)
        a1.semilogy(t, mean, color="k", lw=1.2)
        a1.set_ylabel("d(t)")
        if "window" in r:
            lam = float(r["exponent"].isel(init=i))
            line = _window_fit_line(t, mean, r["window"].isel(init=i).values.astype(float), lam)
            if line is not None:
                kept = bool(r["kept"].isel(init=i)) if "kept" in r else True
                a1.semilogy(line[0], line[1], "r--", lw=1.4, label=f"Λ = {lam:.2f}"
                            + ("" if kept else " (not kept)"))
                a1.legend(loc="lower right", fontsize=8)
                fitted = True
        a1.set_xlim(t[0], min(t[-1], t[0] + 120))
        a2.plot(t[-late:], d[-late:], color=_GREY, lw=0.5)
        a2.plot(t[-late:], mean[-late:], color="k", lw=1.2)
        a2.set_ylabel("d(t)")
        if "loss" in r:
            a3.plot(t, r["loss"].isel(init=i).values, color=_LOSS, lw=1.0)
        a3.set_ylabel("loss")
    for a, title in zip(axes[0], ["d(t)", "early phase (semi-log) and fit",
                                  f"last {late} steps", "loss"]):
        a.set_title(title)
    for a in axes[-1]:
        a.set_xlabel("t (steps)")
    handles = _distance_handles()
    if fitted:
        handles.append(_line(color="r", ls="--", lw=1.4,
                             label="least-squares fit of ln(mean d) over the best window, slope Λ"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9)
    fig.suptitle(f"Perturbation growth at η = {_eta(result)}, ε = {_sci(r['eps'].item())}")
    return fig


def lyapunov_eps_figure(result, eps=1e-8):
    """Paper Fig. 8: P(Λ) of the kept fits at ``eps`` (left) and λ_nMLE(ε), the
    mean ± standard deviation of the kept Λ (right)."""
    k = _pick_eps(result, eps)
    fig = _figure(figsize=(11, 4), layout="constrained")
    a0, a1 = fig.subplots(1, 2)
    lam = result["exponent"].values[k]
    kept = result["kept"].values[k].astype(bool)
    e_k = result["eps"].values[k]
    mean = float(np.mean(lam[kept])) if kept.any() else np.nan
    if kept.any():
        a0.hist(lam[kept], bins=min(30, max(5, int(kept.sum()) // 2)), density=True,
                color="tab:blue", alpha=0.8, label=f"kept Λ ({kept.sum()} of {kept.size})")
        a0.axvline(mean, color="k", ls="--", lw=1.2, label=f"mean = {mean:.3f}")
        a0.legend(fontsize=8)
    else:
        a0.text(0.5, 0.5, "no fit kept at this ε", transform=a0.transAxes, ha="center")
    a0.set_xlabel("Λ (finite exponent of one initial condition, per step)")
    a0.set_ylabel("P(Λ)")
    a0.set_title(f"P(Λ) at ε = {_sci(e_k)}: {kept.mean():.0%} of fits kept, mean Λ = {mean:.3f}")
    e = result["eps"].values
    a1.errorbar(e, result["mle"].values, yerr=result["mle_std"].values, fmt="o-", capsize=3,
                label="λ_nMLE: mean ± std of the kept Λ")
    if "pooled_mle" in result:
        a1.plot(e, result["pooled_mle"].values, "s--",
                label="pooled fit (mean ln d over all initial conditions)")
    a1.set_xscale("log")
    a1.set_xlabel("ε (perturbation size)")
    a1.set_ylabel("λ_nMLE (per step)")
    a1.set_title("λ_nMLE(ε)")
    eta = _eta(result)
    if eta in ("1", "?"):
        a1.axhline(0.33, color="0.5", ls=":", label="paper (η = 1): ≈ 0.33")
    a1.legend(fontsize=8)
    fig.suptitle(f"Finite Lyapunov exponents at η = {eta}")
    return fig


def orbital_figure(result, inits=(0, 1, 2, 3), eps=1e-8):
    """Paper Fig. 3: d(t) of each perturbed copy (grey), their mean (black),
    loss (red, right axis), one panel per initial condition."""
    k = _pick_eps(result, eps)
    r = result.isel(eps=k)
    inits = [i for i in inits if i < r.sizes["init"]]
    fig = _figure(figsize=(4 * len(inits), 3.8), layout="constrained")
    axes = fig.subplots(1, len(inits), squeeze=False)[0]
    for ax, i in zip(axes, inits):
        plot_distances(r, init=i, ax=ax, legend=False)
        ax.set_yscale("linear")
        ax.set_title(f"initial condition {i}")
    fig.legend(handles=_distance_handles(loss="loss" in r), loc="outside lower center",
               ncols=3, fontsize=9)
    fig.suptitle(f"Distance between perturbed and reference orbits, η = {_eta(result)}, "
                 f"ε = {_sci(r['eps'].item())}")
    return fig


def eps_panels_figure(result, init=0, n_perturbed=70):
    """Paper Fig. 4: d(t) for each ε (top) and the mean normalised by its
    initial size, d(t) / (ε N) with N perturbed weights (bottom)."""
    eps = result["eps"].values
    fig = _figure(figsize=(3.4 * len(eps) + 0.6, 6), layout="constrained")
    axes = fig.subplots(2, len(eps), squeeze=False)
    t = result["step"].values
    for k, e in enumerate(eps):
        d = result["distance"].isel(eps=k, init=init).values
        axes[0, k].plot(t, d, color=_GREY, lw=0.5)
        axes[0, k].plot(t, d.mean(axis=1), color="k", lw=1.2)
        axes[0, k].set_title(f"ε = {_sci(e)}")
        axes[1, k].plot(t, d.mean(axis=1) / (e * n_perturbed), color="k", lw=1.2)
        axes[1, k].set_xlabel("t (steps)")
    axes[0, 0].set_ylabel("d(t)")
    axes[1, 0].set_ylabel(f"mean d(t) / (ε N)\nN = {n_perturbed} perturbed weights")
    fig.legend(handles=_distance_handles(), loc="outside lower center", ncols=2, fontsize=9)
    fig.suptitle(f"Initial condition {init} at η = {_eta(result)}: raw (top) and normalised "
                 "(bottom) distance")
    return fig


def _neuron_ticks(ax, n, axis):
    step = max(1, int(np.ceil(n / 10)))
    ticks = np.arange(0, n, step)
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks)


def drift_figure(result, map, init=0):
    """Paper Fig. 5: weight importance L_w/L per weight matrix (heatmaps, rows
    the neurons of layer l-1, columns those of layer l), and the displacement
    Δ_w against the distance travelled D_w (log-log) with the least-squares
    line log10 Δ_w = a + b log10 D_w."""
    groups = map.coordinate_groups()
    names = sorted((k for k in groups if k.startswith("W") and k[1:].isdigit()), key=lambda k: int(k[1:]))
    fig = _figure(figsize=(4.2 * len(names) + 4.5, 4), layout="constrained")
    axes = fig.subplots(1, len(names) + 1)
    imp = result["importance"].isel(init=init).values
    sizes = getattr(map, "sizes", None)
    for ax, name in zip(axes, names):
        vals = imp[groups[name]]
        l = int(name[1:])
        shape = (sizes[l - 1], sizes[l]) if sizes else (vals.size, 1)
        im = ax.imshow(vals.reshape(shape), aspect="auto", cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, label="L_w / L")
        ax.set_title(f"{name}: L_w / L (L_w: loss with w set to 0)", fontsize=10)
        ax.set_xlabel(f"to neuron (layer {l})")
        ax.set_ylabel(f"from neuron (layer {l - 1})")
        _neuron_ticks(ax, shape[1], "x")
        _neuron_ticks(ax, shape[0], "y")
    ax = axes[-1]
    D = result["travelled"].isel(init=init).values
    dl = result["displacement"].isel(init=init).values
    ok = np.isfinite(D) & np.isfinite(dl) & (D > 0) & (dl > 0)
    ax.loglog(D[ok], dl[ok], "o", ms=3, label="one weight")
    b = float(result["drift_slope"].isel(init=init)) if "drift_slope" in result else np.nan
    if ok.sum() >= 2:
        lx, ly = np.log10(D[ok]), np.log10(dl[ok])
        if not np.isfinite(b) and np.ptp(lx) > 0:
            b = float(np.polyfit(lx, ly, 1)[0])
        if np.isfinite(b):
            a = float(ly.mean() - b * lx.mean())
            xs = np.array([lx.min(), lx.max()])
            ax.loglog(10 ** xs, 10 ** (a + b * xs), "r-", lw=1.2, label="least-squares line")
            ax.set_title(f"log10 Δ_w = a + b log10 D_w\na = {a:.2f}, b = {b:.2f}")
            ax.legend(fontsize=8)
    if not ax.get_title():
        ax.set_title(f"log10 Δ_w = a + b log10 D_w, b = {b:.2f}")
    ax.set_xlabel("distance travelled D_w = Σ_t |w(t) − w(t−1)|")
    ax.set_ylabel("displacement Δ_w = |w(T) − w(0)| / |w(0)|")
    fig.suptitle(f"Weights after training (initial condition {init}, η = {_eta(result)})")
    return fig


def post_learning_figure(result, inits=(0, 1, 2, 3)):
    """Paper Fig. 6: d(t) after perturbing a trained network (semi-log), per ε,
    and the spectrum of the GD Jacobian I − ηH at the perturbation point.
    Returns a list of Figures."""
    eps = result["eps"].values
    eta = _eta(result)
    inits = [i for i in inits if i < result.sizes["init"]]
    fig = _figure(figsize=(3.4 * len(eps) + 0.6, 3.0 * len(inits) + 1.0), layout="constrained")
    axes = fig.subplots(len(inits), len(eps), squeeze=False)
    t = result["step"].values
    for row, i in enumerate(inits):
        for k, e in enumerate(eps):
            d = result["distance"].isel(eps=k, init=i).values
            ax = axes[row, k]
            ax.semilogy(t, d, color=_GREY, lw=0.5)
            ax.semilogy(t, d.mean(axis=1), color="k", lw=1.2)
            if row == 0:
                ax.set_title(f"ε = {_sci(e)}")
            if k == 0:
                ax.set_ylabel(f"init {i}\nd(t)")
    for ax in axes[-1]:
        ax.set_xlabel("t after the perturbation (steps)")
    fig.legend(handles=_distance_handles(), loc="outside lower center", ncols=2, fontsize=9)
    n_before = result.attrs.get("n_before", result.attrs.get("param.n_before", None))
    when = f" after {n_before} training steps" if n_before is not None else ""
    fig.suptitle(f"Perturbing the trained network{when} (η = {eta})")
    figs = [fig]
    if "jacobian_eigenvalues" in result:
        f2 = _figure(figsize=(7, 4.2), layout="constrained")
        ax = f2.add_subplot(1, 1, 1)
        n_init = result.sizes["init"]
        for i in range(n_init):
            mu = np.sort(result["jacobian_eigenvalues"].isel(init=i).values)
            ax.plot(np.abs(mu - 1.0) + 1e-18, "o-", ms=2, lw=0.5,
                    label=f"init {i}" if n_init <= 10 else None)
        ax.axhline(2.0, color="0.4", ls=":", lw=1.0, label="|μ − 1| = 2 (μ = −1: stability limit)")
        ax.set_yscale("log")
        ax.set_xlabel("mode (eigenvalues sorted by μ)")
        ax.set_ylabel("|μ − 1| = η |h|\n(μ: eigenvalue of I − ηH, h: of H)")
        ax.set_title(f"Spectrum of the GD Jacobian I − ηH at the perturbation point (η = {eta})\n"
                     "|μ − 1| ≈ 0: flat directions, where a perturbation neither grows nor "
                     "shrinks", fontsize=10)
        ax.legend(fontsize=8, title=None if n_init <= 10 else f"{n_init} initial conditions")
        figs.append(f2)
    return figs


def loss_norm_figure(result, inits=(0, 1, 2, 3)):
    """Paper Fig. 9: loss (top) and weight norm (bottom) for several initial conditions."""
    inits = [i for i in inits if i < result.sizes["init"]]
    fig = _figure(figsize=(3.6 * len(inits), 5.4), layout="constrained")
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
    axes[1, 0].set_ylabel("‖w‖₁ = Σ |w| (all parameters)")
    fig.suptitle(f"Loss and weight norm during training at η = {_eta(result)}")
    return fig


def _burstiest(result):
    if "laminar_fraction" in result:
        lf = np.nan_to_num(result["laminar_fraction"].values, nan=2.0)
        return int(np.argmin(lf))
    return 0


def _quantiles(result, quantiles):
    if quantiles is not None:
        return tuple(float(q) for q in quantiles)
    text = result.attrs.get("param.acf__quantiles", None)
    if text is not None:
        try:
            return tuple(float(v) for v in str(text).strip("()[] ").split(",") if v.strip())
        except ValueError:
            pass
    return None


def acf_figure(result, init=None, zoom=50, quantiles=None):
    """Paper Fig. 10: the loss after the transient, a zoom of ``zoom`` steps,
    and its autocorrelation function with the shuffled null band.

    ``quantiles``: the band's quantiles, for the legend (default: read from the
    result's attributes, else not stated).
    """
    chosen = ""
    if init is None:
        init = _burstiest(result)
        if "laminar_fraction" in result:
            chosen = " (the one with the smallest laminar fraction)"
    tr = int(result.attrs.get("transient", 0))
    s = result["loss"].isel(init=init).values[tr:]
    t = result["step"].values[tr:]
    fig = _figure(figsize=(13, 3.8), layout="constrained")
    a0, a1, a2 = fig.subplots(1, 3)
    a0.plot(t, s, lw=0.4)
    a0.set_title(f"loss L(t) after the transient (t ≥ {tr})")
    a0.set_xlabel("t (steps)")
    a0.set_ylabel("loss L(t)")
    a1.plot(t[:zoom], s[:zoom], "o-", ms=3, lw=0.6)
    a1.set_title(f"zoom: its first {zoom} steps")
    a1.set_xlabel("t (steps)")
    if "acf" in result:
        acf = result["acf"].isel(init=init).values
        band = result["acf_band"].isel(init=init).values
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
        a2.legend(fontsize=8)
    fig.suptitle(f"Loss series of initial condition {init}{chosen} at η = {_eta(result)}")
    return fig


def kantz_figure(result):
    """Paper Fig. 11: finite exponents of the loss series per reference point
    (Kantz's method), stacked by significance."""
    fig = _figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    which = ""
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
        if "loss" in result:
            tr = int(result.attrs.get("transient", 0))
            finite = np.all(np.isfinite(result["loss"].values[tr:]), axis=0)
            if finite.any():
                which = f", initial condition {int(np.argmax(finite))}"
    ax.set_xlabel("Λ (Kantz exponent of one reference point, per step)")
    ax.set_ylabel("number of reference points")
    ax.set_title(f"Kantz exponents of the loss series{which} (η = {_eta(result)})")
    return fig


def weights_figure(result, series=0, n_weights=6, names=None):
    """Paper Fig. 12: the most variable individual weights over time.

    ``names``: a name per coordinate (e.g. ``map.coordinate_names()``) for the
    panel labels; default ``w[k]``.
    """
    w = result["weights"].isel(series=series).values
    var = np.nanvar(w, axis=0)
    top = np.argsort(-var)[:n_weights]
    t = result["step"].values
    fig = _figure(figsize=(10, 1.6 * len(top) + 0.8), layout="constrained")
    axes = fig.subplots(len(top), 1, squeeze=False, sharex=True)[:, 0]
    for ax, j in zip(axes, top):
        label = str(names[j]) if names is not None and j < len(names) else f"w[{j}]"
        ax.plot(t, w[:, j], lw=0.4)
        ax.set_ylabel(label)
    axes[-1].set_xlabel("t (steps)")
    title = (f"The {len(top)} parameters of largest variance over time "
             f"(series {series}: initial condition {series}, η = {_eta(result)})")
    if names is not None and any(str(n).startswith("W") and "[" in str(n) for n in names):
        title += "\nWl[i,j]: weight from neuron i of layer l−1 to neuron j of layer l; bl[j]: bias"
    fig.suptitle(title)
    return fig


def compare_eta_figure(result, init=0):
    """Loss trajectories of the same initial network at the comparison learning rates."""
    etas = result["compare_eta"].values
    fig = _figure(figsize=(3.6 * len(etas), 3.6), layout="constrained")
    axes = fig.subplots(1, len(etas), squeeze=False)[0]
    t = result["step"].values
    for ax, k in zip(axes, range(len(etas))):
        ax.plot(t, result["compare_loss"].isel(compare_eta=k, init=init).values, lw=0.4)
        ax.set_yscale("log")
        ax.set_title(f"η = {etas[k]:g}")
        ax.set_xlabel("t (steps)")
    axes[0].set_ylabel("loss L(t)")
    fig.suptitle(f"The same initial network (initial condition {init}) trained at several η")
    return fig


_REGIME_COLORS = {"convergent": "tab:green", "sharpness at 2/eta": "tab:orange",
                  "chaotic": "tab:red", "intermittent": "tab:purple", "divergent": "k"}


def phase_diagram_figure(result):
    """The η scan: loss and accuracy, exponents, sharpness × η / 2, laminar
    fraction against η, with the regimes shaded."""
    eta = result["eta"].values
    fig = _figure(figsize=(7.5, 10), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True)
    c_loss, c_acc = "tab:blue", "tab:green"
    axes[0].plot(eta, result["final_loss"].values, "o-", color=c_loss)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("final loss", color=c_loss)
    axes[0].tick_params(axis="y", which="both", colors=c_loss)
    ax2 = axes[0].twinx()
    ax2.plot(eta, result["test_accuracy"].values, "s--", color=c_acc)
    ax2.set_ylabel("test accuracy", color=c_acc)
    ax2.tick_params(axis="y", colors=c_acc)
    axes[0].legend(handles=[_line(color=c_loss, marker="o", label="final loss (left)"),
                            _line(color=c_acc, marker="s", ls="--", label="test accuracy (right)")],
                   fontsize=8, loc="best")
    axes[0].set_title("Training outcome")
    mle = result["mle"].values
    axes[1].errorbar(eta, mle, yerr=result["mle_std"].values, fmt="o-", capsize=3,
                     label="λ_nMLE: mean ± std of the kept finite Λ")
    axes[1].plot(eta, result["top_exponent"].values, "s--",
                 label="top Lyapunov exponent of the GD map (QR)")
    missing = ~np.isfinite(mle)
    if missing.any():
        # a note (text, not a point: there is no value) at each η without λ_nMLE
        for x in eta[missing]:
            axes[1].text(x, 0.12, "no λ_nMLE\n(no fit kept)", transform=axes[1].get_xaxis_transform(),
                         ha="center", va="bottom", fontsize=7, color="tab:blue", gid="no-mle-note")
    axes[1].axhline(0, color="0.5", lw=0.8)
    axes[1].set_ylabel("exponent (per step)")
    axes[1].set_title("Lyapunov exponents")
    axes[1].legend(fontsize=8)
    axes[2].plot(eta, result["sharpness_ratio"].values, "o-")
    axes[2].axhline(1, color="tab:red", ls=":", label="S = 2/η (GD stability limit)")
    axes[2].set_ylabel("S η / 2\n(S: max Hessian eigenvalue,\nmax over the run)")
    axes[2].set_yscale("log")
    axes[2].set_title("Sharpness")
    axes[2].legend(fontsize=8)
    axes[3].plot(eta, result["laminar_fraction"].values, "o-")
    axes[3].set_ylabel("laminar fraction\nof the loss series")
    axes[3].set_xlabel("η (learning rate)")
    axes[3].set_xscale("log")
    axes[3].set_title("Intermittency")
    regime = result["regime"].values
    edges = np.sqrt(eta[1:] * eta[:-1]) if eta.size > 1 else np.array([])
    lo = np.concatenate([[eta[0] / 1.3], edges])
    hi = np.concatenate([edges, [eta[-1] * 1.3]])
    for ax in axes:
        for a, b, r in zip(lo, hi, regime):
            ax.axvspan(a, b, color=_REGIME_COLORS.get(str(r), "0.8"), alpha=0.12, lw=0)
    present = [str(r) for r in regime]
    handles = [_patch(color=c, alpha=0.35, label=name.replace("eta", "η"))
               for name, c in _REGIME_COLORS.items() if name in present]
    handles += [_patch(color="0.8", alpha=0.35, label=name) for name in dict.fromkeys(present)
                if name not in _REGIME_COLORS]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5),
               fontsize=9, title="regime (shaded)")
    fig.suptitle("Phase diagram of the learning rate η")
    return fig
