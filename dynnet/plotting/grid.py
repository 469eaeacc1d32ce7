"""Figure of :class:`~dynnet.GridStudy`: one summary variable over the grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import figure, label, value_text

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["grid_figure"]

#: at most this many heat-map panels (values of the third grid parameter)
_MAX_PANELS = 12


def _grid_dims(result: xr.Dataset) -> list[str]:
    """The grid dimensions of a GridStudy result (their coordinates carry ``long_name``)."""
    return [d for d in result.dims if d in result.coords and result[d].attrs.get("long_name") == d]


def _pick_variable(result: xr.Dataset, variable: str | None) -> str:
    if variable is not None:
        if variable not in result.data_vars:
            raise ValueError(f"grid_figure: variable={variable!r} is not in the result; it has "
                             f"{sorted(map(str, result.data_vars))}")
        if result[variable].dtype.kind not in "biuf":
            raise ValueError(f"grid_figure: variable={variable!r} holds {result[variable].dtype} "
                             "values; give a numeric variable")
        return variable
    for name in result.data_vars:
        if result[name].dtype.kind in "iuf":
            return str(name)
    raise ValueError("grid_figure: the result has no numeric variable to draw")


def _positions(coord: np.ndarray) -> tuple[np.ndarray, list[str] | None]:
    """x positions of a coordinate: its values if numeric, else 0, 1, ... with the labels."""
    if coord.dtype.kind in "iuf":
        return coord.astype(float), None
    return np.arange(coord.size, dtype=float), [value_text(c) for c in coord]


def grid_figure(result: xr.Dataset, variable: str | None = None) -> Figure:
    r"""One summary variable of a grid sweep against the grid parameters.

    With one grid parameter: the variable against it (a line; a log axis when
    the values are positive and span more than a decade). With two or more:
    a heat map over the first two, each cell annotated with its value; one
    panel per value of the third (up to 12). Further grid parameters, and the
    variable's own dimensions (such as ``eps``), are taken at their first
    value, which the title states.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of a :class:`~dynnet.GridStudy` (fresh or loaded).
    variable : str or None, default None
        The variable to draw; None: the first numeric one (for an
        EdgeOfStabilityStudy grid, ``finitelyapunov.mle``, the
        :math:`\lambda_{nMLE}`).

    Returns
    -------
    matplotlib.figure.Figure
        One figure (one or more panels).

    Raises
    ------
    ValueError
        The variable is missing or not numeric, or the result has no grid dimension.

    References
    ----------
    A Cartesian parameter sweep: the usual design of a phase diagram (e.g. the
    learning-rate scans of Danovski, Soriano & Lacasa 2024, Fig. 12).
    """
    name = _pick_variable(result, variable)
    da = result[name]
    dims = [d for d in _grid_dims(result) if d in da.dims]
    if not dims:
        raise ValueError(f"grid_figure: {name!r} has no grid dimension (is this a GridStudy result?)")
    fixed = []
    sel = {}
    for d in da.dims:
        if d not in dims[:3] and da.sizes[d] > 0:
            sel[d] = 0
            if d in result.coords:
                fixed.append(f"{label(d)} = {value_text(result[d].values[0])}")
    da = da.isel(sel) if sel else da
    values = np.asarray(da.transpose(*dims[:3]).values, dtype=float)
    note = f" ({', '.join(fixed)})" if fixed else ""
    if len(dims) == 1:
        fig = figure(figsize=(5.5, 4), layout="constrained")
        ax = fig.subplots()
        x, labels = _positions(result[dims[0]].values)
        ax.plot(x, values, "o-")
        if labels is not None:
            ax.set_xticks(x, labels)
        elif np.all(x > 0) and x.max() / x.min() > 10:
            ax.set_xscale("log")
        ax.set_xlabel(label(dims[0]))
        ax.set_ylabel(label(name))
        ax.set_title(f"{label(name)} over the grid{note}", fontsize=10)
        return fig
    panels = result[dims[2]].values[:_MAX_PANELS] if len(dims) > 2 else [None]
    if len(dims) > 2 and result.sizes[dims[2]] > _MAX_PANELS:
        note += f" (first {_MAX_PANELS} values of {label(dims[2])})"
    ncol = min(3, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    fig = figure(figsize=(4.2 * ncol + 1.0, 3.6 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    rows = [value_text(v) for v in result[dims[0]].values]
    cols = [value_text(v) for v in result[dims[1]].values]
    image = None
    for k, (ax, panel) in enumerate(zip(axes, panels, strict=False)):
        z = values if len(dims) == 2 else values[:, :, k]
        image = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_xticks(np.arange(len(cols)), cols, rotation=30 if max(map(len, cols)) > 6 else 0)
        ax.set_yticks(np.arange(len(rows)), rows)
        ax.set_xlabel(label(dims[1]))
        ax.set_ylabel(label(dims[0]))
        if panel is not None:
            ax.set_title(f"{label(dims[2])} = {value_text(panel)}", fontsize=9)
        mid = 0.5 * (vmin + vmax)
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                ax.text(j, i, f"{z[i, j]:.3g}", ha="center", va="center", fontsize=8,
                        color="k" if np.isfinite(z[i, j]) and z[i, j] > mid else "w")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes[:len(panels)].tolist(), label=label(name))
    fig.suptitle(f"{label(name)} over the grid{note}", fontsize=10)
    return fig
