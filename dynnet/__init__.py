"""dynnet: the training of a neural network as a dynamical system.

Maps, Perturbers, Metrics, Estimators and Studies; see the README and docs/.
"""

from . import _numba_cache, checkpoint, datasets, plugins  # _numba_cache first: before any kernel
from . import estimators as _estimators
from ._version import __version__
from .base import ParamsObject, as_seed_sequence, clone, stream
from .checkpoint import CheckpointError
from .estimators import *  # noqa: F401,F403
from .maps import DivergenceWarning, GradientDescentMap, HenonMap, LinearMap, LogisticMap, Map, TentMap
from .maps.tangent import TangentMap
from .metrics import L1, L2, LInf, Metric, PerLayer
from .perturbers import GaussianPerturber, Perturber, UniformPerturber
from .results import ResultFileError, load
from .studies import (
                   BifurcationStudy,
                   EdgeOfStabilityStudy,
                   EtaScanStudy,
                   GridStudy,
                   InstabilityStudy,
                   IntermittencyStudy,
                   LearningWindowStudy,
                   OrbitalStabilityStudy,
                   PerturbationStudy,
                   PostLearningStudy,
                   RegularizationStudy,
                   SharpeningStudy,
                   Study,
)
from .studies.base import MemoryBudgetError

__all__ = [
    "__version__", "ParamsObject", "clone", "as_seed_sequence", "stream",
    "Map", "DivergenceWarning", "GradientDescentMap", "LogisticMap", "TentMap", "HenonMap",
    "LinearMap", "Perturber", "UniformPerturber", "GaussianPerturber",
    "Metric", "L1", "L2", "LInf", "PerLayer", "Estimator", "Study", "PerturbationStudy",
    "OrbitalStabilityStudy", "PostLearningStudy", "EdgeOfStabilityStudy", "IntermittencyStudy",
    "EtaScanStudy", "SharpeningStudy", "RegularizationStudy", "LearningWindowStudy", "GridStudy",
    "load", "datasets", "plugins", "checkpoint", "CheckpointError", "ResultFileError", "MemoryBudgetError",
] + [n for n in _estimators.__all__ if n != "Estimator"]
__all__ += ["TangentMap"]
__all__ += ["BifurcationStudy"]
__all__ += ["InstabilityStudy"]
