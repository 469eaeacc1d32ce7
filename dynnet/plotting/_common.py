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


def drawn_texts(fig: Figure) -> tuple[list[Any], Any]:
    """Every piece of text that drawing ``fig`` puts on the canvas, with the renderer.

    Draws the figure on an Agg canvas and records each :class:`matplotlib.text.Text`
    whose ``draw`` runs with a visible, non-empty string: titles, axis labels, the
    tick labels actually drawn (not those outside the view), offset texts, legend
    entries and titles, annotations and free text.

    Returns
    -------
    (list of matplotlib.text.Text, renderer)
        The texts in drawing order, and the renderer that drew them (for
        ``get_window_extent``).
    """
    from unittest import mock

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    seen: list[Any] = []
    original = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            seen.append(self)
        return original(self, renderer)

    canvas = FigureCanvasAgg(fig)
    with mock.patch.object(Text, "draw", record):
        canvas.draw()
    out = list(dict.fromkeys(seen))  # a text drawn twice counts once
    return out, canvas.get_renderer()


def text_problems(fig: Figure, pad: float = 0.5) -> list[str]:
    """Text of ``fig`` that overlaps other text or is clipped by the figure's edge.

    Every drawn text (see :func:`drawn_texts`) is a box in display pixels
    (``Text.get_window_extent``); two texts overlap when their boxes, each
    shrunk by ``pad`` pixels on every side, intersect, wherever they are
    (within one axes or across axes, legends and titles included); a text is
    clipped when its box reaches beyond the figure's by more than ``pad``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to check (it is drawn).
    pad : float, default 0.5
        Tolerance in pixels: boxes that only touch are not counted.

    Returns
    -------
    list of str
        One line per problem, naming the text(s); empty when the figure reads cleanly.
    """
    texts, renderer = drawn_texts(fig)
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts]).reshape(-1, 4)
    W, H = fig.bbox.width, fig.bbox.height
    out = []
    for t, (x0, y0, x1, y1) in zip(texts, boxes, strict=True):
        if x0 < -pad or y0 < -pad or x1 > W + pad or y1 > H + pad:
            out.append(f"clipped by the figure edge: {t.get_text()!r} at "
                       f"({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}) in a {W:.0f}x{H:.0f} figure")
    s = boxes + np.array([pad, pad, -pad, -pad])
    hit = ((s[:, None, 0] < s[None, :, 2]) & (s[None, :, 0] < s[:, None, 2])
           & (s[:, None, 1] < s[None, :, 3]) & (s[None, :, 1] < s[:, None, 3]))
    for i, j in zip(*np.nonzero(np.triu(hit, k=1)), strict=True):
        out.append(f"overlapping text: {texts[i].get_text()!r} and {texts[j].get_text()!r}")
    return out


def legends_on_data(fig: Figure) -> list[str]:
    """Legends of ``fig`` drawn inside an axes over that axes' data points.

    A legend covers data when a vertex of a line, or an offset of a scatter,
    of the axes it belongs to falls inside the legend's frame (display pixels).
    Figure legends outside the axes never do.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to check (it is drawn).

    Returns
    -------
    list of str
        One line per legend that covers data (with the number of points under it).
    """
    from matplotlib.collections import PathCollection

    _, renderer = drawn_texts(fig)
    out = []
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None or not leg.get_visible():
            continue
        box = leg.get_window_extent(renderer)
        pts = []
        for a in [ax, *(o for o in fig.axes if o is not ax and o.bbox.bounds == ax.bbox.bounds)]:
            for ln in a.get_lines():
                xy = np.column_stack([np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)])
                pts.append(a.transData.transform(xy[np.isfinite(xy).all(axis=1)]))
            for c in a.collections:
                if isinstance(c, PathCollection):  # scatter points; bands and bars are not data points
                    pts.append(c.get_offset_transform().transform(np.asarray(c.get_offsets(), float)))
        if not pts:
            continue
        p = np.concatenate(pts)
        inside = ((p[:, 0] > box.x0) & (p[:, 0] < box.x1) & (p[:, 1] > box.y0) & (p[:, 1] < box.y1))
        if inside.any():
            title = ax.get_title() or "an untitled axes"
            out.append(f"the legend of {title!r} covers {int(inside.sum())} data points")
    return out


