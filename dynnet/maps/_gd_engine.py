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

* :func:`advance` (``iterate``/``step``): ``n_sub = 1``, member ``e`` sits in
  tile ``e // LANES``, lane ``e % LANES``.
* :func:`stream` (PerturbationStudy): the lanes are *groups* (a reference and
  its perturbed copies) and block ``m`` of a tile holds member ``m`` of each
  of ``LANES`` groups, so the distance of copy ``m`` to its reference is a
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

from ._gd_simd import (
    LANES,
    ld,
    vadd,
    vaddc,
    vcopy,
    vexp_diff,
    vfill,
    vfma_s,
    vfma_v,
    vgd_update,
    vmax,
    vmul,
    vrecip,
    vsig_back,
    vsigmoid,
)

_METRICS = {"L1": 0, "L2": 1, "LInf": 2}


# ---------------------------------------------------------------------------
# one training pass over a block
# ---------------------------------------------------------------------------
@njit(inline="always", cache=True)
def _block_pass(T, G, A, D, M, X, y, sizes, woff, boff, uoff, want_grad, loss_out):
    """Gradient (summed over samples, not yet divided by N) of one block into ``G``.

    Flat arrays, each a row-major ``(rows, LANES)`` matrix: ``T, G`` the
    parameters and the gradient (``dim`` rows); ``A, D`` activations and
    back-propagated errors of one sample (``n_units`` rows: the hidden units,
    then the output logits); ``M`` scratch (2 rows). If ``loss_out`` has
    ``LANES`` entries the mean cross-entropy of each lane is written there.
    """
    n_layers = sizes.shape[0] - 1
    n_samples = X.shape[0]
    n_cls = sizes[n_layers]
    o_out = uoff[n_layers - 1] * LANES
    want_loss = loss_out.shape[0] > 0
    mx = 0
    ss = LANES
    if want_loss:
        for b in range(LANES):
            loss_out[b] = 0.0
    if want_grad:
        for r in range(G.shape[0] // LANES):
            vfill(G, r * LANES, 0.0)
    for n in range(n_samples):
        # ---- forward: A[out] = act(b + sum_i a_i W_ij) ----
        for lay in range(n_layers):
            n_in = sizes[lay]
            n_out = sizes[lay + 1]
            w0 = woff[lay] * LANES
            oo = uoff[lay] * LANES
            for j in range(n_out):
                vcopy(A, oo + j * LANES, T, (boff[lay] + j) * LANES)
            if lay == 0:
                for i in range(n_in):
                    xi = X[n, i]
                    for j in range(n_out):
                        vfma_s(A, oo + j * LANES, xi, T, w0 + (i * n_out + j) * LANES)
            else:
                oi = uoff[lay - 1] * LANES
                for i in range(n_in):
                    for j in range(n_out):
                        vfma_v(A, oo + j * LANES, A, oi + i * LANES, T,
                               w0 + (i * n_out + j) * LANES)
            if lay < n_layers - 1:
                for j in range(n_out):
                    vsigmoid(A, oo + j * LANES)
        # ---- softmax: D[out] = p - onehot(y_n) ----
        vcopy(M, mx, A, o_out)
        for c in range(1, n_cls):
            vmax(M, mx, A, o_out + c * LANES)
        vfill(M, ss, 0.0)
        for c in range(n_cls):
            vexp_diff(D, o_out + c * LANES, A, o_out + c * LANES, M, mx)
            vadd(M, ss, D, o_out + c * LANES)
        yn = y[n]
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
        # ---- backward ----
        for lay in range(n_layers - 1, -1, -1):
            n_in = sizes[lay]
            n_out = sizes[lay + 1]
            w0 = woff[lay] * LANES
            oo = uoff[lay] * LANES
            for j in range(n_out):
                vadd(G, (boff[lay] + j) * LANES, D, oo + j * LANES)
            if lay == 0:
                for i in range(n_in):
                    xi = X[n, i]
                    for j in range(n_out):
                        vfma_s(G, w0 + (i * n_out + j) * LANES, xi, D, oo + j * LANES)
            else:
                oi = uoff[lay - 1] * LANES
                for i in range(n_in):
                    for j in range(n_out):
                        vfma_v(G, w0 + (i * n_out + j) * LANES, A, oi + i * LANES, D,
                               oo + j * LANES)
                # error of the layer below: (W D) * a * (1 - a)
                for i in range(n_in):
                    vfill(D, oi + i * LANES, 0.0)
                    for j in range(n_out):
                        vfma_v(D, oi + i * LANES, T, w0 + (i * n_out + j) * LANES, D,
                               oo + j * LANES)
                    vsig_back(D, oi + i * LANES, A, oi + i * LANES)
    if want_loss:
        for b in range(LANES):
            loss_out[b] = loss_out[b] / n_samples


@njit(inline="always", cache=True)
def _block_update(T, G, eta, n_samples):
    """``T <- T - eta * (G / N)`` (rounded like the reference)."""
    for r in range(T.shape[0] // LANES):
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
@njit(parallel=True, cache=True)
def _advance_kernel(S, n_steps, eta, X, y, sizes, woff, boff, uoff):
    n_mem, dim = S.shape
    n_units = uoff[uoff.shape[0] - 1]
    n_tiles = (n_mem + LANES - 1) // LANES
    n_samples = X.shape[0]
    T_all = np.zeros((n_tiles, dim * LANES))
    G_all = np.empty((n_tiles, dim * LANES))
    A_all = np.empty((n_tiles, n_units * LANES))
    D_all = np.empty((n_tiles, n_units * LANES))
    M_all = np.empty((n_tiles, 2 * LANES))
    no_loss = np.empty(0)
    for tile in prange(n_tiles):
        T = T_all[tile]
        G = G_all[tile]
        A = A_all[tile]
        D = D_all[tile]
        M = M_all[tile]
        e0 = tile * LANES
        for b in range(LANES):
            if e0 + b < n_mem:
                for r in range(dim):
                    T[r * LANES + b] = S[e0 + b, r]
        for _ in range(n_steps):
            _block_pass(T, G, A, D, M, X, y, sizes, woff, boff, uoff, True, no_loss)
            _block_update(T, G, eta, n_samples)
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
def _stream_kernel(S, n_sub, n_rec, every, eta, X, y, sizes, woff, boff, uoff, metric,
                   dist, loss, wnorm, V, proj):
    n_mem, dim = S.shape
    n_groups = n_mem // n_sub
    n_units = uoff[uoff.shape[0] - 1]
    n_tiles = (n_groups + LANES - 1) // LANES
    n_samples = X.shape[0]
    n_total = (n_rec - 1) * every
    for tile in prange(n_tiles):
        Ts = np.zeros((n_sub, dim * LANES))
        G = np.empty(dim * LANES)
        A = np.empty(n_units * LANES)
        D = np.empty(n_units * LANES)
        M = np.empty(2 * LANES)
        lbuf = np.empty(LANES)
        no_loss = np.empty(0)
        g0 = tile * LANES
        for m in range(n_sub):
            for b in range(LANES):
                if g0 + b < n_groups:
                    for r in range(dim):
                        Ts[m, r * LANES + b] = S[(g0 + b) * n_sub + m, r]
        for t in range(n_total + 1):
            at_record = t % every == 0
            rec = t // every
            if at_record:
                _record(Ts, n_sub, g0, n_groups, rec, metric, dist, wnorm, V, proj)
            if t == n_total:
                # the loss of the final states: a forward pass without gradient
                _block_pass(Ts[0], G, A, D, M, X, y, sizes, woff, boff, uoff, False, lbuf)
            elif eta == 0.0:
                # the identity map: only the loss is needed
                if at_record:
                    _block_pass(Ts[0], G, A, D, M, X, y, sizes, woff, boff, uoff, False, lbuf)
            else:
                for m in range(n_sub):
                    if at_record and m == 0:
                        _block_pass(Ts[m], G, A, D, M, X, y, sizes, woff, boff, uoff, True, lbuf)
                    else:
                        _block_pass(Ts[m], G, A, D, M, X, y, sizes, woff, boff, uoff, True,
                                    no_loss)
                    _block_update(Ts[m], G, eta, n_samples)
            if at_record:
                for b in range(LANES):
                    if g0 + b < n_groups:
                        loss[rec, g0 + b] = lbuf[b]
        for m in range(n_sub):
            for b in range(LANES):
                if g0 + b < n_groups:
                    for r in range(dim):
                        S[(g0 + b) * n_sub + m, r] = Ts[m, r * LANES + b]


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
    """Set numba's thread count for one call and restore it afterwards."""

    def __init__(self, n):
        self.n = n_threads_default() if n is None else max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))

    def __enter__(self):
        self.old = numba.get_num_threads()
        numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        numba.set_num_threads(self.old)


