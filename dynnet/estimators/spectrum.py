r"""Lyapunov spectra: the QR (Benettin) iteration and the spectrum of one Jacobian.

* :class:`LyapunovSpectrum` runs the QR iteration of the tangent map of any
  :class:`~dynnet.Map` that has a ``jvp`` or a ``jacobian`` (the tangent dynamics are the
  wrapper :class:`~dynnet.TangentMap`).
* :func:`jacobian_spectrum` gives the eigenvalues of one Jacobian and counts
  those at 1 (the post-learning analysis).
"""

from __future__ import annotations

import warnings
from collections import namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import as_seed_sequence, check_array, check_int, check_scalar
from ..maps.base import DivergenceWarning, Map
from ..maps.tangent import TangentMap
from .base import Estimator

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..base import SeedLike

__all__ = ["LyapunovSpectrum", "jacobian_spectrum", "JacobianSpectrum"]


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

    Fit with ``fit(state, map=m)``: ``state`` ``(dim,)`` is the start of the
    orbit and ``map`` (required) any Map with ``jvp`` or ``jacobian``.

    With ``n_exponents=k`` only ``k`` vectors are propagated, the orbit by
    ``map.step`` and the vectors by ``map.jvp`` (Shimada and Nagashima's
    form of the method): the first ``k`` columns of the QR iteration never
    see the others, so these are the top ``k`` exponents of the full
    spectrum, to rounding.

    Parameters
    ----------
    n_steps : int, default 10_000
        Steps over which the exponents are averaged (a multiple of
        ``renorm_every``).
    n_transient : int, default 1_000
        Steps run first, not counted: the orbit settles on the attractor and
        the vectors align with the Lyapunov directions (they are propagated
        and renormalised during the transient too).
    n_exponents : int or None, default None
        Number of exponents, the largest ones. None: all ``map.dim`` of them,
        through the dense Jacobian ``map.jacobian`` (when the map has one).
        An int ``k``: the top ``k`` by a thin QR of ``k`` tangent vectors
        advanced with ``map.jvp``, without forming the Jacobian when the map
        has a matrix-free ``jvp`` (the vectors take :math:`O(\mathrm{dim}\cdot
        k)` memory; a GD map's products add its activations for ``k``
        vectors, :math:`O(k \cdot N \cdot \text{width})`).
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
    Q0 : array_like of shape (dim, n_exponents) or None, default None
        The initial deviation vectors, as columns (full rank; they are
        orthonormalised by a QR decomposition, so only the subspace they span
        and its flag matter). None: seeded random orthonormal vectors (see
        ``seed``).
    seed : int, SeedSequence, Generator or None, default 0
        Seed of the random initial vectors when ``Q0`` is None: the QR
        factor of a ``(dim, k)`` matrix of independent standard normal
        entries, drawn column by column (so the first ``k`` columns are the
        same for every ``n_exponents`` and the top ``k`` exponents are those of
        the full spectrum of the same seed, to rounding). A fixed default, so
        results are reproducible. Random vectors
        are needed because coordinate vectors can be trapped: a coordinate
        subspace that the tangent map leaves invariant (for a GD map, the
        weights of saturated or dead units, whose Hessian columns are exactly
        zero) would keep vectors started inside it there, and they would
        report its exponents (0 for a neutral subspace) instead of the largest
        ones; a random start has a component outside every such subspace,
        with probability 1.
    window : int or None, default None
        Length in steps of the windows of ``local_exponents_`` (a multiple
        of ``renorm_every``, at most ``n_steps``). None: ``10 *
        renorm_every``, or ``n_steps`` when the run is shorter.

    Attributes
    ----------
    exponent_ : float
        The largest exponent, ``exponents_[0]``.
    exponents_ : ndarray, shape (n_exponents,)
        Per step, sorted in decreasing order (the QR order once converged;
        ``convergence_`` and ``stderr_`` columns follow the same order).
    convergence_ : ndarray, shape (n_records, n_exponents)
        Running estimate at ``record_steps_``.
    record_steps_ : ndarray, shape (n_records,)
        Steps (after the transient) of those rows.
    stderr_ : ndarray, shape (n_exponents,)
        Block standard errors.
    tol_ : ndarray, shape (n_exponents,)
        The neutral tolerance used.
    n_neutral_ : int
        Number of exponents with :math:`|\lambda_i| \le` ``tol_``.
    local_exponents_ : ndarray, shape (n_windows, n_exponents)
        The finite-time exponents: the growth rate of each deviation vector
        over consecutive windows of :math:`w` = ``window_`` steps after the
        transient,

        .. math::

            \lambda_i^{(j)} = \frac{1}{w} \sum_{\text{renorms } t \in
            [j w, (j+1) w)} \ln |(R_t)_{ii}|,

        ``n_windows = n_steps // w`` (a last partial window is dropped), in
        the column order of ``exponents_``. Their distribution shows whether
        a run is uniformly or intermittently unstable; when ``w`` divides
        ``n_steps`` their mean over windows is ``exponents_`` exactly, up to
        rounding.
    window_ : int
        The window length :math:`w` used, in steps.
    Q0_ : ndarray, shape (dim, n_exponents)
        The orthonormal initial vectors used.
    state_ : ndarray, shape (dim,)
        Final state of the orbit.

    Notes
    -----
    The loop over time steps is inherent (one tangent step per step); the
    work inside a step is vectorised. A divergent orbit (non-finite state)
    gives NaN exponents and a :class:`~dynnet.DivergenceWarning`.
    For :class:`~dynnet.GradientDescentMap` the Jacobian is
    :math:`I - \eta H` with the exact Hessian, so this is the exact spectrum
    of the GD map; with ``n_exponents=k`` the vectors advance by
    :math:`v - \eta H v` with exact Hessian-vector products (one batched
    R-operator pass per step for all ``k``), so a network of
    :math:`10^5` parameters needs a few :math:`\mathrm{dim}\cdot k`
    arrays and its activations, not the :math:`\mathrm{dim}^2` Jacobian
    (measured at 784-100-10 on 10,000 samples, :math:`k = 10`: about
    370 MiB per step against 47 GiB for the Jacobian;
    ``benchmarks/bench_tangent.py``).

    References
    ----------
    G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, "Lyapunov
    characteristic exponents for smooth dynamical systems and for
    Hamiltonian systems; a method for computing all of them", Meccanica 15,
    9 and 21 (1980).
    P. Grassberger, R. Badii, A. Politi, "Scaling laws for invariant measures
    on hyperbolic and nonhyperbolic attractors", J. Stat. Phys. 51, 135
    (1988) (finite-time exponent distributions).
    I. Shimada, T. Nagashima, "A numerical approach to ergodic problem of
    dissipative dynamical systems", Prog. Theor. Phys. 61, 1605 (1979).
    K. Geist, U. Parlitz, W. Lauterborn, "Comparison of different methods for
    computing Lyapunov exponents", Prog. Theor. Phys. 83, 875 (1990).
    """

    def __init__(self, n_steps: int = 10_000, n_transient: int = 1_000,
                 n_exponents: int | None = None, renorm_every: int = 1,
                 tol: float | None = None, record_every: int | None = None,
                 Q0: ArrayLike | None = None, seed: SeedLike = 0, window: int | None = None) -> None:
        self.n_steps = n_steps
        self.n_transient = n_transient
        self.n_exponents = n_exponents
        self.renorm_every = renorm_every
        self.tol = tol
        self.record_every = record_every
        self.Q0 = Q0
        self.seed = seed
        self.window = window

    def _initial_vectors(self, n: int, k: int) -> np.ndarray:
        """Orthonormal ``(n, k)`` start: ``Q0`` validated and orthonormalised, or seeded random."""
        if self.Q0 is None:
            rng = np.random.default_rng(as_seed_sequence(self.seed))
            # column by column, so the first k columns are the same for every k
            Q, _ = np.linalg.qr(rng.standard_normal((k, n)).T)
            return Q
        Q0 = check_array(self, "Q0", self.Q0, ndim=2)
        if Q0.shape != (n, k):
            raise ValueError(
                f"LyapunovSpectrum: parameter Q0 must have shape (dim, n_exponents) = ({n}, {k}), "
                f"got {Q0.shape}"
            )
        Q, R = np.linalg.qr(Q0)
        diag = np.abs(np.diagonal(R))
        scale = float(np.linalg.norm(Q0, axis=0).max())
        rank = int(np.sum(diag > max(n, k) * np.finfo(np.float64).eps * scale))
        if scale == 0.0 or rank < k:
            raise ValueError(
                f"LyapunovSpectrum: parameter Q0 must have full column rank {k} (linearly "
                f"independent columns), got rank {rank}"
            )
        return Q

    def _window(self, n_steps: int, every: int) -> int:
        if self.window is None:
            return min(10 * every, n_steps)
        w = check_int(self, "window", self.window, low=1, high=n_steps)
        if w % every:
            raise ValueError(
                f"LyapunovSpectrum: parameter window={w} must be a multiple of renorm_every={every}"
            )
        return w

    def fit(self, data: ArrayLike, *, map: Map | None = None, steps: None = None) -> LyapunovSpectrum:
        """Run the QR iteration from the state ``data``; returns self.

        Parameters
        ----------
        data : array_like, shape (dim,)
            The initial state of the orbit.
        map : Map
            Required: a map that implements ``jvp(states, V)`` or
            ``jacobian(state)`` (the full spectrum of a map with only ``jvp``
            propagates ``dim`` vectors).
        steps : None
            Not used (TypeError if given).

        Returns
        -------
        LyapunovSpectrum
            ``self``.
        """
        self._no_steps(steps)
        m = self._need_map(map, "the spectrum is that of the map's tangent dynamics "
                                "(any dynnet Map with jvp(states, V) or jacobian(state))")
        if not isinstance(m, Map):
            raise TypeError(f"LyapunovSpectrum: map={m!r} must be a dynnet Map")
        if not m.has_jvp:
            raise NotImplementedError(
                f"LyapunovSpectrum: {type(m).__name__} implements neither jvp(states, V) nor "
                "jacobian(state); the tangent dynamics and the spectrum need one of them"
            )
        n = m.dim
        k = n if self.n_exponents is None else check_int(self, "n_exponents", self.n_exponents,
                                                          low=1, high=n)
        tangent = TangentMap(map=m, k=k)
        x = m.check_state(data)
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
        win = self._window(n_steps, every)
        Q = self._initial_vectors(n, k)
        self.Q0_ = Q.copy()
        logs = np.empty((n_ren, k))
        diverged = False
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # transient: orbit and vectors, renormalised, not counted
            for s in range(n_tr):
                x, Q = tangent.tangent_step(x, Q)
                if not np.all(np.isfinite(x)) or not np.all(np.isfinite(Q)):
                    diverged = True
                    break
                if (s + 1) % every == 0 or s == n_tr - 1:
                    Q, _ = np.linalg.qr(Q)
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
        self.exponent_ = float(self.exponents_[0])
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
        per_win = win // every
        n_win = n_ren // per_win
        self.window_ = win
        self.local_exponents_ = (logs[:n_win * per_win].reshape(n_win, per_win, k).sum(axis=1) / win)
        return self

    def summary(self) -> dict[str, Any]:
        """Headline numbers: the largest and smallest exponent, their sum, the neutral count.

        Returns
        -------
        dict
            ``exponent`` (the largest), ``exponent_min``, ``sum``, ``n_exponents``,
            ``n_neutral``.
        """
        self._check_fitted("exponents_")
        return {"exponent": self.exponent_,
                "exponent_min": float(self.exponents_[-1]),
                "sum": float(np.sum(self.exponents_)),
                "n_exponents": int(self.exponents_.size),
                "n_neutral": int(self.n_neutral_)}

    @staticmethod
    def _check_data():
        from ..maps.classic import HenonMap

        return {"data": np.array([0.1, 0.1]), "map": HenonMap()}


JacobianSpectrum = namedtuple("JacobianSpectrum", ["eigenvalues", "n_unit", "tol"])
JacobianSpectrum.__doc__ = r"""Eigenvalues of a Jacobian, sorted by decreasing modulus, and how many sit at 1.

