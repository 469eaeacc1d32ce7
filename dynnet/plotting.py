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


def _pick_eps(result, target=1e-8):
    eps = result["eps"].values
    return int(np.argmin(np.abs(np.log10(eps) - np.log10(target))))


def edge_figure(result, inits=(0, 1, 2, 3), eps=1e-8, late=50):
    """Paper Fig. 7: rows are initial conditions; columns are d(t), the early
    exponential phase (semi-log, with the fitted window), the last ``late``
    steps, and the loss."""
    k = _pick_eps(result, eps)
    r = result.isel(eps=k)
    inits = [i for i in inits if i < r.sizes["init"]]
    fig = _figure(figsize=(13, 2.6 * len(inits)), layout="constrained")
    axes = fig.subplots(len(inits), 4, squeeze=False)
    t = r["step"].values
    for row, i in enumerate(inits):
        d = r["distance"].isel(init=i).values
        mean = np.nanmean(d, axis=1)
        a0, a1, a2, a3 = axes[row]
        a0.plot(t, d, color="0.7", lw=0.5)
        a0.plot(t, mean, color="k", lw=1.2)
        a0.set_ylabel(f"init {i}\nd(t)")
        a1.semilogy(t, d, color="0.7", lw=0.5)
        a1.semilogy(t, mean, color="k", lw=1.2)
        if "window" in r:
            w0, w1 = (int(v) for v in r["window"].isel(init=i).values)
            lam = float(r["exponent"].isel(init=i))
            sel = (t >= w0) & (t < w1)
            if sel.any() and np.isfinite(lam):
                t0 = t[sel][0]
                a1.semilogy(t[sel], mean[sel][0] * np.exp(lam * (t[sel] - t0)), "r--", lw=1.2,
                            label=f"Λ = {lam:.2f}")
                a1.legend(loc="lower right", fontsize=8)
        a1.set_xlim(0, min(t[-1], 120))
        a2.plot(t[-late:], d[-late:], color="0.7", lw=0.5)
        a2.plot(t[-late:], mean[-late:], color="k", lw=1.2)
        if "loss" in r:
            a3.plot(t, r["loss"].isel(init=i).values, color="tab:red", lw=1.0)
        a3.set_ylabel("loss")
    for a, title in zip(axes[0], ["d(t)", "early phase (semi-log)", f"last {late} steps", "loss"]):
        a.set_title(title)
    for a in axes[-1]:
        a.set_xlabel("t")
    fig.suptitle(f"eta = {result.attrs.get('param.map__eta', '?')}, eps = {r['eps'].item():.0e}")
    return fig


def lyapunov_eps_figure(result, eps=1e-8):
    """Paper Fig. 8: P(Lambda) of the kept fits at ``eps`` and lambda_nMLE(eps) with std."""
    k = _pick_eps(result, eps)
    fig = _figure(figsize=(10, 3.8), layout="constrained")
    a0, a1 = fig.subplots(1, 2)
    lam = result["exponent"].values[k]
    kept = result["kept"].values[k].astype(bool)
    a0.hist(lam[kept], bins=30, density=True, color="tab:blue", alpha=0.8)
    a0.set_xlabel("Λ")
    a0.set_ylabel("P(Λ)")
    a0.set_title(f"eps = {result['eps'].values[k]:.0e}: {kept.mean():.0%} kept, "
                 f"mean {np.mean(lam[kept]) if kept.any() else np.nan:.3f}")
    e = result["eps"].values
    a1.errorbar(e, result["mle"].values, yerr=result["mle_std"].values, fmt="o-", capsize=3,
                label="λ_nMLE (mean of kept)")
    if "pooled_mle" in result:
        a1.plot(e, result["pooled_mle"].values, "s--", label="pooled")
    a1.set_xscale("log")
    a1.set_xlabel("eps")
    a1.set_ylabel("λ")
    a1.axhline(0.33, color="0.5", ls=":", label="paper ≈ 0.33")
    a1.legend(fontsize=8)
    return fig


