"""The compiled ensemble engine behind GradientDescentMap (private).

Layout
------
The ensemble is the innermost, SIMD axis. A *block* holds ``LANES`` members
side by side: a ``(dim, LANES)`` array, so every arithmetic operation of the
forward and backward pass acts on ``LANES`` members at once, as one explicit
``<8 x double>`` LLVM operation (the intrinsics of :mod:`._gd_simd`; the
auto-vectoriser left the lane loops scalar for lack of aliasing information). A *tile* is ``n_sub`` blocks
that travel together; tiles are independent and run in parallel
(``numba.prange``).

* :meth:`SimdEngine.advance` (``iterate``/``step``): ``n_sub = 1``, member ``e`` sits in
  tile ``e // LANES``, lane ``e % LANES``.
* :meth:`SimdEngine.tangent` (BifurcationStudy): ``n_sub = 1`` as ``advance``; each tile
  also carries its members' companion orbits and unit tangent vectors (two more blocks).
* :meth:`SimdEngine.stream` (PerturbationStudy) and :meth:`SimdEngine.observe`: the
  lanes are *groups* (a reference and its perturbed copies) and block ``m`` of a
  tile holds member ``m`` of each of ``LANES`` groups, so the distance of copy ``m`` to its reference is a
  lane-wise difference of two blocks.

Each GD step runs sample by sample: forward pass, softmax, backward pass and
the gradient accumulation of one training sample, for all lanes; so the
working set of a block (weights, gradient, the activations of one sample) is
a few kB and stays in L1. The exponentials are computed in the vector lanes
(the IR twin of :func:`._gd_simd.vexp`, within 1 ulp), because the scalar libm ``exp`` numba would call
otherwise is the bottleneck.

Determinism
-----------
There is no reduction across lanes and every lane runs the same operations
in the same order; products are rounded either separately or through an
explicit fused multiply-add (never by compiler contraction: no
``fastmath``). So the bits of a member's result do not depend on the block
size, on its lane, on the other members of the batch, on the number of
threads, or on the run. Padding lanes hold zeros and are discarded.

Any depth of hidden layers is supported by the same kernel (the layer loop
reads the layout arrays); there is no numpy fallback.

Interface
---------
:class:`SimdEngine` is built from a prepared problem and takes the per-member eta
with each call, as :class:`._gd_blas.BlasEngine` does; which of the two runs a map is
chosen in :mod:`._gd_dispatch`. The module functions :func:`advance`, :func:`stream`,
:func:`observe` and :func:`tangent` run this engine for a map whatever the selection (tests, benchmarks).

numba's cache (``cache=True``) is keyed on this file: after a change in
:mod:`._gd_simd` alone, touch this file and :mod:`._gd_blas` (whose fused loops
also inline ``vexp``), or clear ``__pycache__``, or the kernels compiled against
the old intrinsics are loaded.

Reference
---------
The numpy reference is :meth:`GradientDescentMap.reference_step`; the engine
agrees with it to about 1e-15 relative per step (tests/test_engine.py).
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np
from numba import njit, prange

from .._numba_cache import compile_notice
from ._gd_simd import (
    LANES,
    fetch_add,
    ld,
    vadd,
    vaddc,
    vchain,
    vchain_s,
    vcopy,
    vdiv,
    vexp_diff,
    vfill,
    vgd_update,
    vgd_update_wd,
    vmax,
    vmul,
    vrecip,
    vrelu,
    vrelu_back,
    vsig_back,
    vsigmoid,
    vsqacc,
    vsub,
    vsum_into,
    vtanh,
    vtanh_back,
)

_METRICS = {"L1": 0, "L2": 1, "LInf": 2}


# ---------------------------------------------------------------------------
# one training pass over a block
# ---------------------------------------------------------------------------
#: activation codes of the kernels (the ``act`` argument)
_ACT = {"sigmoid": 0, "tanh": 1, "relu": 2}
#: loss codes of the kernels (the ``lossk`` argument)
_LOSS = {"cross-entropy": 0, "mse": 1}


@njit(inline="always", cache=True)
def _block_pass(T, G, A, D, M, X, y, sizes, woff, boff, uoff, act, lossk, wd, want_grad, loss_out):
    """Gradient of the data loss (summed over samples, not yet divided by N) of one block into ``G``.

    Flat arrays, each a row-major ``(rows, LANES)`` matrix: ``T, G`` the
    parameters and the gradient (``dim`` rows); ``A, D`` activations and
    back-propagated errors of a *chunk* of samples (``chunk * n_units`` rows:
    per sample the hidden units, then the output logits; the chunk size is
    ``A.shape[0] // (n_units * LANES)``); ``M`` scratch (3 rows). ``act``: 0 sigmoid,
    1 tanh, 2 relu (hidden layers); ``lossk``: 0 softmax cross-entropy, 1 mean
    squared error ``1/(2N) sum (z - Y)^2``. If ``loss_out`` has ``LANES`` entries
    the loss of each lane is written there, with the weight-decay term
    ``(wd / 2) * sum of squared weights``.

    The samples of a chunk run forward and backward one by one (every unit's
    activation and error kept), then the gradient of the chunk is accumulated
    entry by entry in a register (:func:`._gd_simd.vchain`): for every gradient
    entry the samples are added in ascending order, one fused multiply-add each,
    so the result does not depend on the chunk size.
    """
    n_layers = sizes.shape[0] - 1
    n_samples = X.shape[0]
    n_feat = X.shape[1]
    n_cls = sizes[n_layers]
    U = uoff[n_layers] * LANES           # rows of one sample in A and D, times LANES
    chunk = A.shape[0] // U
    want_loss = loss_out.shape[0] > 0
    mx = 0
    ss = LANES
    zero = 2 * LANES
    vfill(M, zero, 0.0)
    if want_loss:
        for b in range(LANES):
            loss_out[b] = 0.0
    if want_grad:
        for r in range(G.shape[0] // LANES):
            vfill(G, r * LANES, 0.0)
    for n0 in range(0, n_samples, chunk):
        ns = min(chunk, n_samples - n0)
        for s in range(ns):
            n = n0 + s
            a0 = s * U
            # ---- forward: A[out] = act(b + sum_i a_i W_ij) ----
            for lay in range(n_layers):
                n_in = sizes[lay]
                n_out = sizes[lay + 1]
                w0 = woff[lay] * LANES
                oo = a0 + uoff[lay] * LANES
                if lay == 0:
                    for j in range(n_out):
                        vchain_s(A, oo + j * LANES, T, (boff[lay] + j) * LANES, X, n * n_feat, 1,
                                 T, w0 + j * LANES, n_out * LANES, n_in)
                else:
                    oi = a0 + uoff[lay - 1] * LANES
                    for j in range(n_out):
                        vchain(A, oo + j * LANES, T, (boff[lay] + j) * LANES, A, oi, LANES,
                               T, w0 + j * LANES, n_out * LANES, n_in)
                if lay < n_layers - 1:
                    if act == 0:
                        for j in range(n_out):
                            vsigmoid(A, oo + j * LANES)
                    elif act == 1:
                        for j in range(n_out):
                            vtanh(A, oo + j * LANES)
                    else:
                        for j in range(n_out):
                            vrelu(A, oo + j * LANES)
            yn = y[n]
            o_out = a0 + uoff[n_layers - 1] * LANES
            if lossk == 0:
                # ---- softmax: D[out] = p - onehot(y_n) ----
                vcopy(M, mx, A, o_out)
                for c in range(1, n_cls):
                    vmax(M, mx, A, o_out + c * LANES)
                vfill(M, ss, 0.0)
                for c in range(n_cls):
                    vexp_diff(D, o_out + c * LANES, A, o_out + c * LANES, M, mx)
                    vadd(M, ss, D, o_out + c * LANES)
                if want_loss:
                    for b in range(LANES):
                        loss_out[b] += math.log(ld(M, ss + b)) - (ld(A, o_out + yn * LANES + b)
                                                                  - ld(M, mx + b))
                if not want_grad:
                    continue
                vrecip(M, ss)
                for c in range(n_cls):
                    vmul(D, o_out + c * LANES, M, ss)
                vaddc(D, o_out + yn * LANES, -1.0)
            else:
                # ---- squared error: D[out] = z - onehot(y_n) ----
                for c in range(n_cls):
                    vcopy(D, o_out + c * LANES, A, o_out + c * LANES)
                vaddc(D, o_out + yn * LANES, -1.0)
                if want_loss:
                    for c in range(n_cls):
                        for b in range(LANES):
                            r = ld(D, o_out + c * LANES + b)
                            loss_out[b] += r * r
                if not want_grad:
                    continue
            # ---- backward: the error of every hidden layer, (W D) * f'(z) ----
            for lay in range(n_layers - 1, 0, -1):
                n_in = sizes[lay]
                n_out = sizes[lay + 1]
                w0 = woff[lay] * LANES
                oo = a0 + uoff[lay] * LANES
                oi = a0 + uoff[lay - 1] * LANES
                for i in range(n_in):
                    vchain(D, oi + i * LANES, M, zero, T, w0 + i * n_out * LANES, LANES,
                           D, oo, LANES, n_out)
                    if act == 0:
                        vsig_back(D, oi + i * LANES, A, oi + i * LANES)
                    elif act == 1:
                        vtanh_back(D, oi + i * LANES, A, oi + i * LANES)
                    else:
                        vrelu_back(D, oi + i * LANES, A, oi + i * LANES)
        if not want_grad:
            continue
        # ---- the gradient of the chunk: sum over its samples, in order ----
        for lay in range(n_layers):
            n_in = sizes[lay]
            n_out = sizes[lay + 1]
            w0 = woff[lay] * LANES
            oo = uoff[lay] * LANES
            for j in range(n_out):
                vsum_into(G, (boff[lay] + j) * LANES, D, oo + j * LANES, U, ns)
            if lay == 0:
                for i in range(n_in):
                    for j in range(n_out):
                        g = w0 + (i * n_out + j) * LANES
                        vchain_s(G, g, G, g, X, n0 * n_feat + i, n_feat, D, oo + j * LANES, U, ns)
            else:
                oi = uoff[lay - 1] * LANES
                for i in range(n_in):
                    for j in range(n_out):
                        g = w0 + (i * n_out + j) * LANES
                        vchain(G, g, G, g, A, oi + i * LANES, U, D, oo + j * LANES, U, ns)
    if want_loss:
        for b in range(LANES):
            loss_out[b] = loss_out[b] / n_samples if lossk == 0 else 0.5 * loss_out[b] / n_samples
        if wd != 0.0:
            sq = np.zeros(LANES)
            for lay in range(n_layers):
                for r in range(woff[lay], boff[lay]):
                    for b in range(LANES):
                        v = T[r * LANES + b]
                        sq[b] += v * v
            for b in range(LANES):
                loss_out[b] += 0.5 * wd * sq[b]


@njit(inline="always", cache=True)
def _block_update(T, G, eta, n_samples, wd, woff, boff):
    """``T <- T - eta * (G / N)``, on weight rows ``T - eta * (G / N + wd * T)`` (rounded like the
    reference); ``eta`` holds the ``LANES`` learning rates of the block's lanes."""
    if wd == 0.0:
        for r in range(T.shape[0] // LANES):
            vgd_update(T, r * LANES, G, r * LANES, eta, float(n_samples))
        return
    for lay in range(woff.shape[0]):
        for r in range(woff[lay], boff[lay]):
            vgd_update_wd(T, r * LANES, G, r * LANES, eta, float(n_samples), wd)
        end = woff[lay + 1] if lay + 1 < woff.shape[0] else T.shape[0] // LANES
        for r in range(boff[lay], end):
            vgd_update(T, r * LANES, G, r * LANES, eta, float(n_samples))


@njit(inline="always", cache=True)
def _flag_nonfinite(T):
    """Lanes with a non-finite parameter become all NaN."""
    bad = np.zeros(LANES, dtype=np.bool_)
    for r in range(T.shape[0] // LANES):
        for b in range(LANES):
            v = T[r * LANES + b]
            bad[b] = bad[b] | (v - v != 0.0)
    for b in range(LANES):
        if bad[b]:
            for r in range(T.shape[0] // LANES):
                T[r * LANES + b] = np.nan


# ---------------------------------------------------------------------------
# drivers
# ---------------------------------------------------------------------------
# Work distribution: ``prange`` over the workers (one per thread), and each worker
# takes the next unprocessed tile from a shared atomic counter until none is left
# (dynamic scheduling). A static split of the tiles (what ``prange`` over the tiles
# does) leaves one thread idle whenever the other is slowed down, by a busy machine
# or by an uneven tile count; with the counter a thread that falls behind simply takes
# fewer tiles. Which thread runs a tile never changes its bits.
@njit(parallel=True, cache=True)
def _advance_kernel(S, n_steps, etas, X, y, sizes, woff, boff, uoff, act, lossk, wd, chunk,
                    n_workers):
    n_mem, dim = S.shape
    n_units = uoff[uoff.shape[0] - 1]
    n_tiles = (n_mem + LANES - 1) // LANES
    n_samples = X.shape[0]
    counter = np.zeros(1, dtype=np.int64)
    for _w in prange(n_workers):
        T = np.empty(dim * LANES)
        G = np.empty(dim * LANES)
        A = np.empty(chunk * n_units * LANES)
        D = np.empty(chunk * n_units * LANES)
        M = np.empty(3 * LANES)
        eta = np.empty(LANES)
        no_loss = np.empty(0)
        while True:
            tile = fetch_add(counter, 0, 1)
            if tile >= n_tiles:
                break
            e0 = tile * LANES
            for b in range(LANES):
                if e0 + b < n_mem:
                    eta[b] = etas[e0 + b]
                    for r in range(dim):
                        T[r * LANES + b] = S[e0 + b, r]
                else:
                    eta[b] = 0.0
                    for r in range(dim):
                        T[r * LANES + b] = 0.0
            for _ in range(n_steps):
                _block_pass(T, G, A, D, M, X, y, sizes, woff, boff, uoff, act, lossk, wd, True,
                            no_loss)
                _block_update(T, G, eta, n_samples, wd, woff, boff)
            _flag_nonfinite(T)
            for b in range(LANES):
                if e0 + b < n_mem:
                    for r in range(dim):
                        S[e0 + b, r] = T[r * LANES + b]


@njit(inline="always", cache=True)
def _record(Ts, n_sub, g0, n_groups, rec, metric, dist, wnorm, V, proj):
    """Distances of each copy to its reference, ``sum |x|`` of the references and their
    projections ``x . V[k]`` (summed over the coordinates in order)."""
    dim = Ts.shape[1] // LANES
    acc = np.empty(LANES)
    for m in range(n_sub):
        _flag_nonfinite(Ts[m])
    for m in range(1, n_sub):
        for b in range(LANES):
            acc[b] = 0.0
        for r in range(dim):
            for b in range(LANES):
                d = Ts[m, r * LANES + b] - Ts[0, r * LANES + b]
                if metric == 0:
                    acc[b] += abs(d)
                elif metric == 1:
                    acc[b] += d * d
                else:
                    ad = abs(d)
                    acc[b] = ad if (ad > acc[b] or ad != ad) else acc[b]
        for b in range(LANES):
            if g0 + b < n_groups:
                dist[rec, g0 + b, m - 1] = math.sqrt(acc[b]) if metric == 1 else acc[b]
    for b in range(LANES):
        acc[b] = 0.0
    for r in range(dim):
        for b in range(LANES):
            acc[b] += abs(Ts[0, r * LANES + b])
    for b in range(LANES):
        if g0 + b < n_groups:
            wnorm[rec, g0 + b] = acc[b]
    for k in range(V.shape[0]):
        for b in range(LANES):
            acc[b] = 0.0
        for r in range(dim):
            vr = V[k, r]
            for b in range(LANES):
                acc[b] += Ts[0, r * LANES + b] * vr
        for b in range(LANES):
            if g0 + b < n_groups:
                proj[rec, g0 + b, k] = acc[b]


@njit(parallel=True, cache=True)
def _stream_kernel(S, n_sub, n_rec, every, etas, X, y, sizes, woff, boff, uoff, act, lossk, wd,
                   metric, dist, loss, wnorm, V, proj, chunk, n_workers):
    n_mem, dim = S.shape
    n_groups = n_mem // n_sub
    n_units = uoff[uoff.shape[0] - 1]
    n_tiles = (n_groups + LANES - 1) // LANES
    n_samples = X.shape[0]
    n_total = (n_rec - 1) * every
    counter = np.zeros(1, dtype=np.int64)
    for _w in prange(n_workers):
        Ts = np.empty((n_sub, dim * LANES))
        G = np.empty(dim * LANES)
        A = np.empty(chunk * n_units * LANES)
        D = np.empty(chunk * n_units * LANES)
        M = np.empty(3 * LANES)
        lbuf = np.empty(LANES)
        eta = np.empty((n_sub, LANES))
        no_loss = np.empty(0)
        while True:
            tile = fetch_add(counter, 0, 1)
            if tile >= n_tiles:
                break
            g0 = tile * LANES
            still = True  # every lane of the tile at eta = 0: the identity map
            for m in range(n_sub):
                for b in range(LANES):
                    if g0 + b < n_groups:
                        eta[m, b] = etas[(g0 + b) * n_sub + m]
                        still = still and eta[m, b] == 0.0
                        for r in range(dim):
                            Ts[m, r * LANES + b] = S[(g0 + b) * n_sub + m, r]
                    else:
                        eta[m, b] = 0.0
                        for r in range(dim):
                            Ts[m, r * LANES + b] = 0.0
            for t in range(n_total + 1):
                at_record = t % every == 0
                rec = t // every
                if at_record:
                    _record(Ts, n_sub, g0, n_groups, rec, metric, dist, wnorm, V, proj)
                if t == n_total:
                    # the loss of the final states: a forward pass without gradient
                    _block_pass(Ts[0], G, A, D, M, X, y, sizes, woff, boff, uoff, act, lossk, wd,
                                False, lbuf)
                elif still:
                    # the identity map: only the loss is needed
                    if at_record:
                        _block_pass(Ts[0], G, A, D, M, X, y, sizes, woff, boff, uoff, act, lossk,
                                    wd, False, lbuf)
                else:
                    for m in range(n_sub):
                        if at_record and m == 0:
                            _block_pass(Ts[m], G, A, D, M, X, y, sizes, woff, boff, uoff, act,
                                        lossk, wd, True, lbuf)
                        else:
                            _block_pass(Ts[m], G, A, D, M, X, y, sizes, woff, boff, uoff, act,
                                        lossk, wd, True, no_loss)
                        _block_update(Ts[m], G, eta[m], n_samples, wd, woff, boff)
                if at_record:
                    for b in range(LANES):
                        if g0 + b < n_groups:
                            loss[rec, g0 + b] = lbuf[b]
            for m in range(n_sub):
                for b in range(LANES):
                    if g0 + b < n_groups:
                        for r in range(dim):
                            S[(g0 + b) * n_sub + m, r] = Ts[m, r * LANES + b]


@njit(inline="always", cache=True)
def _sq_norms(T, out):
    """``out[b] = sum_r T[r, b]^2`` of a block, the coordinates added in ascending order."""
    vfill(out, 0, 0.0)
    for r in range(T.shape[0] // LANES):
        vsqacc(out, 0, T, r * LANES)


@njit(parallel=True, cache=True)
def _tangent_kernel(S, Vs, acc_out, n_steps, eps, etas, X, y, sizes, woff, boff, uoff, act, lossk,
                    wd, chunk, n_workers):
    """``n_steps`` steps of each member's orbit and unit tangent vector by a companion orbit.

    Per step and lane: ``d = eps * max(1, ||x||_2)``, the companion ``c = x + d v``, one GD
    step of both blocks, ``Jv = (c' - x') / d``, ``g = ||Jv||_2``, ``v = Jv / g`` and
    ``acc += log(g)`` (``acc_out`` holds each member's running sum on entry and on exit).
    A lane whose orbit becomes non-finite is all NaN (its sum too, at the end).
    """
    n_mem, dim = S.shape
    n_units = uoff[uoff.shape[0] - 1]
    n_tiles = (n_mem + LANES - 1) // LANES
    n_samples = X.shape[0]
    counter = np.zeros(1, dtype=np.int64)
    for _w in prange(n_workers):
        T = np.empty(dim * LANES)
        C = np.empty(dim * LANES)
        V = np.empty(dim * LANES)
        G = np.empty(dim * LANES)
        A = np.empty(chunk * n_units * LANES)
        D = np.empty(chunk * n_units * LANES)
        M = np.empty(3 * LANES)
        eta = np.empty(LANES)
        dd = np.empty(LANES)
        nrm = np.empty(LANES)
        acc = np.empty(LANES)
        no_loss = np.empty(0)
        while True:
            tile = fetch_add(counter, 0, 1)
            if tile >= n_tiles:
                break
            e0 = tile * LANES
            for b in range(LANES):
                if e0 + b < n_mem:
                    eta[b] = etas[e0 + b]
                    acc[b] = acc_out[e0 + b]
                    for r in range(dim):
                        T[r * LANES + b] = S[e0 + b, r]
                        V[r * LANES + b] = Vs[e0 + b, r]
                else:  # padding: the identity map on a unit vector (finite, discarded)
                    eta[b] = 0.0
                    acc[b] = 0.0
                    for r in range(dim):
                        T[r * LANES + b] = 0.0
                        V[r * LANES + b] = 1.0 if r == 0 else 0.0
            _flag_nonfinite(T)
            for _ in range(n_steps):
                _sq_norms(T, nrm)
                for b in range(LANES):
                    s = math.sqrt(nrm[b])
                    dd[b] = eps * (s if (s > 1.0 or s != s) else 1.0)
                for r in range(dim):  # the companion x + d v
                    vcopy(C, r * LANES, V, r * LANES)
                    vmul(C, r * LANES, dd, 0)
                    vadd(C, r * LANES, T, r * LANES)
                _block_pass(T, G, A, D, M, X, y, sizes, woff, boff, uoff, act, lossk, wd, True,
                            no_loss)
                _block_update(T, G, eta, n_samples, wd, woff, boff)
                _block_pass(C, G, A, D, M, X, y, sizes, woff, boff, uoff, act, lossk, wd, True,
                            no_loss)
                _block_update(C, G, eta, n_samples, wd, woff, boff)
                _flag_nonfinite(T)
                for r in range(dim):  # J v = (companion' - x') / d
                    vcopy(V, r * LANES, C, r * LANES)
                    vsub(V, r * LANES, T, r * LANES)
                    vdiv(V, r * LANES, dd, 0)
                _sq_norms(V, nrm)
                for b in range(LANES):
                    g = math.sqrt(nrm[b])
                    nrm[b] = g
                    acc[b] += math.log(g)
                for r in range(dim):
                    vdiv(V, r * LANES, nrm, 0)
            for b in range(LANES):
                if e0 + b < n_mem:
                    bad = T[b] != T[b]  # flagged lanes are NaN in every row
                    acc_out[e0 + b] = np.nan if bad else acc[b]
                    for r in range(dim):
                        S[e0 + b, r] = T[r * LANES + b]
                        Vs[e0 + b, r] = V[r * LANES + b]


# ---------------------------------------------------------------------------
# Python entry points
# ---------------------------------------------------------------------------
def env_threads() -> int | None:
    """The thread cap of ``DYNNET_NUM_THREADS`` (None if unset), validated.

    Returns
    -------
    int or None
        A positive int, or None when the variable is unset or empty.

    Raises
    ------
    ValueError
        If the variable holds anything but a positive integer; the message
        names the variable (see :func:`dynnet.parallel.thread_cap`).
    """
    from ..parallel import thread_cap

    return thread_cap()


def n_threads_default() -> int:
    """Threads the engine uses: every core, capped by ``DYNNET_NUM_THREADS`` and
    ``NUMBA_NUM_THREADS``.

    Returns
    -------
    int
        At least 1.
    """
    cap = env_threads()
    cores = os.cpu_count() or 1
    if cap is not None:
        cores = min(cores, cap)
    return max(1, min(cores, numba.config.NUMBA_NUM_THREADS))


class _threads:
    """Set numba's thread count for one call and restore it afterwards.

    ``n``: the requested count (None: :func:`n_threads_default`); ``tiles``: the
    number of independent tiles of the call. Never more threads than tiles: a
    parallel region waits for every thread of its team, and on a busy machine
    waking a thread that has nothing to do can cost a whole scheduler time
    slice (measured: about 30 ms for a one-tile stream with 2 threads at load 6,
    against 1.4 ms with one thread).
    """

    def __init__(self, n, tiles=None):
        n = n_threads_default() if n is None else max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
        if tiles is not None:
            n = max(1, min(n, int(tiles)))
        self.n = n

    def __enter__(self):
        self.old = numba.get_num_threads()
        numba.set_num_threads(self.n)
        return self.n

    def __exit__(self, *exc):
        numba.set_num_threads(self.old)


def _layout_arrays(p):
    """Integer layout arrays and the training arrays of problem ``p``, read-only, as the kernels take them."""
    sizes = np.asarray(p.sizes, dtype=np.int64)
    woff = np.asarray([o[0] for o in p.offsets], dtype=np.int64)
    boff = np.asarray([o[1] for o in p.offsets], dtype=np.int64)
    uoff = np.concatenate([[0], np.cumsum(sizes[1:])]).astype(np.int64)
    X = np.ascontiguousarray(p.X, dtype=np.float64)
    y = np.ascontiguousarray(p.y, dtype=np.int64)
    for a in (sizes, woff, boff, uoff, X, y):
        a.setflags(write=False)
    return X, y, sizes, woff, boff, uoff


def _guard(p, arr):
    """The kernels index without bounds checks: refuse any other shape here."""
    if arr.ndim != 2 or arr.shape[1] != p.dim:
        raise ValueError(
            f"GradientDescentMap engine: states must have shape (E, {p.dim}), got {arr.shape}"
        )


def supports(config) -> bool:
    """Whether the SIMD kernels handle an activation, loss and weight decay.

    :func:`dynnet.maps._gd_dispatch.select_path` routes everything else to the BLAS path.
    Covered: hidden activations ``"sigmoid"``, ``"tanh"`` and ``"relu"`` (any depth),
    losses ``"cross-entropy"`` (softmax) and ``"mse"`` (linear output,
    :math:`L = \\frac{1}{2N}\\sum_n \\lVert z_n - Y_n\\rVert^2`), and any weight decay
    :math:`\\lambda \\ge 0` (:math:`L \\mathrel{+}= \\frac{\\lambda}{2}\\sum_l \\lVert W_l\\rVert^2`
    on the weights, not the biases). Not covered: ``"softplus"`` (it needs a vector
    logarithm).

    Parameters
    ----------
    config : Problem or GradientDescentMap
        Anything with ``activation`` (default ``"sigmoid"``), ``loss`` (default
        ``"cross-entropy"``) and ``weight_decay`` (default 0.0) attributes: a map's
        prepared :class:`~dynnet.maps._gd_problem.Problem` (what the selection reads), or
        the map itself.

    Returns
    -------
    bool
        True if :class:`SimdEngine` computes this configuration (to about 1e-15 relative of
        :meth:`GradientDescentMap.reference_step` per step).
    """
    act = getattr(config, "activation", "sigmoid")
    loss = getattr(config, "loss", "cross-entropy")
    wd = getattr(config, "weight_decay", 0.0)
    if not isinstance(act, str) or not isinstance(loss, str):
        return False
    try:
        wd = float(wd)
    except (TypeError, ValueError):
        return False
    return act in _ACT and loss in _LOSS and math.isfinite(wd) and wd >= 0.0


def _config(p):
    """``(act, lossk, wd)`` kernel arguments of problem ``p`` (refused if not supported)."""
    act = getattr(p, "activation", "sigmoid")
    loss = getattr(p, "loss", "cross-entropy")
    wd = float(getattr(p, "weight_decay", 0.0))
    if act not in _ACT or loss not in _LOSS or not (wd >= 0.0 and math.isfinite(wd)):
        raise ValueError(
            f"GradientDescentMap SIMD engine: activation={act!r}, loss={loss!r}, weight_decay={wd!r} "
            f"is not supported (activations {sorted(_ACT)}, losses {sorted(_LOSS)}, weight_decay >= 0)"
        )
    return _ACT[act], _LOSS[loss], wd


def _chunk(p):
    """Samples per chunk of :func:`_block_pass`: the activations and errors of a chunk take
    at most about 16 kB (L1), between 1 and 16 samples. Results do not depend on it."""
    n_units = int(sum(p.sizes[1:]))
    return max(1, min(16, _CHUNK_BYTES // (2 * n_units * LANES * 8)))


#: bytes of activations and errors of one chunk of samples (see :func:`_chunk`)
_CHUNK_BYTES = 16384

#: multiply-adds per compiled segment of advance (about 0.15 s on 2 cores: few parallel regions,
#: each of which waits for every thread of its team, and still a quick reaction to Ctrl-C)
_SEGMENT_WORK = 1.2e9


def lane_etas(eta, n_members: int) -> np.ndarray:
    """The learning rate of each of ``n_members`` members, a contiguous float64 ``(E,)`` array.

    ``eta`` is a map's per-member eta (:meth:`GradientDescentMap._etas`): a float, repeated
    (the kernels read one learning rate per lane either way, so a fixed-eta run and an
    eta-per-member run are the same code and the same bits), or one value per member.
    """
    if np.ndim(eta) == 0:
        return np.full(n_members, float(eta))
    etas = np.ascontiguousarray(np.ravel(eta), dtype=np.float64)
    if etas.shape[0] != n_members:  # the kernels read etas[e] without bounds checks
        raise ValueError(f"GradientDescentMap engine: {etas.shape[0]} learning rates for "
                         f"{n_members} states")
    return etas


class SimdEngine:
    """The compiled SIMD engine of one prepared problem (see :mod:`dynnet.maps._gd_dispatch`).

    Built from the map's :class:`~dynnet.maps._gd_problem.Problem`; every method takes
    validated states ``(E, dim)`` and the per-member ``eta`` (a float or an ``(E, 1)``
    column, :meth:`GradientDescentMap._etas`), the same inputs as
    :class:`dynnet.maps._gd_blas.BlasEngine`. ``n_threads`` None: :func:`n_threads_default`
    (one thread for little work).

    Parameters
    ----------
    problem : Problem
        The map's prepared problem (read-only).
    """

    #: the name of the path (:meth:`GradientDescentMap.engine_path`)
    path = "simd"
    #: :meth:`stream` and :meth:`observe` are fused compiled loops
    fused = True

    def __init__(self, problem) -> None:
        self.problem = problem
        self._arrays = None

    def _layout(self):
        if self._arrays is None:
            self._arrays = _layout_arrays(self.problem)
        return self._arrays

    def close(self) -> None:
        """Nothing to release (the kernels hold no threads between calls)."""

    def loss(self, states: np.ndarray) -> np.ndarray:
        """The objective of each member, ``(E,)``: the numpy reference's (:meth:`GradientDescentMap.loss`)."""
        from . import _gd_reference

        p = self.problem
        return _gd_reference.loss_grad(p, states, p.X, p.Y, want_grad=False)[0]

    def advance(self, states: np.ndarray, n_steps: int, eta, n_threads=None) -> np.ndarray:
        """``n_steps`` GD steps of every member of a validated ``(E, dim)`` batch.

        Returns a new array. Members that become non-finite are all-NaN rows.
        ``eta = 0`` returns an exact copy; an ``eta`` per member gives each member the bits
        of a run at its own value.
        """
        env_threads()  # a bad DYNNET_NUM_THREADS is an error on every call, not only on big ones
        p = self.problem
        out = np.array(states, dtype=np.float64, order="C", copy=True)
        _guard(p, out)
        etas = lane_etas(eta, out.shape[0])
        if not etas.any() or n_steps == 0 or out.shape[0] == 0:
            return out
        act, lossk, wd = _config(p)
        X, y, sizes, woff, boff, uoff = self._layout()
        if n_threads is None and (out.shape[0] <= LANES or out.shape[0] * n_steps < 4096):
            n_threads = 1  # little work: waking worker threads would cost more than it saves
        # segments of about _SEGMENT_WORK multiply-adds, so that Ctrl-C and SIGTERM are handled
        # between them (a compiled loop cannot be interrupted); the states continue exactly
        work = max(1, out.shape[0] * p.dim * X.shape[0])
        seg = max(1, int(_SEGMENT_WORK // work))
        n_tiles = (out.shape[0] + LANES - 1) // LANES
        with _threads(n_threads, n_tiles) as workers:
            done = 0
            while done < n_steps:
                k = min(seg, int(n_steps) - done)
                with compile_notice(_advance_kernel):
                    _advance_kernel(out, k, etas, X, y, sizes, woff, boff, uoff, act, lossk, wd,
                                    _chunk(p), workers)
                done += k
        return out

    def tangent(self, states: np.ndarray, vectors: np.ndarray, n_steps: int, eta, eps: float,
                n_threads=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""``n_steps`` steps of every member's orbit and unit tangent vector, fused (one compiled loop).

        The fused form of :meth:`dynnet.Map._advance_tangent` for ``eps > 0`` (Benettin's
        companion orbit). Per step, for each member with state :math:`x_t` and unit vector
        :math:`\hat v_t`:

        .. math::

            d_t = \epsilon \max(1, \lVert x_t\rVert_2), \qquad
            w_t = \frac{g(x_t + d_t \hat v_t) - g(x_t)}{d_t}, \qquad
            \hat v_{t+1} = \frac{w_t}{\lVert w_t\rVert_2}, \qquad
            \Lambda \mathrel{+}= \ln\lVert w_t\rVert_2,

        with :math:`g` one GD step at the member's own learning rate. The norms add the
        coordinates in ascending order, so a member's bits do not depend on its lane, its
        tile, the batch or the number of threads (they need not equal numpy's ``einsum``).

        Parameters
        ----------
        states : numpy.ndarray, shape (E, dim)
            Validated states.
        vectors : numpy.ndarray, shape (E, dim)
            Unit tangent vectors, one per member.
        n_steps : int
            Steps, >= 0.
        eta : float or numpy.ndarray
            The per-member learning rate (:meth:`GradientDescentMap._etas`).
        eps : float
            The companion's relative distance :math:`\epsilon`, > 0.
        n_threads : int or None, default None
            Threads (None: :func:`n_threads_default`; one for little work).

        Returns
        -------
        states : numpy.ndarray, shape (E, dim)
            The states after ``n_steps`` steps (new array; diverged members all NaN).
        vectors : numpy.ndarray, shape (E, dim)
            The unit tangent vectors after ``n_steps`` steps (new array).
        log_growth_sum : numpy.ndarray, shape (E,)
            :math:`\Lambda = \sum_t \ln\lVert J(x_t)\hat v_t\rVert_2` per member; NaN for a
            member that diverged.

        Raises
        ------
        ValueError
            If the shapes do not match or ``eps`` is not a finite number > 0.

        References
        ----------
        G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, Meccanica 15, 9 (1980).
        """
        env_threads()
        p = self.problem
        S = np.array(states, dtype=np.float64, order="C", copy=True)
        _guard(p, S)
        V = np.array(vectors, dtype=np.float64, order="C", copy=True)
        if V.shape != S.shape:
            raise ValueError(f"GradientDescentMap engine: vectors must have the shape of the states "
                             f"{S.shape}, got {V.shape}")
        eps = float(eps)
        if not (eps > 0.0 and math.isfinite(eps)):
            raise ValueError(f"GradientDescentMap engine: tangent eps must be a finite number > 0, "
                             f"got {eps!r}")
        n_steps = int(n_steps)
        etas = lane_etas(eta, S.shape[0])
        acc = np.zeros(S.shape[0])
        if n_steps == 0 or S.shape[0] == 0:
            bad = ~np.all(np.isfinite(S), axis=1)
            S[bad] = np.nan
            acc[bad] = np.nan
            return S, V, acc
        act, lossk, wd = _config(p)
        X, y, sizes, woff, boff, uoff = self._layout()
        if n_threads is None and (S.shape[0] <= LANES or S.shape[0] * n_steps < 2048):
            n_threads = 1  # little work: waking worker threads would cost more than it saves
        # segments as in advance (two passes per step), so that Ctrl-C is handled between them
        work = max(1, 2 * S.shape[0] * p.dim * X.shape[0])
        seg = max(1, int(_SEGMENT_WORK // work))
        n_tiles = (S.shape[0] + LANES - 1) // LANES
        with _threads(n_threads, n_tiles) as workers:
            done = 0
            while done < n_steps:
                k = min(seg, n_steps - done)
                with compile_notice(_tangent_kernel):
                    _tangent_kernel(S, V, acc, k, eps, etas, X, y, sizes, woff, boff, uoff, act,
                                    lossk, wd, _chunk(p), workers)
                done += k
        return S, V, acc

    def _run_stream(self, S, n_steps, every, group, metric_name, vectors, eta, n_threads):
        env_threads()
        p = self.problem
        _guard(p, S)
        etas = lane_etas(eta, S.shape[0])
        if S.shape[0] % group:
            raise ValueError(f"stream: {S.shape[0]} states do not split into groups of {group}")
        G = S.shape[0] // group
        n_rec = n_steps // every + 1
        V = np.zeros((0, p.dim)) if vectors is None else np.ascontiguousarray(vectors, dtype=np.float64)
        if V.ndim != 2 or V.shape[1] != p.dim:
            raise ValueError(f"GradientDescentMap engine: vectors must have shape (K, {p.dim}), "
                             f"got {V.shape}")
        dist = np.empty((n_rec, G, group - 1))
        loss = np.empty((n_rec, G))
        wnorm = np.empty((n_rec, G))
        proj = np.empty((n_rec, G, V.shape[0]))
        act, lossk, wd = _config(p)
        X, y, sizes, woff, boff, uoff = self._layout()
        n_tiles = (G + LANES - 1) // LANES
        if n_threads is None and G * group * n_steps < 4096:
            n_threads = 1  # little work: waking worker threads would cost more than it saves
        with _threads(n_threads, n_tiles) as workers:
            with compile_notice(_stream_kernel):
                _stream_kernel(S, int(group), int(n_rec), int(every), etas, X, y, sizes, woff,
                               boff, uoff, act, lossk, wd, _METRICS[metric_name], dist, loss, wnorm, V,
                               proj, _chunk(p), workers)
        return dist, loss, wnorm, proj

    def stream(self, states, n_steps, every, group, metric_name, eta, n_threads=None):
        """Fused :meth:`Map._stream` for the metrics ``"L1"``, ``"L2"``, ``"LInf"`` (see that method).

        Returns ``(distance (R, G, group - 1), {"loss", "weight_norm"} (R, G), final states)``.
        """
        S = np.array(states, dtype=np.float64, order="C", copy=True)
        dist, loss, wnorm, _ = self._run_stream(S, n_steps, every, group, metric_name, None, eta,
                                                n_threads)
        return dist, {"loss": loss, "weight_norm": wnorm}, S

    def observe(self, states, n_steps, every, vectors, eta, n_threads=None):
        """Fused :meth:`Map._observe`: loss, weight_norm and projections ``(R, E, K)``.

        Every member is its own group (no copies); the states are never stored.
        """
        S = np.array(states, dtype=np.float64, order="C", copy=True)
        _, loss, wnorm, proj = self._run_stream(S, n_steps, every, 1, "L1", vectors, eta, n_threads)
        out = {"loss": loss, "weight_norm": wnorm}
        if vectors is not None:
            out["projection"] = proj
        return out, S


# ---- a map's SIMD engine, forced (tests and benchmarks; the map itself selects its engine) ----
def _of(gd_map) -> SimdEngine:
    return SimdEngine(gd_map.problem())


def advance(gd_map, states: np.ndarray, n_steps: int, n_threads=None) -> np.ndarray:
    """:meth:`SimdEngine.advance` of ``gd_map``'s problem and eta, whatever path the map selects."""
    engine = _of(gd_map)
    return engine.advance(states, n_steps, gd_map._etas(np.shape(states)[0]), n_threads)


def stream(gd_map, states, n_steps, every, group, metric_name, n_threads=None):
    """:meth:`SimdEngine.stream` of ``gd_map``'s problem and eta, whatever path the map selects."""
    engine = _of(gd_map)
    return engine.stream(states, n_steps, every, group, metric_name,
                         gd_map._etas(np.shape(states)[0]), n_threads)


def observe(gd_map, states, n_steps, every, vectors=None, n_threads=None):
    """:meth:`SimdEngine.observe` of ``gd_map``'s problem and eta, whatever path the map selects."""
    engine = _of(gd_map)
    return engine.observe(states, n_steps, every, vectors, gd_map._etas(np.shape(states)[0]),
                          n_threads)


def tangent(gd_map, states, vectors, n_steps, eps, n_threads=None):
    """:meth:`SimdEngine.tangent` of ``gd_map``'s problem and eta, whatever path the map selects."""
    engine = _of(gd_map)
    return engine.tangent(states, vectors, n_steps, gd_map._etas(np.shape(states)[0]), eps, n_threads)