The result of :func:`jacobian_spectrum`, a named tuple.

Parameters
----------
eigenvalues : ndarray, shape (dim,)
    The eigenvalues :math:`\mu`, by decreasing modulus: float64 when the
    Jacobian is symmetric (or all imaginary parts are negligible), complex
    otherwise.
n_unit : int
    The number of eigenvalues with :math:`|\mu - 1| \le` ``tol``.
tol : float
    The tolerance used for ``n_unit``.
"""
JacobianSpectrum.eigenvalues.__doc__ = "The eigenvalues, by decreasing modulus."
JacobianSpectrum.n_unit.__doc__ = "The number of eigenvalues within ``tol`` of 1."
JacobianSpectrum.tol.__doc__ = "The tolerance used for ``n_unit``."


def jacobian_spectrum(map: Map, state: ArrayLike, tol: float = 1e-6) -> JacobianSpectrum:
    r"""Eigenvalues of the Jacobian of one step at ``state``, by decreasing modulus.

    After learning, the GD map's Jacobian :math:`J = I - \eta H` has many
    eigenvalues at 1 if minima are flat manifolds (the paper's conjecture,
    section 3.2); ``n_unit`` counts the :math:`\mu` with
    :math:`|\mu - 1| \le` ``tol``.

    Parameters
    ----------
    map : Map
        A map that implements ``jacobian``.
    state : array_like, shape (dim,)
        Where the Jacobian is evaluated.
    tol : float, default 1e-6
        Distance from 1 within which an eigenvalue counts as unit.

    Returns
    -------
    JacobianSpectrum
        ``(eigenvalues, n_unit, tol)``; a symmetric Jacobian (as for
        :class:`~dynnet.GradientDescentMap`) gets real eigenvalues from
        ``eigvalsh``.

    Raises
    ------
    NotImplementedError
        If ``map`` is not a dynnet Map or does not implement ``jacobian``.

    References
    ----------
    Danovski, Soriano & Lacasa, Front. Complex Syst. 2:1367957 (2024), section 3.2.
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
