"""Maps: discrete dynamical systems acting on batches of states."""

from .base import DivergenceWarning, Map
from .classic import HenonMap, LinearMap, LogisticMap, TentMap
from .gd import GradientDescentMap
from .tangent import TangentMap

__all__ = ["Map", "DivergenceWarning", "GradientDescentMap", "LogisticMap", "TentMap",
           "HenonMap", "LinearMap"]
__all__ += ["TangentMap"]
