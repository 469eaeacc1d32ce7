r"""Least squares for the whole package: one OLS fit and one best-linear-window fitter.

Every slope that dynnet reports (:class:`~dynnet.FiniteLyapunov`,
:class:`~dynnet.Kantz`, :class:`~dynnet.Rosenstein`,
:class:`~dynnet.WeightDrift`, the fit lines of the figures) comes from here.

* :func:`ols` fits :math:`y = a + b x` by ordinary least squares, vectorised
  over any leading axes of ``y``, and gives the slope's standard error and
  its t-test p-value (:meth:`OLSFit.pvalue`), as :func:`scipy.stats.linregress`.
* :func:`best_window` fits a line to each curve on every window of a list
  and keeps, per curve, the window of largest :math:`R^2`. The scores come
  from differences of cumulative sums (:math:`O(TN + WN)` for ``T`` points,
  ``N`` curves and ``W`` windows); the chosen window of each curve is then
  refitted with two-pass sums, so the reported numbers are as accurate as
  :func:`ols`. Windows whose scores differ by less than the rounding error
  of the cumulative sums (about :math:`\epsilon C / S_{yy}`, see below) are
  ties, and either may be chosen.

Definitions (both functions), for the points :math:`(x_k, y_k)` of a fit:

.. math::

    S_{xx} = \sum_k (x_k - \bar x)^2, \quad S_{xy} = \sum_k (x_k - \bar x)(y_k - \bar y),
    \quad S_{yy} = \sum_k (y_k - \bar y)^2,

    b = S_{xy} / S_{xx}, \quad a = \bar y - b \bar x, \quad
    R^2 = \frac{S_{xy}^2}{S_{xx} S_{yy}} \in [0, 1], \quad
    \mathrm{se}(b) = \sqrt{\frac{S_{yy} - b S_{xy}}{(n - 2)\, S_{xx}}}.

**A flat window** (all :math:`y_k` equal, :math:`S_{yy} = 0`) has
:math:`R^2 = 0`, slope 0 and standard error 0, so its t statistic is 0 (no
evidence of a trend: two-sided p-value 1, one-sided 0.5). :math:`R^2` is the
fraction of the variance of :math:`y` that the line explains; with no
variance there is nothing explained, and a flat stretch is no evidence of
exponential growth, so it never wins a best-window selection over a window
with a trend. Numerically, :func:`ols` calls a fit flat when :math:`S_{yy}`
is exactly 0 (it centres ``y`` on its first value, so equal values give
exactly 0); :func:`best_window`, whose sums are differences of cumulative
sums, calls a window flat when :math:`S_{yy} \le 64\,\epsilon\,C`, with
:math:`C` the cumulative sum of squares (of ``y`` centred on the curve's
mean) up to the end of the window, the size of its rounding error.

Fits with fewer than 3 points are not fitted by :func:`best_window` (a line
through 2 points always has :math:`R^2 = 1` and would always be selected);
:func:`ols` returns them with NaN standard error and p-value.

This module is private: its names may change without notice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["OLSFit", "WindowFit", "ols", "best_window"]

#: rounding floor of the differenced cumulative sums, in units of eps * C (see module docs)
_FLAT_FLOOR = 64.0 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class OLSFit:
    """The result of :func:`ols`; arrays of the shape of ``y`` without its last axis.

    Attributes
    ----------
    slope, intercept : ndarray
        :math:`b` and :math:`a` of :math:`y = a + b x`.
    r2 : ndarray
        Coefficient of determination (0 for a flat ``y``).
    slope_stderr : ndarray
        Standard error of the slope (NaN with fewer than 3 points).
    n : int
        Number of points of each fit.
    """

    slope: np.ndarray
    intercept: np.ndarray
    r2: np.ndarray
    slope_stderr: np.ndarray
    n: int

    def pvalue(self, alternative: str = "two-sided") -> np.ndarray:
        r"""The p-value of the t-test of the slope against 0, with :math:`n - 2` degrees of freedom.

        Parameters
        ----------
        alternative : {"two-sided", "greater", "less"}, default "two-sided"
            :math:`H_1`: slope :math:`\ne 0`, :math:`> 0` or :math:`< 0`
            (as :func:`scipy.stats.linregress`).

        Returns
        -------
        ndarray
            The p-values; NaN where the fit is NaN or has fewer than 3 points.
            A perfect line (standard error 0) has :math:`t = \pm\infty`; a flat
            ``y`` has :math:`t = 0`.
        """
        return _pvalue(self.slope, self.slope_stderr, self.n - 2, alternative)


@dataclass(frozen=True)
class WindowFit:
    """The result of :func:`best_window`, per curve (shape ``(N,)``).

    Attributes
    ----------
    slope, intercept, r2 : ndarray of float
        The line of the best window (NaN where no window is valid).
    index : ndarray of int
        Index of the best window in ``starts`` / ``stops`` (-1 where none).
    """

    slope: np.ndarray
    intercept: np.ndarray
    r2: np.ndarray
    index: np.ndarray


def _pvalue(slope, stderr, df, alternative):
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"pvalue: alternative={alternative!r} must be one of "
                         "'two-sided', 'greater', 'less'")
    slope = np.asarray(slope, dtype=np.float64)
    stderr = np.asarray(stderr, dtype=np.float64)
    if df < 1:
        return np.full(np.broadcast(slope, stderr).shape, np.nan)[()]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = slope / stderr
    t = np.where((stderr == 0) & (slope == 0), 0.0, t)   # flat: no evidence of a trend
    if alternative == "greater":
        p = stats.t.sf(t, df)
    elif alternative == "less":
        p = stats.t.cdf(t, df)
    else:
        p = np.minimum(1.0, 2.0 * stats.t.sf(np.abs(t), df))
    return np.where(np.isfinite(slope) & ~np.isnan(t), p, np.nan)[()]


def ols(x, y) -> OLSFit:
    r"""Ordinary least squares :math:`y = a + b x` along the last axis.

    Parameters
    ----------
    x : array_like, shape (n,) or broadcastable to ``y``
        Abscissae (at least two distinct values).
    y : array_like, shape (..., n)
        Ordinates; each row along the last axis is one fit. A row with a
        non-finite value gives NaN.

    Returns
    -------
    OLSFit
        Slope, intercept, :math:`R^2`, slope standard error (arrays of shape
        ``y.shape[:-1]``; 0-d for a 1-D ``y``) and ``n``; ``.pvalue(alternative)``
        gives the slope's t-test p-value. See the module notes for the
        definitions and for flat ``y`` (:math:`R^2 = 0`).

    References
    ----------
    N. R. Draper and H. Smith, *Applied Regression Analysis*, 3rd ed., Wiley
    (1998), ch. 1.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if y.ndim == 0 or y.shape[-1] < 2:
        raise ValueError(f"ols: y needs at least 2 points along its last axis, got shape {y.shape}")
    x = np.broadcast_to(x, y.shape)
    n = y.shape[-1]
    # centre on the first value, then on the mean: equal values give exactly S_yy = 0
    ys = y - y[..., :1]
    xs = x - x[..., :1]
    yc = ys - ys.mean(axis=-1, keepdims=True)
    xc = xs - xs.mean(axis=-1, keepdims=True)
    sxx = np.einsum("...k,...k->...", xc, xc)
    sxy = np.einsum("...k,...k->...", xc, yc)
    syy = np.einsum("...k,...k->...", yc, yc)
    if np.any(sxx == 0):
        raise ValueError("ols: x must hold at least two distinct values")
    flat = syy == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(flat, 0.0, sxy / sxx)
        r2 = np.where(flat, 0.0, np.clip(sxy * sxy / (sxx * np.where(flat, 1.0, syy)), 0.0, 1.0))
        intercept = y.mean(axis=-1) - slope * x.mean(axis=-1)
        if n > 2:
            resid = yc - slope[..., None] * xc           # direct residuals: no cancellation
            sse = np.einsum("...k,...k->...", resid, resid)
            se = np.where(flat, 0.0, np.sqrt(sse / (n - 2) / sxx))
        else:
            se = np.full(slope.shape, np.nan)
    bad = ~np.all(np.isfinite(y), axis=-1)
    nan = np.float64(np.nan)
    return OLSFit(np.where(bad, nan, slope)[()], np.where(bad, nan, intercept)[()],
                  np.where(bad, nan, r2)[()], np.where(bad, nan, se)[()], int(n))


