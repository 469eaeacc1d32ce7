"""Estimators: exponents, spectra, null models, graphs, intermittency."""

from .base import Estimator

__all__ = ["Estimator"]