# Symbols as mathtext, one spelling for every figure
ETA = r"$\eta$"
"""The learning rate."""
EPS = r"$\epsilon$"
"""The perturbation size."""
LAM = r"$\Lambda$"
"""The finite exponent of one initial condition."""
MLE = r"$\lambda_{\mathrm{nMLE}}$"
"""The network maximal Lyapunov exponent (mean of the kept Λ)."""
TWO_ETA = r"$2/\eta$"
"""The gradient-descent stability limit of the sharpness."""


def perturbed_count(map: Any, perturber: Any, default: int | None = None) -> int | None:
    """N, the number of coordinates ``perturber`` moves on ``map`` (70 weights of the paper's network).

    Reads the perturber's ``on`` (a group name of ``map.coordinate_groups()``,
    ``"all"`` for every coordinate, or an index array or boolean mask).

    Returns
    -------
    int or None
        N, or ``default`` when it cannot be told.
    """
    on = getattr(perturber, "on", "weights")
    try:
        if isinstance(on, str) and on == "all":
            return int(map.dim)
        idx = np.asarray(map.coordinate_groups()[on] if isinstance(on, str) else on)
        return int(idx.sum()) if idx.dtype == bool else int(idx.size)
    except (AttributeError, KeyError, TypeError, ValueError, NotImplementedError):
        return default


LABELS = {
    "finitelyapunov.mle": MLE,
    "finitelyapunov.mle_std": f"std of the kept {LAM}",
    "finitelyapunov.kept_fraction": "kept fraction of the fits",
    "finitelyapunov.pooled_mle": f"pooled {MLE}",
    "finitelyapunov.mle_ci_low": f"{MLE}, 95% interval (low)",
    "finitelyapunov.mle_ci_high": f"{MLE}, 95% interval (high)",
    "tangent_exponent": "tangent exponent (best window)",
    "tangent_exponent_std": "std of the tangent exponent",
    "tangent_ftle": "tangent exponent (whole run)",
    "tangent_ftle_std": "std of the whole-run tangent exponent",
    "tangent_eps": f"{EPS} of the tangent fit",
    "final_loss_median": "final loss (median)",
    "mle": MLE,
    "kept_fraction": "kept fraction of the fits",
    "eps": EPS,
    "eta": ETA,
    "map__eta": ETA,
    "map__hidden": "hidden layer sizes",
    "map__activation": "activation",
    "map__dataset": "dataset",
    "map__weight_decay": r"weight decay $\mu$",
    "map__loss": "loss",
    "map__init": "initialisation",
    "perturber__eps": EPS,
    "perturber__n": "perturbed copies",
    "n_init": "initial conditions",
}
"""Readable labels of the internal names of parameters and summary columns (one place)."""


def label(name: str) -> str:
    """The reader's label of an internal name: :data:`LABELS`, else the name with
    its ``part__`` prefixes and estimator prefix dropped and underscores as spaces.

    Returns
    -------
    str
    """
    name = str(name)
    if name in LABELS:
        return LABELS[name]
    short = name.split("__")[-1].split(".")[-1]
    return LABELS.get(short, short.replace("_", " "))


def value_text(value: Any) -> str:
    """A grid value as a reader writes it: ``(10,)`` -> ``10``, ``(10, 10)`` -> ``10-10``,
    ``1e-08`` -> ``1e-8``.

    Returns
    -------
    str
    """
    text = str(value).strip()
    if text.startswith("(") and text.endswith(")"):
        inner = [p.strip() for p in text[1:-1].split(",") if p.strip()]
        return "-".join(inner) if inner else "none"
    try:
        return sci(float(text))
    except ValueError:
        return text
