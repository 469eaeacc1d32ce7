"""Shared pieces of the figures: the figure factory, colours, legend handles,
number formatting and the least-squares fit lines. Private: nothing here is
part of the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from numpy.typing import ArrayLike

GREY = "0.7"
"""Colour of the distance of each perturbed copy."""
LOSS = "tab:red"
"""Colour of the loss on a right axis."""


def figure(**kw: Any) -> Figure:
    """A matplotlib Figure not registered with pyplot (so never shown or leaked)."""
    from matplotlib.figure import Figure

    return Figure(**kw)


def line_handle(**kw: Any) -> Line2D:
    """A legend handle that is not drawn on any axes."""
    from matplotlib.lines import Line2D

    return Line2D([], [], **kw)


def patch_handle(**kw: Any) -> Patch:
    """A legend patch that is not drawn on any axes."""
    from matplotlib.patches import Patch

    return Patch(**kw)


def sci(x: float) -> str:
    """Short scientific notation: 1e-08 -> '1e-8', 2.5e-3 -> '2.5e-3', 0.3 -> '0.3'."""
    x = float(x)
    if not np.isfinite(x) or x == 0:
        return f"{x:g}"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:g}"
    m, e = f"{x:.1e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def eta_text(result: xr.Dataset) -> str:
    """The map's learning rate from the result's attributes, as text ('?' if unknown)."""
    v = result.attrs.get("param.map__eta", None)
    if v is None:
        return "?"
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def distance_handles(loss: bool = False) -> list[Line2D]:
    """Legend handles of a distance panel: each copy (grey), the mean (black), the loss."""
    h = [line_handle(color=GREY, lw=1.0, label="d(t) of each perturbed copy"),
         line_handle(color="k", lw=1.5, label="mean over the copies")]
    if loss:
        h.append(line_handle(color=LOSS, lw=1.0, label="loss (right axis)"))
    return h


def pick_eps(result: xr.Dataset, target: float = 1e-8) -> int:
    """Index of the ε of ``result`` nearest to ``target`` on a log scale."""
    eps = result["eps"].values
    return int(np.argmin(np.abs(np.log10(eps) - np.log10(target))))


def intercept_through_mean(x: ArrayLike, y: ArrayLike, slope: float) -> float:
    r"""Intercept of the line of slope ``slope`` through the mean point of the
    finite pairs of ``(x, y)``: :math:`a = \bar y - b\,\bar x`.

    With ``slope`` the least-squares slope of the same points this is their
    least-squares intercept, so ``a + slope * x`` is their least-squares line
    and its residuals sum to zero. NaN when fewer than two pairs are finite or
    ``slope`` is not finite.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or not np.isfinite(slope):
        return np.nan
    return float(y[ok].mean() - float(slope) * x[ok].mean())


def window_fit_line(t: np.ndarray, mean: np.ndarray, window: tuple[float, float],
                    lam: float) -> tuple[np.ndarray, np.ndarray] | None:
    r"""The least-squares line of :math:`\ln \bar d(t)` over the window
    ``[w0, w1)`` with slope ``lam`` (the exponent Λ fitted there):
    :math:`\ln \hat d(t) = a + \Lambda t`, with ``a`` from
    :func:`intercept_through_mean`.

    Returns ``(t_w, d_hat)`` over every step of the window, or None when there
    is nothing to draw (window or ``lam`` not finite, fewer than two finite points).
    """
    w0, w1 = window
    if not (np.isfinite(w0) and np.isfinite(w1) and np.isfinite(lam)):
        return None
    sel = (t >= w0) & (t < w1)
    tw = t[sel].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(mean[sel])
    a = intercept_through_mean(tw, y, lam)
    if not np.isfinite(a):
        return None
    return tw, np.exp(a + lam * tw)
