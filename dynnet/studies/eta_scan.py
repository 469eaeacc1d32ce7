"""EtaScanStudy: the regimes of GD between eta = 0.01 and 10 (the paper's open question)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import as_seed_sequence, check_int, check_scalar, clone
from ..metrics import L1
from ..perturbers import UniformPerturber
from .base import Study
from .perturbation import PerturbationStudy

__all__ = ["EtaScanStudy", "classify_regime"]

DEFAULT_ETAS = tuple(float(f"{v:.4g}") for v in np.logspace(-2, 1, 10))


def classify_regime(diverged_fraction, laminar_fraction, kept_fraction, mle, sharpness_ratio):
    """The regime of one learning rate, by a documented rule applied in order.

    1. ``"divergent"``: more than half of the orbits overflowed.
    2. ``"intermittent"``: laminar (periodic) phases cover at least 10% of the
       loss series after the transient.
    3. ``"chaotic"``: at least half of the finite-Lyapunov fits are kept
       (:math:`R^2 > 0.9`, :math:`\\Lambda > 0.05`) and their mean exceeds 0.05.
       The paper calls this regime (its :math:`\\eta = 1`) the edge of stability.
    4. ``"sharpness at 2/eta"``: the sharpness reached :math:`2/\\eta`
       (``sharpness_ratio >= 1``, the edge of stability in the sense of Cohen
       et al. 2021) without measurable sensitive dependence.
    5. ``"convergent"`` otherwise.
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


