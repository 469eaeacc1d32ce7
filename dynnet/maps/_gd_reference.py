"""The numpy reference of GradientDescentMap: forward pass, loss, gradient and R-operator (private).

One job: the network's arithmetic in plain, batched numpy, as functions of a prepared
:class:`~dynnet.maps._gd_problem.Problem` and flat states ``(..., dim)``. It is the
reference that both engines are tested against (:meth:`GradientDescentMap.reference_step`),
and it computes what the engines do not: :meth:`~GradientDescentMap.gradient`,
:meth:`~GradientDescentMap.hvp` (Pearlmutter's R-operator, forward-over-reverse, for all
``(E, K)`` vectors in one batched pass), the loss on a mini-batch or the test split,
predictions.

References
----------
B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 6, 147 (1994).
"""

from __future__ import annotations

import numpy as np

from .. import _nn

__all__ = ["forward", "hvp", "loss_grad", "penalty"]


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


def hvp(p, params, V, X, Y):
    """Pearlmutter's R-operator: :math:`H(W_e) v_{ek}` in one forward and one backward pass.

    BLAS runs single-threaded here: its spinning threads cost up to 20x on a loaded
    machine for these many mid-sized products (measured, benchmarks/bench_tangent.py).

    Parameters
    ----------
    p : Problem
        The prepared problem.
    params : ndarray, shape (E, dim)
        Flat states.
    V : ndarray, shape (E, K, dim)
        ``K`` vectors per member.
    X, Y : ndarray, shapes (N, d0) and (N, C)
        Inputs and one-hot targets of the samples whose loss is differentiated.

    Returns
    -------
    ndarray, shape (E, K, dim)
        The products (with the weight-decay term :math:`\\lambda v` on weight coordinates).
    """
    from ._blas_threads import blas_limit as _blas_limit

    with _blas_limit():
        return _hvp_products(p, params, V, X, Y)


def _hvp_products(p, params, V, X, Y):
    act = p.activation
    N = X.shape[0]
    layers, acts, zs, z = forward(p, params, X)
    Vl = p.unpack(V)
    L = len(layers)
    f1 = [_nn.d1(act, zs[i], acts[i + 1]) for i in range(L - 1)]
    # R-forward: Rz of every layer, Ra of the hidden ones (axis 1 holds the K vectors)
    Ra = [None]
    Rzs = []
    Rz = None
    for lay in range(L):
        W, _ = layers[lay]
        VW, Vb = Vl[lay]
        if lay == 0:
            Rz = np.matmul(X, VW)
        else:
            Rz = np.matmul(Ra[lay], W[:, None]) + np.matmul(acts[lay][:, None], VW)
        Rz = Rz + Vb[..., None, :]
        if lay < L - 1:
            Rzs.append(Rz)
            Ra.append(f1[lay][:, None] * Rz)
    delta, prob = _nn.loss_delta(p.loss, z, Y)
    Rdelta = _nn.loss_rdelta(p.loss, Rz, prob, N)
    out = np.empty_like(V)
    for lay in range(L - 1, -1, -1):
        W, _ = layers[lay]
        VW, _ = Vl[lay]
        w0, b0, b1 = p.offsets[lay]
        a_prev = acts[lay]
        if lay == 0:
            RgW = np.matmul(X.T, Rdelta)
        else:
            RgW = (np.matmul(np.swapaxes(Ra[lay], -1, -2), delta[:, None])
                   + np.matmul(np.swapaxes(a_prev, -1, -2)[:, None], Rdelta))
        out[..., w0:b0] = RgW.reshape(RgW.shape[:-2] + (b0 - w0,))
        out[..., b0:b1] = Rdelta.sum(axis=-2)
        if lay > 0:
            Wt = np.swapaxes(W, -1, -2)
            back = np.matmul(delta, Wt)
            Rdelta = ((np.matmul(Rdelta, Wt[:, None])
                       + np.matmul(delta[:, None], np.swapaxes(VW, -1, -2)))
                      * f1[lay - 1][:, None])
            f2 = _nn.d2(act, zs[lay - 1], a_prev)
            if f2 is not None:
                Rdelta = Rdelta + (back * f2)[:, None] * Rzs[lay - 1]
            delta = back * f1[lay - 1]
    if p.weight_decay != 0.0:
        for w0, b0, _ in p.offsets:
            out[..., w0:b0] += p.weight_decay * V[..., w0:b0]
    return out
