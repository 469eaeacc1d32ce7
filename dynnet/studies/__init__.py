"""Studies: the paper's analyses, and the building block they share."""

from .base import Study
from .perturbation import PerturbationStudy

__all__ = ["Study", "PerturbationStudy"]
