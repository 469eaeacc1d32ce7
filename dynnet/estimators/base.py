"""The Estimator base class."""

from __future__ import annotations

from ..base import ParamsObject

__all__ = ["Estimator"]


class Estimator(ParamsObject):
    """Turns distances, orbits or a scalar series into numbers with uncertainty.

    Two layers (as in ChaosTools.jl):

    * ``fit(data, ...)``: the direct call on prepared data (a distance array,
      a series, a map and a state). Returns ``self``; results are attributes
      ending with ``_``.
    * ``fit_result(result, map)``: how a Study feeds the estimator from its
      labelled result (an ``xarray.Dataset``). Estimators that cannot be fed
      from a study result leave the default, which raises
      ``NotImplementedError`` naming the class.

    ``summary()`` returns the headline numbers as a flat dict of floats.
    """

    def fit(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement fit(...)")

    def fit_result(self, result, map=None):
        """Fit from a Study's ``result_`` dataset; returns self."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot be fitted from a study result; call fit(...) directly"
        )

    def summary(self) -> dict:
        """Headline numbers of the fit, as a dict of floats (empty by default)."""
        return {}

    def _check_fitted(self, attr: str):
        if not hasattr(self, attr):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(...) first")
