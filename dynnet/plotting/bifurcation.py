"""Figure of :class:`~dynnet.BifurcationStudy`: the bifurcation diagram over the Lyapunov diagram."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import figure, patch_handle

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["bifurcation_figure"]

_REGIME_COLORS = {"fixed point": "tab:green", "periodic": "tab:blue", "aperiodic": "0.8",
                  "chaotic": "tab:red", "divergent": "k"}

_GREEK = {"eta": r"\eta", "r": "r", "mu": r"\mu", "a": "a", "b": "b", "lambda": r"\lambda",
          "weight_decay": r"\lambda_{wd}"}


def _param_label(name: str) -> str:
    r"""A mathtext axis label for a parameter's name: ``"eta"`` gives ``$\eta$``.

    Parameters
    ----------
    name : str
        The parameter's name.

    Returns
    -------
    str
        A mathtext label (Greek letters for the names that are Greek letters,
        the name in roman type otherwise).
    """
    if name in _GREEK:
        return f"${_GREEK[name]}$"
    return r"$\mathrm{" + name.replace("_", r"\_") + "}$"


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    """Band edges around each value: the (geometric, if ``log``) midpoints of neighbours."""
    w = np.log(v) if log else v
    mid = 0.5 * (w[1:] + w[:-1])
    if w.size > 1:
        e = np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])
    else:
        e = np.array([w[0] - 0.5, w[0] + 0.5])
    return np.exp(e) if log else e


def bifurcation_figure(result: xr.Dataset, n_points: int = 64) -> Figure:
    r"""The bifurcation diagram over the Lyapunov diagram, sharing the parameter axis.

    Top: the late-time values of the diagram variable (the first recorded
    observable, for gradient descent the loss on a log axis; otherwise the
    state or its projection) of every orbit against the parameter. Bottom: the
    late-time tangent exponent :math:`\lambda` of every orbit (dots) and its
    mean over the orbits (line), with :math:`\lambda = 0` marked. Each
    value's band is shaded by its regime
    (:func:`~dynnet.studies.bifurcation.classify_orbit`: divergent, then
    chaotic if :math:`\lambda` exceeds ``lambda_tol``, then periodic, fixed
    point or aperiodic by the detected period). The axis is logarithmic when
    the values are positive and span more than a factor of 50.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a BifurcationStudy.
    n_points : int, default 64
        Late-time values drawn per orbit (the last ones recorded).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels.

    References
    ----------
    R. M. May, "Simple mathematical models with very complicated dynamics",
    Nature 261, 459 (1976) (the diagram); G. Benettin et al., Meccanica 15, 9
    (1980) (the tangent exponent).
    """
    param = next(d for d in result["member_period"].dims if d != "init")
    v = np.asarray(result[param].values, dtype=np.float64)
    order = np.argsort(v)
    vs = v[order]
    log = bool(vs[0] > 0 and vs[-1] / vs[0] > 50)
    name = result.attrs.get("diagram_variable", "state")
    if name not in result:
        name = "state" if "state" in result else "projection"
    y = np.asarray(result[name].values)[..., -int(n_points):]  # (value, init, points)
    fig = figure(figsize=(8.0, 6.5), constrained_layout=True)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    xs = np.broadcast_to(v[:, None, None], y.shape).ravel()
    ax1.plot(xs, y.ravel(), ",", color="k", alpha=0.5, rasterized=True)
    if name == "loss" and np.nanmin(y) > 0:
        ax1.set_yscale("log")
    ax1.set_ylabel({"loss": "late-time loss", "state": "late-time $x$",
                    "projection": r"late-time $x \cdot u$"}.get(name, f"late-time {name}"))
    lam = np.asarray(result["member_tangent_exponent"].values)
    ax2.plot(np.broadcast_to(v[:, None], lam.shape).ravel(), lam.ravel(), ".", ms=1.5, color="0.5",
             alpha=0.5, rasterized=True)
    ax2.plot(vs, np.asarray(result["tangent_exponent"].values)[order], "-", color="tab:red", lw=1.0)
    ax2.axhline(0.0, color="k", lw=0.6)
    ax2.set_ylabel(r"$\lambda$ (late-time tangent exponent)")
    ax2.set_xlabel(_param_label(param))
    if log:
        ax2.set_xscale("log")
    regimes = np.asarray(result["regime"].values)[order]
    edges = _edges(vs, log)
    seen = []
    for ax in (ax1, ax2):
        start = 0
        for k in range(1, vs.size + 1):
            if k == vs.size or regimes[k] != regimes[start]:
                color = _REGIME_COLORS.get(str(regimes[start]), "0.9")
                ax.axvspan(edges[start], edges[k], color=color, alpha=0.12, lw=0)
                if str(regimes[start]) not in seen:
                    seen.append(str(regimes[start]))
                start = k
    ax1.set_xlim(edges[0], edges[-1])
    ax1.legend(handles=[patch_handle(color=_REGIME_COLORS.get(r, "0.9"), alpha=0.3, label=r) for r in seen],
               loc="best", fontsize="small", title="regime")
    ax1.set_title(f"bifurcation and Lyapunov diagrams over {_param_label(param)}")
    return fig