def orbital_figure(result, inits=(0, 1, 2, 3), eps=1e-8):
    """Paper Fig. 3: d(t) of each perturbation (grey), their mean (black), loss (red, right axis)."""
    k = _pick_eps(result, eps)
    r = result.isel(eps=k)
    inits = [i for i in inits if i < r.sizes["init"]]
    fig = _figure(figsize=(4 * len(inits), 3.4), layout="constrained")
    axes = fig.subplots(1, len(inits), squeeze=False)[0]
    for ax, i in zip(axes, inits):
        plot_distances(r, init=i, ax=ax)
        ax.set_yscale("linear")
    fig.suptitle(f"eps = {r['eps'].item():.0e}")
    return fig


def eps_panels_figure(result, init=0, n_perturbed=70):
    """Paper Fig. 4: d(t) for each eps (top) and normalised d / (eps N) (bottom)."""
    eps = result["eps"].values
    fig = _figure(figsize=(3.2 * len(eps), 5.5), layout="constrained")
    axes = fig.subplots(2, len(eps), squeeze=False)
    t = result["step"].values
    for k, e in enumerate(eps):
        d = result["distance"].isel(eps=k, init=init).values
        axes[0, k].plot(t, d, color="0.7", lw=0.5)
        axes[0, k].plot(t, d.mean(axis=1), color="k", lw=1.2)
        axes[0, k].set_title(f"eps = {e:.0e}")
        axes[1, k].plot(t, d.mean(axis=1) / (e * n_perturbed), color="k", lw=1.2)
        axes[1, k].set_xlabel("t")
    axes[0, 0].set_ylabel("d(t)")
    axes[1, 0].set_ylabel("d(t) / (eps N)")
    return fig


def drift_figure(result, map, init=0):
    """Paper Fig. 5: weight importance L_w/L per weight matrix (left), and the
    displacement Delta_w against the distance travelled D_w (right, log-log)."""
    groups = map.coordinate_groups()
    names = sorted(k for k in groups if k.startswith("W"))
    fig = _figure(figsize=(4 * len(names) + 4, 3.6), layout="constrained")
    axes = fig.subplots(1, len(names) + 1)
    imp = result["importance"].isel(init=init).values
    sizes = getattr(map, "sizes", None)
    for ax, name in zip(axes, names):
        vals = imp[groups[name]]
        l = int(name[1:])
        shape = (sizes[l - 1], sizes[l]) if sizes else (vals.size, 1)
        im = ax.imshow(vals.reshape(shape), aspect="auto", cmap="viridis")
        fig.colorbar(im, ax=ax, label="L_w / L")
        ax.set_title(f"{name}: loss with weight zeroed")
        ax.set_xlabel("to neuron")
        ax.set_ylabel("from neuron")
    ax = axes[-1]
    D = result["travelled"].isel(init=init).values
    dl = result["displacement"].isel(init=init).values
    ok = np.isfinite(D) & np.isfinite(dl) & (D > 0) & (dl > 0)
    ax.loglog(D[ok], dl[ok], "o", ms=3)
    ax.set_xlabel("distance travelled D_w")
    ax.set_ylabel("displacement Δ_w")
    ax.set_title(f"slope {float(result['drift_slope'].isel(init=init)):.2f}")
    return fig


