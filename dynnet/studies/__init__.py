"""Studies: the paper's analyses, and the building block they share."""

from .base import Study
from .bifurcation import BifurcationStudy
from .edge import EdgeOfStabilityStudy
from .eta_scan import EtaScanStudy
from .grid import GridStudy
from .instability import InstabilityStudy
from .intermittency import IntermittencyStudy
from .learning_window import LearningWindowStudy
from .orbital import OrbitalStabilityStudy
from .perturbation import PerturbationStudy
from .post_learning import PostLearningStudy
from .regularization import RegularizationStudy
from .sharpening import SharpeningStudy

__all__ = ["Study", "PerturbationStudy", "OrbitalStabilityStudy", "PostLearningStudy",
           "EdgeOfStabilityStudy", "IntermittencyStudy", "EtaScanStudy",
           "SharpeningStudy", "RegularizationStudy", "LearningWindowStudy", "GridStudy",
           "BifurcationStudy", "InstabilityStudy"]
