"""PostLearningStudy: stability near the minimum reached by GD (paper section 3.2)."""

from __future__ import annotations

import numpy as np

from ..base import check_int
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
    map : Map, default GradientDescentMap(eta=0.01)
    perturber : Perturber, default UniformPerturber(n=20, on="weights")
    metric : Metric, default L1()
    eps : sequence of float, default (1e-14, 1e-10, 1e-6, 1e-2)
    n_init : int, default 10
    n_before : int, default 4000
    n_after : int, default 1000
    tol : sequence of float, default (1e-6, 1e-4, 1e-3)
        Tolerances for "an eigenvalue at 1": :math:`|\mu - 1| < tol`.
    seed, every, chunk_size, n_jobs, progress, checkpoint, resume
        As for :class:`~dynnet.PerturbationStudy` (``every`` default 1).

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
                 every=1, chunk_size=None, n_jobs=1, progress=False, checkpoint=None,
                 resume=False):
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
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.progress = progress
        self.checkpoint = checkpoint
        self.resume = resume

    _component_defaults = staticmethod(low_eta_parts)

    def run(self):
        """Train, perturb at ``n_before``, track ``n_after`` steps, diagonalise J; returns self."""
        self._check_saveable()
        c = self._resolved()
        m = c["map"]
        n_before = check_int(self, "n_before", self.n_before, low=0)
        n_after = check_int(self, "n_after", self.n_after, low=1)
        tol = np.atleast_1d(np.asarray(self.tol, dtype=float))
        x0 = self._initial_states(m)
        x_star = m.iterate(x0, n_before)
        ds = self._sweep(c, n_after, initial_states=x_star, seed=self._seed_seq)
        ds = ds.rename({"initial_state": "perturbed_state"})
        ds["start_state"] = (("init", "coord"), x0)
        if m.has_jacobian:
            from ..estimators.lyapunov import jacobian_spectrum
            from ..maps.gd import GradientDescentMap

            # one eigen-decomposition per trained reference, by the estimator's rule
            spectra = [jacobian_spectrum(m, x, tol=float(tol.max())) for x in x_star]
            mu = np.array([sp.eigenvalues for sp in spectra])
            ds["jacobian_eigenvalues"] = (("init", "mode"), mu.real)
            if np.iscomplexobj(mu):
                ds["jacobian_eigenvalues_imag"] = (("init", "mode"), mu.imag)
            elif isinstance(m, GradientDescentMap) and m._eta() > 0:
                # J = I - eta H: the Hessian's eigenvalues come with J's, no second decomposition
                ds["hessian_eigenvalues"] = (("init", "mode"), (1.0 - mu) / m._eta())
            n_unit = (np.abs(mu[:, :, None] - 1.0) <= tol[None, None, :]).sum(axis=1)
            ds["n_unit"] = (("init", "tol"), n_unit)
            ds = ds.assign_coords(tol=("tol", tol))
        ds = ds.assign_coords(step=ds["step"].values)
        ds.attrs["n_before"] = n_before
        self.result_ = ds
        self._restore()
        self._done_checkpoint()
        return self

    def summary(self):
        self._check_run()
        ds = self.result_
        d = ds["distance"].values  # (eps, step, init, pert)
        m0 = d[:, 0].mean(axis=(1, 2))
        out = {
            "final_loss_mean": float(ds["loss"].values[-1].mean()),
            "dim": int(ds.sizes["coord"]),
        }
        for k, e in enumerate(ds["eps"].values):
            out[f"d_final/d_0@{e:.0e}"] = float(d[k, -1].mean() / m0[k])
            out[f"d_min/d_0@{e:.0e}"] = float(np.nanmin(d[k].mean(axis=(1, 2))) / m0[k])
        if "n_unit" in ds:
            for j, t in enumerate(ds["tol"].values):
                out[f"eigenvalues_at_1(|mu-1|<{t:g})"] = float(ds["n_unit"].values[:, j].mean())
        return out

    def plot(self):
        """Fig. 6: d(t) after the perturbation, semi-log, per eps; and the Jacobian spectrum."""
        from ..plotting import post_learning_figure

        self._check_run()
        return post_learning_figure(self.result_)
