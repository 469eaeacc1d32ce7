"""Hypothesis strategies for dynnet objects: states, ensembles, maps and series.

Import needs ``hypothesis`` (a test dependency, not a dependency of dynnet).

Examples
--------
>>> from hypothesis import given
>>> from dynnet.testing import maps, states
>>> @given(maps())                                     # doctest: +SKIP
... def test_step_keeps_shape(m):
...     x = m.initial_state(3, seed=0)
...     assert m.step(x).shape == x.shape
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["states", "ensembles", "maps", "series", "classic_maps", "linear_maps"]


def _floats(min_value, max_value):
    return st.floats(min_value=min_value, max_value=max_value, allow_nan=False,
                     allow_infinity=False, allow_subnormal=False, width=64)


def states(dim, min_value=-1.0, max_value=1.0):
    """One state: a float64 array ``(dim,)`` with finite entries in ``[min_value, max_value]``.

    ``dim`` may be an int or a strategy of ints.
    """
    dims = dim if isinstance(dim, st.SearchStrategy) else st.just(int(dim))
    return dims.flatmap(lambda d: hnp.arrays(np.float64, (d,), elements=_floats(min_value, max_value)))


def ensembles(dim, min_members=1, max_members=8, min_value=-1.0, max_value=1.0):
    """A batch of states: a float64 array ``(E, dim)``, ``E`` in ``[min_members, max_members]``."""
    dims = dim if isinstance(dim, st.SearchStrategy) else st.just(int(dim))
    return st.tuples(dims, st.integers(min_members, max_members)).flatmap(
        lambda de: hnp.arrays(np.float64, (de[1], de[0]), elements=_floats(min_value, max_value)))


def linear_maps(min_dim=1, max_dim=4, max_abs=2.0):
    """:class:`~dynnet.LinearMap` with a random square matrix, entries in ``[-max_abs, max_abs]``."""
    from ..maps.classic import LinearMap

    return st.integers(min_dim, max_dim).flatmap(
        lambda d: hnp.arrays(np.float64, (d, d), elements=_floats(-max_abs, max_abs))
    ).map(lambda A: LinearMap(A=A))


def classic_maps():
    """Logistic (r in [0, 4]), tent (mu in [0, 2]) and Hénon (a in [0, 1.4], b in [0, 0.3]) maps.

    Parameters are in ranges where the default initial states stay bounded.
    """
    from ..maps.classic import HenonMap, LogisticMap, TentMap

    return st.one_of(
        st.builds(LogisticMap, r=_floats(0.0, 4.0)),
        st.builds(TentMap, mu=_floats(0.0, 2.0)),
        st.builds(HenonMap, a=_floats(0.0, 1.4), b=_floats(0.0, 0.3)),
    )


def maps(linear=True):
    """Any classic map with valid parameters (see :func:`classic_maps`), or a linear map."""
    return st.one_of(classic_maps(), linear_maps()) if linear else classic_maps()


def series(min_size=10, max_size=200, min_value=-1e3, max_value=1e3):
    """A finite float64 scalar series ``(T,)``, ``T`` in ``[min_size, max_size]``."""
    return hnp.arrays(np.float64, st.integers(min_size, max_size),
                      elements=_floats(min_value, max_value))
