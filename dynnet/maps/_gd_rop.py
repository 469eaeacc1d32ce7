r"""Hessian-vector products of GradientDescentMap: Pearlmutter's R-operator, batched (private).

One job: :math:`H(W_e)\, v_{ek}` for every member ``e`` and all its ``K`` vectors in one
forward and one backward pass (forward-over-reverse), behind
:meth:`~dynnet.GradientDescentMap.hvp`, :meth:`~dynnet.GradientDescentMap.jvp`
(:math:`J v = v - \eta H v`), :meth:`~dynnet.GradientDescentMap.hessian` and so every
tangent estimator (:class:`~dynnet.LyapunovSpectrum`, :class:`~dynnet.CovariantLyapunovVectors`,
:class:`~dynnet.Sharpness`).

Layout
------
The ``K`` vectors of a member are stacked side by side: a layer's R-quantities are
``(E, N, K, n)`` arrays, so every product of the pass is ONE matrix product with the
``N`` samples (or ``N K`` rows) as its long axis, ``X @ [V_1 ... V_K]`` instead of ``K``
products ``X @ V_k``: large products, which BLAS runs near its peak (benchmarks/bench_tangent.py).
The elementwise chains between the products (bias, activation derivative, the second-order
term) are fused compiled loops (:func:`_bias_times`, :func:`_back_chain`), one pass each
over the entries instead of four to six numpy passes and temporaries.

Samples are taken in blocks of the FIXED size :data:`SAMPLE_BLOCK` (the products are sums
over samples): the blocks run on :func:`hvp_threads` threads, each with single-threaded
BLAS, and their sums are added in block order. The working set of a block stays small
(``SAMPLE_BLOCK x K x width`` per layer), whatever the number of samples.

Small problems (parameters x samples up to :data:`SMALL_WORK`, e.g. the paper's Iris
network) run in one compiled loop instead (:func:`_small_products`): member by member and
sample by sample, the ``K`` vectors the innermost index. The same equations; the bits
differ from the stacked pass's by rounding (agreement to 1e-12 is tested) and depend on
the problem alone, since the rule looks at the problem and the samples, not the batch.

Determinism
-----------
A member's products are separate GEMM calls whose shapes do not depend on the other
members (numpy's stacked ``matmul``), and the fused loops are elementwise (no reduction,
no ``fastmath``), so a member's bits do not depend on the batch it is in (nor, in the small
loop, on the other vectors: each vector's sums are its own). BLAS always runs
single-threaded here (OpenBLAS's threaded products of some shapes do not have the bits of
its single-threaded ones: measured), the blocks are fixed and added in order, so the bits
do not depend on the thread count either (tests/test_tangent.py checks both).

References
----------
B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 6, 147 (1994).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _nn
from ._gd_reference import forward

__all__ = ["HVP_THREADED_WORK", "SAMPLE_BLOCK", "hvp", "hvp_threads"]

#: samples per block: FIXED (not chosen by the thread count or memory), so that the sum of
#: the blocks' products, taken in block order, has the same bits however they are run
SAMPLE_BLOCK = 1024
#: multiply-adds of a pass (members x samples x parameters x vectors) from which its blocks
#: run on several threads (below it, waking threads costs more than they give)
HVP_THREADED_WORK = 20_000_000
#: parameters x samples of a pass up to which it runs in one compiled loop
#: (:func:`_small_products`) instead of numpy products: at this size the ~30 numpy calls
#: of the stacked pass cost more than their arithmetic (Iris 4-10-3: 83 x 120 = 9,960 runs
#: 1.8x to 2.3x faster in the loop; the two are level at about 50,000, measured 2026-12-07)
SMALL_WORK = 30_000
_ACT_CODES = {"sigmoid": 0, "tanh": 1, "relu": 2, "softplus": 3}
_LOSS_CODES = {"cross-entropy": 0, "mse": 1}
_POOL = None


def hvp_threads(p, n_members: int, n_vectors: int, n_samples: int) -> int:
    """Threads over the sample blocks of one pass: 1 below :data:`HVP_THREADED_WORK` or for a
    single block, else every core the engine may use (``DYNNET_NUM_THREADS``,
    :func:`~dynnet.maps._gd_engine.n_threads_default`), at most one per block.

    Parameters
    ----------
    p : Problem
        The prepared problem (its ``dim``).
    n_members, n_vectors, n_samples : int
        Members, vectors per member and samples of the pass.

    Returns
    -------
    int
    """
    n_blocks = -(-n_samples // SAMPLE_BLOCK)
    if n_blocks < 2 or n_members * n_samples * p.dim * max(1, n_vectors) < HVP_THREADED_WORK:
        return 1
    from ._gd_engine import n_threads_default

    return max(1, min(n_threads_default(), n_blocks))


def hvp(p, params, V, X, Y):
    r"""Pearlmutter's R-operator: :math:`H(W_e)\, v_{ek}` in one forward and one backward pass.

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
        The products (with the weight-decay term :math:`\lambda v` on weight coordinates).
    """
    global _POOL
    from ._blas_threads import blas_limit

    params = np.asarray(params, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    N = X.shape[0]
    if p.dim * N <= SMALL_WORK and p.activation in _ACT_CODES and p.loss in _LOSS_CODES:
        out = np.empty_like(V)
        if out.size:
            _small_products(params, np.ascontiguousarray(V), np.ascontiguousarray(X, dtype=np.float64),
                            np.ascontiguousarray(Y, dtype=np.float64), np.asarray(p.sizes, dtype=np.int64),
                            np.asarray([o[0] for o in p.offsets], dtype=np.int64),
                            np.asarray([o[1] for o in p.offsets], dtype=np.int64),
                            _ACT_CODES[p.activation], _LOSS_CODES[p.loss], 1.0 / N, out)
        _add_weight_decay(p, out, V)
        return out
    blocks = [(s, min(N, s + SAMPLE_BLOCK)) for s in range(0, N, SAMPLE_BLOCK)]
    n = hvp_threads(p, params.shape[0], V.shape[1], N)

    def block(i):
        s, e = blocks[i]
        with np.errstate(over="ignore", invalid="ignore"):
            return _products(p, params, V, X[s:e], Y[s:e], N)

    with blas_limit(1):
        if n <= 1:
            out = block(0)
            for i in range(1, len(blocks)):
                out += block(i)
        else:
            from concurrent.futures import ThreadPoolExecutor

            if _POOL is None or _POOL._max_workers < n:
                _POOL = ThreadPoolExecutor(n, thread_name_prefix="dynnet-rop")
            out = None
            for w0 in range(0, len(blocks), n):  # a wave of n blocks, added in block order
                for part in _POOL.map(block, range(w0, min(len(blocks), w0 + n))):
                    out = part if out is None else out.__iadd__(part)
    _add_weight_decay(p, out, V)
    return out


def _add_weight_decay(p, out, V):
    """``out += lambda v`` on the weight coordinates (the penalty's Hessian), in place."""
    if p.weight_decay != 0.0:
        for w0, b0, _ in p.offsets:
            out[..., w0:b0] += p.weight_decay * V[..., w0:b0]


def _stack(VW):
    """``(E, K, n_in, n_out)`` vectors of one layer as ``(E, n_in, K * n_out)``: side by side."""
    E, K, n_in, n_out = VW.shape
    return np.ascontiguousarray(VW.transpose(0, 2, 1, 3)).reshape(E, n_in, K * n_out)


@njit(nogil=True, cache=True, error_model="numpy")
def _bias_times(t0, t1, Rz, Vb, f1, Ra):  # pragma: no cover - compiled
    """``Rz += Vb`` (per vector and unit) and ``Ra = f1 * Rz``, over the (member, sample) rows
    ``[t0, t1)`` of ``(E, N, K, n)``; ``Vb`` is ``(E, K, n)``, ``f1`` ``(E, N, n)``."""
    _, N, K, n = Rz.shape
    for t in range(t0, t1):
        e = t // N
        s = t % N
        for k in range(K):
            for j in range(n):
                v = Rz[e, s, k, j] + Vb[e, k, j]
                Rz[e, s, k, j] = v
                Ra[e, s, k, j] = f1[e, s, j] * v


@njit(nogil=True, cache=True, error_model="numpy")
def _bias_add(t0, t1, Rz, Vb):  # pragma: no cover - compiled
    """``Rz += Vb`` over the rows ``[t0, t1)`` of ``(E, N, K, n)`` (the output layer)."""
    _, N, K, n = Rz.shape
    for t in range(t0, t1):
        e = t // N
        s = t % N
        for k in range(K):
            for j in range(n):
                Rz[e, s, k, j] = Rz[e, s, k, j] + Vb[e, k, j]


@njit(nogil=True, cache=True, error_model="numpy")
def _back_chain(t0, t1, R, B, f1, bf2, Rz, has_f2):  # pragma: no cover - compiled
    """``R = (R + B) * f1 + bf2 * Rz`` in place over the rows ``[t0, t1)`` of ``(E, N, K, n)``:
    the R-operator of a hidden layer's error (``f1 = f'(z)`` and ``bf2 = (delta W^T) f''(z)``
    are ``(E, N, n)``; without ``has_f2`` the last term is absent, as for relu)."""
    _, N, K, n = R.shape
    for t in range(t0, t1):
        e = t // N
        s = t % N
        for k in range(K):
            for j in range(n):
                v = (R[e, s, k, j] + B[e, s, k, j]) * f1[e, s, j]
                if has_f2:
                    v = v + bf2[e, s, j] * Rz[e, s, k, j]
                R[e, s, k, j] = v


def _products(p, params, V, X, Y, n_total):
    """The pass over the samples ``X`` (a block of ``n_total``), in the stacked layout.

    Forward: ``Rz_1 = X [VW_1] + Vb_1``, ``Rz_l = a_{l-1} [VW_l] + Ra_{l-1} W_l + Vb_l`` (the
    second product with the ``N K`` rows of ``Ra`` against ``W``), ``Ra_l = f'(z_l) Rz_l``.
    Backward: ``R(dW_l) = a_{l-1}^T R(delta_l) + Ra_{l-1}^T delta_l``, ``R(db_l) = sum_n
    R(delta_l)``, ``R(delta_{l-1}) = (delta_l [VW_l]^T + R(delta_l) W_l^T) f'(z_{l-1}) +
    (delta_l W_l^T) f''(z_{l-1}) Rz_{l-1}``; at the output, the loss's
    :func:`~dynnet._nn.loss_rdelta`. The mean's ``1/N`` is ``1/n_total``; no weight decay.
    """
    act = p.activation
    E, K, _ = V.shape
    N = X.shape[0]
    layers, acts, zs, z = forward(p, params, X)
    Vl = p.unpack(V)
    L = len(layers)
    f1 = [np.ascontiguousarray(_nn.d1(act, zs[i], acts[i + 1])) for i in range(L - 1)]
    Ra = [None]
    Rzs = []
    Rz = None
    for lay in range(L):
        W, _ = layers[lay]
        VW, Vb = Vl[lay]
        n_in, n_out = W.shape[-2:]
        Rz = np.matmul(X if lay == 0 else acts[lay], _stack(VW))
        if lay > 0:
            Rz += np.matmul(Ra[lay].reshape(E, N * K, n_in), W).reshape(E, N, K * n_out)
        Rz = Rz.reshape(E, N, K, n_out)
        Vb = np.ascontiguousarray(Vb)
        if lay < L - 1:
            Ra.append(np.empty_like(Rz))
            _bias_times(0, E * N, Rz, Vb, f1[lay], Ra[-1])
            Rzs.append(Rz)
        else:
            _bias_add(0, E * N, Rz, Vb)
    delta, prob = _nn.loss_delta(p.loss, z, Y, n_total)
    Rdelta = _nn.loss_rdelta(p.loss, Rz, None if prob is None else prob[:, :, None, :], n_total)
    out = np.empty_like(V)
    for lay in range(L - 1, -1, -1):
        W, _ = layers[lay]
        VW, _ = Vl[lay]
        n_in, n_out = W.shape[-2:]
        w0, b0, b1 = p.offsets[lay]
        a_prev = X if lay == 0 else acts[lay]
        # a_{l-1}^T R(delta_l): (E, n_in, K, n_out), moved to the vectors' layout (E, K, n_in, n_out)
        RgW = np.matmul(np.swapaxes(a_prev, -1, -2), Rdelta.reshape(E, N, K * n_out))
        RgW = RgW.reshape(E, n_in, K, n_out).transpose(0, 2, 1, 3)
        if lay > 0:  # + Ra_{l-1}^T delta_l: (E, K n_in, n_out) is already the vectors' layout
            RgW = RgW + np.matmul(np.swapaxes(Ra[lay].reshape(E, N, K * n_in), -1, -2),
                                  delta).reshape(E, K, n_in, n_out)
        out[..., w0:b0] = RgW.reshape(E, K, n_in * n_out)
        out[..., b0:b1] = Rdelta.sum(axis=1)
        if lay > 0:
            Wt = np.swapaxes(W, -1, -2)
            back = np.matmul(delta, Wt)
            St = np.ascontiguousarray(VW.transpose(0, 3, 1, 2)).reshape(E, n_out, K * n_in)
            R = np.matmul(delta, St).reshape(E, N, K, n_in)               # delta_l [VW_l]^T
            B = np.matmul(Rdelta.reshape(E, N * K, n_out), Wt).reshape(E, N, K, n_in)
            f2 = _nn.d2(act, zs[lay - 1], a_prev)
            bf2 = np.ascontiguousarray(back * f2) if f2 is not None else f1[lay - 1]
            _back_chain(0, E * N, R, B, f1[lay - 1], bf2, Rzs[lay - 1], f2 is not None)
            Rdelta = R
            delta = _nn.times_d1(act, back, zs[lay - 1], a_prev)
    return out


@njit(nogil=True, cache=True, error_model="numpy")
def _act(code, z):  # pragma: no cover - compiled
    """``f(z)`` of the activation ``code`` (see ``_ACT_CODES``), as :func:`dynnet._nn.activate`."""
    if code == 0:
        return 1.0 / (1.0 + np.exp(-z))
    if code == 1:
        return np.tanh(z)
    if code == 2:
        return max(z, 0.0)
    if z > 0.0:
        return z + np.log1p(np.exp(-z))
    return np.log1p(np.exp(z))


@njit(nogil=True, cache=True, error_model="numpy")
def _act_d1(code, z, a):  # pragma: no cover - compiled
    """``f'(z)`` from ``z`` and ``a = f(z)``, as :func:`dynnet._nn.d1`."""
    if code == 0:
        return a * (1.0 - a)
    if code == 1:
        return 1.0 - a * a
    if code == 2:
        return 1.0 if z > 0.0 else 0.0
    return 1.0 / (1.0 + np.exp(-z))


@njit(nogil=True, cache=True, error_model="numpy")
def _act_d2(code, z, a):  # pragma: no cover - compiled
    """``f''(z)``, as :func:`dynnet._nn.d2` (0 for relu)."""
    if code == 0:
        return a * (1.0 - a) * (1.0 - 2.0 * a)
    if code == 1:
        return -2.0 * a * (1.0 - a * a)
    if code == 2:
        return 0.0
    sg = 1.0 / (1.0 + np.exp(-z))
    return sg * (1.0 - sg)


@njit(nogil=True, cache=True, error_model="numpy")
def _small_products(params, V, X, Y, sizes, woff, boff, act, lossk, inv_n, out):  # pragma: no cover
    """The R-operator of :func:`_products` as one compiled loop, for small problems.

    Member by member, sample by sample in order (so a member's bits depend on its state,
    its vectors and the data alone, not on the batch): the forward pass and the errors
    ``delta`` of the sample, then for all ``K`` vectors at once (the innermost index, so
    the loops over vectors vectorise) the directional derivatives ``Rz``, ``Ra``,
    ``R(delta)`` and the sample's terms of ``R(dW) = a^T R(delta) + Ra^T delta`` and
    ``R(db) = R(delta)``, the same equations as :func:`_products`. ``inv_n`` is ``1/N``; no
    weight decay. ``out`` is ``(E, K, dim)``.
    """
    E, K, dim = V.shape
    N = X.shape[0]
    L = sizes.shape[0] - 1
    mw = 0
    for ly in range(L + 1):
        mw = max(mw, sizes[ly])
    A = np.zeros((L + 1, mw))      # activations (A[0] the input, A[L] the softmax for CE)
    Z = np.zeros((L + 1, mw))      # pre-activations
    D = np.zeros((L + 1, mw))      # errors dL/dz
    BK = np.zeros((L + 1, mw))     # delta_{ly+1} W_l^T (before f')
    RZ = np.zeros((L + 1, mw, K))
    RA = np.zeros((L + 1, mw, K))
    RD = np.zeros((L + 1, mw, K))
    RZf = RZ.reshape(L + 1, mw * K)  # flat views: a layer's (unit, vector) block is contiguous
    RDf = RD.reshape(L + 1, mw * K)
    tmp = np.zeros(K)
    VT = np.empty((dim, K))
    acc = np.empty((dim, K))
    VTf = VT.reshape(dim * K)
    accf = acc.reshape(dim * K)
    for e in range(E):
        for q in range(dim):
            for k in range(K):
                VT[q, k] = V[e, k, q]
                acc[q, k] = 0.0
        for n in range(N):
            for i in range(sizes[0]):
                A[0, i] = X[n, i]
            for ly in range(L):
                nin = sizes[ly]
                nout = sizes[ly + 1]
                w0 = woff[ly]
                b0 = boff[ly]
                for j in range(nout):
                    z = params[e, b0 + j]
                    for i in range(nin):
                        z += A[ly, i] * params[e, w0 + i * nout + j]
                    Z[ly + 1, j] = z
                    if ly < L - 1:
                        A[ly + 1, j] = _act(act, z)
            C = sizes[L]
            if lossk == 0:
                m = Z[L, 0]
                for j in range(1, C):
                    m = max(m, Z[L, j])
                tot = 0.0
                for j in range(C):
                    A[L, j] = np.exp(Z[L, j] - m)
                    tot += A[L, j]
                for j in range(C):
                    A[L, j] = A[L, j] / tot
                    D[L, j] = (A[L, j] - Y[n, j]) * inv_n
            else:
                for j in range(C):
                    D[L, j] = (Z[L, j] - Y[n, j]) * inv_n
            for ly in range(L - 1, 0, -1):
                nin = sizes[ly]
                nout = sizes[ly + 1]
                w0 = woff[ly]
                for i in range(nin):
                    b = 0.0
                    for j in range(nout):
                        b += params[e, w0 + i * nout + j] * D[ly + 1, j]
                    BK[ly, i] = b
                    D[ly, i] = b * _act_d1(act, Z[ly, i], A[ly, i])
            # forward along the K vectors: Rz = Vb + a V_W + Ra W, rows of K contiguous
            for ly in range(L):
                nin = sizes[ly]
                nout = sizes[ly + 1]
                w0 = woff[ly]
                b0 = boff[ly]
                for t in range(nout * K):
                    RZf[ly + 1, t] = VTf[b0 * K + t]
                for i in range(nin):
                    a = A[ly, i]
                    q0 = (w0 + i * nout) * K
                    for t in range(nout * K):
                        RZf[ly + 1, t] += a * VTf[q0 + t]
                    if ly > 0:
                        for j in range(nout):
                            w = params[e, w0 + i * nout + j]
                            for k in range(K):
                                RZ[ly + 1, j, k] += w * RA[ly, i, k]
                if ly < L - 1:
                    for j in range(nout):
                        f1 = _act_d1(act, Z[ly + 1, j], A[ly + 1, j])
                        for k in range(K):
                            RA[ly + 1, j, k] = f1 * RZ[ly + 1, j, k]
            if lossk == 0:
                for k in range(K):
                    tmp[k] = 0.0
                for j in range(C):
                    for k in range(K):
                        tmp[k] += A[L, j] * RZ[L, j, k]
                for j in range(C):
                    for k in range(K):
                        RD[L, j, k] = A[L, j] * (RZ[L, j, k] - tmp[k]) * inv_n
            else:
                for j in range(C):
                    for k in range(K):
                        RD[L, j, k] = RZ[L, j, k] * inv_n
            # backward along the K vectors, with the sample's terms of the products
            for ly in range(L - 1, -1, -1):
                nin = sizes[ly]
                nout = sizes[ly + 1]
                w0 = woff[ly]
                b0 = boff[ly]
                for t in range(nout * K):
                    accf[b0 * K + t] += RDf[ly + 1, t]
                for i in range(nin):
                    a = A[ly, i]
                    q0 = (w0 + i * nout) * K
                    for t in range(nout * K):
                        accf[q0 + t] += a * RDf[ly + 1, t]
                    if ly > 0:
                        for j in range(nout):
                            d = D[ly + 1, j]
                            q = w0 + i * nout + j
                            for k in range(K):
                                acc[q, k] += RA[ly, i, k] * d
                if ly > 0:
                    for i in range(nin):
                        f1 = _act_d1(act, Z[ly, i], A[ly, i])
                        f2 = _act_d2(act, Z[ly, i], A[ly, i]) * BK[ly, i]
                        for k in range(K):
                            tmp[k] = 0.0
                        for j in range(nout):
                            q = w0 + i * nout + j
                            d = D[ly + 1, j]
                            w = params[e, q]
                            for k in range(K):
                                tmp[k] += VT[q, k] * d + w * RD[ly + 1, j, k]
                        for k in range(K):
                            RD[ly, i, k] = tmp[k] * f1 + f2 * RZ[ly, i, k]
        for q in range(dim):
            for k in range(K):
                out[e, k, q] = acc[q, k]
