"""The summaries of the sharpening and regularization studies, and the regime rule: pure
functions of a result.

They live here, below the studies (:mod:`dynnet.studies`) and their figures
(:mod:`dynnet.plotting`), and import neither, so that drawing a figure from a
``result_`` loads no study module. :mod:`dynnet.studies._summaries` hands them on.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["sharpening_summary", "regularization_summary", "classify_regime"]


def classify_regime(diverged_fraction: float, laminar_fraction: float, kept_fraction: float, mle: float,
                    sharpness_ratio: float) -> str:
    r"""The regime of one learning rate, by a documented rule applied in order.

    1. ``"divergent"``: more than half of the orbits overflowed.
    2. ``"intermittent"``: laminar (periodic) phases cover at least 10% of the
       loss series after the transient.
    3. ``"chaotic"``: at least half of the finite-Lyapunov fits are kept
       (:math:`R^2 > 0.9`, :math:`\Lambda > 0.05`) and their mean exceeds 0.05.
       The paper calls this regime (its :math:`\eta = 1`) the edge of stability.
    4. ``"sharpness at 2/eta"``: the sharpness reached :math:`2/\eta`
       (``sharpness_ratio >= 1``, the edge of stability in the sense of Cohen
       et al. 2021) without measurable sensitive dependence.
    5. ``"convergent"`` otherwise.

    Parameters
    ----------
    diverged_fraction : float
        Fraction of orbits that overflowed.
    laminar_fraction : float
        Mean laminar fraction of the loss series.
    kept_fraction : float
        Fraction of finite-Lyapunov fits kept.
    mle : float
        lambda_nMLE.
    sharpness_ratio : float
        :math:`\max_t \lambda_{max}(H) \, \eta / 2`.

    Returns
    -------
    str
        The regime's name.
    """
    if diverged_fraction > 0.5:
        return "divergent"
    if laminar_fraction >= 0.1:
        return "intermittent"
    if kept_fraction >= 0.5 and mle > 0.05:
        return "chaotic"
    if sharpness_ratio >= 1.0:
        return "sharpness at 2/eta"
    return "convergent"


def _first_crossing(s: np.ndarray, steps: np.ndarray, threshold: float) -> np.ndarray:
    """First record step at which each column of ``s`` (R, n) reaches ``threshold``; NaN if never."""
    with np.errstate(invalid="ignore"):
        hit = s >= threshold
    first = np.argmax(hit, axis=0)
    return np.where(hit.any(axis=0), steps[first].astype(np.float64), np.nan)


# -- the study -------------------------------------------------------------------------------------


def sharpening_summary(ds: xr.Dataset) -> dict[str, Any]:
    r"""The numbers of a :class:`SharpeningStudy` result, as ``{name: (dims, values)}``.

    Per :math:`\eta` (medians over the initial networks of each network's number):

    * ``threshold`` :math:`2/\eta`;
    * ``sharpness_initial``, ``sharpness_max``, ``sharpness_final``: :math:`S(0)`,
      :math:`\max_t S(t)`, :math:`S(T)`;
    * ``initial_ratio``, ``max_ratio``, ``final_ratio``: the same times :math:`\eta/2`
      (1 at Cohen's edge of stability);
    * ``late_ratio``: the median of :math:`S(t)\,\eta/2` over the second half of the
      records (about 1 when the sharpness hovers at :math:`2/\eta`);
    * ``fraction_reaching``: the fraction of networks with :math:`S(t) \ge 2/\eta` at
      some record; ``fraction_sharpening``: the fraction that start below
      :math:`2/\eta` and reach it later (progressive sharpening);
    * ``crossing_step``: the median first step with :math:`S(t) \ge 2/\eta` (never
      counts as infinite; NaN when more than half never reach it);
    * ``mle``, ``kept_fraction`` (from ``finitelyapunov.*`` when present, else NaN);
    * ``lambda_positive``: ``kept_fraction >= 0.5`` and ``mle > 0.05``, the
      "chaotic" rule of :func:`classify_regime`;
    * ``final_loss``, ``test_accuracy`` (median, mean), ``diverged_fraction``.

    Scalars: ``lambda_onset_eta`` (the smallest :math:`\eta` with
    ``lambda_positive``; NaN if none), ``onset_max_ratio``,
    ``onset_fraction_reaching`` and ``onset_late_ratio`` (those columns at that
    :math:`\eta`), ``sharpness_onset_eta`` (the smallest :math:`\eta` at which at
    least half of the networks reach :math:`2/\eta`).

    Parameters
    ----------
    ds : xarray.Dataset
        ``SharpeningStudy.result_``.

    Returns
    -------
    dict
        Name to ``(dims, values)``, ready for ``xarray.Dataset``.
    """
    etas = ds["eta"].values.astype(np.float64)
    S = ds["sharpness"].transpose("eta", "sharpness_step", "init").values
    steps = ds["sharpness_step"].values
    thr = 2.0 / etas
    n_eta, n_rec, _ = S.shape
    late = S[:, n_rec // 2:, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (diverged) give NaN
        s0 = S[:, 0, :]
        smax = np.nanmax(S, axis=1)
        sfin = S[:, -1, :]
        slate = np.nanmedian(late * (etas / 2.0)[:, None, None], axis=1)
        crossing = np.stack([_first_crossing(S[k], steps, thr[k]) for k in range(n_eta)])
        reach = np.isfinite(crossing)
        med_cross = np.median(np.where(reach, crossing, np.inf), axis=1)
        out = {
            "threshold": (("eta",), thr),
            "sharpness_initial": (("eta",), np.nanmedian(s0, axis=1)),
            "sharpness_max": (("eta",), np.nanmedian(smax, axis=1)),
            "sharpness_final": (("eta",), np.nanmedian(sfin, axis=1)),
            "initial_ratio": (("eta",), np.nanmedian(s0, axis=1) * etas / 2.0),
            "max_ratio": (("eta",), np.nanmedian(smax, axis=1) * etas / 2.0),
            "final_ratio": (("eta",), np.nanmedian(sfin, axis=1) * etas / 2.0),
            "late_ratio": (("eta",), np.nanmedian(slate, axis=1)),
            "fraction_reaching": (("eta",), reach.mean(axis=1)),
            "fraction_sharpening": (("eta",), (reach & (s0 < thr[:, None])).mean(axis=1)),
            "crossing_step": (("eta",), np.where(np.isfinite(med_cross), med_cross, np.nan)),
            "final_loss": (("eta",), np.nanmedian(ds["loss"].transpose("eta", "step", "init").values[:, -1],
                                                  axis=1) if "loss" in ds else np.full(n_eta, np.nan)),
            "test_accuracy": (("eta",), np.nanmean(ds["test_accuracy"].values, axis=1)
                              if "test_accuracy" in ds else np.full(n_eta, np.nan)),
            "diverged_fraction": (("eta",), ds["diverged"].values.any(axis=2).mean(axis=1)),
        }
    mle = ds["finitelyapunov.mle"].values if "finitelyapunov.mle" in ds else np.full(n_eta, np.nan)
    kept = (ds["finitelyapunov.kept_fraction"].values if "finitelyapunov.kept_fraction" in ds
            else np.full(n_eta, np.nan))
    positive = np.array([classify_regime(float(out["diverged_fraction"][1][k]), 0.0,
                                         float(np.nan_to_num(kept[k])), float(np.nan_to_num(mle[k])),
                                         0.0) == "chaotic" for k in range(n_eta)])
    out["mle"] = (("eta",), np.asarray(mle, dtype=np.float64))
    out["kept_fraction"] = (("eta",), np.asarray(kept, dtype=np.float64))
    out["lambda_positive"] = (("eta",), positive)
    order = np.argsort(etas)
    onset = next((k for k in order if positive[k]), None)
    out["lambda_onset_eta"] = ((), float(etas[onset]) if onset is not None else np.nan)
    for key in ("max_ratio", "fraction_reaching", "late_ratio"):
        out[f"onset_{key}"] = ((), float(out[key][1][onset]) if onset is not None else np.nan)
    sh_onset = next((k for k in order if out["fraction_reaching"][1][k] >= 0.5), None)
    out["sharpness_onset_eta"] = ((), float(etas[sh_onset]) if sh_onset is not None else np.nan)
    return out


def regularization_summary(ds: xr.Dataset) -> dict[str, Any]:
    r"""The numbers of a :class:`RegularizationStudy` result, as ``{name: (dims, values)}``.

    Per weight decay :math:`\mu`:

    * ``mle``, ``kept_fraction`` (from ``finitelyapunov.*``; NaN without it);
    * ``mle_change``: the paired change
      :math:`\langle \Lambda_i(\mu) - \Lambda_i(0) \rangle_i` over the networks
      kept at both :math:`\mu` and :math:`0`; ``mle_change_se`` its standard
      error (std / sqrt(n)); ``n_paired`` the number of such networks (NaN and 0
      when 0 is not among the weight decays);
    * ``d_final_over_d_0``: :math:`\langle d(T)\rangle / \langle d(0)\rangle`,
      the means over networks and copies (as the orbital-stability study);
    * ``log_growth_median``: the median over networks of
      :math:`\ln(\bar d_i(T)/\bar d_i(0))` (:math:`\bar d_i` the mean over copies);
    * ``d_max_over_d_0``: :math:`\max_t \langle d(t)\rangle / \langle d(0)\rangle`;
    * ``loss_monotone_fraction``: networks whose loss never rises;
    * ``weight_norm_growth``: the mean of :math:`\|W(T)\|_1/\|W(0)\|_1`;
    * ``final_loss`` (median), ``test_accuracy`` (mean), ``diverged_fraction``.

    * ``mle_change_z``: ``mle_change / mle_change_se`` (below -2: lowered beyond the
      sampling noise; NaN with fewer than two paired networks).

    Scalars (the answer to "does weight decay lower :math:`\lambda_{nMLE}`?"):
    ``max_decay`` (the largest :math:`\mu`), ``mle_change_at_max_decay`` and
    ``mle_change_z_at_max_decay`` (the paired change there and its z), and
    ``lowest_lowering_decay`` (the smallest :math:`\mu` with
    ``mle_change_z < -2``; NaN if none). Note that a strong decay also lowers
    the kept fraction: fewer networks show exponential divergence at all, and
    the paired change covers only those that still do.

    Parameters
    ----------
    ds : xarray.Dataset
        ``RegularizationStudy.result_``.

    Returns
    -------
    dict
        Name to ``(dims, values)``, ready for ``xarray.Dataset``.
    """
    dim = "weight_decay"
    decays = ds[dim].values.astype(np.float64)
    n = decays.size
    d = ds["distance"].transpose(dim, "step", "init", "pert").values
    nan = np.full(n, np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_d = np.nanmean(d, axis=(2, 3))  # (V, R)
        per_init = np.nanmean(d, axis=3)  # (V, R, n_init)
        out = {
            "d_final_over_d_0": ((dim,), mean_d[:, -1] / mean_d[:, 0]),
            "log_growth_median": ((dim,), np.nanmedian(np.log(per_init[:, -1] / per_init[:, 0]), axis=1)),
            "d_max_over_d_0": ((dim,), np.nanmax(mean_d, axis=1) / mean_d[:, 0]),
            "diverged_fraction": ((dim,), ds["diverged"].values.any(axis=2).mean(axis=1)),
        }
        if "loss" in ds:
            loss = ds["loss"].transpose(dim, "step", "init").values
            out["loss_monotone_fraction"] = ((dim,), np.all(np.diff(loss, axis=1) <= 0, axis=1).mean(axis=1))
            out["final_loss"] = ((dim,), np.nanmedian(loss[:, -1], axis=1))
        if "weight_norm" in ds:
            wn = ds["weight_norm"].transpose(dim, "step", "init").values
            out["weight_norm_growth"] = ((dim,), np.nanmean(wn[:, -1] / wn[:, 0], axis=1))
        out["test_accuracy"] = ((dim,), np.nanmean(ds["test_accuracy"].values, axis=1)
                                if "test_accuracy" in ds else nan)
    mle = ds["finitelyapunov.mle"].values if "finitelyapunov.mle" in ds else nan
    kept = ds["finitelyapunov.kept_fraction"].values if "finitelyapunov.kept_fraction" in ds else nan
    out["mle"] = ((dim,), np.asarray(mle, dtype=np.float64))
    out["kept_fraction"] = ((dim,), np.asarray(kept, dtype=np.float64))
    change, se, npair = nan.copy(), nan.copy(), np.zeros(n, dtype=np.int64)
    zero = np.flatnonzero(decays == 0.0)
    if "exponent" in ds and zero.size:
        lam = ds["exponent"].transpose(dim, "init").values
        kp = ds["kept"].transpose(dim, "init").values.astype(bool)
        for k in range(n):
            both = kp[k] & kp[zero[0]]
            diff = lam[k, both] - lam[zero[0], both]
            npair[k] = diff.size
            if diff.size:
                change[k] = float(diff.mean())
            if diff.size > 1:
                se[k] = float(diff.std(ddof=1) / np.sqrt(diff.size))
    with np.errstate(all="ignore"):
        z = np.where(se > 0, change / np.where(se > 0, se, 1.0), np.nan)
    out["mle_change"] = ((dim,), change)
    out["mle_change_se"] = ((dim,), se)
    out["mle_change_z"] = ((dim,), z)
    out["n_paired"] = ((dim,), npair)
    top = int(np.argmax(decays))
    out["max_decay"] = ((), float(decays[top]))
    out["mle_change_at_max_decay"] = ((), float(change[top]))
    out["mle_change_z_at_max_decay"] = ((), float(z[top]))
    lowering = [float(decays[k]) for k in np.argsort(decays) if z[k] < -2.0]
    out["lowest_lowering_decay"] = ((), lowering[0] if lowering else np.nan)
    return out
