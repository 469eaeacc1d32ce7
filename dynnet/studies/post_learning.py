"""PostLearningStudy: stability near the minimum reached by GD (paper section 3.2)."""

from __future__ import annotations

import numpy as np

from ..base import check_array, check_int
from ..perturbers import UniformPerturber
from ._sweep import SweepStudy, low_eta_parts

__all__ = ["PostLearningStudy"]


class PostLearningStudy(SweepStudy):
    r"""Stability near the minimum reached by GD (after learning).

    Each reference network trains ``n_before`` steps at :math:`\eta = 0.01`;
    its state :math:`W^*` is then perturbed (``n`` copies per eps) and
    reference and copies train ``n_after`` more steps, recording
    :math:`d(t)`. The Jacobian of the GD map at :math:`W^*`,
    :math:`J = I - \eta H(W^*)`, is diagonalised: the count of eigenvalues
    within ``tol`` of 1 answers the paper's conjecture that minima are
    manifolds (many neutral directions).

    Parameters
    ----------
    map : Map or None, default None
        None: ``GradientDescentMap(eta=0.01)``.
    perturber : Perturber or None, default None
        None: ``UniformPerturber(n=20, on="weights")``; its ``eps`` is replaced by
        each value of ``eps``.
    metric : Metric or None, default None
        None: ``L1()``.
    eps : sequence of float, default (1e-14, 1e-10, 1e-6, 1e-2)
        Perturbation sizes; one ensemble per value.
    n_init : int, default 10
        Reference networks.
    n_before : int, default 4000
        Training steps before the perturbation.
    n_after : int, default 1000
        Steps tracked after it.
    tol : sequence of float, default (1e-6, 1e-4, 1e-3)
        Tolerances for "an eigenvalue at 1": :math:`|\mu - 1| < tol`.
    seed : int, SeedSequence, Generator or None, default 0
        The run's seed (initial networks from its child 0, perturbations from
        ``stream(seed, 1, i)``); None draws fresh entropy, recorded in ``seed_``.
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

    Attributes
    ----------
    result_ : xarray.Dataset
        ``distance (eps, step, init, pert)`` with ``step`` counted from the
        perturbation, ``loss (step, init)``, ``jacobian_eigenvalues (init, mode)``
        (by decreasing modulus, :func:`~dynnet.jacobian_spectrum`),
        ``hessian_eigenvalues (init, mode)`` for the GD map,
        ``n_unit (init, tol)``: how many :math:`|\mu - 1| \le tol`.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 3.2, Fig. 6.
    """

    _quick_params = {"n_init": 3, "n_before": 400, "n_after": 200, "eps": (1e-10, 1e-6),
                     "perturber": UniformPerturber(n=5, on="weights")}

    def __init__(self, map=None, perturber=None, metric=None, eps=(1e-14, 1e-10, 1e-6, 1e-2),
                 n_init=10, n_before=4000, n_after=1000, tol=(1e-6, 1e-4, 1e-3), seed=0,
                 every=1, estimators=(), common_directions=False):
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

    _part_defaults = staticmethod(low_eta_parts)

    def _sweep_steps(self):
        return self.n_after

    def _validate(self):
        check_int(self, "n_before", self.n_before, low=0)
        check_int(self, "n_after", self.n_after, low=1)
        tol = check_array(self, "tol", self.tol, ndim=(0, 1))
        if tol.size == 0 or np.any(tol <= 0):
            raise ValueError(f"{type(self).__name__}: parameter tol={self.tol!r} must hold values > 0")
        super()._validate()

    def _compute(self, ctx):
        """Train, perturb at ``n_before``, track ``n_after`` steps, diagonalise J."""
        m = self.parts()["map"]
        n_before = int(self.n_before)
        tol = np.atleast_1d(np.asarray(self.tol, dtype=float))
        x0 = m.initial_state(int(self.n_init), seed=ctx.child_seed(0))
        x_star = m.iterate(x0, n_before)
        ds = self._sweep(ctx, x_star)
        ds = ds.rename({"initial_state": "perturbed_state"})
        ds["start_state"] = (("init", "coord"), x0)
        if m.has_jacobian:
            from ..estimators import jacobian_spectrum
            from ..maps.gd import GradientDescentMap

            # one eigen-decomposition per trained reference, by the estimator's rule
            spectra = [jacobian_spectrum(m, x, tol=float(tol.max())) for x in x_star]
            mu = np.array([sp.eigenvalues for sp in spectra])
            ds["jacobian_eigenvalues"] = (("init", "mode"), mu.real)
            if np.iscomplexobj(mu):
                ds["jacobian_eigenvalues_imag"] = (("init", "mode"), mu.imag)
            elif isinstance(m, GradientDescentMap) and float(m.eta) > 0:
                # J = I - eta H: the Hessian's eigenvalues come with J's, no second decomposition
                ds["hessian_eigenvalues"] = (("init", "mode"), (1.0 - mu) / float(m.eta))
            n_unit = (np.abs(mu[:, :, None] - 1.0) <= tol[None, None, :]).sum(axis=1)
            ds["n_unit"] = (("init", "tol"), n_unit)
            ds = ds.assign_coords(tol=("tol", tol))
        ds.attrs["n_before"] = n_before
        return ds

    def _analyse(self, ds):
        ds, fitted = self._fit_per_eps(ds, self._estimator_list())
        return ds, fitted

    def _summary(self, ds):
        """Final loss, d(T)/d(0) and min d(t)/d(0) per eps, and the mean count of Jacobian
        eigenvalues within each tolerance of 1."""
        import xarray as xr

        d = ds["distance"].values  # (eps, step, init, pert)
        m0 = d[:, 0].mean(axis=(1, 2))
        out = xr.Dataset({
            "final_loss_mean": ((), float(ds["loss"].values[-1].mean())),
            "dim": ((), int(ds.sizes["coord"])),
            "d_final_over_d_0": (("eps",), d[:, -1].mean(axis=(1, 2)) / m0),
            "d_min_over_d_0": (("eps",), np.nanmin(d.mean(axis=(2, 3)), axis=1) / m0),
        }, coords={"eps": ds["eps"].values})
        if "n_unit" in ds:
            out["eigenvalues_at_1"] = (("tol",), ds["n_unit"].values.mean(axis=0))
            out = out.assign_coords(tol=ds["tol"].values)
        return out.merge(super()._summary(ds))

    def plot(self):
        """Fig. 6: d(t) after the perturbation, semi-log, per eps; and the Jacobian spectrum.

        Returns
        -------
        list of matplotlib.figure.Figure
            The figures.
        """
        from ..plotting import post_learning_figure

        self._check_run()
        return post_learning_figure(self.result_)
