r"""The 0-1 test for chaos (Gottwald and Melbourne), on a scalar series.

:class:`ZeroOneTest` decides from a scalar series alone (a coordinate of an
orbit, the loss along training) whether the dynamics behind it is regular or
chaotic: its statistic :math:`K` is near 0 for periodic or quasi-periodic
motion and near 1 for chaos. No embedding, no exponent fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import as_seed_sequence, check_array, check_int
from .base import Estimator, Needs, _logistic_orbit

if TYPE_CHECKING:
    import xarray as xr
    from numpy.typing import ArrayLike

    from ..base import SeedLike
    from ..maps.base import Map

__all__ = ["ZeroOneTest"]

#: Largest number of (c, time) entries handled in one vectorised block.
_BLOCK = 1 << 22


def _kc(phi: np.ndarray, c: np.ndarray, n_cut: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The correlation statistic :math:`K_c` and :math:`D_c(n)` for every ``c``, ``n = 1..n_cut``.

    Vectorised over ``c`` and time: the translation variables are cumulative
    sums, the mean-square displacement for all lags comes from one FFT
    autocorrelation per ``c``.
    """
    N = phi.size
    j = np.arange(1, N + 1, dtype=np.float64)
    n = np.arange(1, n_cut + 1)
    mean = phi.mean()
    Kc = np.empty(c.size)
    D = np.empty((c.size, n_cut))
    per = max(1, _BLOCK // N)
    xi = n - n.mean()
    for s in range(0, c.size, per):   # blocks of c, to bound memory (not a loop over time)
        cb = c[s:s + per]
        # z(j) = p_c(j) + i q_c(j) = sum_{l <= j} phi(l) exp(i l c); shifting z does not change
        # its increments, and centring it keeps the expansion below accurate
        z = np.cumsum(phi[None, :] * np.exp(1j * np.outer(cb, j)), axis=1)
        z -= z.mean(axis=1, keepdims=True)
        a2 = np.abs(z) ** 2
        S = np.concatenate([np.zeros((cb.size, 1)), np.cumsum(a2, axis=1)], axis=1)
        F = np.fft.fft(z, 2 * N, axis=1)
        cross = np.fft.ifft(F * np.conj(F), axis=1)[:, 1:n_cut + 1].real   # sum_i Re z(i+n) z*(i)
        # M_c(n) = mean over i of |z(i+n) - z(i)|^2, the N - n available pairs
        M = (S[:, N:N + 1] - S[:, n] + S[:, N - n] - 2.0 * cross) / (N - n)
        Vosc = mean ** 2 * (1.0 - np.cos(np.outer(cb, n))) / (1.0 - np.cos(cb))[:, None]
        Db = M - Vosc
        D[s:s + per] = Db
        d = Db - Db.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            Kc[s:s + per] = (d @ xi) / np.sqrt((d * d).sum(axis=1) * (xi @ xi))
    return Kc, D


class ZeroOneTest(Estimator):
    r"""The 0-1 test for chaos: :math:`K \approx 1` for chaos, :math:`\approx 0` for regular motion.

    From the series :math:`\phi(j)`, :math:`j = 1, \dots, N`, and a
    frequency :math:`c`, the translation variables

    .. math::

        p_c(n) = \sum_{j=1}^{n} \phi(j) \cos jc, \qquad
        q_c(n) = \sum_{j=1}^{n} \phi(j) \sin jc

    are bounded for regular dynamics and behave like a Brownian motion for
    chaotic dynamics. Their mean-square displacement, with the oscillating
    term removed (the regularised form of Gottwald and Melbourne 2009),

    .. math::

        M_c(n) = \frac{1}{N - n} \sum_{j=1}^{N-n}
            \big[p_c(j+n) - p_c(j)\big]^2 + \big[q_c(j+n) - q_c(j)\big]^2,
        \qquad
        D_c(n) = M_c(n) - \langle\phi\rangle^2 \frac{1 - \cos nc}{1 - \cos c},

    grows linearly in :math:`n` for chaos and stays bounded otherwise. The
    correlation method measures that growth by

    .. math::

        K_c = \mathrm{corr}(\xi, \Delta), \qquad \xi = (1, 2, \dots, n_\mathrm{cut}),
        \quad \Delta = (D_c(1), \dots, D_c(n_\mathrm{cut})),

    for ``n_c`` values of :math:`c` drawn uniformly in ``c_range``, and
    :math:`K` is their median (the median discards the rare :math:`c` that
    resonate with a frequency of the series).

    Fit with ``fit(series)`` on a 1-d series (no map, no steps).

    Parameters
    ----------
    n_c : int, default 100
        Number of random frequencies :math:`c`.
    c_range : tuple of float, default (pi/5, 4 pi/5)
        Interval of :math:`c`; the default, from Gottwald and Melbourne
        (2009), avoids the resonances at :math:`c = 0` and :math:`\pi`.
    seed : int, SeedSequence, Generator or None, default 0
        Seed of the draw of :math:`c`.
    n_cut : int or None, default None
        Largest lag :math:`n_\mathrm{cut}` of :math:`D_c(n)`; None:
        :math:`N/10` (rounded down), as recommended by Gottwald and
        Melbourne. At least 2 and below :math:`N`.
    variable : str, default "loss"
        For :meth:`fit_result`: the variable of a study's result to test
        (with a ``step`` dimension, for example ``loss (step, init)``).

    Attributes
    ----------
    K_ : float
        The median of :math:`K_c` over the frequencies (after
        :meth:`fit_result`, the median over series of each one's :math:`K`).
    Kc_ : ndarray, shape (n_c,)
        :math:`K_c` for each frequency, in the order of ``c_`` (after
        :meth:`fit_result`: ``(n_series, n_c)``).
    c_ : ndarray, shape (n_c,)
        The frequencies drawn.
    D_ : ndarray, shape (n_c, n_cut)
        The regularised displacement :math:`D_c(n)`, ``n = 1..n_cut`` (after
        :meth:`fit_result`: ``(n_series, n_c, n_cut)``).
    n_cut_ : int
        The largest lag used.
    series_K_ : ndarray, shape (n_series,)
        Only after :meth:`fit_result`: :math:`K` of each series (NaN for a
        series with non-finite values, such as a diverged member).

    Notes
    -----
    Everything is vectorised over :math:`c` and time: :math:`p_c, q_c` are
    cumulative sums, and :math:`M_c(n)` for all lags at once is an
    expansion of the square whose cross term is one FFT autocorrelation per
    :math:`c`. The test assumes a stationary series: give it the part of a
    loss curve after its transient. A series that is still falling gives
    any :math:`K` in :math:`[-1, 1]` (a trend can read as chaos, and a
    strongly negative :math:`K`, a displacement that shrinks with the lag,
    is a sign of one). A
    regular series gives :math:`K` near 0 only once :math:`N` is large
    enough to see its bounded oscillation (a few thousand points); a
    series sampled far faster than its dynamics (a flow) should be
    sub-sampled first.

    References
    ----------
    G. A. Gottwald, I. Melbourne, "A new test for chaos in deterministic
    systems", Proc. R. Soc. Lond. A 460, 603 (2004).
    G. A. Gottwald, I. Melbourne, "On the implementation of the 0-1 test for
    chaos", SIAM J. Appl. Dyn. Syst. 8, 129 (2009).

    Examples
    --------
    >>> import numpy as np
    >>> import dynnet as dn
    >>> x = np.empty(3000); x[0] = 0.3
    >>> for t in range(1, x.size):
    ...     x[t] = 4.0 * x[t - 1] * (1.0 - x[t - 1])
    >>> round(dn.ZeroOneTest().fit(x).K_, 1)
    1.0
    """

    @property
    def needs(self) -> Needs:
        """What :meth:`fit_result` reads: the result variable named by ``variable``."""
        return Needs(data=(self.variable,) if isinstance(self.variable, str) else ())


    def __init__(self, n_c: int = 100, c_range: tuple[float, float] = (np.pi / 5, 4 * np.pi / 5),
                 seed: SeedLike = 0, n_cut: int | None = None, variable: str = "loss") -> None:
        self.n_c = n_c
        self.c_range = c_range
        self.seed = seed
        self.n_cut = n_cut
        self.variable = variable

    def _setup(self, N: int) -> tuple[np.ndarray, int]:
        """The frequencies and the largest lag for a series of length ``N``."""
        name = type(self).__name__
        n_c = check_int(self, "n_c", self.n_c, low=1)
        cr = check_array(self, "c_range", self.c_range, ndim=1)
        if cr.shape != (2,) or not (0.0 < cr[0] < cr[1] < np.pi):
            raise ValueError(
                f"{name}: parameter c_range={self.c_range!r} must be two numbers (low, high) with "
                "0 < low < high < pi"
            )
        if self.n_cut is None:
            n_cut = N // 10
            if n_cut < 2:
                raise ValueError(f"{name}: the series has {N} values; n_cut = N/10 needs N >= 20")
        else:
            n_cut = check_int(self, "n_cut", self.n_cut, low=2, high=N - 1)
        rng = np.random.default_rng(as_seed_sequence(self.seed))
        return rng.uniform(cr[0], cr[1], size=n_c), n_cut

    def fit(self, data: ArrayLike, *, map: Map | None = None, steps: None = None) -> ZeroOneTest:
        """Run the test on the series ``data``; returns self.

        Parameters
        ----------
        data : array_like, shape (N,)
            A finite scalar series, :math:`N \\ge 20` (with the default
            ``n_cut``).
        map : None
            Not used (TypeError if given).
        steps : None
            Not used (TypeError if given).

        Returns
        -------
        ZeroOneTest
            ``self``.
        """
        self._no_map(map)
        self._no_steps(steps)
        phi = check_array(self, "data", data, ndim=1)
        c, n_cut = self._setup(phi.size)
        Kc, D = _kc(phi, c, n_cut)
        self.c_ = c
        self.n_cut_ = n_cut
        self.Kc_ = Kc
        self.D_ = D
        self.K_ = float(np.nanmedian(Kc)) if np.any(np.isfinite(Kc)) else float("nan")
        return self

    def fit_result(self, result: xr.Dataset, map: Map | None = None) -> ZeroOneTest:
        """Run the test on each series of ``result[variable]``; returns self.

        Every study whose result records the variable along ``step`` (for
        example ``loss (step, init)``, as :class:`~dynnet.PerturbationStudy`
        records it) can take this estimator in ``estimators=[...]``.

        Parameters
        ----------
        result : xarray.Dataset
            With the variable ``variable``, which has a ``step`` dimension;
            its other dimensions (such as ``init``) index the series.
        map : Map or None, default None
            Not used.

        Returns
        -------
        ZeroOneTest
            ``self``, with ``series_K_`` (each series' :math:`K`) and ``K_``
            their median.
        """
        name = type(self).__name__
        var = self.variable
        if not isinstance(var, str) or var not in result:
            raise ValueError(f"{name}: parameter variable={var!r} is not a variable of the result "
                             f"(it has {sorted(result.data_vars)})")
        da = result[var]
        if "step" not in da.dims:
            raise ValueError(f"{name}: result[{var!r}] has dims {da.dims}; it needs a 'step' dimension")
        others = [d for d in da.dims if d != "step"]
        X = np.asarray(da.transpose("step", *others).values, dtype=np.float64)
        X = X.reshape(X.shape[0], -1)
        c, n_cut = self._setup(X.shape[0])
        S = X.shape[1]
        Kc = np.full((S, c.size), np.nan)
        D = np.full((S, c.size, n_cut), np.nan)
        for s in range(S):   # one vectorised test per series (member)
            if np.all(np.isfinite(X[:, s])):
                Kc[s], D[s] = _kc(X[:, s], c, n_cut)
        with np.errstate(invalid="ignore"):
            ok = np.any(np.isfinite(Kc), axis=1)
            series_K = np.full(S, np.nan)
            series_K[ok] = np.nanmedian(Kc[ok], axis=1)
        self.c_ = c
        self.n_cut_ = n_cut
        self.Kc_ = Kc
        self.D_ = D
        self.series_K_ = series_K
        self.K_ = float(np.nanmedian(series_K)) if np.any(ok) else float("nan")
        return self

    def summary(self) -> dict[str, Any]:
        """Headline numbers: :math:`K` and the quartiles of :math:`K_c`.

        Returns
        -------
        dict
            ``K``, ``Kc_q25``, ``Kc_q75`` (over every frequency, and every
            series after :meth:`fit_result`).
        """
        self._check_fitted("K_")
        k = self.Kc_[np.isfinite(self.Kc_)]
        q = np.quantile(k, [0.25, 0.75]) if k.size else np.array([np.nan, np.nan])
        return {"K": self.K_, "Kc_q25": float(q[0]), "Kc_q75": float(q[1])}

    @staticmethod
    def _check_data():
        return (_logistic_orbit(600),)
