"""The summaries of the sharpening and regularization studies (defined in :mod:`dynnet._summaries`,
below both the studies and their figures; handed on here for the study modules)."""

from .._summaries import regularization_summary, sharpening_summary

__all__ = ["sharpening_summary", "regularization_summary"]
