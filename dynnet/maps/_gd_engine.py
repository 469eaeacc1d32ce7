"""Many GD steps at once for GradientDescentMap (the engine).

``advance(gd_map, states, n_steps)`` advances a validated batch. This first
version loops over the numpy reference step; the fast engine replaces it.
"""

from __future__ import annotations

import numpy as np


def advance(gd_map, states: np.ndarray, n_steps: int) -> np.ndarray:
    x = states
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(n_steps):
            x = gd_map.step(x)
    return x
