"""Activations and losses of the gradient-descent map, with the derivatives the R-operator needs.

Every function here is plain numpy on float64 arrays of any shape; the numpy reference
and the BLAS path of :class:`~dynnet.maps.gd.GradientDescentMap` both use them, so a
new activation or loss is added in one place.

Activations act on pre-activations ``z`` and give ``a = f(z)``; the first and second
derivatives are returned from ``(z, a)`` (whichever is cheaper and exact):

=========== ======================== ======================== ============================
name        f(z)                     f'(z)                    f''(z)
=========== ======================== ======================== ============================
sigmoid     1 / (1 + e^-z)           a (1 - a)                a (1 - a) (1 - 2a)
tanh        tanh z                   1 - a^2                  -2 a (1 - a^2)
relu        max(z, 0)                1[z > 0]                 0 (almost everywhere)
softplus    log(1 + e^z)             sigmoid(z)               sigmoid(z) (1 - sigmoid(z))
=========== ======================== ======================== ============================

relu has no second derivative at ``z = 0``; the Hessian used here is the one that holds
almost everywhere (f'' = 0), and f'(0) is taken as 0.

Losses act on the logits ``z`` ``(..., N, C)`` and one-hot targets ``Y`` ``(N, C)``:

* ``"cross-entropy"``: :math:`L = -\\frac1N\\sum_n \\log \\mathrm{softmax}(z_n)_{y_n}`,
  :math:`\\partial L/\\partial z = (p - Y)/N`, and the R-operator
  :math:`R(\\partial L/\\partial z) = p \\odot (Rz - \\langle p, Rz\\rangle)/N`.
* ``"mse"``: :math:`L = \\frac{1}{2N}\\sum_n \\lVert z_n - Y_n\\rVert^2`,
  :math:`\\partial L/\\partial z = (z - Y)/N`, :math:`R(\\partial L/\\partial z) = Rz/N`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

ACTIVATIONS = ("sigmoid", "tanh", "relu", "softplus")
LOSSES = ("cross-entropy", "mse")


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """``f(z)`` of the named activation."""
    if name == "sigmoid":
        return expit(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    return np.logaddexp(0.0, z)  # softplus, without overflow


def d1(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``f'(z)`` from the pre-activation ``z`` and the activation ``a``."""
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return (z > 0.0).astype(np.float64)
    return expit(z)


def times_d1(name: str, m: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``m * f'(z)``, back-propagation through the activation (sigmoid rounded as ``m * a * (1 - a)``)."""
    if name == "sigmoid":
        return m * a * (1.0 - a)
    return m * d1(name, z, a)


def d2(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray | None:
    """``f''(z)`` (None where it is zero almost everywhere: relu)."""
    if name == "sigmoid":
        return a * (1.0 - a) * (1.0 - 2.0 * a)
    if name == "tanh":
        return -2.0 * a * (1.0 - a * a)
    if name == "relu":
        return None
    s = expit(z)
    return s * (1.0 - s)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``log softmax`` along the last axis (shifted by the maximum: never overflows)."""
    m = z.max(axis=-1, keepdims=True)
    s = z - m
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def loss_value(name: str, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The mean loss over the samples of logits ``z`` ``(..., N, C)``; shape ``(...)``."""
    N = z.shape[-2]
    if name == "cross-entropy":
        return -(log_softmax(z) * Y).sum(axis=(-1, -2)) / N
    r = z - Y
    return 0.5 * (r * r).sum(axis=(-1, -2)) / N


def loss_delta(
    name: str, z: np.ndarray, Y: np.ndarray, n: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(dL/dz, p)``: the output error (already divided by N) and the softmax (CE only).

    ``n`` is the N of the mean (default: the samples of ``z``; a block of a larger set gives
    the set's size)."""
    N = z.shape[-2] if n is None else n
    if name == "cross-entropy":
        p = np.exp(log_softmax(z))
        return (p - Y) / N, p
    return (z - Y) / N, None


def loss_rdelta(name: str, Rz: np.ndarray, p: np.ndarray | None, N: int) -> np.ndarray:
    """The R-operator of ``dL/dz`` along ``Rz`` (classes last); ``p``, the softmax, broadcasts to ``Rz``."""
    if name == "cross-entropy":
        return p * (Rz - (p * Rz).sum(axis=-1, keepdims=True)) / N
    return Rz / N
