"""dynnet-sgd: stochastic and adaptive training maps for dynnet.

Three maps on the same MLP as :class:`dynnet.GradientDescentMap`, registered
in the ``dynnet.maps`` entry-point group:

* ``sgd`` -> :class:`SGDMap`: mini-batch SGD with seeded batches; the state
  carries a step counter, so it is a deterministic, autonomous map.
* ``momentum`` -> :class:`MomentumMap`: heavy-ball momentum, state (W, velocity).
* ``adam`` -> :class:`AdamMap`: Adam, state (W, m, v, t).
"""

from ._version import __version__
from .maps import NETWORK_PARAMS, AdamMap, MomentumMap, SGDMap, network_gradient

__all__ = ["SGDMap", "MomentumMap", "AdamMap", "network_gradient", "NETWORK_PARAMS", "__version__"]
