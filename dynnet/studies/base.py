"""The Study base class."""

from __future__ import annotations

import numpy as np

from ..base import ParamsObject, clone

__all__ = ["Study"]


class Study(ParamsObject):
    """Composes a map, a perturber, a metric and estimators into one analysis.

    A Study is configured by keyword parameters (like every dynnet object),
    runs with :meth:`run` (which returns ``self``), and keeps

    * ``result_``: an ``xarray.Dataset`` with named dimensions and attrs
      holding every parameter, the seed and the dynnet version;
    * ``estimators_``: the fitted estimators, in order.

    It offers :meth:`summary` (headline numbers), :meth:`plot` (matplotlib
    figures), :meth:`save` (netCDF; :func:`dynnet.load` rebuilds the Study)
    and the class method :meth:`quick` (a small preset for tests and CI).
    """

    #: parameter overrides of the quick preset (a subclass sets its own)
    _quick_params: dict = {}

    @classmethod
    def quick(cls, **overrides):
        """A small, fast preset of this Study (seconds, for CI and first looks)."""
        params = dict(cls._quick_params)
        params.update(overrides)
        obj = cls()
        obj.set_params(**{k: clone(v, safe=False) for k, v in params.items()})
        return obj

    @staticmethod
    def _component_defaults() -> dict:
        """Factories of the parts whose parameter default is None (map, perturber...)."""
        return {}

    def _resolved(self) -> dict:
        """Each part: the parameter's value, or a fresh default when it is None."""
        out = {}
        for name, factory in self._component_defaults().items():
            value = getattr(self, name)
            out[name] = factory() if value is None else value
        return out

    def set_params(self, **params):
        """As :meth:`ParamsObject.set_params`; ``part__x`` on a part left at its
        default (None) first puts the default object in place."""
        defaults = self._component_defaults()
        for key in params:
            name = key.split("__", 1)[0]
            if "__" in key and name in defaults and getattr(self, name, None) is None:
                setattr(self, name, defaults[name]())
        return super().set_params(**params)

    def run(self):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement run()")

    def _check_run(self):
        if not hasattr(self, "result_"):
            raise RuntimeError(f"{type(self).__name__} has not been run yet; call run() first")

    def summary(self) -> dict:
        """Headline numbers of the run, as a flat dict."""
        self._check_run()
        out = {}
        for i, est in enumerate(getattr(self, "estimators_", [])):
            for k, v in est.summary().items():
                out[f"{type(est).__name__.lower()}{'' if i == 0 else i}.{k}"] = v
        return out

    def plot(self):
        """Figures of the run; returns a list of matplotlib Figures."""
        self._check_run()
        return []

    def save(self, path):
        """Write ``result_`` (with the parameters needed to rebuild) to netCDF."""
        from ..results import save

        self._check_run()
        save(self, path)
        return self

    def _restore(self):
        """Rebuild what derives from ``result_`` (fitted estimators); called by
        :func:`dynnet.load` and at the end of :meth:`run`. Studies whose
        estimators' numbers live in ``result_`` itself keep the default."""
        self.estimators_ = []

    def _check_saveable(self):
        """Fail before computing if the parameters could not be saved with the result."""
        from ..results import encode_params

        probe = clone(self)
        if isinstance(getattr(probe, "seed", None), np.random.Generator):
            probe.seed = 0  # a top-level Generator seed is saved as the SeedSequence drawn from it
        encode_params(probe)

    def _done_checkpoint(self):
        """Remove the checkpoint directory once a run has finished (its result is in
        memory); a study run inside another leaves that to the outer one."""
        ckpt = getattr(self, "checkpoint", None)
        if ckpt is not None and not getattr(self, "_internal", False):
            import shutil

            shutil.rmtree(ckpt, ignore_errors=True)

    def _check_resume(self):
        """``resume=True`` needs a fixed seed: with ``seed=None`` each run draws new entropy."""
        if getattr(self, "resume", False) and getattr(self, "seed", 0) is None:
            raise ValueError(
                f"{type(self).__name__}: resume=True needs a fixed seed; with seed=None each run "
                "draws fresh entropy, so finished chunks could not be continued reproducibly"
            )

    def _check_estimators(self):
        """Refuse, before any computing, estimators a study result cannot feed."""
        from ..estimators.base import Estimator

        for est in self.estimators or []:
            if not isinstance(est, Estimator):
                raise TypeError(f"{type(self).__name__}: estimators must be dynnet Estimators, got {est!r}")
            if type(est).fit_result is Estimator.fit_result:
                raise ValueError(
                    f"{type(self).__name__}: {type(est).__name__} cannot be fitted from a study result "
                    "(it has no fit_result); fit it directly on the data it takes"
                )

    def _fit_estimators(self, result, map=None):
        fitted = []
        for est in self.estimators or []:
            fitted.append(clone(est).fit_result(result, map))
        return fitted


def _as_float(x):
    return float(np.asarray(x))
