"""Classic low-dimensional maps: examples of the Map interface and test oracles."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import check_array, check_scalar
from .base import Map

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["LogisticMap", "TentMap", "HenonMap", "LinearMap"]


class LogisticMap(Map):
    r"""The logistic map :math:`x_{t+1} = r\,x_t(1 - x_t)`.

    Parameters
    ----------
    r : float, default 4.0
        Growth parameter, in [0, 4].

    Notes
    -----
    ``dim = 1``; Jacobian :math:`r(1 - 2x)`. Initial states are uniform on
    (0, 1). At ``r = 4`` the Lyapunov exponent is exactly :math:`\ln 2`, the
    oracle of dynnet's Lyapunov estimators.

    ``r`` is batchable (``batch_params = ("r",)``): ``r`` may be an array of
    one value per ensemble member (see :meth:`Map.batched`), each member with
    the bits of a run at its own ``r``.

    References
    ----------
    R. M. May, "Simple mathematical models with very complicated dynamics",
    Nature 261, 459 (1976).
    """

    dim = 1
    batch_params = ("r",)

    def __init__(self, r: float = 4.0) -> None:
        self.r = r

    def step(self, states: np.ndarray) -> np.ndarray:
        r"""One step of the map on a batch: :math:`x \mapsto r\,x(1 - x)`.

        Parameters
        ----------
        states : ndarray, shape (E, 1)
            Validated float64 states (no checking here).

        Returns
        -------
        ndarray, shape (E, 1)
            The next states, a new array.

        Raises
        ------
        ValueError
            If ``r`` is outside [0, 4].
        """
        r = self.member_param("r", states.shape[0], low=0.0, high=4.0)
        return r * states * (1.0 - states)

    def jvp(self, states: ArrayLike, V: ArrayLike) -> np.ndarray:
        r"""Jacobian-vector products :math:`r(1 - 2x_e)\, v_{ek}`, vectorised over members.

        The same numbers as :meth:`Map.jvp` on :meth:`jacobian` (one product per
        entry), with ``r`` per member when it is batched.

        Parameters
        ----------
        states : array_like, shape (E, 1) or (1,)
            The points where the Jacobian is taken (all-NaN rows give NaN).
        V : array_like, shape (E, K, 1) or (K, 1)
            ``K`` tangent vectors per member.

        Returns
        -------
        ndarray, shape (E, K, 1) (or (K, 1) for a single state)
            The products.
        """
        x, W, single = self._check_tangent(states, V)
        r = self.member_param("r", x.shape[0], low=0.0, high=4.0)
        j = r * (1.0 - 2.0 * x)  # (E, 1)
        out = W * j[:, None, :]
        return out[0] if single else out

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        r"""The 1x1 Jacobian of one step at ``state``: :math:`r(1 - 2x)`.

        Parameters
        ----------
        state : array_like, shape (1,)
            One finite state.

        Returns
        -------
        ndarray, shape (1, 1)
            The Jacobian matrix.
        """
        r = float(np.ravel(self.member_param("r", 1, low=0.0, high=4.0))[0])
        x = self.check_state(state)
        return np.array([[r * (1.0 - 2.0 * x[0])]])

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        r"""One random initial state: uniform on :math:`[0, 1)`.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (1,)
            One state.
        """
        return rng.uniform(0.0, 1.0, size=1)


class TentMap(Map):
    r"""The tent map :math:`x_{t+1} = \mu \min(x_t, 1 - x_t)`.

    Parameters
    ----------
    mu : float, default 1.9
        Slope, in [0, 2]. The Lyapunov exponent is :math:`\ln \mu`.

    Notes
    -----
    ``dim = 1``; Jacobian :math:`\pm\mu`. At ``mu = 2`` binary floating point
    collapses every orbit onto 0 within about 55 steps (each step shifts out
    one bit), which is why the default is 1.9.

    References
    ----------
    E. Ott, *Chaos in Dynamical Systems*, 2nd ed., Cambridge (2002), ch. 2.
    """

    dim = 1

    def __init__(self, mu: float = 1.9) -> None:
        self.mu = mu

    def step(self, states: np.ndarray) -> np.ndarray:
        r"""One step of the map on a batch: :math:`x \mapsto \mu \min(x, 1 - x)`.

        Parameters
        ----------
        states : ndarray, shape (E, 1)
            Validated float64 states (no checking here).

        Returns
        -------
        ndarray, shape (E, 1)
            The next states, a new array.

        Raises
        ------
        ValueError
            If ``mu`` is outside [0, 2].
        """
        mu = check_scalar(self, "mu", self.mu, low=0.0, high=2.0)
        return mu * np.minimum(states, 1.0 - states)

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        r"""The 1x1 Jacobian of one step at ``state``: :math:`\mu` if :math:`x < 1/2`, else :math:`-\mu`.

        Parameters
        ----------
        state : array_like, shape (1,)
            One finite state.

        Returns
        -------
        ndarray, shape (1, 1)
            The Jacobian matrix.
        """
        mu = check_scalar(self, "mu", self.mu, low=0.0, high=2.0)
        x = self.check_state(state)
        return np.array([[mu if x[0] < 0.5 else -mu]])

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        r"""One random initial state: uniform on :math:`[0, 1)`.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (1,)
            One state.
        """
        return rng.uniform(0.0, 1.0, size=1)


class HenonMap(Map):
    r"""The Hénon map :math:`(x, y) \mapsto (1 - a x^2 + y,\; b x)`.

    Parameters
    ----------
    a : float, default 1.4
        Nonlinearity (finite).
    b : float, default 0.3
        Contraction factor (finite); the Jacobian determinant is :math:`-b`.

    Notes
    -----
    ``dim = 2``; Jacobian :math:`\begin{pmatrix}-2ax & 1\\ b & 0\end{pmatrix}`,
    whose determinant is :math:`-b`, so the two Lyapunov exponents sum to
    :math:`\ln|b|` exactly. At (1.4, 0.3) they are 0.4192 and -1.6232.
    Initial states are uniform on :math:`[-0.1, 0.1]^2`, inside the basin.

    References
    ----------
    M. Hénon, "A two-dimensional mapping with a strange attractor",
    Commun. Math. Phys. 50, 69 (1976).
    """

    dim = 2

    def __init__(self, a: float = 1.4, b: float = 0.3) -> None:
        self.a = a
        self.b = b

    def step(self, states: np.ndarray) -> np.ndarray:
        r"""One step of the map on a batch: :math:`(x, y) \mapsto (1 - a x^2 + y,\; b x)`.

        Parameters
        ----------
        states : ndarray, shape (E, 2)
            Validated float64 states (no checking here).

        Returns
        -------
        ndarray, shape (E, 2)
            The next states, a new array.

        Raises
        ------
        ValueError
            If ``a`` or ``b`` is not finite.
        """
        a = check_scalar(self, "a", self.a)
        b = check_scalar(self, "b", self.b)
        x = states[:, 0]
        y = states[:, 1]
        return np.stack([1.0 - a * x * x + y, b * x], axis=1)

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        r"""The 2x2 Jacobian of one step at ``state``: :math:`\begin{pmatrix}-2ax & 1\\ b & 0\end{pmatrix}`.

        Parameters
        ----------
        state : array_like, shape (2,)
            One finite state.

        Returns
        -------
        ndarray, shape (2, 2)
            The Jacobian matrix.
        """
        a = check_scalar(self, "a", self.a)
        b = check_scalar(self, "b", self.b)
        x = self.check_state(state)
        return np.array([[-2.0 * a * x[0], 1.0], [b, 0.0]])

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        r"""One random initial state: uniform on :math:`[-0.1, 0.1)^2`.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (2,)
            One state.
        """
        return rng.uniform(-0.1, 0.1, size=2)


class LinearMap(Map):
    r"""A linear map :math:`x_{t+1} = A x_t`.

    Parameters
    ----------
    A : array_like, shape (dim, dim)
        The matrix. Its Lyapunov exponents are :math:`\ln|\mu_i|` for the
        eigenvalues :math:`\mu_i` (sorted by modulus), an exact oracle.

    Notes
    -----
    ``dim`` is ``A.shape[0]``; the Jacobian is ``A`` everywhere. Initial
    states are standard normal.

    References
    ----------
    E. Ott, *Chaos in Dynamical Systems*, 2nd ed., Cambridge (2002), section 4.4
    (Lyapunov exponents of linear maps).
    """

    def __init__(self, A: ArrayLike = ((0.5, 0.0), (0.0, 2.0))) -> None:
        self.A = A

    def _matrix(self) -> np.ndarray:
        A = check_array(self, "A", self.A, ndim=2)
        if A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(f"LinearMap: parameter A must be square, got shape {A.shape}")
        return A

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Length of a state: ``A.shape[0]`` (``A`` validated as a square matrix)."""
        return self._matrix().shape[0]

    def step(self, states: np.ndarray) -> np.ndarray:
        r"""One step of the map on a batch: :math:`x \mapsto A x`.

        Each member's product is an explicit row-wise sum (no BLAS call), so
        it does not depend on the other members of the batch.

        Parameters
        ----------
        states : ndarray, shape (E, dim)
            Validated float64 states (no checking here).

        Returns
        -------
        ndarray, shape (E, dim)
            The next states, a new array.

        Raises
        ------
        ValueError
            If ``A`` is not a finite, non-empty square matrix.
        """
        # an explicit row-wise sum, not BLAS: a member's result must not depend
        # on the batch it is in (BLAS picks kernels by matrix size)
        A = self._matrix()
        return (states[:, None, :] * A[None, :, :]).sum(axis=-1)

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        """The Jacobian of one step: ``A``, whatever the state.

        Parameters
        ----------
        state : array_like, shape (dim,)
            One finite state (validated, otherwise unused).

        Returns
        -------
        ndarray, shape (dim, dim)
            A copy of ``A`` as float64.
        """
        self.check_state(state)
        return self._matrix().copy()

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One random initial state: standard normal coordinates.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (dim,)
            One state.
        """
        return rng.standard_normal(self.dim)
