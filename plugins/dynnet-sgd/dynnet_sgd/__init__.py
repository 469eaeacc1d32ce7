"""dynnet-sgd: stochastic and adaptive training maps for dynnet.

Three maps on the same MLP as :class:`dynnet.GradientDescentMap`, registered
in the ``dynnet.maps`` entry-point group:

* ``sgd`` -> :class:`SGDMap`: mini-batch SGD with seeded batches; the state
  carries a step counter, so it is a deterministic, autonomous map.
* ``momentum`` -> :class:`MomentumMap`: heavy-ball momentum, state (W, velocity).
* ``adam`` -> :class:`AdamMap`: Adam, state (W, m, v, t).
"""

from .maps import AdamMap, MomentumMap, SGDMap, network_gradient

__version__ = "0.1.0"
__all__ = ["SGDMap", "MomentumMap", "AdamMap", "network_gradient"]