def post_learning_figure(result, inits=(0, 1, 2, 3)):
    """Paper Fig. 6: d(t) after perturbing a trained network (semi-log), per eps,
    and the spectrum of the GD Jacobian at the perturbation point."""
    eps = result["eps"].values
    inits = [i for i in inits if i < result.sizes["init"]]
    fig = _figure(figsize=(3.4 * len(eps), 3.2 * len(inits)), layout="constrained")
    axes = fig.subplots(len(inits), len(eps), squeeze=False)
    t = result["step"].values
    for row, i in enumerate(inits):
        for k, e in enumerate(eps):
            d = result["distance"].isel(eps=k, init=i).values
            ax = axes[row, k]
            ax.semilogy(t, d, color="0.7", lw=0.5)
            ax.semilogy(t, d.mean(axis=1), color="k", lw=1.2)
            if row == 0:
                ax.set_title(f"eps = {e:.0e}")
            if k == 0:
                ax.set_ylabel(f"init {i}\nd(t)")
    figs = [fig]
    if "jacobian_eigenvalues" in result:
        f2 = _figure(figsize=(6, 3.6), layout="constrained")
        ax = f2.add_subplot(1, 1, 1)
        for i in range(result.sizes["init"]):
            mu = np.sort(result["jacobian_eigenvalues"].isel(init=i).values)
            ax.plot(np.abs(mu - 1.0) + 1e-18, "o-", ms=2, lw=0.5)
        ax.set_yscale("log")
        ax.set_xlabel("mode (sorted)")
        ax.set_ylabel("|μ − 1|")
        ax.set_title("Jacobian I − ηH at the perturbation point")
        figs.append(f2)
    return figs


def loss_norm_figure(result, inits=(0, 1, 2, 3)):
    """Paper Fig. 9: loss (top) and weight norm (bottom) for several initial conditions."""
    inits = [i for i in inits if i < result.sizes["init"]]
    fig = _figure(figsize=(3.6 * len(inits), 5), layout="constrained")
    axes = fig.subplots(2, len(inits), squeeze=False)
    t = result["step"].values
    for k, i in enumerate(inits):
        axes[0, k].plot(t, result["loss"].isel(init=i).values, lw=0.4)
        axes[0, k].set_yscale("log")
        axes[0, k].set_title(f"init {i}")
        axes[1, k].plot(t, result["weight_norm"].isel(init=i).values, lw=0.6, color="tab:green")
        axes[1, k].set_xlabel("t")
    axes[0, 0].set_ylabel("loss")
    axes[1, 0].set_ylabel("||W||_1")
    return fig


def _burstiest(result):
    if "laminar_fraction" in result:
        lf = np.nan_to_num(result["laminar_fraction"].values, nan=2.0)
        return int(np.argmin(lf))
    return 0


def acf_figure(result, init=None, zoom=50):
    """Paper Fig. 10: a loss stretch, a zoom of ``zoom`` steps, and its ACF with the
    shuffled null band."""
    init = _burstiest(result) if init is None else init
    tr = int(result.attrs.get("transient", 0))
    s = result["loss"].isel(init=init).values[tr:]
    t = result["step"].values[tr:]
    fig = _figure(figsize=(13, 3.4), layout="constrained")
    a0, a1, a2 = fig.subplots(1, 3)
    a0.plot(t, s, lw=0.4)
    a0.set_title(f"loss, init {init}, after step {tr}")
    a1.plot(t[:zoom], s[:zoom], "o-", ms=3, lw=0.6)
    a1.set_title(f"zoom: {zoom} steps")
    if "acf" in result:
        acf = result["acf"].isel(init=init).values
        band = result["acf_band"].isel(init=init).values
        lags = np.arange(acf.size)
        a2.fill_between(lags, band[0], band[1], color="0.85", label="shuffled null (3-97%)")
        a2.vlines(lags, 0, acf, color="tab:blue")
        a2.plot(lags, acf, "o", ms=3, color="tab:blue")
        a2.set_xlabel("lag")
        a2.set_title("ACF")
        a2.legend(fontsize=8)
    return fig


def kantz_figure(result):
    """Paper Fig. 11: finite exponents from the loss series, stacked by significance."""
    fig = _figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    if "kantz_ref_exponent" in result:
        lam = result["kantz_ref_exponent"].values
        sig = result["kantz_ref_significant"].values.astype(bool)
        ok = np.isfinite(lam)
        bins = np.linspace(np.nanmin(lam[ok]) if ok.any() else -1, np.nanmax(lam[ok]) if ok.any() else 1, 30)
        ax.hist([lam[ok & ~sig], lam[ok & sig]], bins=bins, stacked=True,
                color=["tab:blue", "tab:red"], label=["p > 0.05", "p < 0.05 (significant)"])
        ax.legend(fontsize=8)
    ax.set_xlabel("Λ (Kantz, per reference time)")
    ax.set_ylabel("count")
    return fig


