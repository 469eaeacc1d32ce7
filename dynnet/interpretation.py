r"""What the published numbers mean (issue 22): the computations behind the interpretation rows.

The studies of :mod:`dynnet.reproduce` and :mod:`dynnet.beyond` measure; the
functions here read their public results (``result_``, ``summary()``) and maps
(``trajectory``, ``gradient``, ``predict``, ``observables``, ``data``,
``problem``) and answer what a number is evidence of:

* :func:`sharpening_split` and :func:`eta_time_exponents`: whether the
  sharpness *sharpens* to :math:`2/\eta` from below and hovers there
  (progressive sharpening, Cohen et al. 2021) or starts above it (the catapult
  regime), and :math:`\lambda_{nMLE}` with the fit windows in the time
  :math:`\eta t`, so that onsets compare across :math:`\eta`;
* :func:`holm` and :func:`regularization_matched`: the weight-decay
  comparison corrected for trying several decays (Holm 1979), and at matched
  training time (accuracy and gradient norm at the end of the fit windows and
  at the end of the run);
* :func:`laminar_collapse` and :func:`aperiodic_kantz`: whether the laminar
  states at :math:`\eta = 5` are collapsed networks (saturated hidden units,
  input-independent logits, one class predicted), and the Kantz test on a
  stretch that is aperiodic at a tolerance relative to the series' scale;
* :func:`prior_entropy`, :func:`dead_networks` and :func:`grid_regime`:
  networks that died (the constant predictor, whose loss is the entropy of the
  class priors);
* :func:`fsle_disagreement`: how often the per-network finite-size exponent
  and the best-window exponent disagree.

References
----------
J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient descent on
neural networks typically occurs at the edge of stability", ICLR 2021.
A. Lewkowycz, Y. Bahri, E. Dyer, J. Sohl-Dickstein, G. Gur-Ari, "The large
learning rate phase of deep learning: the catapult mechanism", arXiv:2003.02218
(2020).
S. Holm, "A simple sequentially rejective multiple test procedure", Scand. J.
Statist. 6, 65 (1979).
E. Aurell, G. Boffetta, A. Crisanti, G. Paladin, A. Vulpiani, "Predictability
in the large: an extension of the concept of Lyapunov exponent", J. Phys. A
30, 1 (1997).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["HOVER_TOL", "HOLM_ALPHA", "SATURATION_TOL", "COLLAPSE_SATURATION", "STRETCH_REL_TOL",
           "DEAD_TOL", "FSLE_TOL", "BURST_MIN_LENGTH", "sharpening_split", "eta_time_exponents",
           "onset_eta", "holm", "one_sided_p", "paired_z", "regularization_holm", "regularization_matched",
           "hidden_saturation", "logit_spread", "laminar_collapse", "aperiodic_stretch",
           "aperiodic_stretches", "relative_laminar_share", "aperiodic_kantz", "prior_entropy",
           "dead_networks", "grid_regime", "fsle_disagreement"]

#: the sharpness hovers at 2/eta when the median of S(t) eta / 2 over the second half is within this of 1
HOVER_TOL = 0.1
#: the family-wise level of the Holm correction: Phi(-2), the one-sided level of the uncorrected "z < -2"
HOLM_ALPHA = 0.5 * math.erfc(2.0 / math.sqrt(2.0))
#: a hidden unit is saturated on a sample when f'(z) is below this times the largest f' (relu: z <= 0)
SATURATION_TOL = 1e-2
#: a laminar state is collapsed when this share of (unit, sample) pairs saturate and one class is predicted
COLLAPSE_SATURATION = 0.99
#: an aperiodic stretch: no laminar phase at the tolerance STRETCH_REL_TOL times the series' median |L|
STRETCH_REL_TOL = 1e-3
#: the shortest aperiodic burst tested by Kantz (steps)
BURST_MIN_LENGTH = 100
#: a dead network: training loss within DEAD_TOL of the prior entropy, one class predicted for every sample
DEAD_TOL = 1e-3
#: two per-network exponents disagree when they differ by more than this (per step)
FSLE_TOL = 0.1


# -- sharpening ------------------------------------------------------------------------------------


def sharpening_split(ds, hover_tol: float = HOVER_TOL) -> dict[str, np.ndarray]:
    r"""How each network meets :math:`2/\eta`: from below (progressive sharpening) or from above.

    With :math:`S_i(t)` the sharpness of network :math:`i` at the records
    :math:`t = 0, k, 2k, \dots` and :math:`\theta = 2/\eta`:

    * *starts above*: :math:`S_i(0) \ge \theta` (the catapult regime of
      Lewkowycz et al. 2020: the first steps must first reduce the sharpness);
    * *reaches after the start*: :math:`S_i(t) \ge \theta` at some record
      :math:`t > 0` (the record at :math:`t = 0` never counts as reaching);
    * *hovers*: :math:`|\mathrm{median}_{t \ge T/2}\, S_i(t)\,\eta/2 - 1| \le`
      ``hover_tol`` (the second half of the records);
    * *progressive*: starts below, reaches after the start and hovers (Cohen
      et al. 2021's progressive sharpening to the edge of stability).

    A diverged network (NaN sharpness) counts in none of them.

    Parameters
    ----------
    ds : xarray.Dataset
        ``SharpeningStudy.result_`` (``sharpness (eta, sharpness_step, init)``).
    hover_tol : float, default 0.1
        The tolerance of *hovers*.

    Returns
    -------
    dict
        Fractions over networks per eta: ``starts_above``,
        ``reaches_after_start``, ``hovers``, ``progressive``; and the per-network
        booleans ``progressive_mask`` and ``starts_above_mask``, ``(eta, init)``.
    """
    etas = np.asarray(ds["eta"].values, dtype=np.float64)
    S = ds["sharpness"].transpose("eta", "sharpness_step", "init").values.astype(np.float64)
    thr = (2.0 / etas)[:, None]
    n_rec = S.shape[1]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (diverged) networks
        above = S[:, 0, :] >= thr
        later = np.any(S[:, 1:, :] >= thr[:, None, :], axis=1)
        late = np.nanmedian(S[:, n_rec // 2:, :], axis=1) * (etas[:, None] / 2.0)
        hovers = np.abs(late - 1.0) <= hover_tol
    below = S[:, 0, :] < thr
    progressive = below & later & hovers
    return {"starts_above": above.mean(axis=1), "reaches_after_start": later.mean(axis=1),
            "hovers": hovers.mean(axis=1), "progressive": progressive.mean(axis=1),
            "progressive_mask": progressive, "starts_above_mask": above}


def eta_time_exponents(ds, estimator=None) -> dict[str, np.ndarray]:
    r""":math:`\lambda_{nMLE}` per unit of :math:`\eta t`, with the fit windows in that time.

    Gradient descent with step :math:`\eta` follows the gradient flow for the
    time :math:`\eta t` after :math:`t` steps, so a fit window of fixed length
    in steps covers four times less of the dynamics at :math:`\eta = 0.25` than
    at :math:`\eta = 1`. Here the distances of each :math:`\eta` are fitted
    with the records at times :math:`\eta t` (``FiniteLyapunov.fit(d,
    steps=eta * step)``): the window grid (starts and lengths) is in units of
    :math:`\eta t`, the same at every :math:`\eta`, and the exponent is per
    unit of :math:`\eta t` (the exponent per step is :math:`\eta` times it). At
    :math:`\eta = 1` this is the study's own fit.

    Parameters
    ----------
    ds : xarray.Dataset
        A result with ``distance (eta, step, init, pert)`` (the sharpening study).
    estimator : FiniteLyapunov, optional
        The fit (default ``FiniteLyapunov()``: starts 0-100, lengths 30-100).

    Returns
    -------
    dict
        Per eta: ``mle`` (per unit of :math:`\eta t`), ``kept_fraction``,
        ``mle_per_step`` (``eta * mle``) and ``diverged_fraction``.
    """
    from .base import clone
    from .estimators import FiniteLyapunov
    from .estimators.lyapunov import NoExponentWarning

    est = FiniteLyapunov() if estimator is None else estimator
    etas = np.asarray(ds["eta"].values, dtype=np.float64)
    d = ds["distance"].transpose("eta", "step", "init", "pert").values
    steps = np.asarray(ds["step"].values, dtype=np.float64)
    mle, kept = np.full(etas.size, np.nan), np.zeros(etas.size)
    for k, eta in enumerate(etas):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoExponentWarning)
            try:
                f = clone(est).fit(d[k], steps=eta * steps)
            except ValueError:  # no window of the grid fits this run
                continue
        mle[k], kept[k] = f.mle_, f.kept_fraction_
    div = ds["diverged"].values.any(axis=2).mean(axis=1) if "diverged" in ds else np.zeros(etas.size)
    return {"mle": mle, "kept_fraction": kept, "mle_per_step": etas * mle, "diverged_fraction": div}


def onset_eta(etas, mle, kept, diverged=None, lambda_min: float = 0.05) -> float:
    """The smallest eta whose exponent is positive by the "chaotic" rule of ``classify_regime``.

    Positive: at most half of the orbits diverged, at least half of the fits
    kept, and the mean exponent above ``lambda_min`` (0.05).

    Parameters
    ----------
    etas, mle, kept : array_like
        Learning rates, their exponents and kept fractions.
    diverged : array_like, optional
        Diverged fractions (default 0).
    lambda_min : float, default 0.05
        The exponent a learning rate must exceed to count as positive.

    Returns
    -------
    float
        The onset learning rate; NaN if no eta qualifies.
    """
    etas = np.asarray(etas, dtype=np.float64)
    mle, kept = np.asarray(mle, dtype=np.float64), np.asarray(kept, dtype=np.float64)
    div = np.zeros(etas.size) if diverged is None else np.asarray(diverged, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = (div <= 0.5) & (kept >= 0.5) & (np.nan_to_num(mle, nan=-np.inf) > lambda_min)
    return float(etas[ok].min()) if ok.any() else np.nan


# -- weight decay ----------------------------------------------------------------------------------


def one_sided_p(z) -> np.ndarray:
    r"""The one-sided p-value :math:`P(Z \le z)` of a standard normal z (small: lowered).

    Parameters
    ----------
    z : array_like
        Standard scores.

    Returns
    -------
    numpy.ndarray
        :math:`\Phi(z)`, elementwise.
    """
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * np.vectorize(math.erfc)(-z / math.sqrt(2.0)) if z.size else z.copy()


def holm(pvalues, alpha: float = HOLM_ALPHA) -> np.ndarray:
    r"""Holm's step-down test: which of the hypotheses are rejected at family-wise level ``alpha``.

    Sort the :math:`m` p-values, :math:`p_{(1)} \le \dots \le p_{(m)}`; reject
    :math:`H_{(1)}, \dots, H_{(k)}` where :math:`k` is the largest index with
    :math:`p_{(j)} \le \alpha / (m - j + 1)` for every :math:`j \le k`. The
    probability of one or more false rejections is at most :math:`\alpha`,
    whatever the dependence between the tests (Holm 1979). NaN p-values are
    not tested (never rejected, not counted in :math:`m`).

    Parameters
    ----------
    pvalues : array_like
        One p-value per hypothesis.
    alpha : float, default Phi(-2) = 0.0228
        The family-wise level.

    Returns
    -------
    ndarray of bool
        True where rejected.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.zeros(p.shape, dtype=bool)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    for j, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        if p[i] > alpha / (m - j):
            break
        out[i] = True
    return out


def regularization_holm(summary, alpha: float = HOLM_ALPHA) -> dict:
    """The weight decays that lower lambda_nMLE after Holm's correction over the decays tried.

    Each decay :math:`\\mu > 0` is one test of "no change": the one-sided p-value
    of its paired z (``mle_change_z``), Holm-corrected at ``alpha`` over the
    decays with a finite z.

    Parameters
    ----------
    summary : xarray.Dataset
        ``RegularizationStudy.summary()``.
    alpha : float, default Phi(-2)
        The family-wise error rate of Holm's step-down procedure.

    Returns
    -------
    dict
        ``pvalue`` and ``rejected`` per decay (NaN and False at decay 0),
        ``lowest`` (the smallest decay rejected; NaN if none), ``n_tests``.
    """
    decays = np.asarray(summary["weight_decay"].values, dtype=np.float64)
    z = np.asarray(summary["mle_change_z"].values, dtype=np.float64)
    p = np.where(decays > 0, one_sided_p(z), np.nan)
    rej = holm(p, alpha)
    return {"pvalue": p, "rejected": rej, "lowest": float(decays[rej].min()) if rej.any() else np.nan,
            "n_tests": int(np.isfinite(p).sum())}


def _window_end(study) -> int:
    """The last step any fit window of the study's FiniteLyapunov can reach (starts + lengths)."""
    from .estimators import FiniteLyapunov
    from .estimators.lyapunov import _grid

    est = next((e for e in study.parts()["estimators"] if isinstance(e, FiniteLyapunov)), FiniteLyapunov())
    return int(_grid(est, "starts", est.starts, 0).max() + _grid(est, "lengths", est.lengths, 1).max())


def regularization_matched(study, step: int | None = None) -> dict[str, np.ndarray]:
    r"""Accuracy and convergence of every weight decay at matched training time.

    The reference orbits (the study's ``initial_state``) are trained again
    with each decay; at ``step`` (default: the end of the widest fit window of
    the study's :class:`~dynnet.FiniteLyapunov`, where the exponent is
    measured) and at the end of the run the test and training accuracies and
    the gradient norm :math:`\|\nabla(L + \tfrac{\mu}{2}\|w\|^2)\|_2` of the
    regularised objective are recorded. A gradient norm far from 0 at the end
    says the run has not converged, whatever its accuracy.

    Parameters
    ----------
    study : RegularizationStudy
        A study that has run (or was loaded).
    step : int, optional
        The matched step (default the end of the fit windows, 200 for the default fit).

    Returns
    -------
    dict
        ``step``; per decay: ``test_accuracy_at``, ``train_accuracy_at``,
        ``test_accuracy_final`` (means over networks), ``grad_norm_at``,
        ``grad_norm_final`` (medians); per (decay, network) the accuracies
        ``test_accuracy_at_per_init`` for paired comparisons.
    """
    from .base import clone

    ds = study.result_
    m0 = study.parts()["map"]
    x0 = ds["initial_state"].values
    decays = np.asarray(ds["weight_decay"].values, dtype=np.float64)
    n_steps = int(study.n_steps)
    step = min(_window_end(study), n_steps) if step is None else int(step)
    every = math.gcd(step, n_steps)
    out = {k: np.full(decays.size, np.nan) for k in ("test_accuracy_at", "train_accuracy_at",
                                                     "test_accuracy_final", "grad_norm_at",
                                                     "grad_norm_final")}
    per_init = np.full((decays.size, x0.shape[0]), np.nan)
    for k, mu in enumerate(decays):
        m = clone(m0).set_params(weight_decay=float(mu))
        traj = m.trajectory(x0, n_steps, every=every)  # (R, n, dim)
        at, end = traj[step // every], traj[-1]
        acc_at = np.asarray(m.accuracy(at, split="test"), dtype=np.float64)
        per_init[k] = acc_at
        out["test_accuracy_at"][k] = float(np.nanmean(acc_at))
        out["train_accuracy_at"][k] = float(np.nanmean(m.accuracy(at, split="train")))
        out["test_accuracy_final"][k] = float(np.nanmean(m.accuracy(end, split="test")))
        with np.errstate(invalid="ignore"):
            out["grad_norm_at"][k] = float(np.nanmedian(np.linalg.norm(m.gradient(at), axis=-1)))
            out["grad_norm_final"][k] = float(np.nanmedian(np.linalg.norm(m.gradient(end), axis=-1)))
    out["step"] = step
    out["test_accuracy_at_per_init"] = per_init
    return out


def paired_z(a, b) -> float:
    r"""The paired z of ``a - b`` (mean over its standard error, ddof=1).

    Parameters
    ----------
    a, b : array_like
        Paired samples of the same length (pairs with a NaN are dropped).

    Returns
    -------
    float
        :math:`\bar d / (s_d/\sqrt n)` of :math:`d = a - b`; NaN when the standard error is 0
        or undefined.
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    diff = diff[np.isfinite(diff)]
    if diff.size < 2:
        return np.nan
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    return float(diff.mean() / se) if se > 0 else np.nan


# -- collapsed and dead networks -------------------------------------------------------------------


def _hidden(map, states):
    """Pre-activations of every hidden layer and the logits: ``([z_1, ...], logits)``, each (E, N, units)."""
    X, _ = map.data("train")
    act = map.problem().activation
    layers = map.problem().unpack(np.atleast_2d(np.asarray(states, dtype=np.float64)))
    a, zs = np.broadcast_to(X, (layers[0][0].shape[0],) + X.shape), []
    for lay, (W, b) in enumerate(layers):
        z = np.matmul(a, W) + b[:, None, :]
        if lay == len(layers) - 1:
            return zs, z
        zs.append(z)
        if act == "sigmoid":
            a = 1.0 / (1.0 + np.exp(-z))
        elif act == "tanh":
            a = np.tanh(z)
        elif act == "relu":
            a = np.maximum(z, 0.0)
        else:  # softplus
            a = np.logaddexp(0.0, z)
    raise AssertionError("unreachable")  # pragma: no cover


def hidden_saturation(map, states, tol: float = SATURATION_TOL) -> np.ndarray:
    r"""The share of (hidden unit, training sample) pairs at which the activation is saturated.

    Saturated: :math:`f'(z) < \mathrm{tol}\cdot\max f'` (sigmoid
    :math:`a(1-a) < \mathrm{tol}/4`, tanh :math:`1 - a^2 < \mathrm{tol}`,
    softplus :math:`\sigma(z) < \mathrm{tol}`), for relu :math:`z \le 0` (no
    gradient passes). A saturated unit passes no gradient, so a network with
    every unit saturated on every sample has stopped learning.

    Parameters
    ----------
    map : GradientDescentMap
        The network (its activation and training inputs).
    states : array_like, shape (E, dim) or (dim,)
        Parameter vectors.
    tol : float, default 1e-2
        The saturation threshold, relative to the activation's largest slope.

    Returns
    -------
    ndarray, shape (E,)
        The saturated share of each network, in [0, 1].
    """
    zs, _ = _hidden(map, states)
    act = map.problem().activation
    sat, total = 0.0, 0
    for z in zs:
        if act == "sigmoid":
            a = 1.0 / (1.0 + np.exp(-z))
            s = a * (1.0 - a) < tol * 0.25
        elif act == "tanh":
            s = 1.0 - np.tanh(z) ** 2 < tol
        elif act == "relu":
            s = z <= 0.0
        else:
            s = 1.0 / (1.0 + np.exp(-z)) < tol
        sat = sat + s.sum(axis=(1, 2))
        total += z.shape[1] * z.shape[2]
    return np.asarray(sat, dtype=np.float64) / total


def logit_spread(map, states) -> np.ndarray:
    """The largest, over output units, standard deviation of the logits across training samples.

    About 0 when the output no longer depends on the input.

    Parameters
    ----------
    map : GradientDescentMap
        The network (its training inputs).
    states : array_like, shape (E, dim) or (dim,)
        Parameter vectors.

    Returns
    -------
    ndarray, shape (E,)
        The spread of each network's logits.
    """
    _, logits = _hidden(map, states)
    return logits.std(axis=1).max(axis=-1)


def _single_class(map, states) -> np.ndarray:
    pred = np.atleast_2d(map.predict(np.atleast_2d(states)))
    return np.all(pred == pred[:, :1], axis=1)


def laminar_collapse(study, per_phase: int = 20, tol: float = SATURATION_TOL) -> dict[str, np.ndarray]:
    r"""The networks of every laminar phase of an intermittency study: saturated, flat, one class?

    The laminar phases are those of the study's own :class:`~dynnet.LaminarPhases`
    on each loss series after the transient; each orbit is trained again from
    its ``initial_state`` and up to ``per_phase`` states evenly spread over each
    phase are examined: :func:`hidden_saturation`, :func:`logit_spread` and
    whether one class is predicted for every training sample.

    Parameters
    ----------
    study : IntermittencyStudy
        A study that has run or was loaded.
    per_phase : int, default 20
        States examined per phase.
    tol : float, default 1e-2
        The saturation tolerance.

    Returns
    -------
    dict
        Per phase: ``init``, ``start``, ``stop`` (steps, ``stop`` exclusive),
        ``period``, ``saturation`` (mean over the examined states), ``spread``
        (median), ``single_class`` (every examined state predicts one class),
        ``loss`` (mean loss of the phase), ``collapsed`` (``saturation >= 0.99``
        and ``single_class``).
    """
    from .base import clone
    from .estimators import LaminarPhases

    ds = study.result_
    transient = int(ds.attrs.get("transient", study.transient))
    loss = ds["loss"].values
    m = study.parts()["map"]
    proto = next((e for e in study.parts()["estimators"] if isinstance(e, LaminarPhases)), LaminarPhases())
    x0 = ds["initial_state"].values
    rows = {k: [] for k in ("init", "start", "stop", "period", "saturation", "spread", "single_class",
                            "loss")}
    n_steps = loss.shape[0] - 1
    found = []  # (init, a, b, p, steps examined)
    for i in range(loss.shape[1]):
        series = loss[transient:, i]
        if not np.all(np.isfinite(series)):
            continue
        for a, b, p in clone(proto).fit(series).phases_:
            t = transient + np.unique(np.linspace(a, b - 1, min(per_phase, b - a)).round().astype(np.int64))
            found.append((i, int(a), int(b), int(p), t))
    # the states at the examined steps, all orbits trained together in segments (memory: one segment)
    want = np.zeros((n_steps + 1, x0.shape[0]), dtype=bool)
    for i, _, _, _, t in found:
        want[t, i] = True
    kept = {}
    x, seg = x0.copy(), 500
    for t0 in range(0, n_steps + 1, seg):
        t1 = min(t0 + seg, n_steps)
        traj = m.trajectory(x, t1 - t0) if t1 > t0 else x[None]  # (t1 - t0 + 1, n, dim)
        for r, i in zip(*np.nonzero(want[t0:t1 + 1]), strict=True):
            kept[(t0 + int(r), int(i))] = traj[r, i]
        x = traj[-1]
        if t1 == n_steps:
            break
    for i, a, b, p, t in found:
        states = np.stack([kept[(int(k), i)] for k in t])
        rows["init"].append(i)
        rows["start"].append(transient + a)
        rows["stop"].append(transient + b)
        rows["period"].append(p)
        rows["saturation"].append(float(hidden_saturation(m, states, tol).mean()))
        rows["spread"].append(float(np.median(logit_spread(m, states))))
        rows["single_class"].append(bool(_single_class(m, states).all()))
        rows["loss"].append(float(loss[transient + a:transient + b, i].mean()))
    out = {k: np.asarray(v, dtype=bool if k == "single_class" else
                         (np.int64 if k in ("init", "start", "stop", "period") else np.float64))
           for k, v in rows.items()}
    out["collapsed"] = (out["saturation"] >= COLLAPSE_SATURATION) & out["single_class"]
    return out


def aperiodic_stretch(loss, transient: int, min_length: int, rel_tol: float = STRETCH_REL_TOL,
                      laminar=None, hvg=None) -> tuple[int, int, int, float]:
    r"""The longest stretch of the loss series that is aperiodic at a tolerance relative to its scale.

    For each series :math:`L_t` after the transient, laminar phases are found
    with the absolute tolerance ``rel_tol`` :math:`\times \mathrm{median}_t |L_t|`
    (the other settings those of ``laminar``); a slowly drifting cycle, whose
    :math:`|L_t - L_{t-p}|` is small against the series' values, is laminar at
    that tolerance, where a fixed tolerance of 1e-5 can call it aperiodic.
    Among the stretches inside no laminar phase of at least ``min_length``
    steps, the longest whose horizontal-visibility-graph verdict is not
    "periodic" is returned.

    Parameters
    ----------
    loss : array_like, shape (T, n_init)
        The loss series, one column per network.
    transient : int
        Steps left out at the start of each series.
    min_length : int
        The shortest stretch considered, in steps.
    rel_tol : float, default 1e-3
        The laminar tolerance, relative to the median :math:`|L_t|` of the series.
    laminar : LaminarPhases, optional
        The settings (periods, min_length) of the laminar search (default ``LaminarPhases()``).
    hvg : HorizontalVisibilityGraph, optional
        The periodicity verdict of a stretch (default ``HorizontalVisibilityGraph()``).

    Returns
    -------
    tuple
        ``(init, start, stop, tol)`` with ``start``, ``stop`` in steps (``stop``
        exclusive); ``(-1, -1, -1, nan)`` when no series has such a stretch.
    """
    from .base import clone
    from .estimators import HorizontalVisibilityGraph, LaminarPhases

    lam = LaminarPhases() if laminar is None else laminar
    g = HorizontalVisibilityGraph() if hvg is None else hvg
    loss = np.asarray(loss, dtype=np.float64)[transient:]
    cands = []
    for i in range(loss.shape[1]):
        x = loss[:, i]
        if not np.all(np.isfinite(x)):
            continue
        tol = rel_tol * float(np.median(np.abs(x)))
        mask = clone(lam).set_params(tol=tol, tol_mode="absolute").fit(x).laminar_mask_
        edges = np.flatnonzero(np.diff(np.concatenate([[1], mask.astype(np.int8), [1]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b - a >= min_length:
                cands.append((b - a, -i, a, b, tol))
    for _, mi, a, b, tol in sorted(cands, reverse=True):
        if clone(g).fit(loss[a:b, -mi]).verdict_ != "periodic":
            return -mi, transient + a, transient + b, tol
    return -1, -1, -1, np.nan


def aperiodic_stretches(loss, transient: int, min_length: int, rel_tol: float = STRETCH_REL_TOL,
                        laminar=None, hvg=None) -> list[tuple[int, int, int]]:
    """Every stretch that :func:`aperiodic_stretch` would consider, longest first.

    Parameters
    ----------
    loss : array_like, shape (T, n_init)
        The loss series (as for :func:`aperiodic_stretch`).
    transient : int
        Steps left out at the start of each series.
    min_length : int
        The shortest stretch considered, in steps.
    rel_tol : float, default 1e-3
        The laminar tolerance, relative to the median :math:`|L_t|` of the series.
    laminar : LaminarPhases, optional
        The settings of the laminar search.
    hvg : HorizontalVisibilityGraph, optional
        The periodicity verdict of a stretch.

    Returns
    -------
    list of (init, start, stop)
        Steps, ``stop`` exclusive; stretches of at least ``min_length`` steps in no
        laminar phase at the relative tolerance, HVG verdict not "periodic".
    """
    from .base import clone
    from .estimators import HorizontalVisibilityGraph, LaminarPhases

    lam = LaminarPhases() if laminar is None else laminar
    g = HorizontalVisibilityGraph() if hvg is None else hvg
    loss = np.asarray(loss, dtype=np.float64)[transient:]
    out = []
    for i in range(loss.shape[1]):
        x = loss[:, i]
        if not np.all(np.isfinite(x)):
            continue
        tol = rel_tol * float(np.median(np.abs(x)))
        mask = clone(lam).set_params(tol=tol, tol_mode="absolute").fit(x).laminar_mask_
        edges = np.flatnonzero(np.diff(np.concatenate([[1], mask.astype(np.int8), [1]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b - a >= min_length and clone(g).fit(x[a:b]).verdict_ != "periodic":
                out.append((i, transient + int(a), transient + int(b)))
    return sorted(out, key=lambda r: (r[1] - r[2], r[0], r[1]))


def relative_laminar_share(study, init: int, start: int, stop: int,
                           rel_tol: float = STRETCH_REL_TOL) -> float:
    """The laminar share of steps ``[start, stop)`` of one loss series at the relative tolerance.

    The laminar search of the study's :class:`~dynnet.LaminarPhases` with the
    absolute tolerance ``rel_tol`` times the median :math:`|L_t|` of the series
    after the transient (as :func:`aperiodic_stretch`), run on the stretch.
    Near 1: the stretch is (slowly drifting) periodic, not a burst.

    Parameters
    ----------
    study : IntermittencyStudy
        A study that has run (its ``loss`` records and laminar settings).
    init : int
        The network (-1: no stretch).
    start, stop : int
        The stretch, in steps (``stop`` exclusive).
    rel_tol : float, default 1e-3
        The laminar tolerance, relative to the series' median :math:`|L_t|`.

    Returns
    -------
    float
        NaN for ``init < 0`` (no stretch) or a non-finite series.
    """
    from .base import clone
    from .estimators import LaminarPhases

    if init < 0:
        return np.nan
    ds = study.result_
    transient = int(ds.attrs.get("transient", study.transient))
    x = ds["loss"].values[transient:, init]
    if not np.all(np.isfinite(x)):
        return np.nan
    lam = next((e for e in study.parts()["estimators"] if isinstance(e, LaminarPhases)), LaminarPhases())
    tol = rel_tol * float(np.median(np.abs(x)))
    return float(clone(lam).set_params(tol=tol, tol_mode="absolute").fit(
        ds["loss"].values[start:stop, init]).laminar_fraction_)


def aperiodic_kantz(study, rel_tol: float = STRETCH_REL_TOL, min_length: int = BURST_MIN_LENGTH) -> dict:
    """The Kantz test of the intermittency study on its genuinely aperiodic bursts.

    The bursts are the stretches of :func:`aperiodic_stretches` (no laminar
    phase at ``rel_tol`` times the series' median :math:`|L|`, HVG verdict not
    "periodic") of at least ``min_length`` steps; the study's own Kantz
    estimator is fitted on each (neighbours are searched within the burst; a
    burst too short for its horizon is skipped), and the reference times of all
    bursts are pooled. Significance is a p-value below the Kantz estimator's
    ``alpha`` among the reference times that have neighbours.

    Parameters
    ----------
    study : IntermittencyStudy
        A study that has run.
    rel_tol : float, default 1e-3
        The laminar tolerance, relative to the series' median :math:`|L_t|`.
    min_length : int, default 100
        The shortest burst tested, in steps.

    Returns
    -------
    dict
        ``n_bursts`` (tested), ``longest`` (steps of the longest burst; 0 if
        none), ``tol_rel``, ``n_tested``, ``n``, ``two_sided`` and ``greater``
        (the significant fractions; NaN when no reference time is tested).
    """
    from .base import clone
    from .estimators import HorizontalVisibilityGraph, Kantz, LaminarPhases

    ests = list(study.parts()["estimators"])

    def proto(cls):
        return next((e for e in ests if isinstance(e, cls)), cls())

    ds = study.result_
    transient = int(ds.attrs.get("transient", study.transient))
    loss = ds["loss"].values
    bursts = aperiodic_stretches(loss, transient, min_length, rel_tol, proto(LaminarPhases),
                                 proto(HorizontalVisibilityGraph))
    k = proto(Kantz)
    tested, p2, p1, n_bursts = [], [], [], 0
    for i, a, b in bursts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                f = clone(k).fit(loss[a:b, i])
            except ValueError:  # too short for the estimator's horizon
                continue
        n_bursts += 1
        tested.append(np.asarray(f.tested_per_ref_, dtype=bool))
        p2.append(np.asarray(f.pvalues_per_ref_two_sided_, dtype=np.float64))
        p1.append(np.asarray(f.pvalues_per_ref_greater_, dtype=np.float64))
    out = {"n_bursts": n_bursts, "longest": (bursts[0][2] - bursts[0][1]) if bursts else 0,
           "tol_rel": rel_tol, "n_tested": 0, "n": 0, "two_sided": np.nan, "greater": np.nan}
    if tested:
        t = np.concatenate(tested)
        out["n_tested"], out["n"] = int(t.sum()), int(t.size)
        if t.any():
            out["two_sided"] = float(np.mean(np.concatenate(p2)[t] < k.alpha))
            out["greater"] = float(np.mean(np.concatenate(p1)[t] < k.alpha))
    return out


def prior_entropy(map) -> float:
    r"""The entropy :math:`-\sum_c p_c \ln p_c` of the training labels' class frequencies.

    The cross-entropy loss of the best constant predictor (the same output for
    every input): a network whose loss sits at this value has learnt nothing
    about its input.

    Parameters
    ----------
    map : GradientDescentMap
        The network (its training labels).

    Returns
    -------
    float
        The entropy, in nats.
    """
    _, y = map.data("train")
    p = np.bincount(np.asarray(y, dtype=np.int64)) / len(y)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def dead_networks(map, states, tol: float = DEAD_TOL) -> np.ndarray:
    """Which networks are dead: training loss within ``tol`` of :func:`prior_entropy` and one class predicted.

    Parameters
    ----------
    map : GradientDescentMap
        The network.
    states : array_like, shape (E, dim)
        Parameter vectors.
    tol : float, default 1e-3
        How close to the prior entropy the loss must be.

    Returns
    -------
    ndarray of bool, shape (E,)
        True for a dead network.
    """
    states = np.atleast_2d(np.asarray(states, dtype=np.float64))
    loss = np.asarray(map.observables(states)["loss"], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (np.abs(loss - prior_entropy(map)) <= tol) & _single_class(map, states)


def grid_regime(final_loss: float, entropy: float, kept: float, mle: float, tol: float = DEAD_TOL) -> str:
    """The regime of one grid cell, by the rule applied in order.

    1. ``"dead"``: the median final training loss lies within ``tol`` of the
       prior entropy (the constant predictor: the networks learnt nothing);
    2. ``"sensitive"``: at least half of the fits kept and lambda_nMLE > 0.05;
    3. ``"insensitive"`` otherwise.

    Parameters
    ----------
    final_loss : float
        The cell's median final training loss.
    entropy : float
        The prior entropy of its training labels (:func:`prior_entropy`).
    kept : float
        The fraction of fits kept.
    mle : float
        Its lambda_nMLE.
    tol : float, default 1e-3
        How close to the entropy a dead cell's loss is.

    Returns
    -------
    str
        ``"dead"``, ``"sensitive"`` or ``"insensitive"``.
    """
    if np.isfinite(final_loss) and abs(final_loss - entropy) <= tol:
        return "dead"
    if np.isfinite(mle) and kept >= 0.5 and mle > 0.05:
        return "sensitive"
    return "insensitive"


# -- two per-network exponents ---------------------------------------------------------------------


def fsle_disagreement(result, eps: float, tol: float = FSLE_TOL, estimator=None) -> dict:
    r"""How often the per-network FSLE and the best-window exponent disagree, at one eps.

    The best-window :math:`\Lambda_i` (``exponent``, networks with ``kept``)
    against :math:`\lambda_i` of :class:`~dynnet.FiniteSizeLyapunov` fitted on
    the same distances; they disagree when :math:`|\Lambda_i - \lambda_i| >`
    ``tol``.

    Parameters
    ----------
    result : xarray.Dataset
        An edge-of-stability result (``distance (eps, step, init, pert)``,
        ``exponent`` and ``kept`` ``(eps, init)``).
    eps : float
        The perturbation size whose distances are compared.
    tol : float, default 0.1 (per step)
        The largest difference that counts as agreement.
    estimator : FiniteSizeLyapunov, optional
        The FSLE's settings (default ``FiniteSizeLyapunov()``).

    Returns
    -------
    dict
        ``fraction`` (among the networks with both), ``n`` (that number),
        ``median_difference`` (of :math:`\Lambda_i - \lambda_i`), ``fsle`` (the
        small-scale exponent of all networks).
    """
    from .base import clone
    from .estimators import FiniteSizeLyapunov

    est = FiniteSizeLyapunov() if estimator is None else estimator
    k = int(np.argmin(np.abs(np.log(result["eps"].values / eps))))
    d = result["distance"].isel(eps=k).transpose("step", "init", "pert").values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        f = clone(est).fit(d, steps=np.asarray(result["step"].values, dtype=np.float64))
    lam = np.where(result["kept"].values[k], result["exponent"].values[k], np.nan)
    both = np.isfinite(lam) & np.isfinite(f.exponents_)
    diff = lam[both] - f.exponents_[both]
    return {"fraction": float(np.mean(np.abs(diff) > tol)) if both.any() else np.nan, "n": int(both.sum()),
            "median_difference": float(np.median(diff)) if both.any() else np.nan,
            "fsle": float(f.exponent_)}
