r"""Lyapunov exponents: the paper's finite network exponent and QR spectra.

* :class:`FiniteLyapunov` fits :math:`\ln d(t)` of perturbed orbits
  (Danovski, Soriano & Lacasa 2024, Eq. 3), per initial condition and pooled.
* :class:`LyapunovSpectrum` runs the QR (Benettin) iteration of the tangent
  map of any :class:`~dynnet.Map` that has a ``jacobian``; the tangent dynamics
  are the wrapper :class:`TangentMap`.
* :func:`jacobian_spectrum` gives the eigenvalues of one Jacobian and counts
  those at 1 (the post-learning analysis).
"""

from __future__ import annotations

import numbers
import warnings
from collections import namedtuple

import numpy as np

from ..base import as_seed_sequence, check_array, check_int, check_option, check_scalar
from ..maps.base import DivergenceWarning, Map
from .base import Estimator

__all__ = ["FiniteLyapunov", "LyapunovSpectrum", "TangentMap", "jacobian_spectrum",
           "JacobianSpectrum"]


# ----------------------------------------------------------------------------
# best-window least squares, vectorised over windows and curves
# ----------------------------------------------------------------------------

def _grid(owner, name, value, low):
    """A window grid parameter (range or sequence of ints) as a sorted int array."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = [value]
    try:
        vals = list(value)
    except TypeError:
        raise TypeError(
            f"{type(owner).__name__}: parameter {name}={value!r} must be a range or a "
            "sequence of ints"
        ) from None
    if not vals:
        raise ValueError(f"{type(owner).__name__}: parameter {name}={value!r} is empty")
    for v in vals:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < low:
            raise ValueError(
                f"{type(owner).__name__}: parameter {name}={value!r} must hold ints >= {low}; "
                f"got {v!r}"
            )
    return np.unique(np.asarray(vals, dtype=np.int64))


def _saturation_index(y, bad, tol):
    """Index where each curve stops growing, and whether it saturated.

    ``y`` (T, N) with ``bad`` points. Let ``u`` be the first valid time from
    which the curve never again rises more than ``tol`` above ``y[u]`` and
    where it lies at least ``tol`` above its lowest valid point so far (so
    the high start of a curve that first contracts is not a plateau), and
    ``level`` the median of the curve from ``u`` on (the plateau). Saturation
    is the first time at or after ``u`` where the curve reaches ``level``,
    provided it lies at least ``tol`` above the lowest valid point up to it
    (the running minimum: a curve may contract before it grows) and the tail from
    ``u`` on is flat (the median of its second half exceeds the median of its
    first half by at most ``tol / 4``: a straight line rising ``tol`` is
    not); otherwise there is no saturation and the index is ``T - 1``.
    """
    T, N = y.shape
    last = np.full(N, T - 1)
    if tol is None:
        return last, np.zeros(N, dtype=bool)
    yy = np.where(bad, -np.inf, y)
    # max over times after t (reverse cumulative max, shifted by one)
    rev = np.maximum.accumulate(yy[::-1], axis=0)[::-1]
    future = np.full_like(yy, -np.inf)
    future[:-1] = rev[1:]
    # lowest valid point up to t (running minimum; NaN before the first valid point)
    low = np.fmin.accumulate(np.where(bad, np.nan, y), axis=0)
    with np.errstate(invalid="ignore"):
        risen = yy - low >= tol
    cond = (~bad) & (yy >= future - tol) & risen
    has = cond.any(axis=0)
    u = np.where(has, cond.argmax(axis=0), T - 1)
    t = np.arange(T)[:, None]
    tail = (t >= u[None, :]) & ~bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        level = np.nanmedian(np.where(tail, y, np.nan), axis=0)
        # a tail that still trends upward is growth, not a plateau
        mid = u + (T - u) // 2
        first_half = np.nanmedian(np.where(tail & (t < mid[None, :]), y, np.nan), axis=0)
        second_half = np.nanmedian(np.where(tail & (t >= mid[None, :]), y, np.nan), axis=0)
    reach = tail & (yy >= level[None, :])
    s = np.where(reach.any(axis=0), reach.argmax(axis=0), T - 1)
    # rise from the lowest valid point up to s (a curve may contract first)
    cols = np.arange(N)
    with np.errstate(invalid="ignore"):
        rise = yy[s, cols] - low[s, cols]
        flat = ~(second_half - first_half > tol / 4.0)
    sat = has & (rise >= tol) & (s < T - 1) & flat
    return np.where(sat, s, last), sat


def _best_window_fit(t, y, bad, win_a, win_b, limit):
    """Least-squares line of each curve on every window; keep the best R^2.

    Parameters
    ----------
    t : (T,) times
    y : (T, N) curves (values at ``bad`` points are ignored)
    bad : (T, N) bool, invalid points; a window containing one is skipped
    win_a, win_b : (W,) record index windows ``[a, b)``, all with ``b <= T``
    limit : (N,) last record index a window of curve ``n`` may include

    Returns
    -------
    slope, r2 : (N,) of the best window (NaN when no window is valid)
    best : (N,) index into the windows (-1 when none)
    """
    T, N = y.shape
    tc = t - t.mean()
    ok = ~bad
    cnt = ok.sum(axis=0)
    ymean = np.where(cnt > 0, np.where(ok, y, 0.0).sum(axis=0) / np.maximum(cnt, 1), 0.0)
    yc = np.where(ok, y - ymean, 0.0)

    def csum(a):
        out = np.zeros((a.shape[0] + 1,) + a.shape[1:])
        np.cumsum(a, axis=0, out=out[1:])
        return out

    Ct, Ctt = csum(tc), csum(tc * tc)
    Cy, Cyy, Cty = csum(yc), csum(yc * yc), csum(tc[:, None] * yc)
    Cbad = csum(bad.astype(np.int64))
    n = (win_b - win_a).astype(np.float64)[:, None]
    St = (Ct[win_b] - Ct[win_a])[:, None]
    Stt = (Ctt[win_b] - Ctt[win_a])[:, None]
    Sy = Cy[win_b] - Cy[win_a]
    Syy = Cyy[win_b] - Cyy[win_a]
    Sty = Cty[win_b] - Cty[win_a]
    sxx = Stt - St * St / n
    sxy = Sty - St * Sy / n
    syy = Syy - Sy * Sy / n
    slope = sxy / sxx
    # rounding floor of syy: a flat curve has R^2 = 0, not rounding noise
    floor = 64.0 * np.finfo(float).eps * np.maximum(np.abs(Cyy).max(axis=0), 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(syy > floor, sxy * sxy / (sxx * syy), 0.0)
    r2 = np.clip(r2, 0.0, 1.0)
    valid = ((Cbad[win_b] - Cbad[win_a]) == 0) & ((win_b - 1)[:, None] <= limit[None, :])
    score = np.where(valid, r2, -np.inf)
    best = score.argmax(axis=0)
    cols = np.arange(N)
    found = valid[best, cols]
    out_slope = np.where(found, slope[best, cols], np.nan)
    out_r2 = np.where(found, r2[best, cols], np.nan)
    return out_slope, out_r2, np.where(found, best, -1)


# ----------------------------------------------------------------------------
# FiniteLyapunov
# ----------------------------------------------------------------------------

class FiniteLyapunov(Estimator):
    r"""The finite network Lyapunov exponent of perturbed orbits (the paper's Eq. 3).

    For each initial condition :math:`i` with perturbed copies :math:`j`, the
    distances :math:`d_{ij}(t)` are averaged into one curve

    .. math::

        y_i(t) = \ln \frac{1}{n}\sum_j d_{ij}(t) \quad (\texttt{average="distance"}),
        \qquad
        y_i(t) = \frac{1}{n}\sum_j \ln d_{ij}(t) \quad (\texttt{average="log"}),

    and the exponent is the least-squares slope of :math:`y_i` over a window
    :math:`[t_1, t_2)`:

    .. math::

        \Lambda_i = \frac{\ln \langle d_i(t_2)\rangle - \ln \langle d_i(t_1)\rangle}{t_2 - t_1}
        \approx \operatorname{slope}_{t \in [t_1, t_2)} y_i(t).

    Every window of the grid ``t1 in starts``, ``t2 - t1 in lengths`` is
    fitted (closed-form least squares from cumulative sums, vectorised over
    windows and initial conditions) and the window of best :math:`R^2` is
    kept. A fit counts (``kept_``) when :math:`R^2 >` ``r2_min`` and
    :math:`\Lambda >` ``lambda_min``; the network maximal Lyapunov exponent is
    the mean of the kept :math:`\Lambda_i`, with a bootstrap confidence
    interval.

    Parameters
    ----------
    starts : range or sequence of int, default range(0, 101, 5)
        Window starts :math:`t_1`, in time units (steps). Starts are measured
        from the first record: with ``steps = 4000 + arange(T)`` the start 0
        is step 4000. Windows that do not fit the series are skipped; if none
        of the grid fits, :meth:`fit` raises ValueError.
    lengths : range or sequence of int, default range(30, 101, 5)
        Window lengths :math:`t_2 - t_1`, in time units.
    r2_min : float, default 0.9
        Keep fits with :math:`R^2 >` ``r2_min``.
    lambda_min : float, default 0.05
        Keep fits with :math:`\Lambda >` ``lambda_min``.
    average : {"distance", "log"}, default "distance"
        Average over perturbations before the log (the paper's) or after.
    n_boot : int, default 1000
        Bootstrap resamples of the kept exponents for ``mle_ci_`` (0: none).
    ci : float, default 0.95
        Confidence level of ``mle_ci_`` (percentile bootstrap).
    seed : int, SeedSequence, Generator or None, default 0
        Seed of the bootstrap.
    every : float, default 1
        Time units per record, when :meth:`fit` gets no ``steps``
        (:meth:`fit_result` reads the ``step`` coordinate instead).
    saturation_tol : float or None, default ln(10)
        Saturation detection, in units of :math:`\ln d`. With :math:`u` the
        first time after which the curve never rises more than
        ``saturation_tol`` above :math:`y(u)` and where :math:`y(u)` lies at
        least ``saturation_tol`` above the lowest earlier value of the curve
        (its running minimum: curves may contract before they grow), the
        plateau level is the
        median of :math:`y` from :math:`u` on, and the curve saturates at
        :math:`t_s`, the first time it reaches that level (counted only if
        :math:`y(t_s)` is at least ``saturation_tol`` above the running
        minimum up to :math:`t_s`, and the tail from
        :math:`u` on is flat: the median of its second half exceeds that of
        its first half by at most ``saturation_tol / 4``, so a curve still
        growing at the end of the series is not saturated). Windows may not
        run past :math:`t_s`. ``None`` switches detection off.

    Attributes
    ----------
    exponents_ : (n_init,) best-window slopes :math:`\Lambda_i` (NaN: no valid window)
    r2_ : (n_init,) their :math:`R^2`
    windows_ : (n_init, 2) the best window ``[t1, t2)`` as times of the
        records (``steps[0]`` + start, in the units of ``steps``)
    kept_ : (n_init,) bool
    mle_, mle_std_ : mean and standard deviation (ddof=1) of the kept exponents
    mle_ci_ : (2,) bootstrap confidence interval of ``mle_``
    kept_fraction_ : kept initial conditions / all initial conditions
    saturation_ : (n_init,) time where :math:`y_i` stops growing (the last
        time when it never does; NaN for an initial condition with no valid member)
    saturated_ : (n_init,) bool, whether saturation was detected
    pooled_mle_, pooled_r2_, pooled_window_ : one best-window fit of
        :math:`\overline{\ln d}(t)`, the mean of :math:`\ln d_{ij}(t)` over
        all initial conditions and perturbations (see Notes)
    pooled_curve_ : (T,) that mean curve
    pooled_saturation_ : its saturation time
    steps_ : (T,) the time of each record
    n_excluded_ : number of (initial condition, perturbation) members
        excluded because their distance is NaN or infinite (diverged orbits)
    n_collapsed_ : number of finite members whose distance is exactly 0 at
        some time (the perturbed orbit merged with its reference in floating
        point, e.g. the logistic map near x = 1/2); they carry no exponent and
        are left out of every mean of :math:`\ln d` (``average="log"`` and
        the pooled curve), but kept by ``average="distance"``
    n_invalid_ : number of initial conditions with no valid member

    Notes
    -----
    **Bias.** :math:`\Lambda_i` is a finite-time exponent *selected* for
    linearity: when many windows fit before saturation, the best-:math:`R^2`
    one tends to sit on a short stretch of fast, steady growth, so the mean of
    the kept :math:`\Lambda_i` is biased upward, and the cut
    :math:`\Lambda > \lambda_{\min}` adds to it. With ``average="distance"``
    the log of a mean also measures the generalised exponent
    :math:`L(1) = \lim_t t^{-1}\ln\langle d(t)/d(0)\rangle \ge \lambda`
    (Jensen), instead of :math:`\lambda = \lim_t t^{-1}\langle \ln
    d(t)/d(0)\rangle`. How large the selection bias is depends on the grid
    and on how long the growth phase lasts. On the logistic map at
    :math:`r = 4` (:math:`\varepsilon = 10^{-12}`, 5 perturbations, 200
    initial conditions, so saturation after about 40 steps):

    * the fine grid ``starts=range(0, 31)``, ``lengths=range(10, 41)`` (961
      windows, about 500 of them ending before saturation) gives 0.715-0.733
      (0.733 and 0.715 with study seeds 0 and 1) instead of
      :math:`\ln 2 = 0.693`;
    * the default grid gives :math:`\ln 2` within 0.002 (0.692 and 0.693
      with seeds 0 and 1, 0.6914-0.6948 over seeds 0-5): windows may not
      run past saturation (~40 steps), so of its starts (steps of 5) and
      lengths (>= 30) only 6-8 windows fit, starting at 0-10 and spanning
      30-45 steps of the ~40-step growth phase (most often ``[0, 40)``); the
      slope is then close to the total growth over the whole phase divided
      by its duration, which leaves little room for selection.

    So the default grid is not biased *on the logistic map*, but only
    because its saturation limit leaves few windows; with longer growth
    phases (smaller :math:`\varepsilon` or a smaller exponent) more windows
    fit and the selection bias returns. ``pooled_mle_`` averages :math:`\ln d` over
    every member before any selection, so fluctuations of the finite-time
    exponents cancel and it converges to :math:`\lambda` (logistic:
    :math:`\ln 2` within 0.02).

    Invalid data are data: members whose distance is ever NaN/inf are dropped
    (``n_excluded_``; collapsed members: ``n_collapsed_``); a point whose
    averaged log is :math:`-\infty` (a zero distance) invalidates the windows
    that contain it; windows longer than the series, with fewer than 3
    records, or running past saturation are skipped. Window starts are
    measured from the first record; a grid of which no window fits the series
    at all, and ``n_init == 0`` or ``n_pert == 0``, raise ValueError.

    References
    ----------
    M. Danovski, M. C. Soriano, L. Lacasa, "Dynamical stability and chaos in
    artificial neural network trajectories along training", Front. Complex
    Syst. 2:1367957 (2024), Eq. 3 and section 4.1.
    H. Fujisaka, "Statistical dynamics generated by fluctuations of local
    Lyapunov exponents", Prog. Theor. Phys. 70, 1264 (1983) (generalised
    exponents :math:`L(q)`).
    """

    def __init__(self, starts=range(0, 101, 5), lengths=range(30, 101, 5), r2_min=0.9,
                 lambda_min=0.05, average="distance", n_boot=1000, ci=0.95, seed=0, every=1,
                 saturation_tol=float(np.log(10.0))):
        self.starts = starts
        self.lengths = lengths
        self.r2_min = r2_min
        self.lambda_min = lambda_min
        self.average = average
        self.n_boot = n_boot
        self.ci = ci
        self.seed = seed
        self.every = every
        self.saturation_tol = saturation_tol

    # ---- helpers -------------------------------------------------------
    def _windows(self, steps):
        """Window grid in record indices ``[a, b)`` that fit the series.

        Starts are offsets from the first record ``steps[0]``; the returned
        ``t1, t2`` are absolute times (``steps[0] + start``). Raises
        ValueError when no window of the grid fits.
        """
        starts = _grid(self, "starts", self.starts, 0)
        lengths = _grid(self, "lengths", self.lengths, 1)
        t1 = np.repeat(starts, lengths.size).astype(np.float64)
        t2 = t1 + np.tile(lengths, starts.size)
        dt = steps[1] - steps[0]
        a = np.ceil(t1 / dt - 1e-9).astype(np.int64)
        b = np.ceil(t2 / dt - 1e-9).astype(np.int64)
        keep = (a >= 0) & (b <= steps.size) & (b - a >= 3)
        if not keep.any():
            raise ValueError(
                f"FiniteLyapunov: no window of the grid starts={self.starts!r}, "
                f"lengths={self.lengths!r} fits the series: {steps.size} records "
                f"{dt:g} time units apart span {(steps.size - 1) * dt:g} time units from "
                "the first record, and a window needs start + length within that span "
                "and at least 3 records"
            )
        return a[keep], b[keep], steps[0] + t1[keep], steps[0] + t2[keep]

    def _curve_fit(self, steps, y, bad, tol):
        a, b, t1, t2 = self._windows(steps)
        limit, sat = _saturation_index(y, bad, tol)
        slope, r2, best = _best_window_fit(steps, y, bad, a, b, limit)
        win = np.full((y.shape[1], 2), np.nan)
        found = best >= 0
        win[found, 0] = t1[best[found]]
        win[found, 1] = t2[best[found]]
        return slope, r2, win, limit, sat

    # ---- fitting -------------------------------------------------------
    def fit(self, distances, steps=None):
        """Fit the exponents of a distance array.

        Parameters
        ----------
        distances : array_like, shape (T, n_init, n_pert) or (T, n_init)
            :math:`d_{ij}(t)` as recorded by :class:`~dynnet.PerturbationStudy`
            (``result_["distance"]``, dims ``(step, init, pert)``).
        steps : array_like, shape (T,), optional
            Time of each record (evenly spaced); default ``arange(T) * every``.

        Returns
        -------
        self
        """
        d = check_array(self, "distances", distances, ndim=(2, 3), finite=False)
        if d.ndim == 2:
            d = d[:, :, None]
        T, n_init, n_pert = d.shape
        if T < 3:
            raise ValueError(f"FiniteLyapunov: distances need at least 3 records, got shape {d.shape}")
        if n_init == 0 or n_pert == 0:
            raise ValueError(
                "FiniteLyapunov: distances need at least one initial condition and one "
                f"perturbation (shape (T, n_init, n_pert)), got shape {d.shape}"
            )
        if np.any(d < 0):
            raise ValueError("FiniteLyapunov: distances must be >= 0")
        if steps is None:
            every = check_scalar(self, "every", self.every, low=0.0, low_open=True)
            steps = np.arange(T) * every
        else:
            steps = check_array(self, "steps", steps, ndim=1)
            if steps.shape != (T,):
                raise ValueError(f"FiniteLyapunov: steps must have shape ({T},), got {steps.shape}")
            dt = np.diff(steps)
            if np.any(dt <= 0) or not np.allclose(dt, dt[0], rtol=1e-9, atol=0):
                raise ValueError("FiniteLyapunov: steps must be increasing and evenly spaced")
        r2_min = check_scalar(self, "r2_min", self.r2_min, low=0.0, high=1.0)
        lambda_min = check_scalar(self, "lambda_min", self.lambda_min, finite=False)
        average = check_option(self, "average", self.average, ["distance", "log"])
        n_boot = check_int(self, "n_boot", self.n_boot, low=0)
        ci = check_scalar(self, "ci", self.ci, low=0.0, high=1.0, low_open=True, high_open=True)
        tol = self.saturation_tol
        if tol is not None:
            tol = check_scalar(self, "saturation_tol", tol, low=0.0, low_open=True)

        finite_ok = np.all(np.isfinite(d), axis=0)  # (n_init, n_pert)
        log_ok = finite_ok & np.all(d > 0, axis=0)  # members usable in a mean of ln d
        self.n_excluded_ = int((~finite_ok).sum())
        self.n_collapsed_ = int((finite_ok & ~log_ok).sum())
        member_ok = finite_ok if average == "distance" else log_ok
        n_ok = member_ok.sum(axis=1)  # (n_init,)
        self.n_invalid_ = int((n_ok == 0).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            if average == "distance":
                y = np.log(np.where(member_ok[None], d, 0.0).sum(axis=2) / n_ok)
            else:
                y = np.where(member_ok[None], np.log(np.where(member_ok[None], d, 1.0)),
                             0.0).sum(axis=2) / n_ok
        bad = ~np.isfinite(y)
        slope, r2, win, limit, sat = self._curve_fit(steps, y, bad, tol)  # checks the grid
        sat_t = steps[limit].astype(np.float64)
        sat_t[n_ok == 0] = np.nan

        self.exponents_ = slope
        self.r2_ = r2
        self.windows_ = win
        self.saturation_ = sat_t
        self.saturated_ = sat & (n_ok > 0)
        with np.errstate(invalid="ignore"):
            kept = np.isfinite(slope) & (r2 > r2_min) & (slope > lambda_min)
        self.kept_ = kept
        self.kept_fraction_ = float(kept.mean())
        ex = slope[kept]
        self.mle_ = float(ex.mean()) if ex.size else np.nan
        self.mle_std_ = float(ex.std(ddof=1)) if ex.size > 1 else np.nan
        if n_boot > 0 and ex.size > 0:
            rng = np.random.default_rng(as_seed_sequence(self.seed))
            idx = rng.integers(0, ex.size, size=(n_boot, ex.size))
            means = ex[idx].mean(axis=1)
            q = (1.0 - ci) / 2.0
            self.mle_ci_ = np.quantile(means, [q, 1.0 - q])
        else:
            self.mle_ci_ = np.array([np.nan, np.nan])

        # pooled: mean of ln d over every member usable in a log, one curve
        n_tot = int(log_ok.sum())
        if n_tot:
            logd = np.log(np.where(log_ok[None], d, 1.0))
            pooled = np.where(log_ok[None], logd, 0.0).sum(axis=(1, 2)) / n_tot
        else:
            pooled = np.full(T, np.nan)
        pbad = ~np.isfinite(pooled)
        ps, pr, pw, plim, psat = self._curve_fit(steps, pooled[:, None], pbad[:, None], tol)
        self.pooled_mle_ = float(ps[0])
        self.pooled_r2_ = float(pr[0])
        self.pooled_window_ = pw[0]
        self.pooled_curve_ = pooled
        self.pooled_saturation_ = float(steps[plim[0]])
        self.steps_ = steps
        return self

    def fit_result(self, result, map=None):
        """Fit from a :class:`~dynnet.PerturbationStudy` result (``distance``, ``step``)."""
        if "distance" not in result:
            raise ValueError("FiniteLyapunov: the result has no 'distance' variable")
        da = result["distance"]
        if set(da.dims) != {"step", "init", "pert"}:
            raise ValueError(
                f"FiniteLyapunov: result['distance'] must have dims (step, init, pert), got {da.dims}"
            )
        da = da.transpose("step", "init", "pert")
        return self.fit(da.values, steps=np.asarray(result["step"].values, dtype=np.float64))

    def summary(self):
        self._check_fitted("exponents_")
        return {
            "mle": self.mle_,
            "mle_std": self.mle_std_,
            "mle_ci_low": float(self.mle_ci_[0]),
            "mle_ci_high": float(self.mle_ci_[1]),
            "kept_fraction": self.kept_fraction_,
            "pooled_mle": self.pooled_mle_,
            "pooled_r2": self.pooled_r2_,
            "n_excluded": float(self.n_excluded_),
            "n_collapsed": float(self.n_collapsed_),
        }


# ----------------------------------------------------------------------------
# tangent dynamics and the QR spectrum
# ----------------------------------------------------------------------------

class TangentMap(Map):
    r"""Tangent dynamics of a map, as a wrapper: :math:`(x, Q) \mapsto (g(x), J(x)\,Q)`.

    The state is ``x`` (the wrapped map's state, ``dim`` numbers) followed by
    the ``k`` deviation vectors, the columns of ``Q`` ``(dim, k)``, flattened
    row-major: ``dim * (1 + k)`` numbers. Any :class:`~dynnet.Map` that
    implements ``jacobian(state)`` can be wrapped; nothing is subclassed.

    Parameters
    ----------
    map : Map
        The map; it must implement ``jacobian``.
    k : int or None, default None
        Number of deviation vectors (None: ``map.dim``).

    Notes
    -----
    :meth:`step` evaluates one Jacobian per ensemble member (the Map
    interface gives Jacobians of single states), so use it with small
    ensembles; :class:`LyapunovSpectrum` uses :meth:`tangent_step` on one
    orbit. The deviation vectors are not renormalised here.

    References
    ----------
    DynamicalSystemsBase.jl, ``TangentDynamicalSystem`` (tangent_space.jl).
    """

    def __init__(self, map=None, k=None):
        self.map = map
        self.k = k

    def _base(self):
        m = self.map
        if not isinstance(m, Map):
            raise TypeError(f"TangentMap: parameter map={m!r} must be a dynnet Map")
        if not m.has_jacobian:
            raise NotImplementedError(
                f"TangentMap: {type(m).__name__} does not implement jacobian(state); "
                "tangent dynamics and Lyapunov spectra need it"
            )
        return m

    def _k(self):
        n = self._base()._dim()
        if self.k is None:
            return n
        return check_int(self, "k", self.k, low=1, high=n)

    @property
    def dim(self):  # type: ignore[override]
        m = self._base()
        return m._dim() * (1 + self._k())

    def tangent_step(self, x, Q):
        """One step of the orbit ``x`` ``(dim,)`` and of the vectors ``Q`` ``(dim, k)``."""
        m = self.map
        J = m.jacobian(x)
        return m.step(x[None, :])[0], J @ Q

    def step(self, states):
        m = self._base()
        n, k = m._dim(), self._k()
        out = np.empty_like(states)
        for e in range(states.shape[0]):  # one Jacobian per member: see Notes
            x1, Y = self.tangent_step(states[e, :n], states[e, n:].reshape(n, k))
            out[e, :n] = x1
            out[e, n:] = Y.ravel()
        return out

    def coordinate_groups(self):
        n = self._base()._dim()
        return {"all": np.arange(self.dim), "state": np.arange(n),
                "vectors": np.arange(n, self.dim)}


class LyapunovSpectrum(Estimator):
    r"""Lyapunov spectrum by QR iteration of the tangent map (Benettin et al.).

    Along an orbit :math:`x_{t+1} = g(x_t)` the ``k`` deviation vectors are
    propagated by the Jacobian and re-orthonormalised every ``m`` steps:

    .. math::

        J(x_{t+m-1})\cdots J(x_t)\, Q_t = Q_{t+m} R_t, \qquad
        \lambda_i = \frac{1}{n}\sum_{\text{renorms}} \ln |(R_t)_{ii}|,

    with :math:`n` the number of steps. Because :math:`\prod_i |R_{ii}| =
    |\det J \cdots J|` for a full spectrum, :math:`\sum_i \lambda_i` is the
    mean of :math:`\ln|\det J|` along the orbit exactly, up to rounding (for
    Hénon: :math:`\ln b`).

    Parameters
    ----------
    n_steps : int, default 10_000
        Steps over which the exponents are averaged (a multiple of
        ``renorm_every``).
    n_transient : int, default 1_000
        Steps run first, not counted: the orbit settles on the attractor and
        the vectors align with the Lyapunov directions (they are propagated
        and renormalised during the transient too).
    k : int or None, default None
        Number of exponents (None: all, ``map.dim``).
    renorm_every : int, default 1
        Steps between QR re-orthonormalisations.
    tol : float or None, default None
        An exponent is neutral when :math:`|\lambda_i| \le` tol. None: per
        exponent, :math:`\max(3\,\mathrm{se}_i, 1/n)`, with
        :math:`\mathrm{se}_i` the standard error from 20 blocks of the run
        and :math:`1/n` one e-folding over the whole run.
    record_every : int or None, default None
        Steps between rows of ``convergence_`` (a multiple of
        ``renorm_every``; None: about 1000 rows).

    Attributes
    ----------
    exponents_ : (k,) per step, sorted in decreasing order (the QR order once
        converged; ``convergence_`` and ``stderr_`` columns follow the same order)
    convergence_ : (n_records, k) running estimate at ``record_steps_``
    record_steps_ : (n_records,) steps (after the transient) of those rows
    stderr_ : (k,) block standard errors
    tol_ : (k,) the neutral tolerance used
    n_neutral_ : number of exponents with :math:`|\lambda_i| \le` ``tol_``
    cost_per_step_ : wall-clock seconds per step (tangent step + QR)
    state_ : final state of the orbit

    Notes
    -----
    The loop over time steps is inherent (one Jacobian per step); the work
    inside a step is vectorised. A divergent orbit (non-finite state) gives
    NaN exponents and a :class:`~dynnet.DivergenceWarning`.
    For :class:`~dynnet.GradientDescentMap` the Jacobian is
    :math:`I - \eta H` with the exact Hessian, so this is the exact spectrum
    of the GD map.

    References
    ----------
    G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, "Lyapunov
    characteristic exponents for smooth dynamical systems and for
    Hamiltonian systems; a method for computing all of them", Meccanica 15,
    9 and 21 (1980).
    K. Geist, U. Parlitz, W. Lauterborn, "Comparison of different methods for
    computing Lyapunov exponents", Prog. Theor. Phys. 83, 875 (1990).
    """

    #: a wall-clock timing, the one result that differs between identical fits
    _check_nondeterministic = ("cost_per_step_",)

    def __init__(self, n_steps=10_000, n_transient=1_000, k=None, renorm_every=1, tol=None,
                 record_every=None):
        self.n_steps = n_steps
        self.n_transient = n_transient
        self.k = k
        self.renorm_every = renorm_every
        self.tol = tol
        self.record_every = record_every

    def fit(self, map, state):
        """Run the QR iteration from ``state`` ``(dim,)``; returns self."""
        import time

        tangent = TangentMap(map=map, k=self.k)
        m = tangent._base()
        n = m._dim()
        k = tangent._k()
        x = m.check_state(state)
        n_steps = check_int(self, "n_steps", self.n_steps, low=1)
        n_tr = check_int(self, "n_transient", self.n_transient, low=0)
        every = check_int(self, "renorm_every", self.renorm_every, low=1)
        if n_steps % every:
            raise ValueError(
                f"LyapunovSpectrum: parameter n_steps={n_steps} must be a multiple of "
                f"renorm_every={every}"
            )
        n_ren = n_steps // every
        if self.record_every is None:
            rec = every * max(1, -(-n_ren // 1000))
        else:
            rec = check_int(self, "record_every", self.record_every, low=1)
            if rec % every:
                raise ValueError(
                    f"LyapunovSpectrum: parameter record_every={rec} must be a multiple of "
                    f"renorm_every={every}"
                )
        if self.tol is not None:
            tol = check_scalar(self, "tol", self.tol, low=0.0)

        Q = np.eye(n, k)
        logs = np.empty((n_ren, k))
        diverged = False
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # transient: orbit and vectors, renormalised, not counted
            for s in range(n_tr):
                x, Q = tangent.tangent_step(x, Q)
                if not np.all(np.isfinite(x)) or not np.all(np.isfinite(Q)):
                    diverged = True
                    break
                if (s + 1) % every == 0 or s == n_tr - 1:
                    Q, _ = np.linalg.qr(Q)
            done = 0
            if not diverged:
                for r in range(n_ren):
                    for _ in range(every):
                        x, Q = tangent.tangent_step(x, Q)
                        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(Q))):
                            diverged = True
                            break
                    if diverged:
                        break
                    Q, R = np.linalg.qr(Q)
                    logs[r] = np.log(np.abs(np.diagonal(R)))
                    done += 1
        t_end = time.perf_counter()
        self.cost_per_step_ = (t_end - t0) / max(1, n_tr + done * every)
        self.state_ = x
        if diverged:
            warnings.warn(
                f"LyapunovSpectrum: the orbit of {type(m).__name__} diverged (non-finite "
                "state or vectors); exponents are NaN",
                DivergenceWarning, stacklevel=2,
            )
            logs[:] = np.nan
        # QR order is the order of growth once converged; sort to make it so
        exps = logs.sum(axis=0) / n_steps
        order = np.argsort(-exps, kind="stable") if not diverged else np.arange(k)
        logs = logs[:, order]
        self.exponents_ = exps[order]
        cum = np.cumsum(logs, axis=0)
        per = rec // every
        rows = np.arange(per - 1, n_ren, per)
        self.record_steps_ = (rows + 1) * every
        self.convergence_ = cum[rows] / self.record_steps_[:, None]
        nb = min(20, n_ren)
        if nb >= 2:
            blocks = np.array([b.sum(axis=0) / (b.shape[0] * every)
                               for b in np.array_split(logs, nb, axis=0)])
            self.stderr_ = blocks.std(axis=0, ddof=1) / np.sqrt(nb)
        else:
            self.stderr_ = np.full(k, np.nan)
        if self.tol is None:
            self.tol_ = np.maximum(3.0 * np.nan_to_num(self.stderr_, nan=0.0), 1.0 / n_steps)
        else:
            self.tol_ = np.full(k, tol)
        self.n_neutral_ = int(np.sum(np.abs(self.exponents_) <= self.tol_))
        return self

    def summary(self):
        self._check_fitted("exponents_")
        out = {f"lambda_{i + 1}": float(v) for i, v in enumerate(self.exponents_[:3])}
        out["sum"] = float(np.sum(self.exponents_))
        out["n_neutral"] = float(self.n_neutral_)
        out["cost_per_step"] = float(self.cost_per_step_)
        return out


JacobianSpectrum = namedtuple("JacobianSpectrum", ["eigenvalues", "n_unit", "tol"])
JacobianSpectrum.__doc__ = """Eigenvalues of a Jacobian, sorted by decreasing modulus, and how many sit at 1.

Fields: ``eigenvalues`` (dim,) (real when the Jacobian is symmetric, complex
otherwise), ``n_unit`` (eigenvalues with :math:`|\\mu - 1| \\le` tol), ``tol``."""


def jacobian_spectrum(map, state, tol=1e-6):
    r"""Eigenvalues of the Jacobian of one step at ``state``, by decreasing modulus.

    After learning, the GD map's Jacobian :math:`J = I - \eta H` has many
    eigenvalues at 1 if minima are flat manifolds (the paper's conjecture,
    section 3.2); ``n_unit`` counts the :math:`\mu` with
    :math:`|\mu - 1| \le` ``tol``.

    Parameters
    ----------
    map : Map with ``jacobian``
    state : array_like, shape (dim,)
    tol : float, default 1e-6

    Returns
    -------
    JacobianSpectrum
        ``(eigenvalues, n_unit, tol)``; a symmetric Jacobian (as for
        :class:`~dynnet.GradientDescentMap`) gets real eigenvalues from
        ``eigvalsh``.
    """
    tol = check_scalar(None, "tol", tol, low=0.0)
    if not isinstance(map, Map) or not map.has_jacobian:
        raise NotImplementedError(
            f"jacobian_spectrum: {type(map).__name__} does not implement jacobian(state)"
        )
    J = np.asarray(map.jacobian(map.check_state(state)), dtype=np.float64)
    scale = max(1.0, float(np.abs(J).max()))
    if np.allclose(J, J.T, rtol=0.0, atol=1e-12 * scale):
        ev = np.linalg.eigvalsh(0.5 * (J + J.T))
    else:
        ev = np.linalg.eigvals(J)
        if np.all(np.abs(ev.imag) <= 1e-14 * scale):
            ev = ev.real
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    n_unit = int(np.sum(np.abs(ev - 1.0) <= tol))
    return JacobianSpectrum(ev, n_unit, tol)
