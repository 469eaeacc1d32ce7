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

from typing import TYPE_CHECKING

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

if TYPE_CHECKING:
    from ..maps.base import Map
    from ..maps.classic import LinearMap

__all__ = ["states", "ensembles", "maps", "series", "classic_maps", "linear_maps"]


def _floats(min_value: float, max_value: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=min_value, max_value=max_value, allow_nan=False,
                     allow_infinity=False, allow_subnormal=False, width=64)


def states(dim: int | st.SearchStrategy[int], min_value: float = -1.0,
           max_value: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """One state: a float64 array ``(dim,)`` with finite entries in ``[min_value, max_value]``.

    Parameters
    ----------
    dim : int or hypothesis strategy of int
        Length of the state (a strategy draws it).
    min_value : float, default -1.0
        Smallest entry.
    max_value : float, default 1.0
        Largest entry.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        A strategy of float64 arrays of shape ``(dim,)``: finite, no subnormals.
    """
    dims = dim if isinstance(dim, st.SearchStrategy) else st.just(int(dim))
    return dims.flatmap(lambda d: hnp.arrays(np.float64, (d,), elements=_floats(min_value, max_value)))


def ensembles(dim: int | st.SearchStrategy[int], min_members: int = 1, max_members: int = 8,
              min_value: float = -1.0, max_value: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """A batch of states: a float64 array ``(E, dim)``, ``E`` in ``[min_members, max_members]``.

    Parameters
    ----------
    dim : int or hypothesis strategy of int
        Length of each state (a strategy draws it once per batch).
    min_members : int, default 1
        Fewest members ``E``.
    max_members : int, default 8
        Most members ``E``.
    min_value : float, default -1.0
        Smallest entry.
    max_value : float, default 1.0
        Largest entry.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        A strategy of float64 arrays of shape ``(E, dim)``: finite, no subnormals.
    """
    dims = dim if isinstance(dim, st.SearchStrategy) else st.just(int(dim))
    return st.tuples(dims, st.integers(min_members, max_members)).flatmap(
        lambda de: hnp.arrays(np.float64, (de[1], de[0]), elements=_floats(min_value, max_value)))


def linear_maps(min_dim: int = 1, max_dim: int = 4,
                max_abs: float = 2.0) -> st.SearchStrategy[LinearMap]:
    """:class:`~dynnet.LinearMap` with a random square matrix, entries in ``[-max_abs, max_abs]``.

    Parameters
    ----------
    min_dim : int, default 1
        Smallest dimension of the matrix.
    max_dim : int, default 4
        Largest dimension of the matrix.
    max_abs : float, default 2.0
        Bound on the absolute value of the (finite, float64) entries.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        A strategy of :class:`~dynnet.LinearMap`.
    """
    from ..maps.classic import LinearMap

    return st.integers(min_dim, max_dim).flatmap(
        lambda d: hnp.arrays(np.float64, (d, d), elements=_floats(-max_abs, max_abs))
    ).map(lambda A: LinearMap(A=A))


def classic_maps() -> st.SearchStrategy[Map]:
    """Logistic (r in [0, 4]), tent (mu in [0, 2]) and Hénon (a in [0, 1.4], b in [0, 0.3]) maps.

    Parameters are in ranges where the default initial states stay bounded.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        A strategy of :class:`~dynnet.LogisticMap`, :class:`~dynnet.TentMap`
        and :class:`~dynnet.HenonMap`.
    """
    from ..maps.classic import HenonMap, LogisticMap, TentMap

    return st.one_of(
        st.builds(LogisticMap, r=_floats(0.0, 4.0)),
        st.builds(TentMap, mu=_floats(0.0, 2.0)),
        st.builds(HenonMap, a=_floats(0.0, 1.4), b=_floats(0.0, 0.3)),
    )


def maps(linear: bool = True) -> st.SearchStrategy[Map]:
    """Any classic map with valid parameters (see :func:`classic_maps`), or a linear map.

    Parameters
    ----------
    linear : bool, default True
        Also draw :class:`~dynnet.LinearMap` (from :func:`linear_maps` with its
        defaults).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        A strategy of maps.
    """
    return st.one_of(classic_maps(), linear_maps()) if linear else classic_maps()


def series(min_size: int = 10, max_size: int = 200, min_value: float = -1e3,
           max_value: float = 1e3) -> st.SearchStrategy[np.ndarray]:
    """A finite float64 scalar series ``(T,)``, ``T`` in ``[min_size, max_size]``.

    Parameters
    ----------
    min_size : int, default 10
        Shortest length ``T``.
    max_size : int, default 200
        Longest length ``T``.
    min_value : float, default -1e3
        Smallest value.
    max_value : float, default 1e3
        Largest value.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        A strategy of float64 arrays of shape ``(T,)``: finite, no subnormals
        (a constant series is possible).
    """
    return hnp.arrays(np.float64, st.integers(min_size, max_size),
                      elements=_floats(min_value, max_value))
