"""PostLearningStudy: stability near the minimum reached by GD (paper section 3.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import check_array, check_int, check_scalar
from ..perturbers import UniformPerturber
from .blocks import SweepStudy, low_eta_parts

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from ..base import SeedLike
    from ..estimators.base import Estimator
    from ..maps.base import Map
    from ..metrics import Metric
    from ..perturbers import Perturber

__all__ = ["PostLearningStudy"]

#: a Hessian eigenvalue below this is a direction of negative curvature (the state is no minimum)
NEGATIVE_CURVATURE = -1e-3
#: times after the perturbation at which the summary reports d(t) / d(0)
T_AFTER = (1, 10, 100, 1000)


def _grad_norm(m, x):
    """Euclidean norm of the map's loss gradient at each state ``(E, dim) -> (E,)``."""
    return np.linalg.norm(np.asarray(m.gradient(x), dtype=np.float64), axis=-1)


def train_to_tolerance(m: Map, x0: ArrayLike, grad_tol: float | None,
                       cap: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradient descent from ``x0`` until each network's gradient norm is below ``grad_tol``.

    Every network steps (one batch, ``m.step``) while
    :math:`\|\nabla L(W)\|_2 \ge` ``grad_tol`` and it has taken fewer than
    ``cap`` steps; a network that reaches the tolerance stops where it is.

    Parameters
    ----------
    m : Map
        A map with ``step`` and ``gradient`` (as :class:`~dynnet.GradientDescentMap`).
    x0 : ndarray, shape (E, dim)
        Initial networks.
    grad_tol : float or None
        The tolerance; None: every network takes exactly ``cap`` steps (``m.iterate``).
    cap : int
        Most steps a network takes.

    Returns
    -------
    x : ndarray, shape (E, dim)
        The states reached.
    steps : ndarray of int, shape (E,)
        Steps each network took.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    if grad_tol is None:
        return m.iterate(x0, int(cap)), np.full(x0.shape[0], int(cap), dtype=np.int64)
    x = x0.copy()
    steps = np.zeros(x.shape[0], dtype=np.int64)
    active = ~(_grad_norm(m, x) < grad_tol)  # NaN (diverged) never converges; the cap stops it
    for _ in range(int(cap)):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        x[idx] = m.step(x[idx])
        steps[idx] += 1
        active[idx] = ~(_grad_norm(m, x[idx]) < grad_tol)
    return x, steps


class PostLearningStudy(SweepStudy):
    r"""Stability near the minimum reached by GD (after learning).

    Each reference network trains ``n_before`` steps at :math:`\eta = 0.01`
    (or, with ``grad_tol``, until its gradient norm is below it); its state
    :math:`W^*` is then perturbed (``n`` copies per eps) and reference and
    copies train ``n_after`` more steps, recording :math:`d(t)`. The
    Jacobian of the GD map, :math:`J = I - \eta H`, is diagonalised at
    :math:`W^*` and at the initial network :math:`W(0)`, and the eigenvalues
    within ``tol`` of 1 are counted at both, side by side.

    What the numbers say, and what they do not. After the paper's 4000
    steps :math:`W^*` is not a minimum: the gradient norm is still about
    0.07 and the Hessian has several negative eigenvalues (``grad_norm``,
    ``n_negative_curvature``); and the count of Jacobian eigenvalues near 1
    is already high at random initialisation (``n_unit_initial``), because
    :math:`\eta = 0.01` times a small Hessian eigenvalue is small anywhere.
    So a high count at :math:`W^*` alone does not test the paper's
    conjecture that minima are manifolds; compare it with the count at
    initialisation, and train to a gradient tolerance (``grad_tol``) to
    approach a minimum. After the perturbation the mean :math:`d(t)` decays
    slowly and smoothly (``d_over_d_0`` in :meth:`summary`: measured at the
    paper's size, seed 0, 0.999, 0.992-0.993, 0.976-0.978 and 0.953-0.956 of
    :math:`d(0)` at :math:`t` = 1, 10, 100, 1000 over the four eps), not with
    a sharp initial drop.

    Parameters
    ----------
    map : Map or None, default None
        None: ``GradientDescentMap(eta=0.01)``.
    perturber : Perturber or None, default None
        None: ``UniformPerturber(n=20, on="weights")``; its ``eps`` is replaced by
        each value of ``eps``.
        ``on="all"`` instead for a map without a ``"weights"`` group.
    metric : Metric or None, default None
        None: ``L1()``.
    eps : sequence of float, default (1e-14, 1e-10, 1e-6, 1e-2)
        Perturbation sizes; one ensemble per value.
    n_init : int, default 10
        Reference networks.
    n_before : int, default 4000
        Training steps before the perturbation (with ``grad_tol``: the most
        steps a network may take).
    n_after : int, default 1000
        Steps tracked after it.
    tol : sequence of float, default (1e-6, 1e-4, 1e-3)
        Tolerances for "an eigenvalue at 1": :math:`|\mu - 1| < tol`.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed (initial networks from its child 0, perturbations from
        its streams as ``common_directions`` says); None draws fresh entropy,
        recorded in ``seed_``.
    every : int, default 1
        Record every ``every`` steps.
    estimators : list of Estimator, default ()
        Fitted on each eps (``fit_result``); numbers stored as ``<class>.<key> (eps)``.
    common_directions : bool, default False
        False: each eps draws its own perturbations (reference ``i`` at eps
        index ``k`` from ``stream(seed, 1, k, 1, i)``), as the paper states
        for its eps sweeps. True: every eps reuses ``stream(seed, 1, i)``, the
        same directions scaled (bitwise the behaviour of dynnet before this
        option).
    grad_tol : float or None, default None
        None: train exactly ``n_before`` steps (the paper's). A float: train
        each network until the Euclidean norm of its loss gradient is below
        ``grad_tol`` (checked after every step, all networks in one batch; a
        network that reaches it stops) or it has taken ``n_before`` steps;
        ``steps_before`` reports the steps taken and ``grad_norm`` the norm
        reached. Needs a map with ``gradient``.

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (eps, step, init, pert)`` with ``step`` counted from the
        perturbation, ``loss (step, init)``, ``jacobian_eigenvalues (init, mode)``
        (by decreasing modulus, :func:`~dynnet.jacobian_spectrum`),
        ``hessian_eigenvalues (init, mode)`` for the GD map,
        ``n_unit (init, tol)``: how many :math:`|\mu - 1| \le tol`,
        ``n_negative_curvature (init)``: how many Hessian eigenvalues lie
        below -1e-3; the same four at the initial network, suffixed
        ``_initial`` (``jacobian_eigenvalues_initial``,
        ``hessian_eigenvalues_initial``, ``n_unit_initial``,
        ``n_negative_curvature_initial``); ``grad_norm (init)`` and
        ``grad_norm_initial (init)``: :math:`\|\nabla L\|_2` at the
        perturbation point and at the start; ``steps_before (init)``: the
        training steps taken before the perturbation.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.2, Fig. 6.
    """

    _quick_params = {"n_init": 3, "n_before": 400, "n_after": 200, "eps": (1e-10, 1e-6),
                     "perturber": UniformPerturber(n=5, on="weights")}

    def __init__(self, map: Map | None = None, perturber: Perturber | None = None,
                 metric: Metric | None = None,
                 eps: float | Sequence[float] = (1e-14, 1e-10, 1e-6, 1e-2), n_init: int = 10,
                 n_before: int = 4000, n_after: int = 1000,
                 tol: float | Sequence[float] = (1e-6, 1e-4, 1e-3), seed: SeedLike = 0, every: int = 1,
                 estimators: Sequence[Estimator] | None = (), common_directions: bool = False,
                 grad_tol: float | None = None) -> None:
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.eps = eps
        self.n_init = n_init
        self.n_before = n_before
        self.n_after = n_after
        self.tol = tol
        self.seed = seed
        self.every = every
        self.estimators = estimators
        self.common_directions = common_directions
        self.grad_tol = grad_tol

    _part_defaults = staticmethod(low_eta_parts)

    _steps_name = "n_after"

    def _sweep_steps(self):
        return self.n_after

    def _validate(self):
        check_int(self, "n_before", self.n_before, low=0)
        check_int(self, "n_after", self.n_after, low=1)
        tol = check_array(self, "tol", self.tol, ndim=(0, 1))
        if tol.size == 0 or np.any(tol <= 0):
            raise ValueError(f"{type(self).__name__}: parameter tol={self.tol!r} must hold values > 0")
        if self.grad_tol is not None:
            check_scalar(self, "grad_tol", self.grad_tol, low=0.0, low_open=True)
            if not callable(getattr(self.parts()["map"], "gradient", None)):
                raise TypeError(
                    f"{type(self).__name__}: grad_tol={self.grad_tol!r} needs a map with gradient(states); "
                    f"{type(self.parts()['map']).__name__} has none (use grad_tol=None)"
                )
        super()._validate()

    def _compute(self, ctx):
        """Train, perturb at ``n_before``, track ``n_after`` steps, diagonalise J."""
        m = self.parts()["map"]
        n_before = int(self.n_before)
        tol = np.atleast_1d(np.asarray(self.tol, dtype=float))
        x0 = m.initial_state(int(self.n_init), seed=ctx.child_seed(0))
        grad_tol = None if self.grad_tol is None else float(self.grad_tol)
        x_star, steps_before = train_to_tolerance(m, x0, grad_tol, n_before)
        ds = self._sweep(ctx, x_star)
        ds = ds.rename({"initial_state": "perturbed_state"})
        ds["start_state"] = (("init", "coord"), x0)
        ds["steps_before"] = (("init",), steps_before)
        if callable(getattr(m, "gradient", None)):
            ds["grad_norm"] = (("init",), _grad_norm(m, x_star))
            ds["grad_norm_initial"] = (("init",), _grad_norm(m, x0))
        if m.has_jacobian:
            from ..estimators import jacobian_spectrum
            finite = [x for x in x_star if np.isfinite(x).all()]
            is_gd = _is_gradient_descent(m, finite[0] if finite else x_star[0])
            for suffix, states in (("", x_star), ("_initial", x0)):
                # one eigen-decomposition per network, by the estimator's rule
                spectra = [jacobian_spectrum(m, x, tol=float(tol.max())) for x in states]
                mu = np.array([sp.eigenvalues for sp in spectra])
                ds[f"jacobian_eigenvalues{suffix}"] = (("init", "mode"), mu.real)
                if np.iscomplexobj(mu):
                    ds[f"jacobian_eigenvalues{suffix}_imag"] = (("init", "mode"), mu.imag)
                elif is_gd:
                    # J = I - eta H: the Hessian's eigenvalues come with J's, no second decomposition
                    h = (1.0 - mu) / float(m.eta)
                    ds[f"hessian_eigenvalues{suffix}"] = (("init", "mode"), h)
                    ds[f"n_negative_curvature{suffix}"] = (("init",), (h < NEGATIVE_CURVATURE).sum(axis=1))
                n_unit = (np.abs(mu[:, :, None] - 1.0) <= tol[None, None, :]).sum(axis=1)
                ds[f"n_unit{suffix}"] = (("init", "tol"), n_unit)
            ds = ds.assign_coords(tol=("tol", tol))
        ds.attrs["n_before"] = n_before
        return ds

    def _estimator_variables(self):
        """One eps's ensemble records, with the perturbed states named ``perturbed_state``."""
        return (super()._estimator_variables() - {"initial_state"}) | {"perturbed_state", "start_state",
                                                                        "steps_before"}

    def _analyse(self, ds):
        ds, fitted = self._fit_per_eps(ds, self._fed_estimators())
        return ds, fitted

    def _summary(self, ds):
        """Final loss, d(t)/d(0) (at t = 1, 10, 100, 1000, the end, and its minimum) per eps, the
        gradient norm and steps at the perturbation point, negative-curvature counts, and the
        mean count of Jacobian eigenvalues within each tolerance of 1 at initialisation and at
        the perturbation point."""
        import xarray as xr

        d = ds["distance"].values  # (eps, step, init, pert)
        m0 = d[:, 0].mean(axis=(1, 2))
        out = xr.Dataset({
            "final_loss_mean": ((), float(ds["loss"].values[-1].mean())),
            "dim": ((), int(ds.sizes["coord"])),
            "d_final_over_d_0": (("eps",), d[:, -1].mean(axis=(1, 2)) / m0),
            "d_min_over_d_0": (("eps",), np.nanmin(d.mean(axis=(2, 3)), axis=1) / m0),
            "steps_before_mean": ((), float(ds["steps_before"].values.mean())),
            "steps_before_max": ((), int(ds["steps_before"].values.max())),
        }, coords={"eps": ds["eps"].values})
        step = ds["step"].values
        lags = [t for t in T_AFTER if np.any(step == t)]
        if lags:
            rows = [int(np.flatnonzero(step == t)[0]) for t in lags]
            out["d_over_d_0"] = (("eps", "t_after"), d[:, rows].mean(axis=(2, 3)) / m0[:, None])
            out = out.assign_coords(t_after=np.asarray(lags))
        for name in ("grad_norm", "grad_norm_initial"):
            if name in ds:
                out[f"{name}_mean"] = ((), float(ds[name].values.mean()))
                out[f"{name}_max"] = ((), float(ds[name].values.max()))
        for name in ("n_negative_curvature", "n_negative_curvature_initial"):
            if name in ds:
                out[f"{name}_mean"] = ((), float(ds[name].values.mean()))
        if "n_unit" in ds:
            out["eigenvalues_at_1"] = (("tol",), ds["n_unit"].values.mean(axis=0))
            out["eigenvalues_at_1_initial"] = (("tol",), ds["n_unit_initial"].values.mean(axis=0))
            out = out.assign_coords(tol=ds["tol"].values)
        return out.merge(super()._summary(ds))

    def plot(self) -> list[Figure]:
        """Fig. 6: d(t) after the perturbation, semi-log, per eps; and the Jacobian spectrum.

        Returns
        -------
        list of matplotlib.figure.Figure
            The figures.
        """
        from ..plotting import post_learning_figure

        self._check_run()
        return post_learning_figure(self.result_)


def _is_gradient_descent(m, state) -> bool:
    """Whether the map's Jacobian is :math:`J = I - \\eta H` (gradient descent with a scalar
    ``eta`` > 0 and a ``hessian``), whatever its type: checked at one state, to 1e-10 of the
    Jacobian's scale, so that the Hessian's eigenvalues can be read off J's."""
    eta = getattr(m, "eta", None)
    if not isinstance(eta, (int, float, np.integer, np.floating)) or isinstance(eta, bool) or eta <= 0:
        return False
    if "hessian" not in m.capabilities():
        return False
    try:
        J = np.asarray(m.jacobian(state), dtype=np.float64)
        H = np.asarray(m.hessian(state), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a map whose Hessian cannot be had at this state is not read off J
        return False
    if J.shape != H.shape or not (np.isfinite(J).all() and np.isfinite(H).all()):
        return False
    gap = np.abs(J - (np.eye(J.shape[0]) - float(eta) * H)).max()
    return bool(gap <= 1e-10 * max(1.0, np.abs(J).max()))
