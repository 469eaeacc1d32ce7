"""The README's figure: P(Λ) at ε = 1e-8 and λ_nMLE against ε, drawn from an
edge-of-stability result and stating the numbers of the headline table.

The figure is an output like the numbers: regenerate it from the paper-scale
``edge.nc`` that ``dynnet reproduce`` writes,

    python -m dynnet.plotting.headline paper/edge.nc docs/img/edge_of_stability_lyapunov.png

which writes the PNG (the numbers in its text and in its PNG metadata) and a
sidecar ``.json`` beside it with the same numbers, which the tests compare with
``docs/headline.csv``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._common import EPS, ETA, LAM, MLE, eta_text, figure, pick_eps, sci

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["headline_numbers", "headline_figure"]


def _key(result: xr.Dataset, k: int) -> str:
    """The headline table's ε suffix, ``eps=1e-08`` (the format of docs/headline.csv)."""
    return f"eps={float(result['eps'].values[k]):.0e}"


def headline_numbers(result: xr.Dataset, eps: float = 1e-8) -> dict[str, str]:
    r"""The numbers the README's figure states, keyed and printed as in ``docs/headline.csv``.

    :math:`\lambda_{\mathrm{nMLE}}` (the mean of the kept finite exponents) and
    the kept fraction of the fits at the ε of ``result`` nearest to ``eps``,
    each to three decimals (the table's ``dynnet`` column).

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an EdgeOfStabilityStudy (fresh or loaded): ``mle`` and
        ``kept_fraction`` (``eps``).
    eps : float, default 1e-8
        The perturbation size: the result's ε nearest to it on a log scale.

    Returns
    -------
    dict of str to str
        ``{"edge.mle[eps=1e-08]": "0.279", "edge.kept_fraction[eps=1e-08]": "0.862"}``-like.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.1, Fig. 8.
    """
    k = pick_eps(result, eps)
    key = _key(result, k)
    return {f"edge.mle[{key}]": f"{float(result['mle'].values[k]):.3f}",
            f"edge.kept_fraction[{key}]": f"{float(result['kept_fraction'].values[k]):.3f}"}


def headline_figure(result: xr.Dataset, eps: float = 1e-8) -> Figure:
    r"""P(Λ) at one ε and λ_nMLE(ε), with the headline numbers in the title.

    Left: the histogram :math:`P(\Lambda)` of the kept finite exponents at the
    ε nearest to ``eps`` and their mean, the network maximal Lyapunov exponent
    :math:`\lambda_{\mathrm{nMLE}} = \langle \Lambda_i \rangle_{\mathrm{kept}}`.
    Right: :math:`\lambda_{\mathrm{nMLE}}(\varepsilon)` with its 95% bootstrap
    interval (``mle_ci``; the standard deviation of the kept :math:`\Lambda_i`
    without it), the pooled fit, and the paper's value (≈ 0.33) when η = 1.
    The suptitle states :func:`headline_numbers` as printed in the headline table.

    Parameters
    ----------
    result : xarray.Dataset
        ``result_`` of an EdgeOfStabilityStudy: ``exponent``, ``kept``
        (``eps, init``), ``mle``, ``kept_fraction`` (``eps``), optionally
        ``mle_ci`` (``eps, bound``), ``mle_std`` and ``pooled_mle`` (``eps``).
    eps : float, default 1e-8
        The perturbation size of the histogram: the result's ε nearest to it on a log scale.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels; ``fig.get_suptitle()`` holds the stated numbers.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 4.1, Fig. 8.
    """
    k = pick_eps(result, eps)
    nums = headline_numbers(result, eps)
    mle_text, kept_text = nums.values()
    kept_pct = f"{100 * float(kept_text):.1f}%"
    e = result["eps"].values
    lam = result["exponent"].values[k]
    kept = result["kept"].values[k].astype(bool) & np.isfinite(lam)
    fig = figure(figsize=(10, 4.2), layout="constrained")
    a0, a1 = fig.subplots(1, 2)
    if kept.any():
        a0.hist(lam[kept], bins=min(30, max(5, int(kept.sum()) // 2)), density=True, color="tab:blue",
                alpha=0.85, label=f"kept {LAM}: {int(kept.sum())} of {kept.size} networks")
        a0.axvline(float(result["mle"].values[k]), color="k", ls="--", lw=1.4,
                   label=f"mean: {MLE} = {mle_text}")
    a0.set_xlabel(f"{LAM}, finite exponent of one network (per step)")
    a0.set_ylabel(f"P({LAM})")
    a0.set_title(f"P({LAM}) at {EPS} = {sci(e[k])}")
    a0.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2, frameon=False)
    mle = result["mle"].values
    if "mle_ci" in result:
        ci = result["mle_ci"].transpose("eps", "bound").values
        yerr = np.abs(np.vstack([mle - ci[:, 0], ci[:, 1] - mle]))
        what = "95% bootstrap interval"
    else:
        yerr = result["mle_std"].values if "mle_std" in result else None
        what = f"std of the kept {LAM}"
    a1.errorbar(e, mle, yerr=yerr, fmt="o-", capsize=3, ms=4, label=f"{MLE} ± {what}")
    if "pooled_mle" in result:
        a1.plot(e, result["pooled_mle"].values, "s--", ms=4, label="pooled fit of mean ln d")
    if eta_text(result) in ("1", "?"):
        a1.axhline(0.33, color="0.5", ls=":", label="paper: ≈ 0.33")
    a1.plot([e[k]], [mle[k]], "o", ms=10, mfc="none", mec="tab:red")
    a1.set_xscale("log")
    a1.set_xlabel(f"{EPS} (perturbation size)")
    a1.set_ylabel(f"{MLE} (per step)")
    a1.set_title(f"{MLE} against {EPS}")
    a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2, frameon=False)
    fig.suptitle(f"Iris 4-10-3 at {ETA} = {eta_text(result)}, {EPS} = {sci(e[k])}: "
                 f"{MLE} = {mle_text}, {kept_pct} of fits kept")
    return fig


def _write(result_path: str, png_path: str, eps: float = 1e-8) -> dict[str, str]:
    """Draw the figure of the result file ``result_path`` into ``png_path`` (numbers in its
    PNG metadata) and the sidecar ``png_path`` with ``.json``; returns the numbers."""
    from .._files import atomic_write
    from ..results import load

    result = load(result_path).result_
    fig = headline_figure(result, eps)
    nums = headline_numbers(result, eps)
    png = Path(png_path)
    meta = {"Title": fig.get_suptitle(), "Description": json.dumps(nums, sort_keys=True),
            "Source": Path(result_path).name}
    atomic_write(png, lambda fh: fig.savefig(fh, format="png", dpi=110, metadata=meta),
                 prefix=f".{png.name}.")
    side = png.with_suffix(".json")
    text = json.dumps({"numbers": nums, "source": Path(result_path).name,
                       "command": f"python -m dynnet.plotting.headline {Path(result_path).name} {png_path}"},
                      indent=2, sort_keys=True) + "\n"
    atomic_write(side, lambda fh: fh.write(text.encode()), prefix=f".{side.name}.")
    return nums


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    if len(sys.argv) != 3:
        sys.exit("usage: python -m dynnet.plotting.headline EDGE_RESULT.nc OUT.png")
    print(_write(sys.argv[1], sys.argv[2]))