def _rowsum(v, n):
    """Sum of the first ``n[j]`` entries of each row of ``v``, in sequence: the result of a
    row never depends on the width of ``v`` or on the other rows (bitwise)."""
    return np.cumsum(v, axis=1)[np.arange(v.shape[0]), n - 1]


def _colsum(v):
    """Sum of each column of ``v`` (T, N), in sequence (bitwise independent of N)."""
    return np.cumsum(v, axis=0)[-1] if v.shape[0] else np.zeros(v.shape[1:])


def _refit(x, y, a, b):
    """Slope, intercept and R^2 of curve ``j`` of ``y`` (T, N) on ``[a[j], b[j])``, two-pass."""
    T, N = y.shape
    L = int(max(1, (b - a).max()))
    k = np.arange(L)
    n = np.maximum(b - a, 1)
    mask = k[None, :] < n[:, None]                        # (N, L)
    idx = np.minimum(a[:, None] + k[None, :], T - 1)
    xs = x[idx]
    ys = y[idx, np.arange(N)[:, None]]
    ys = np.where(mask, ys - ys[:, :1], 0.0)
    xs = np.where(mask, xs - xs[:, :1], 0.0)
    xm = _rowsum(xs, n) / n
    ym = _rowsum(ys, n) / n
    xc = np.where(mask, xs - xm[:, None], 0.0)
    yc = np.where(mask, ys - ym[:, None], 0.0)
    sxx = _rowsum(xc * xc, n)
    sxy = _rowsum(xc * yc, n)
    syy = _rowsum(yc * yc, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy / sxx
        r2 = np.where(syy > 0, np.clip(sxy * sxy / (sxx * np.where(syy > 0, syy, 1.0)), 0.0, 1.0), 0.0)
        icpt = (ym + y[np.minimum(a, T - 1), np.arange(N)]) - slope * (xm + x[np.minimum(a, T - 1)])
    return slope, icpt, r2


def best_window(x, y, starts, stops, *, limit=None) -> WindowFit:
    r"""Least-squares line of each curve on every window; keep the window of best :math:`R^2`.

    Parameters
    ----------
    x : array_like, shape (T,)
        Abscissae shared by the curves.
    y : array_like, shape (T,) or (T, N)
        Curves along axis 0; non-finite values are invalid points, and a
        window containing one is skipped.
    starts, stops : array_like of int, shape (W,)
        Windows as index ranges ``[start, stop)`` into ``x``, with
        ``0 <= start`` and ``stop <= T``. Windows with fewer than 3 points
        are skipped.
    limit : array_like of int, shape (N,), optional
        Per curve, the last index a window may include (``stop - 1 <= limit``);
        default: no limit.

    Returns
    -------
    WindowFit
        Per curve, the slope, intercept and :math:`R^2` of the valid window
        of largest :math:`R^2` (ties: the first in the given order) and its
        index; NaN and -1 where no window is valid. A flat window has
        :math:`R^2 = 0` (module notes).

    References
    ----------
    ChaosTools.jl, ``linear_region`` (one fitter for every exponent slope).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    one = y.ndim == 1
    if one:
        y = y[:, None]
    if y.ndim != 2 or x.shape != (y.shape[0],):
        raise ValueError(f"best_window: y must have shape (T,) or (T, N) with T = len(x); got "
                         f"x {x.shape}, y {y.shape}")
    T, N = y.shape
    a = np.asarray(starts, dtype=np.int64).ravel()
    b = np.asarray(stops, dtype=np.int64).ravel()
    if a.shape != b.shape or np.any(a < 0) or np.any(b > T):
        raise ValueError(f"best_window: windows must satisfy 0 <= start, stop <= {T} "
                         "and starts, stops of one length")
    ok = np.isfinite(y)
    cnt = ok.sum(axis=0)
    # centre x, and each curve on the mean of its valid points: well-conditioned sums
    xmean = x.mean()
    xc = x - xmean
    ymean = _colsum(np.where(ok, y, 0.0)) / np.maximum(cnt, 1)
    yc = np.where(ok, y - ymean, 0.0)

    def csum(v):
        out = np.zeros((v.shape[0] + 1,) + v.shape[1:])
        np.cumsum(v, axis=0, out=out[1:])
        return out

    Cx, Cxx = csum(xc), csum(xc * xc)
    Cy, Cyy, Cxy = csum(yc), csum(yc * yc), csum(xc[:, None] * yc)
    Cbad = csum((~ok).astype(np.int64))
    n = (b - a).astype(np.float64)[:, None]               # (W, 1)
    nn = np.maximum(n, 1.0)
    Sx = (Cx[b] - Cx[a])[:, None]
    Sxx = (Cxx[b] - Cxx[a])[:, None]
    Sy = Cy[b] - Cy[a]                                    # (W, N)
    Syy = Cyy[b] - Cyy[a]
    Sxy = Cxy[b] - Cxy[a]
    sxx = Sxx - Sx * Sx / nn
    sxy = Sxy - Sx * Sy / nn
    syy = Syy - Sy * Sy / nn
    flat = syy <= _FLAT_FLOOR * Cyy[b]
    valid = (b - a >= 3)[:, None] & ((Cbad[b] - Cbad[a]) == 0) & (sxx > 0)
    if limit is not None:
        lim = np.broadcast_to(np.asarray(limit, dtype=np.int64), (N,))
        valid &= (b - 1)[:, None] <= lim[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(flat, 0.0, np.clip(sxy * sxy / (sxx * np.where(flat, 1.0, syy)), 0.0, 1.0))
    score = np.where(valid, r2, -np.inf)
    if score.shape[0] == 0:
        out = WindowFit(np.full(N, np.nan), np.full(N, np.nan), np.full(N, np.nan),
                        np.full(N, -1, dtype=np.int64))
    else:
        best = score.argmax(axis=0)
        cols = np.arange(N)
        found = valid[best, cols]
        # refit the chosen window of each curve exactly (two-pass sums on its own points)
        sl, icpt, rr = _refit(x, y, a[best], b[best])
        isflat = flat[best, cols]
        nb = nn[best, 0]
        sl = np.where(isflat, 0.0, sl)
        rr = np.where(isflat, 0.0, rr)
        icpt = np.where(isflat, Sy[best, cols] / nb + ymean, icpt)
        out = WindowFit(np.where(found, sl, np.nan), np.where(found, icpt, np.nan),
                        np.where(found, rr, np.nan), np.where(found, best, -1))
    if one:
        return WindowFit(out.slope[0], out.intercept[0], out.r2[0], out.index[0])
    return out
