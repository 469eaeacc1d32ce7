r"""Estimators on a scalar series: Lyapunov exponents from data and a shuffled ACF.

All of them take any 1-D float series (a loss curve, one coordinate of an
orbit, a measurement): :class:`Kantz` and :class:`Rosenstein` estimate the
largest Lyapunov exponent from the divergence of nearby delay vectors, and
:class:`ShuffledAutocorrelation` compares the autocorrelation function with a
null band from shuffled copies of the series.

Neighbour searches use :class:`scipy.spatial.cKDTree`, so the cost is
:math:`O(N \log N)` in the series length, never all pairs.

Units. :class:`Rosenstein` and :class:`ShuffledAutocorrelation` standardise
the series first (:math:`(x - \bar x)/s`), so their answers do not depend
on its scale or offset and never overflow. :class:`Kantz` keeps the series'
own units, because its ``radius`` is given in them (the paper's 5e-5 on the
raw loss); it computes on the series divided by a power of two (an exact
rescaling, radius alike), so it does not overflow either, and it is exactly
invariant under ``x -> c x, radius -> c radius``. All three reject a
constant or non-finite series with a ValueError.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from scipy.spatial import cKDTree

from .._regression import best_window, ols
from ..base import as_seed_sequence, check_array, check_int, check_option, check_scalar
from .base import SeriesEstimator, _logistic_orbit

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..base import SeedLike

__all__ = ["Kantz", "Rosenstein", "ShuffledAutocorrelation", "delay_embed"]


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def delay_embed(series: ArrayLike, dim: int = 1, delay: int = 1) -> np.ndarray:
    r"""Delay vectors :math:`v_t = (x_t, x_{t+\tau}, \dots, x_{t+(m-1)\tau})`.

    Parameters
    ----------
    series : array_like, shape (N,)
        The series, converted to float64 (not otherwise validated).
    dim : int, default 1
        Embedding dimension :math:`m`, >= 1.
    delay : int, default 1
        Delay :math:`\tau` in samples, >= 1.

    Returns
    -------
    ndarray, shape (N - (dim - 1) * delay, dim)
        Row :math:`t` is :math:`v_t`; a read-only view of the series (of its
        float64 copy when it had another dtype).

    Raises
    ------
    ValueError
        If the series has at most ``(dim - 1) * delay`` points, or ``dim`` or
        ``delay`` is below 1.
    """
    from ..base import check_int

    dim = check_int(None, "dim", dim, low=1)
    delay = check_int(None, "delay", delay, low=1)
    x = np.asarray(series, dtype=np.float64)
    span = (dim - 1) * delay
    if x.shape[0] <= span:
        raise ValueError(
            f"delay_embed: a series of length {x.shape[0]} is too short for dim={dim}, "
            f"delay={delay} (needs more than {span} points)"
        )
    win = np.lib.stride_tricks.sliding_window_view(x, span + 1)
    return win[:, ::delay]


def _pow2_scale(x):
    """``(x / 2**k, k)`` with ``2**k`` the power of two just above ``max|x|``: an exact rescaling
    (no rounding) that keeps every difference of the series finite."""
    top = float(np.max(np.abs(x)))
    k = int(np.frexp(top)[1]) if top > 0 else 0
    return np.ldexp(x, -k), k


def _standardise(x):
    """``(x - mean) / std`` of a non-constant finite series, computed without overflow."""
    xs, _ = _pow2_scale(x)
    z = xs - xs.mean()
    return z / np.sqrt(np.mean(z * z))


def _check_series(owner, data, why):
    """``data`` as a finite, non-constant 1-D float64 array, or a ValueError naming ``owner``.

    ``why`` says what a constant series makes undefined.
    """
    x = check_array(owner, "data (the series)", data, ndim=1)
    if x.size and np.all(x == x[0]):
        raise ValueError(f"{type(owner).__name__}: the series is constant ({float(x[0])!r}); {why}")
    return x


@numba.njit(cache=True, nogil=True)
def _kantz_sums(emb, t0, t1, ref, n_ref, n_steps, log_mode):  # pragma: no cover - compiled
    """Per reference and step: sum of max-norm distances (or of their logs,
    with the count of non-zero distances) over the neighbour pairs."""
    sums = np.zeros((n_ref, n_steps + 1))
    npos = np.zeros((n_ref, n_steps + 1))
    dim = emb.shape[1]
    for q in range(t0.shape[0]):
        a = t0[q]
        b = t1[q]
        r = ref[q]
        for n in range(n_steps + 1):
            d = 0.0
            for c in range(dim):
                v = abs(emb[a + n, c] - emb[b + n, c])
                if v > d:
                    d = v
            if log_mode:
                if d > 0.0:
                    sums[r, n] += np.log(d)
                    npos[r, n] += 1.0
            else:
                sums[r, n] += d
    return sums, npos


class _DivergenceEstimator(SeriesEstimator):
    """Shared validation, sampling and fitting of Kantz and Rosenstein."""

    _constant = ("every pair of points is at distance 0, so the divergence of neighbours "
                 "and its exponent are undefined")

    def _validate(self, data, map, steps):
        self._no_map(map)
        self._no_steps(steps)
        x = _check_series(self, data, self._constant)
        dim = check_int(self, "dim", self.dim, low=1)
        delay = check_int(self, "delay", self.delay, low=1)
        n_steps = check_int(self, "n_steps", self.n_steps, low=2)
        # a fit region needs >= 3 points: a line through 2 points has R^2 = 1,
        # which would always win the best-R^2 selection
        min_fit = check_int(self, "min_fit", self.min_fit, low=3, high=n_steps)
        n_sig = check_int(self, "n_sig", self.n_sig, low=3, high=n_steps)
        transient = check_int(self, "transient", self.transient, low=0)
        min_tsep = check_int(self, "min_tsep", self.min_tsep, low=0)
        alpha = check_scalar(self, "alpha", self.alpha, low=0.0, high=1.0, low_open=True,
                             high_open=True)
        check_option(self, "alternative", self.alternative, ["greater", "two-sided"])
        if self.n_ref is not None:
            check_int(self, "n_ref", self.n_ref, low=1)
        x = x[transient:]
        n_vec = x.shape[0] - (dim - 1) * delay
        n_usable = n_vec - n_steps                # vectors with a full horizon ahead
        if n_usable < 2 * min_tsep + 3:
            raise ValueError(
                f"{type(self).__name__}: the series (length {x.shape[0]} after "
                f"transient={transient}) is too short for dim={dim}, delay={delay}, "
                f"n_steps={n_steps}, min_tsep={min_tsep}"
            )
        if np.all(x == x[0]):
            raise ValueError(
                f"{type(self).__name__}: the series (after transient={transient}) is "
                f"constant ({float(x[0])!r}); {self._constant}"
            )
        return x, n_usable, n_steps, min_fit, n_sig, min_tsep, alpha

    def _sample_refs(self, n_usable):
        if self.n_ref is None or self.n_ref >= n_usable:
            return np.arange(n_usable)
        rng = np.random.default_rng(as_seed_sequence(self.seed))
        return np.sort(rng.choice(n_usable, size=int(self.n_ref), replace=False))

    @staticmethod
    def _fit_rows(curves, min_fit, n_steps, n_sig, alternative):
        """Best-R^2 slope on n = 1..m (m in min_fit..n_steps) and the n = 1..n_sig p-value.

        ``curves`` (R, n_steps + 1); returns slope, intercept, r2, m, p per row.
        """
        n = np.arange(n_steps + 1, dtype=np.float64)
        stops = np.arange(min_fit, n_steps + 1) + 1
        fit = best_window(n, curves.T, np.ones_like(stops), stops)
        m = np.where(fit.index >= 0, stops[np.maximum(fit.index, 0)] - 1, -1)
        p = ols(n[1:1 + n_sig], curves[:, 1:1 + n_sig]).pvalue(alternative)
        return fit.slope, fit.intercept, fit.r2, m, p

    def _fit_curve(self, divergence, min_fit, n_steps, n_sig, alpha):
        b, a, r2, m, p = self._fit_rows(divergence[None, :], min_fit, n_steps, n_sig,
                                        self.alternative)
        self.exponent_ = float(b[0])
        self.intercept_ = float(a[0])
        self.r2_ = float(r2[0])
        self.fit_range_ = (1, int(m[0]))
        self.pvalue_ = float(p[0])
        self.significant_ = bool(np.isfinite(p[0]) and p[0] < alpha)

    def summary(self) -> dict[str, Any]:
        """Headline numbers of the fit.

        Returns
        -------
        dict
            ``exponent``, ``r2``, ``pvalue``, ``significant`` (bool), ``fit_end``
            (int, the last :math:`n` of the fit region; -1 when none).
        """
        self._check_fitted("exponent_")
        return {"exponent": self.exponent_, "r2": self.r2_, "pvalue": self.pvalue_,
                "significant": bool(self.significant_),
                "fit_end": int(self.fit_range_[1])}

    @staticmethod
    def _check_data():
        return (_logistic_orbit(),)


# ----------------------------------------------------------------------------
# Kantz
# ----------------------------------------------------------------------------

class Kantz(_DivergenceEstimator):
    r"""Largest Lyapunov exponent from a scalar series, after Kantz (1994).

    For each sampled reference time :math:`t_0` the neighbourhood
    :math:`U(t_0)` holds every other time :math:`t_1` (with
    :math:`|t_1 - t_0| > \text{min\_tsep}`) whose delay vector lies within
    ``radius`` of :math:`v_{t_0}` in the max norm. The divergence of the
    neighbourhood after :math:`n` steps is

    .. math::

        d_n(t_0) = \frac{1}{|U(t_0)|} \sum_{t_1 \in U(t_0)}
                   \lVert v_{t_0 + n} - v_{t_1 + n} \rVert_\infty ,

    which for ``dim = 1`` is the paper's
    :math:`d_n = \langle |L(t_0+n) - L(t_1+n)| \rangle`. Kantz's pooled curve
    (``divergence_``) averages the logarithm over reference points with at
    least one neighbour,

    .. math::

        S(n) = \frac{1}{N_\mathrm{ref}} \sum_{t_0} \ln d_n(t_0)
             \approx S(0) + \lambda n ,

    and ``exponent_`` is the slope of its linear region. The linear region is
    chosen as in the paper: fit :math:`S(n)` for :math:`n = 1, \dots, m`, for
    every :math:`m` in ``min_fit .. n_steps`` (5 .. 25), and keep the fit with
    the best :math:`R^2`. Significance follows the paper's rule: an OLS
    regression on the first ``n_sig = 10`` points (:math:`n = 1..10`), slope
    p-value below ``alpha = 0.05``. The test is two-sided by default
    (:math:`H_0`: slope 0 against slope :math:`\ne 0`), which is the paper's
    Fig. 11: its caption names the null hypothesis "a slope of zero (i.e., no
    exponential divergence) cannot be rejected", gives "p-value > 0.05" with
    no side, and that is the usual regression p-value (the default of
    :func:`scipy.stats.linregress`). ``alternative="greater"`` gives the
    one-sided test (:math:`H_1`: slope > 0, an exponential *divergence*).

    The same fit and test are applied to each reference point's own curve
    :math:`\ln d_n(t_0)`: ``exponents_per_ref_`` and ``significant_per_ref_``
    are the paper's stacked histogram (Study 4). Both sides of the test are
    kept per reference point (``pvalues_per_ref_greater_``,
    ``pvalues_per_ref_two_sided_``), and the significant fractions are taken
    among the *tested* reference points only (``tested_per_ref_``: at least
    one neighbour within ``radius`` and a defined regression), never among
    all sampled ones: a reference point without a neighbour has no exponent
    and is not evidence against divergence.

    Parameters
    ----------
    dim : int, default 1
        Embedding dimension (the paper uses 1: the loss value itself).
    delay : int, default 1
        Embedding delay in samples.
    radius : float, default 5e-5
        Neighbour tolerance (max norm), the paper's 5e-5 for a loss series. It is
        absolute: choose it against the scale of the series and its density.
        With too few points within ``radius`` a reference point has no
        neighbours and is dropped (``n_neighbors_ == 0``); when fewer than
        10 % of the reference points have a neighbour, :meth:`fit` issues one
        RuntimeWarning naming ``radius`` and that fraction (with none,
        ``exponent_`` and ``divergence_`` are NaN).
    min_tsep : int, default 0
        Theiler window: neighbours must satisfy :math:`|t_1 - t_0| > ` min_tsep
        (0 excludes only :math:`t_0` itself, as in the paper).
    n_ref : int or None, default 1000
        Number of reference times sampled without replacement (None: all).
    n_steps : int, default 25
        Horizon of the divergence curve, :math:`n = 0..` n_steps.
    min_fit : int, default 5
        Shortest fit region :math:`n = 1..` min_fit; at least 3 (a line
        through 2 points has :math:`R^2 = 1` and would always be selected).
    n_sig : int, default 10
        Number of points (from :math:`n = 1`) of the significance regression.
    alpha : float, default 0.05
        Significance level.
    alternative : {"two-sided", "greater"}, default "two-sided"
        Alternative hypothesis of the slope test behind ``pvalue_``,
        ``significant_``, ``pvalues_per_ref_``, ``significant_per_ref_`` and
        ``significant_fraction_``. The default is the paper's two-sided test
        (see above); "greater" is one-sided (:math:`H_1`: slope > 0). The
        two-sided p-value is twice the one-sided one for a positive slope (so
        a positive slope with p between 0.025 and 0.05 one-sided is not
        significant two-sided, and a significantly *negative* slope counts as
        significant).
    transient : int, default 0
        Number of leading samples dropped before anything else.
    average : {"distance", "log"}, default "distance"
        "distance" (Kantz's and the paper's): :math:`\ln` of the mean distance
        over the neighbourhood. "log": the mean of :math:`\ln` distance over
        the neighbours (pairs at zero distance left out), i.e. Rosenstein's
        average over every neighbour instead of the nearest one.
    seed : int, Generator, SeedSequence or None, default 0
        Seed of the reference-time sample.
    radius_units : {"absolute", "std"}, default "absolute"
        "absolute": ``radius`` is in the units of the series (the paper's).
        "std": ``radius`` is in standard deviations of the series (after
        ``transient``), so one value suits series of any scale; the radius
        used is ``radius_``.

    Attributes
    ----------
    exponent_ : float
        Slope of ``divergence_`` over the best fit region (per sample).
    radius_ : float
        The neighbour radius used, in the units of the series (``radius``
        times the standard deviation with ``radius_units="std"``).
    divergence_ : ndarray, shape (n_steps + 1,)
        :math:`S(n)`.
    fit_range_ : tuple of int
        ``(1, m)``, the fit region in :math:`n`, inclusive.
    r2_, intercept_ : float
        Fit quality and intercept.
    pvalue_ : float
        Slope p-value of ``divergence_`` on :math:`n = 1..` n_sig.
    significant_ : bool
        ``pvalue_ < alpha``.
    reference_times_ : ndarray of int
        Sampled :math:`t_0` (after the transient).
    n_neighbors_ : ndarray of int
        :math:`|U(t_0)|` per reference time.
    divergence_per_ref_ : ndarray, shape (n_ref, n_steps + 1)
        :math:`\ln d_n(t_0)` (NaN without neighbours).
    exponents_per_ref_, r2_per_ref_, pvalues_per_ref_ : ndarray, shape (n_ref,)
        Per-reference best-R^2 slopes, their R^2, and significance p-values
        (with ``alternative``; NaN without neighbours).
    pvalues_per_ref_greater_, pvalues_per_ref_two_sided_ : ndarray, shape (n_ref,)
        The same regression's one-sided (slope > 0) and two-sided p-values.
    significant_per_ref_ : ndarray of bool, shape (n_ref,)
        ``pvalues_per_ref_ < alpha`` (False where the p-value is NaN).
    tested_per_ref_ : ndarray of bool, shape (n_ref,)
        Reference points with at least one neighbour and a finite p-value.
    n_tested_ : int
        Number of tested reference points.
    significant_fraction_ : float
        Fraction of the tested reference points that are significant (with
        ``alternative``); NaN when none is tested.
    significant_fraction_greater_, significant_fraction_two_sided_ : float
        The same fraction with the one-sided and with the two-sided test.

    Notes
    -----
    Fit with ``fit(series)`` (no ``map``, no ``steps``: time is counted in
    samples). The series stays in its own units (``radius`` is in them);
    see the module notes. A constant series (after the transient) raises
    ValueError: every pair of points is at distance 0 and no divergence can
    be measured (the same in :class:`Rosenstein`).

    With the paper's small radius many reference points may have no
    neighbour at all; the estimate then rests on the others (see
    ``radius``). Bias: averaging the *distance* over the neighbourhood before
    the log (Jensen's inequality, :math:`\ln\langle d\rangle \ge \langle\ln
    d\rangle`) measures a generalised exponent slightly above :math:`\lambda`
    when the local stretching varies across the neighbourhood, more so for a
    larger radius; ``average="log"`` removes that bias.

    References
    ----------
    H. Kantz, "A robust method to estimate the maximal Lyapunov exponent of a time
    series", Phys. Lett. A 185, 77 (1994).
    H. Kantz and T. Schreiber, *Nonlinear Time Series Analysis*, 2nd ed.,
    Cambridge (2004), sec. 5.3.
    """



    def __init__(self, dim: int = 1, delay: int = 1, radius: float = 5e-5, min_tsep: int = 0,
                 n_ref: int | None = 1000, n_steps: int = 25, min_fit: int = 5, n_sig: int = 10,
                 alpha: float = 0.05, alternative: str = "two-sided", transient: int = 0,
                 average: str = "distance", seed: SeedLike = 0, radius_units: str = "absolute") -> None:
        self.dim = dim
        self.delay = delay
        self.radius = radius
        self.radius_units = radius_units
        self.average = average
        self.min_tsep = min_tsep
        self.n_ref = n_ref
        self.n_steps = n_steps
        self.min_fit = min_fit
        self.n_sig = n_sig
        self.alpha = alpha
        self.alternative = alternative
        self.transient = transient
        self.seed = seed

    def fit(self, data: ArrayLike, *, map: None = None, steps: None = None) -> Kantz:
        """Estimate the exponent of a series; returns self.

        Parameters
        ----------
        data : array_like, shape (N,)
            The series, finite and not constant, in the units of ``radius``.
        map, steps : None
            Not used (TypeError if given).

        Returns
        -------
        Kantz
            ``self``.
        """
        x, n_usable, n_steps, min_fit, n_sig, min_tsep, alpha = self._validate(data, map, steps)
        radius = check_scalar(self, "radius", self.radius, low=0.0, low_open=True)
        units = check_option(self, "radius_units", self.radius_units, ["absolute", "std"])
        if units == "std":
            radius = radius * float(np.std(x))
        self.radius_ = radius
        average = check_option(self, "average", self.average, ["distance", "log"])
        # an exact rescaling by a power of two (radius alike): no difference overflows
        xs, k = _pow2_scale(x)
        r_s = float(np.ldexp(radius, -k))
        emb = np.ascontiguousarray(delay_embed(xs, int(self.dim), int(self.delay)))
        refs = self._sample_refs(n_usable)
        cand = emb[:n_usable]
        tree_all = cKDTree(cand)
        tree_ref = cKDTree(cand[refs])
        pairs = tree_ref.sparse_distance_matrix(tree_all, r_s, p=np.inf,
                                                output_type="ndarray")
        i = pairs["i"].astype(np.int64)
        j = pairs["j"].astype(np.int64)
        t0 = refs[i]
        keep = np.abs(j - t0) > min_tsep
        i, j, t0 = i[keep], j[keep], t0[keep]
        n_r = refs.shape[0]
        counts = np.bincount(i, minlength=n_r)
        sums, npos = _kantz_sums(emb, t0, j, i, n_r, n_steps, average == "log")
        with np.errstate(divide="ignore", invalid="ignore"):
            if average == "distance":
                logd = np.log(sums / counts[:, None])
            else:
                logd = sums / npos
        logd[~np.isfinite(logd)] = np.nan
        has = counts > 0
        frac = float(has.mean())
        if frac < 0.1:
            warnings.warn(
                f"Kantz: only {int(has.sum())} of {n_r} reference points ({frac:.1%}) have "
                f"a neighbour within radius={radius:g} (the series spans "
                f"{float(np.ldexp(np.ptp(xs), k)):.3g}); "
                "the divergence curve is "
                + ("empty and exponent_ is NaN" if not has.any() else
                   "an average over few points")
                + (". radius is absolute: choose it against the scale of the series (or give it "
                   "in standard deviations of the series, radius_units='std')" if units == "absolute"
                   else f" (radius={float(self.radius):g} standard deviations of the series)"),
                RuntimeWarning, stacklevel=2,
            )
        # slopes are fitted on the rescaled logs (so they are bitwise invariant under a
        # power-of-two rescaling); the reported curves are in the series' units
        off = k * np.log(2.0)
        self.reference_times_ = refs
        self.n_neighbors_ = counts
        self.divergence_per_ref_ = logd + off
        if has.any():
            with np.errstate(all="ignore"):
                div = np.nanmean(logd[has], axis=0) if np.isfinite(logd[has]).any() else \
                    np.full(n_steps + 1, np.nan)
        else:
            div = np.full(n_steps + 1, np.nan)
        self._fit_curve(div, min_fit, n_steps, n_sig, alpha)
        self.divergence_ = div + off
        self.intercept_ += off
        b, _, r2, _, p = self._fit_rows(logd, min_fit, n_steps, n_sig, self.alternative)
        self.exponents_per_ref_ = b
        self.r2_per_ref_ = r2
        self.pvalues_per_ref_ = p
        self.significant_per_ref_ = np.isfinite(p) & (p < alpha)
        # both sides of the slope test per reference, from the same regression
        sig_fit = ols(np.arange(1.0, n_sig + 1.0), logd[:, 1:1 + n_sig])
        self.pvalues_per_ref_greater_ = sig_fit.pvalue("greater")
        self.pvalues_per_ref_two_sided_ = sig_fit.pvalue("two-sided")
        # tested: a neighbour and a defined regression (no zero distance among n = 1..n_sig)
        tested = has & np.isfinite(self.pvalues_per_ref_two_sided_)
        self.tested_per_ref_ = tested
        self.n_tested_ = int(tested.sum())

        def frac(pv):
            return float(np.mean(pv[tested] < alpha)) if self.n_tested_ else float("nan")

        self.significant_fraction_ = frac(p)
        self.significant_fraction_greater_ = frac(self.pvalues_per_ref_greater_)
        self.significant_fraction_two_sided_ = frac(self.pvalues_per_ref_two_sided_)
        return self


    def summary(self) -> dict[str, Any]:
        """Headline numbers: those of :class:`Rosenstein` and the per-reference statistics.

        Returns
        -------
        dict
            ``exponent``, ``r2``, ``pvalue``, ``significant``, ``fit_end``,
            ``significant_fraction`` (with ``alternative``),
            ``significant_fraction_greater``, ``significant_fraction_two_sided``
            (both among the ``n_tested`` tested reference points), ``n_tested``
            (int), ``mean_neighbors``.
        """
        out = super().summary()
        out["significant_fraction"] = self.significant_fraction_
        out["significant_fraction_greater"] = self.significant_fraction_greater_
        out["significant_fraction_two_sided"] = self.significant_fraction_two_sided_
        out["n_tested"] = self.n_tested_
        out["mean_neighbors"] = float(self.n_neighbors_.mean())
        return out


# ----------------------------------------------------------------------------
# Rosenstein
# ----------------------------------------------------------------------------

class Rosenstein(_DivergenceEstimator):
    r"""Largest Lyapunov exponent from a scalar series, after Rosenstein et al. (1993).

    Each sampled reference vector :math:`v_{t_0}` is paired with its nearest
    neighbour :math:`v_{\hat t}` (Euclidean) outside the Theiler window
    :math:`|\hat t - t_0| > \text{min\_tsep}`. The mean log divergence

    .. math::

        y(n) = \frac{1}{N_\mathrm{ref}} \sum_{t_0}
               \ln \lVert v_{t_0 + n} - v_{\hat t + n} \rVert_2
             \approx y(0) + \lambda n

    is ``divergence_`` (pairs at exactly zero distance at step :math:`n` are
    left out of that step's mean), and ``exponent_`` is its slope over the
    linear region, chosen as in :class:`Kantz`: :math:`n = 1..m`,
    :math:`m \in` ``min_fit .. n_steps``, best :math:`R^2`. Significance: OLS
    slope p-value on :math:`n = 1..` ``n_sig`` below ``alpha``.

    Fit with ``fit(series)`` (no ``map``, no ``steps``). The series (after
    the transient) is standardised first, :math:`(x - \bar x)/s`, so the
    delay vectors, ``divergence_`` and ``intercept_`` are in units of its
    standard deviation and every result is invariant under
    :math:`x \to a + c\,x` (:math:`c \ne 0`), free of overflow. A constant
    or non-finite series raises ValueError.

    Parameters
    ----------
    dim : int, default 1
        Embedding dimension.
    delay : int, default 1
        Embedding delay in samples.
    min_tsep : int, default 10
        Theiler window in samples. For maps 0 would do; for sampled flows use
        about one mean period. The nearest neighbour is found among the
        ``2 * min_tsep + 2`` nearest candidates, at least one of which lies
        outside the window.
    n_ref : int or None, default 1000
        Number of reference times sampled without replacement (None: all).
    n_steps : int, default 25
        Horizon of the divergence curve.
    min_fit : int, default 5
        Shortest fit region, at least 3 (as in :class:`Kantz`).
    n_sig : int, default 10
        Points of the significance regression.
    alpha : float, default 0.05
        Significance level.
    alternative : {"greater", "two-sided"}, default "greater"
        Alternative hypothesis of the slope test.
    transient : int, default 0
        Leading samples dropped.
    seed : int, Generator, SeedSequence or None, default 0
        Seed of the reference-time sample.

    Attributes
    ----------
    exponent_, divergence_, fit_range_, r2_, intercept_, pvalue_, significant_
        As in :class:`Kantz`.
    reference_times_ : ndarray of int
    neighbor_times_ : ndarray of int
        :math:`\hat t` for each reference time.

    References
    ----------
    M. T. Rosenstein, J. J. Collins and C. J. De Luca, "A practical method for
    calculating largest Lyapunov exponents from small data sets", Physica D 65,
    117 (1993).
    """



    def __init__(self, dim: int = 1, delay: int = 1, min_tsep: int = 10, n_ref: int | None = 1000,
                 n_steps: int = 25, min_fit: int = 5, n_sig: int = 10, alpha: float = 0.05,
                 alternative: str = "greater", transient: int = 0, seed: SeedLike = 0) -> None:
        self.dim = dim
        self.delay = delay
        self.min_tsep = min_tsep
        self.n_ref = n_ref
        self.n_steps = n_steps
        self.min_fit = min_fit
        self.n_sig = n_sig
        self.alpha = alpha
        self.alternative = alternative
        self.transient = transient
        self.seed = seed


    def fit(self, data: ArrayLike, *, map: None = None, steps: None = None) -> Rosenstein:
        """Estimate the exponent of a series; returns self.

        Parameters
        ----------
        data : array_like, shape (N,)
            The series, finite and not constant (any units: it is standardised).
        map, steps : None
            Not used (TypeError if given).

        Returns
        -------
        Rosenstein
            ``self``.
        """
        x, n_usable, n_steps, min_fit, n_sig, min_tsep, alpha = self._validate(data, map, steps)
        emb = np.ascontiguousarray(delay_embed(_standardise(x), int(self.dim), int(self.delay)))
        refs = self._sample_refs(n_usable)
        cand = emb[:n_usable]
        tree = cKDTree(cand)
        k = 2 * min_tsep + 2
        _, idx = tree.query(cand[refs], k=k)
        idx = idx.reshape(refs.shape[0], k)
        ok = np.abs(idx - refs[:, None]) > min_tsep
        first = np.argmax(ok, axis=1)            # a valid one exists among k
        nn = idx[np.arange(refs.shape[0]), first]
        offs = np.arange(n_steps + 1)
        diff = emb[refs[:, None] + offs] - emb[nn[:, None] + offs]   # (R, n+1, dim)
        d = np.sqrt(np.einsum("rnd,rnd->rn", diff, diff))
        with np.errstate(divide="ignore"):
            logd = np.where(d > 0, np.log(np.where(d > 0, d, 1.0)), np.nan)
        with np.errstate(all="ignore"):
            cnt = np.isfinite(logd).sum(axis=0)
            div = np.where(cnt > 0, np.nansum(logd, axis=0) / np.maximum(cnt, 1), np.nan)
        self.reference_times_ = refs
        self.neighbor_times_ = nn
        self.divergence_ = div
        self._fit_curve(div, min_fit, n_steps, n_sig, alpha)
        return self


# ----------------------------------------------------------------------------
# shuffled autocorrelation
# ----------------------------------------------------------------------------

def _batched_acf(rows, max_lag):
    """ACF of each row (shape (B, N)) up to ``max_lag`` by one batched FFT.

    Same estimator as ``statsmodels.tsa.stattools.acf(x, fft=True)``:
    demeaned, biased (divide by N) autocovariance over its lag-0 value.
    """
    n = rows.shape[1]
    z = rows - rows.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * n - 1)))
    f = np.fft.rfft(z, n=nfft, axis=1)
    acov = np.fft.irfft(f.real ** 2 + f.imag ** 2, n=nfft, axis=1)[:, :max_lag + 1]
    return acov / acov[:, :1]


class ShuffledAutocorrelation(SeriesEstimator):
    r"""Autocorrelation function with a null band from shuffled copies.

    The sample ACF (as ``statsmodels.tsa.stattools.acf`` with ``fft=True``)

    .. math::

        \rho(k) = \frac{\sum_{t=1}^{N-k} (x_t - \bar x)(x_{t+k} - \bar x)}
                       {\sum_{t=1}^{N} (x_t - \bar x)^2}, \qquad k = 0..K,

    is compared, lag by lag, with its distribution over ``n_shuffles`` random
    permutations of the series (which keep the marginal distribution and
    destroy the temporal order). The band is the pair of ``quantiles``
    (0.03, 0.97) per lag, as in the paper; a lag lies outside when
    :math:`\rho(k)` falls outside the band (``significant_lags_``), so each
    lag of an iid series is outside with probability about 6 %. The shuffled
    ACFs are computed together with one batched FFT. A Ljung-Box test up to
    lag K is reported alongside.

    **The test** (``significant_``, ``pvalue_``): with :math:`K` lags, an iid
    series has some lag outside a per-lag band most of the time
    (:math:`1 - 0.94^{50} \approx 0.95` for the defaults), so "any lag
    outside" is no test of level ``alpha``. The statistic is instead the
    number :math:`C` of lags outside the band, and its null distribution is
    that of the same count over the shuffled ACFs (a permutation test):
    :math:`p = (1 + \#\{s : C_s \ge C\}) / (1 + n_\mathrm{shuffles})`,
    and ``significant_`` is :math:`p <` ``alpha``: the series has more lags
    outside the band than a shuffled series would.

    Fit with ``fit(series)`` (no ``map``, no ``steps``). The series is
    standardised first, :math:`(x - \bar x)/s`, so every result is invariant
    under :math:`x \to a + c\,x` (:math:`c \ne 0`) and free of overflow. A
    constant or non-finite series raises ValueError.

    Parameters
    ----------
    max_lag : int, default 50
        Largest lag K.
    n_shuffles : int, default 1000
        Number of shuffles for the band and the null count.
    quantiles : tuple of float, default (0.03, 0.97)
        Lower and upper band quantiles.
    alpha : float, default 0.05
        Level of the count test.
    seed : int, Generator, SeedSequence or None, default 0
        Seed of the shuffles.

    Attributes
    ----------
    acf_ : ndarray, shape (max_lag + 1,)
        :math:`\rho(0..K)`, with :math:`\rho(0) = 1`.
    band_ : ndarray, shape (2, max_lag + 1)
        Lower and upper band edges per lag.
    null_acf_ : ndarray, shape (n_shuffles, max_lag + 1)
        The shuffled ACFs.
    outside_ : ndarray of bool, shape (max_lag + 1,)
        Lags outside the band (lag 0 is never counted).
    significant_lags_ : ndarray of int
        The lags outside the band.
    fraction_outside_ : float
        ``len(significant_lags_) / max_lag``.
    pvalue_ : float
        p-value of the count test.
    significant_ : bool
        ``pvalue_ < alpha``: the test rejected "no temporal order".
    ljung_box_pvalue_ : float
        Ljung-Box p-value at lag K (``statsmodels.stats.diagnostic.acorr_ljungbox``).

    References
    ----------
    G. E. P. Box, G. M. Jenkins, G. C. Reinsel, *Time Series Analysis*, 4th ed.,
    Wiley (2008), ch. 2 (ACF) and sec. 8.2.2 (Ljung-Box).
    G. M. Ljung and G. E. P. Box, "On a measure of lack of fit in time series
    models", Biometrika 65, 297 (1978).
    P. Good, *Permutation, Parametric, and Bootstrap Tests of Hypotheses*,
    3rd ed., Springer (2005), ch. 3.
    """



    def __init__(self, max_lag: int = 50, n_shuffles: int = 1000,
                 quantiles: tuple[float, float] = (0.03, 0.97), alpha: float = 0.05,
                 seed: SeedLike = 0) -> None:
        self.max_lag = max_lag
        self.n_shuffles = n_shuffles
        self.quantiles = quantiles
        self.alpha = alpha
        self.seed = seed

    def fit(self, data: ArrayLike, *, map: None = None,
            steps: None = None) -> ShuffledAutocorrelation:
        """Compute the ACF, its shuffled band, the count test and the Ljung-Box p-value.

        Parameters
        ----------
        data : array_like, shape (N,)
            The series, finite and not constant (any units: it is standardised).
        map, steps : None
            Not used (TypeError if given).

        Returns
        -------
        ShuffledAutocorrelation
            ``self``.
        """
        from statsmodels.stats.diagnostic import acorr_ljungbox
        from statsmodels.tsa.stattools import acf

        self._no_map(map)
        self._no_steps(steps)
        x = _check_series(self, data, "its ACF is undefined")
        max_lag = check_int(self, "max_lag", self.max_lag, low=1)
        n_sh = check_int(self, "n_shuffles", self.n_shuffles, low=1)
        alpha = check_scalar(self, "alpha", self.alpha, low=0.0, high=1.0, low_open=True,
                             high_open=True)
        try:
            lo, hi = (float(q) for q in self.quantiles)
        except (TypeError, ValueError):
            raise TypeError(f"ShuffledAutocorrelation: parameter quantiles={self.quantiles!r} "
                            "must be a pair of floats") from None
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"ShuffledAutocorrelation: parameter quantiles={self.quantiles!r} "
                             "must satisfy 0 <= low < high <= 1")
        n = x.shape[0]
        if n <= max_lag + 1:
            raise ValueError(f"ShuffledAutocorrelation: the series (length {n}) must be longer "
                             f"than max_lag + 1 = {max_lag + 1}")
        z = _standardise(x)
        self.acf_ = np.asarray(acf(z, nlags=max_lag, fft=True), dtype=np.float64)
        rng = np.random.default_rng(as_seed_sequence(self.seed))
        # chunks of about 32 MB of shuffled rows
        chunk = max(1, min(n_sh, (1 << 22) // n))
        null = np.empty((n_sh, max_lag + 1))
        for s in range(0, n_sh, chunk):
            b = min(chunk, n_sh - s)
            rows = rng.permuted(np.broadcast_to(z, (b, n)), axis=1)
            null[s:s + b] = _batched_acf(rows, max_lag)
        self.null_acf_ = null
        self.band_ = np.quantile(null, [lo, hi], axis=0)
        out = (self.acf_ < self.band_[0]) | (self.acf_ > self.band_[1])
        out[0] = False
        self.outside_ = out
        self.significant_lags_ = np.flatnonzero(out)
        self.fraction_outside_ = float(out[1:].mean())
        null_out = (null[:, 1:] < self.band_[0, 1:]) | (null[:, 1:] > self.band_[1, 1:])
        count = int(out[1:].sum())
        self.pvalue_ = float((1 + np.sum(null_out.sum(axis=1) >= count)) / (1 + n_sh))
        self.significant_ = bool(self.pvalue_ < alpha)
        lb = acorr_ljungbox(z, lags=[max_lag], return_df=True)
        self.ljung_box_pvalue_ = float(lb["lb_pvalue"].iloc[0])
        return self


    def summary(self) -> dict[str, Any]:
        """Headline numbers of the fit.

        Returns
        -------
        dict
            ``significant`` (bool), ``pvalue``, ``n_significant_lags`` (int),
            ``fraction_outside``, ``ljung_box_pvalue``.
        """
        self._check_fitted("acf_")
        return {"significant": self.significant_,
                "pvalue": self.pvalue_,
                "n_significant_lags": int(self.significant_lags_.size),
                "fraction_outside": self.fraction_outside_,
                "ljung_box_pvalue": self.ljung_box_pvalue_}

    @staticmethod
    def _check_data():
        return (_logistic_orbit(),)