class EtaScanStudy(Study):
    r"""A scan of the learning rate: where GD converges, becomes chaotic, intermittent.

    For each :math:`\eta` on a log grid the same ``n_init`` initial networks
    train ``n_steps`` steps with ``n`` perturbed copies each, and the study
    reports

    * the final loss and test accuracy of the references;
    * :math:`\lambda_{nMLE}` and the kept fraction (:class:`~dynnet.FiniteLyapunov`);
    * the top Lyapunov exponent of the GD map itself over ``spectrum_steps``
      steps from the first initial network (QR iteration of
      :math:`J = I - \eta H`, :class:`~dynnet.LyapunovSpectrum`);
    * the sharpness :math:`\lambda_{max}(H)` along that orbit against
      :math:`2/\eta` (:class:`~dynnet.Sharpness`; Cohen et al. 2021);
    * the laminar fraction of the loss series (:class:`~dynnet.LaminarPhases`);
    * a regime label (:func:`classify_regime`).

    Parameters
    ----------
    etas : sequence of float, default 10 values log-spaced in [0.01, 10]
    map : Map, default GradientDescentMap()
        Its ``eta`` is replaced by each value of ``etas``.
    perturber : Perturber, default UniformPerturber(eps=1e-8, n=5, on="weights")
    metric : Metric, default L1()
    n_init : int, default 20
    n_steps : int, default 1000
    transient : int, default 200
        Steps skipped before looking for laminar phases.
    spectrum_steps : int, default 300
    sharpness_every : int, default 25
    seed : int, default 0
    n_jobs, progress, checkpoint, resume
        As for :class:`~dynnet.PerturbationStudy`; the checkpoint holds the
        perturbation runs of each eta (``eta-K/``), the costly part.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), section 5 (open question);
    J. Cohen et al., "Gradient descent on neural networks typically occurs at
    the edge of stability", ICLR (2021).
    """

    _quick_params = {"etas": (0.01, 0.3, 1.0, 5.0), "n_init": 4, "n_steps": 300,
                     "transient": 100, "spectrum_steps": 40, "sharpness_every": 50}

    def __init__(self, etas=DEFAULT_ETAS, map=None, perturber=None, metric=None, n_init=20,
                 n_steps=1000, transient=200, spectrum_steps=300, sharpness_every=25, seed=0,
                 n_jobs=1, progress=False, checkpoint=None, resume=False):
        self.etas = etas
        self.map = map
        self.perturber = perturber
        self.metric = metric
        self.n_init = n_init
        self.n_steps = n_steps
        self.transient = transient
        self.spectrum_steps = spectrum_steps
        self.sharpness_every = sharpness_every
        self.seed = seed
        self.n_jobs = n_jobs
        self.progress = progress
        self.checkpoint = checkpoint
        self.resume = resume

    @staticmethod
    def _component_defaults():
        from ..maps.gd import GradientDescentMap

        return {"map": GradientDescentMap,
                "perturber": lambda: UniformPerturber(eps=1e-8, n=5, on="weights"),
                "metric": L1}

    def run(self):
        """Scan every eta; returns self."""
        self._check_saveable()
        import xarray as xr

        from ..estimators.gd import Sharpness
        from ..estimators.intermittency import LaminarPhases
        from ..estimators.lyapunov import FiniteLyapunov, LyapunovSpectrum
        from ..results import study_attrs

        c = self._resolved()
        etas = np.atleast_1d(np.asarray(self.etas, dtype=float))
        for e in etas:
            check_scalar(self, "etas", float(e), low=0.0, low_open=True)
        n_init = check_int(self, "n_init", self.n_init, low=1)
        n_steps = check_int(self, "n_steps", self.n_steps, low=10)
        transient = check_int(self, "transient", self.transient, low=0, high=n_steps - 10)
        spec_steps = check_int(self, "spectrum_steps", self.spectrum_steps, low=1)
        sh_every = check_int(self, "sharpness_every", self.sharpness_every, low=1)
        self._check_resume()
        ss = as_seed_sequence(self.seed)
        self._seed_seq = ss
        rows = []
        iterator = etas
        if self.progress:
            from tqdm.auto import tqdm

            iterator = tqdm(etas, desc="EtaScanStudy", unit="eta")
        for k, eta in enumerate(iterator):
            m = clone(c["map"]).set_params(eta=float(eta))
            ckpt = None if self.checkpoint is None else Path(self.checkpoint) / f"eta-{k:03d}"
            ps = PerturbationStudy(map=m, perturber=c["perturber"], metric=c["metric"],
                                   estimators=[FiniteLyapunov()], n_init=n_init, n_steps=n_steps,
                                   seed=ss, n_jobs=self.n_jobs, checkpoint=ckpt,
                                   resume=self.resume)
            ps._internal = True  # its checkpoint belongs to the scan's
            ps.run()
            r = ps.result_
            fl = ps.estimators_[0]
            x0 = r["initial_state"].values
            final = r["final_state"].values[:, 0]
            ok = np.all(np.isfinite(final), axis=1)
            loss = r["loss"].values
            lam = LaminarPhases()
            lf = [lam.fit(loss[transient:, i]).laminar_fraction_ for i in range(n_init)
                  if np.all(np.isfinite(loss[transient:, i]))]
            spec = LyapunovSpectrum(n_steps=spec_steps, n_transient=0, k=1).fit(m, x0[0])
            n_orbit = max(sh_every, (min(n_steps, spec_steps * 4) // sh_every) * sh_every)
            orbit = m.trajectory(x0[0], n_orbit, every=sh_every)
            orbit = orbit[np.all(np.isfinite(orbit), axis=1)]
            sharp = Sharpness().fit(m, orbit)
            sh = np.asarray(sharp.sharpness_, dtype=float)
            row = {
                "final_loss": float(np.nanmedian(loss[-1])),
                "test_accuracy": float(np.nanmean(m.accuracy(final[ok], split="test"))) if ok.any() else np.nan,
                "mle": fl.mle_, "mle_std": fl.mle_std_, "kept_fraction": fl.kept_fraction_,
                "pooled_mle": fl.pooled_mle_,
                "top_exponent": float(spec.exponents_[0]),
                "sharpness_max": float(np.nanmax(sh)),
                "sharpness_final": float(sh[-1]),
                "sharpness_ratio": float(np.nanmax(sh) * eta / 2.0),
                "laminar_fraction": float(np.mean(lf)) if lf else np.nan,
                "diverged_fraction": float(r["diverged"].values.mean()),
            }
            row["regime"] = classify_regime(row["diverged_fraction"], np.nan_to_num(row["laminar_fraction"]),
                                            row["kept_fraction"], np.nan_to_num(row["mle"]),
                                            row["sharpness_ratio"])
            rows.append(row)
        data = {k: (("eta",), np.array([row[k] for row in rows]))
                for k in rows[0] if k != "regime"}
        data["regime"] = (("eta",), np.array([row["regime"] for row in rows], dtype=str))
        ds = xr.Dataset(data, coords={"eta": etas})
        ds.attrs.update(study_attrs(self))
        self.result_ = ds
        self._restore()
        self._done_checkpoint()
        return self

    def summary(self):
        self._check_run()
        ds = self.result_
        out = {}
        for i, eta in enumerate(ds["eta"].values):
            out[f"eta={eta:g}"] = (f"{ds['regime'].values[i]}; loss {ds['final_loss'].values[i]:.3g}, "
                                   f"lambda_nMLE {ds['mle'].values[i]:.3f} "
                                   f"(kept {ds['kept_fraction'].values[i]:.0%}), "
                                   f"top exp {ds['top_exponent'].values[i]:.3f}, "
                                   f"sharpness*eta/2 {ds['sharpness_ratio'].values[i]:.2f}, "
                                   f"laminar {ds['laminar_fraction'].values[i]:.2f}")
        return out

    def plot(self):
        """The phase diagram: every quantity against eta, regimes shaded."""
        from ..plotting import phase_diagram_figure

        self._check_run()
        return [phase_diagram_figure(self.result_)]