def _layout_arrays(gd_map, p):
    """Integer layout arrays of the network of problem ``p`` (cached on the map)."""

    def build():
        sizes = np.asarray(p.sizes, dtype=np.int64)
        woff = np.asarray([o[0] for o in p.offsets], dtype=np.int64)
        boff = np.asarray([o[1] for o in p.offsets], dtype=np.int64)
        uoff = np.concatenate([[0], np.cumsum(sizes[1:])]).astype(np.int64)
        X = np.ascontiguousarray(p.X, dtype=np.float64)
        y = np.ascontiguousarray(p.y, dtype=np.int64)
        for a in (sizes, woff, boff, uoff, X, y):
            a.setflags(write=False)
        return X, y, sizes, woff, boff, uoff

    entry = gd_map.__dict__.get("_engine_layout")
    if entry is None or entry[0] is not p:
        entry = (p, build())
        gd_map.__dict__["_engine_layout"] = entry
    return entry[1]


def _guard(p, arr):
    """The kernels index without bounds checks: refuse any other shape here."""
    if arr.ndim != 2 or arr.shape[1] != p.dim:
        raise ValueError(
            f"GradientDescentMap engine: states must have shape (E, {p.dim}), got {arr.shape}"
        )


def advance(gd_map, states: np.ndarray, n_steps: int, n_threads=None) -> np.ndarray:
    """``n_steps`` GD steps of every member of a validated ``(E, dim)`` batch.

    Returns a new array. Members that become non-finite are all-NaN rows.
    ``eta = 0`` returns an exact copy.
    """
    env_threads()  # a bad DYNNET_NUM_THREADS is an error on every call, not only on big ones
    eta = gd_map._eta()
    p = gd_map.problem()
    out = np.array(states, dtype=np.float64, order="C", copy=True)
    _guard(p, out)
    if eta == 0.0 or n_steps == 0 or out.shape[0] == 0:
        return out
    X, y, sizes, woff, boff, uoff = _layout_arrays(gd_map, p)
    if n_threads is None and (out.shape[0] <= 8 or out.shape[0] * n_steps < 4096):
        n_threads = 1  # little work: waking worker threads would cost more than it saves
    # segments of about _SEGMENT_WORK multiply-adds, so that Ctrl-C and SIGTERM are handled
    # between them (a compiled loop cannot be interrupted); the states continue exactly
    work = max(1, out.shape[0] * p.dim * X.shape[0])
    seg = max(1, int(_SEGMENT_WORK // work))
    with _threads(n_threads):
        done = 0
        while done < n_steps:
            k = min(seg, int(n_steps) - done)
            _advance_kernel(out, k, float(eta), X, y, sizes, woff, boff, uoff)
            done += k
    return out


#: multiply-adds per compiled segment of advance (about a tenth of a second)
_SEGMENT_WORK = 3e8


def _run_stream(gd_map, S, n_steps, every, group, metric_name, vectors, n_threads):
    env_threads()
    eta = gd_map._eta()
    p = gd_map.problem()
    _guard(p, S)
    if S.shape[0] % group:
        raise ValueError(f"stream: {S.shape[0]} states do not split into groups of {group}")
    G = S.shape[0] // group
    n_rec = n_steps // every + 1
    V = np.zeros((0, p.dim)) if vectors is None else np.ascontiguousarray(vectors, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != p.dim:
        raise ValueError(f"GradientDescentMap engine: vectors must have shape (K, {p.dim}), got {V.shape}")
    dist = np.empty((n_rec, G, group - 1))
    loss = np.empty((n_rec, G))
    wnorm = np.empty((n_rec, G))
    proj = np.empty((n_rec, G, V.shape[0]))
    X, y, sizes, woff, boff, uoff = _layout_arrays(gd_map, p)
    with _threads(n_threads):
        _stream_kernel(S, int(group), int(n_rec), int(every), float(eta), X, y, sizes, woff,
                       boff, uoff, _METRICS[metric_name], dist, loss, wnorm, V, proj)
    return dist, loss, wnorm, proj


def stream(gd_map, states, n_steps, every, group, metric_name, n_threads=None):
    """Fused :meth:`Map._stream` for the L1/L2/LInf metrics (see that method)."""
    S = np.array(states, dtype=np.float64, order="C", copy=True)
    dist, loss, wnorm, _ = _run_stream(gd_map, S, n_steps, every, group, metric_name, None,
                                       n_threads)
    return dist, {"loss": loss, "weight_norm": wnorm}, S


def observe(gd_map, states, n_steps, every, vectors=None, n_threads=None):
    """Fused :meth:`Map._observe`: loss, weight_norm and projections ``(R, E, K)``.

    Every member is its own group (no copies); the states are never stored.
    """
    S = np.array(states, dtype=np.float64, order="C", copy=True)
    _, loss, wnorm, proj = _run_stream(gd_map, S, n_steps, every, 1, "L1", vectors, n_threads)
    out = {"loss": loss, "weight_norm": wnorm}
    if vectors is not None:
        out["projection"] = proj
    return out, S
