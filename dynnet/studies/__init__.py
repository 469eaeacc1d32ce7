"""Studies: the paper's analyses, and the building block they share."""

from .base import Study
from .edge import EdgeOfStabilityStudy
from .eta_scan import EtaScanStudy
from .intermittency import IntermittencyStudy
from .orbital import OrbitalStabilityStudy
from .perturbation import PerturbationStudy
from .post_learning import PostLearningStudy

__all__ = ["Study", "PerturbationStudy", "OrbitalStabilityStudy", "PostLearningStudy",
           "EdgeOfStabilityStudy", "IntermittencyStudy", "EtaScanStudy"]