def weights_figure(result, series=0, n_weights=6):
    """Paper Fig. 12: the most variable individual weights over time."""
    w = result["weights"].isel(series=series).values
    var = np.nanvar(w, axis=0)
    top = np.argsort(-var)[:n_weights]
    t = result["step"].values
    fig = _figure(figsize=(10, 1.6 * len(top)), layout="constrained")
    axes = fig.subplots(len(top), 1, squeeze=False)[:, 0]
    for ax, j in zip(axes, top):
        ax.plot(t, w[:, j], lw=0.4)
        ax.set_ylabel(f"w[{j}]")
    axes[-1].set_xlabel("t")
    return fig


def compare_eta_figure(result, init=0):
    """Loss trajectories of the same initial network at the comparison learning rates."""
    etas = result["compare_eta"].values
    fig = _figure(figsize=(3.6 * len(etas), 3.2), layout="constrained")
    axes = fig.subplots(1, len(etas), squeeze=False)[0]
    t = result["step"].values
    for ax, k in zip(axes, range(len(etas))):
        ax.plot(t, result["compare_loss"].isel(compare_eta=k, init=init).values, lw=0.4)
        ax.set_yscale("log")
        ax.set_title(f"eta = {etas[k]:g}")
        ax.set_xlabel("t")
    axes[0].set_ylabel("loss")
    return fig


def phase_diagram_figure(result):
    """The eta scan: loss and accuracy, exponents, sharpness x eta / 2, laminar
    fraction against eta, with the regimes shaded."""
    eta = result["eta"].values
    fig = _figure(figsize=(7, 9), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True)
    axes[0].plot(eta, result["final_loss"].values, "o-", label="final loss")
    axes[0].set_yscale("log")
    ax2 = axes[0].twinx()
    ax2.plot(eta, result["test_accuracy"].values, "s--", color="tab:green", label="test accuracy")
    ax2.set_ylabel("test accuracy", color="tab:green")
    axes[0].set_ylabel("final loss")
    axes[1].errorbar(eta, result["mle"].values, yerr=result["mle_std"].values, fmt="o-", capsize=3,
                     label="λ_nMLE (finite, kept fits)")
    axes[1].plot(eta, result["top_exponent"].values, "s--", label="top exponent of the GD map (QR)")
    axes[1].axhline(0, color="0.5", lw=0.8)
    axes[1].set_ylabel("exponent")
    axes[1].legend(fontsize=8)
    axes[2].plot(eta, result["sharpness_ratio"].values, "o-")
    axes[2].axhline(1, color="tab:red", ls=":", label="λ_max = 2/η")
    axes[2].set_ylabel("λ_max η / 2 (max over run)")
    axes[2].set_yscale("log")
    axes[2].legend(fontsize=8)
    axes[3].plot(eta, result["laminar_fraction"].values, "o-")
    axes[3].set_ylabel("laminar fraction")
    axes[3].set_xlabel("η")
    axes[3].set_xscale("log")
    regime = result["regime"].values
    colors = {"convergent": "tab:green", "sharpness at 2/eta": "tab:orange",
              "chaotic": "tab:red", "intermittent": "tab:purple", "divergent": "k"}
    edges = np.sqrt(eta[1:] * eta[:-1]) if eta.size > 1 else np.array([])
    lo = np.concatenate([[eta[0] / 1.3], edges])
    hi = np.concatenate([edges, [eta[-1] * 1.3]])
    for ax in axes:
        for a, b, r in zip(lo, hi, regime):
            ax.axvspan(a, b, color=colors.get(str(r), "0.8"), alpha=0.08)
    for name, c in colors.items():
        if name in set(map(str, regime)):
            axes[3].plot([], [], color=c, lw=6, alpha=0.3, label=name)
    axes[3].legend(fontsize=8, loc="upper left")
    return fig
