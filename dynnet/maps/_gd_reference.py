"""The numpy reference of GradientDescentMap: forward pass, loss and gradient (private).

One job: the network's arithmetic in plain, batched numpy, as functions of a prepared
:class:`~dynnet.maps._gd_problem.Problem` and flat states ``(..., dim)``. It is the
reference that both engines are tested against (:meth:`GradientDescentMap.reference_step`),
and it computes what the engines do not: :meth:`~GradientDescentMap.gradient`, the loss on
a mini-batch or the test split, predictions. The second-order pass (Hessian-vector
products) is :mod:`._gd_rop`, which uses :func:`forward` from here.
"""

from __future__ import annotations

import numpy as np

from .. import _nn

__all__ = ["forward", "loss_grad", "penalty"]


def forward(p, params, X):
    """Layers, the activations (inputs first), the hidden pre-activations and the logits.

    Parameters
    ----------
    p : Problem
        The prepared problem (layout and activation).
    params : ndarray, shape (..., dim)
        Flat states.
    X : ndarray, shape (N, d0)
        Inputs.

    Returns
    -------
    layers, acts, zs, z
        ``p.unpack(params)``; ``[X, a_1, ..., a_{L-1}]``; ``[z_1, ..., z_{L-1}]``; the
        logits ``(..., N, C)``.
    """
    layers = p.unpack(params)
    acts = [X]
    zs = []
    a = X
    for lay, (W, b) in enumerate(layers):
        z = np.matmul(a, W) + b[..., None, :]
        if lay < len(layers) - 1:
            a = _nn.activate(p.activation, z)
            zs.append(z)
            acts.append(a)
        else:
            return layers, acts, zs, z
    raise AssertionError  # pragma: no cover


def penalty(p, params):
    """``(wd / 2) * sum of squared weights`` of each member (0.0 without weight decay)."""
    if p.weight_decay == 0.0:
        return 0.0
    sq = sum((params[..., w0:b0] ** 2).sum(axis=-1) for w0, b0, _ in p.offsets)
    return 0.5 * p.weight_decay * sq


def loss_grad(p, params, X, Y, want_grad=True):
    r"""The objective :math:`L(W)` (data loss plus weight decay) and, optionally, :math:`\nabla L`.

    Parameters
    ----------
    p : Problem
        The prepared problem.
    params : ndarray, shape (..., dim)
        Flat states.
    X, Y : ndarray, shapes (N, d0) and (N, C)
        Inputs and one-hot targets (the training set, a mini-batch of it, or the test split).
    want_grad : bool, default True
        False: the loss alone (one forward pass).

    Returns
    -------
    loss : ndarray, shape (...)
    grad : ndarray, shape (..., dim), or None
    """
    layers, acts, zs, z = forward(p, params, X)
    loss = _nn.loss_value(p.loss, z, Y) + penalty(p, params)
    if not want_grad:
        return loss, None
    grad = np.empty_like(params)
    delta, _ = _nn.loss_delta(p.loss, z, Y)
    for lay in range(len(layers) - 1, -1, -1):
        W, _ = layers[lay]
        w0, b0, b1 = p.offsets[lay]
        a = acts[lay]
        gW = np.matmul(np.swapaxes(a, -1, -2), delta)
        grad[..., w0:b0] = gW.reshape(gW.shape[:-2] + (b0 - w0,))  # (an empty batch has no -1)
        grad[..., b0:b1] = delta.sum(axis=-2)
        if lay > 0:
            delta = _nn.times_d1(p.activation, np.matmul(delta, np.swapaxes(W, -1, -2)), zs[lay - 1], a)
    if p.weight_decay != 0.0:
        for w0, b0, _ in p.offsets:
            grad[..., w0:b0] += p.weight_decay * params[..., w0:b0]
    return loss, grad
