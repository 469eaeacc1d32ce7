"""The BLAS path of GradientDescentMap: wide networks, every activation and loss (private).

Layout
------
Activations are kept *feature-major*, ``(E, width, B)``: member ``e``'s layer on a block
of ``B`` samples is a ``(width, B)`` matrix, and every layer of every member is one
BLAS product (numpy's stacked ``matmul`` calls GEMM once per member; the inputs are
shared). Samples are taken in blocks of the FIXED size :data:`SAMPLE_BLOCK`, so the
working set stays in cache, and a block's sums are added in block order; members are
taken in chunks (``_chunk_members``) sized to ``_CHUNK_BYTES``. Elementwise work runs in
place on preallocated buffers (no temporaries: fresh large arrays cost page faults); the
hidden layers' bias, activation and derivative are fused compiled loops
(:func:`_bias_activate`, :func:`_times_d1`: one pass each instead of four to five numpy
passes, which took about half of a block on the digits network).

Determinism: a member's products are separate GEMM calls of the same shapes whatever
its chunk, position or batch, so its bits do not depend on them (stacking the members
into ONE wide GEMM would be faster, but OpenBLAS then picks kernels by the total size
and the bits of a member change with E: measured, so not done); OpenBLAS splits a GEMM
over threads by output blocks, never along the summed axis, so the thread count does
not change them either (tests/test_blas_path.py checks both).

The loop over steps is a Python loop: one step is a handful of BLAS calls on
matrices of ``N x width`` (hundreds of microseconds or more on the networks this path
is chosen for), so the interpreter's share is small; the SIMD engine
(:mod:`._gd_engine`) serves the small networks where it would not be.

Agreement with the numpy reference (:meth:`GradientDescentMap.reference_step`): about
1e-15 relative per step (the same operations, in another association order of the
products).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ._blas_threads import blas_limit as _blas_limit
from ._gd_simd import vexp

#: bytes of working set per chunk of members (activations, errors and products of one sample block)
_CHUNK_BYTES = 2**24
#: samples per block: FIXED (not chosen by memory), so that the sum of the blocks' gradients,
#: taken in block order, has the same bits whatever the chunking of members
SAMPLE_BLOCK = 512


def _chunk_members(p, n_members: int) -> int:
    """Members per chunk: the working set of a member is about 4 float64 per unit-sample of a block."""
    block = min(SAMPLE_BLOCK, p.X.shape[0])
    per_member = 8 * (4 * block * max(1, sum(p.sizes[1:])) + 3 * p.dim)
    return int(max(1, min(n_members, _CHUNK_BYTES // per_member)))


def _unpack_T(p, x):
    """Per-layer ``(W^T (E, n_out, n_in), b (E, n_out))`` of flat states ``x`` (E, dim)."""
    E = x.shape[0]
    out = []
    for (w0, b0, b1), n_in, n_out in zip(p.offsets, p.sizes[:-1], p.sizes[1:], strict=True):
        W = x[:, w0:b0].reshape(E, n_in, n_out)
        out.append((np.ascontiguousarray(W.transpose(0, 2, 1)), x[:, b0:b1]))
    return out


class _Workspace:
    """Buffers of one chunk of ``E`` members and one sample block of ``B`` samples, reused."""

    def __init__(self, p, E, B):
        widths = p.sizes[1:]
        self.z = [np.empty((E, w, B)) for w in widths]          # pre-activations and logits
        self.a = [np.empty((E, w, B)) for w in widths[:-1]]     # hidden activations
        self.d = [np.empty((E, w, B)) for w in widths]          # errors dL/dz
        self.gW = [np.empty((E, o, i)) for i, o in zip(p.sizes[:-1], widths, strict=True)]
        self.m = np.empty((E, 1, B))


#: activation codes of the fused kernels
_KIND = {"sigmoid": 0, "tanh": 1, "relu": 2, "softplus": 3}


@njit(nogil=True, cache=True, error_model="numpy")
def _bias_activate(z, b, a, kind):  # pragma: no cover - compiled
    """``z += b`` (per unit) and ``a = f(z)``, in one pass over ``(E, width, B)``.

    sigmoid ``1 / (1 + exp(-z))`` (the SIMD engine's lane-wise ``exp``,
    :func:`~dynnet.maps._gd_simd.vexp`, which LLVM vectorises); tanh; relu ``max(z, 0)``
    (NaN stays NaN); softplus ``max(z, 0) + log1p(exp(-|z|))``. Elementwise, no
    reductions: a member's bits do not depend on the batch it is in. Runs without the GIL
    (the path's worker threads).
    """
    E, w, B = z.shape
    for e in range(E):
        for i in range(w):
            bi = b[e, i]
            zr = z[e, i]
            ar = a[e, i]
            if kind == 0:
                for j in range(B):
                    v = zr[j] + bi
                    zr[j] = v
                    ar[j] = 1.0 / (1.0 + vexp(-v))
            elif kind == 1:
                for j in range(B):
                    v = zr[j] + bi
                    zr[j] = v
                    ar[j] = np.tanh(v)
            elif kind == 2:
                for j in range(B):
                    v = zr[j] + bi
                    zr[j] = v
                    ar[j] = 0.0 if v <= 0.0 else v
            else:
                for j in range(B):
                    v = zr[j] + bi
                    zr[j] = v
                    ar[j] = (v if v > 0.0 else 0.0) + np.log1p(vexp(-abs(v)))


@njit(nogil=True, cache=True, error_model="numpy")
def _times_d1(m, z, a, kind):  # pragma: no cover - compiled
    """``m *= f'(z)`` in place, in one pass: sigmoid ``(m a)(1 - a)`` (rounded like the
    reference), tanh ``m (1 - a a)``, relu ``m [z > 0]``, softplus ``m sigmoid(z)``; ``m``,
    ``z`` and ``a`` of one shape ``(E, width, B)``."""
    E, w, B = m.shape
    for e in range(E):
        for i in range(w):
            mr = m[e, i]
            zr = z[e, i]
            ar = a[e, i]
            if kind == 0:
                for j in range(B):
                    mr[j] = (mr[j] * ar[j]) * (1.0 - ar[j])
            elif kind == 1:
                for j in range(B):
                    mr[j] = mr[j] * (1.0 - ar[j] * ar[j])
            elif kind == 2:
                for j in range(B):
                    mr[j] = mr[j] * (1.0 if zr[j] > 0.0 else 0.0)
            else:
                for j in range(B):
                    mr[j] = mr[j] * (1.0 / (1.0 + vexp(-zr[j])))


def _block(p, ws, layers, x0, x1, loss, grad, want_grad):
    """Forward and backward of samples ``[x0, x1)``: adds the block's loss and gradient sums."""
    E = loss.shape[0]
    B = x1 - x0
    N = p.X.shape[0]
    X = p.X[x0:x1]
    L = len(layers)
    kind = _KIND[p.activation]
    for lay, (Wt, b) in enumerate(layers):
        z = ws.z[lay]
        if lay == 0:
            np.matmul(Wt, X.T, out=z)
        else:
            np.matmul(Wt, ws.a[lay - 1], out=z)
        if lay < L - 1:
            _bias_activate(z, b, ws.a[lay], kind)
        else:
            z += b[:, :, None]
    z = ws.z[L - 1]
    d = ws.d[L - 1]
    yb = p.y[x0:x1]
    cols = np.arange(B)
    if p.loss == "cross-entropy":
        m = ws.m
        np.max(z, axis=1, keepdims=True, out=m)
        np.subtract(z, m, out=d)             # s = z - max
        s_true = d[:, yb, cols]              # s at the true class, (E, B) (a copy)
        np.exp(d, out=d)
        S = d.sum(axis=1, keepdims=True)     # (E, 1, B)
        loss += (np.log(S[:, 0, :]) - s_true).sum(axis=1)
        if want_grad:
            np.divide(d, S, out=d)           # softmax
            d[:, yb, cols] -= 1.0
            d /= N
    else:
        np.subtract(z, p.Y[x0:x1].T, out=d)
        loss += 0.5 * (d * d).sum(axis=(1, 2))
        d /= N
    if not want_grad:
        return
    for lay in range(L - 1, -1, -1):
        Wt, _ = layers[lay]
        w0, b0, b1 = p.offsets[lay]
        d = ws.d[lay]
        gW = ws.gW[lay]
        if lay == 0:
            np.matmul(d, X, out=gW)
        else:
            np.matmul(d, np.swapaxes(ws.a[lay - 1], 1, 2), out=gW)
        grad[:, w0:b0] += np.swapaxes(gW, 1, 2).reshape(E, b0 - w0)
        grad[:, b0:b1] += d.sum(axis=-1)
        if lay > 0:
            back = ws.d[lay - 1]
            np.matmul(np.swapaxes(Wt, 1, 2), d, out=back)
            _times_d1(back, ws.z[lay - 1], ws.a[lay - 1], kind)


def _member_splits(n_blocks: int, n_members: int, n_threads: int) -> int:
    """Sub-chunks of members per sample block, so that the tasks (blocks x sub-chunks) keep
    every thread busy: the fewest splits that make the task count a multiple of the threads,
    or at least four tasks per thread. (3 blocks on 2 threads unsplit leave one thread idle
    for a third of the call.) A member's bits do not depend on its sub-chunk."""
    if n_threads <= 1:
        return 1
    for n_sub in range(1, min(n_members, n_threads) + 1):
        tasks = n_blocks * n_sub
        if tasks % n_threads == 0 or tasks >= 4 * n_threads:
            return n_sub
    return min(n_members, n_threads)




class Runner:
    """Loss and gradient of a batch on a pool of threads, each task one BLAS-single-threaded
    product chain.

    A task is a (member sub-chunk, sample block) pair; it writes its block's sums into its
    own buffers, and they are added into the result in block order, so the bits of a
    member's gradient depend neither on the number of threads nor on its sub-chunk.
    Members are split into sub-chunks when the blocks alone would leave a thread idle
    (:func:`_member_splits`).

    Parameters
    ----------
    p : Problem
        The map's prepared problem.
    n_threads : int
        Worker threads (1: everything in the calling thread).
    """

    def __init__(self, p, n_threads: int = 1):
        self.p = p
        self.n_threads = max(1, int(n_threads))
        self.spaces: dict = {}
        self.pool = None

    def __enter__(self):
        if self.n_threads > 1 and self.pool is None:
            self.pool = ThreadPoolExecutor(self.n_threads, thread_name_prefix="dynnet-blas")
        self._limit = _blas_limit()
        self._limit.__enter__()
        return self

    def __exit__(self, *exc):
        self._limit.__exit__(*exc)
        if len(self.spaces) > 32:  # many batch sizes seen: keep memory bounded
            self.spaces.clear()

    def close(self):
        """Stop the worker threads and drop the buffers."""
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        self.spaces.clear()

    def _space(self, slot, E, B):
        key = (slot, E, B)
        ws = self.spaces.get(key)
        if ws is None:
            ws = self.spaces[key] = _Workspace(self.p, E, B)
            ws.loss = np.empty(E)
            ws.grad = np.empty((E, self.p.dim))
        return ws

    def loss_grad(self, x, want_grad=True):
        """``(loss (E,), grad (E, dim) or None)`` of validated states ``x``."""
        p = self.p
        E = x.shape[0]
        N = p.X.shape[0]
        blocks = [(x0, min(N, x0 + SAMPLE_BLOCK)) for x0 in range(0, N, SAMPLE_BLOCK)]
        n_sub = _member_splits(len(blocks), E, self.n_threads)
        edges = np.linspace(0, E, n_sub + 1).astype(int)
        subs = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
        layers = _unpack_T(p, x)
        tasks = [(m0, m1, x0, x1) for x0, x1 in blocks for m0, m1 in subs]
        loss = np.zeros(E)
        grad = np.zeros_like(x) if want_grad else None
        wave = 2 * self.n_threads

        def run(i, task):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return _run(i, task)

        def _run(i, task):
            m0, m1, x0, x1 = task
            ws = self._space(i, m1 - m0, x1 - x0)
            ws.loss[:] = 0.0
            if want_grad:
                ws.grad[:] = 0.0
            sub = [(Wt[m0:m1], b[m0:m1]) for Wt, b in layers]
            _block(p, ws, sub, x0, x1, ws.loss, ws.grad if want_grad else None, want_grad)
            return ws

        for w0 in range(0, len(tasks), wave):
            chunk = tasks[w0:w0 + wave]  # (np.errstate is per thread: the workers set their own)
            if self.pool is None or len(chunk) == 1:
                done = [run(i, t) for i, t in enumerate(chunk)]
            else:
                done = list(self.pool.map(run, range(len(chunk)), chunk))
            for (m0, m1, _, _), ws in zip(chunk, done, strict=True):
                loss[m0:m1] += ws.loss
                if want_grad:
                    grad[m0:m1] += ws.grad
        loss /= N
        if p.weight_decay != 0.0:
            loss += 0.5 * p.weight_decay * sum((x[:, w0:b0] ** 2).sum(axis=-1) for w0, b0, _ in p.offsets)
            if want_grad:
                for w0, b0, _ in p.offsets:
                    grad[:, w0:b0] += p.weight_decay * x[:, w0:b0]
        return loss, grad


class BlasEngine:
    """The BLAS path of one prepared problem (see :mod:`dynnet.maps._gd_dispatch`).

    Built from the map's :class:`~dynnet.maps._gd_problem.Problem`; every method takes
    validated states ``(E, dim)`` and the per-member ``eta`` (a float or an ``(E, 1)``
    column, :meth:`GradientDescentMap._etas`), the same inputs as
    :class:`dynnet.maps._gd_engine.SimdEngine`. It keeps one :class:`Runner` per calling
    thread and thread count: their buffers and worker threads are reused from call to
    call (fresh buffers cost page faults: a step of MNIST-1D size took twice as long
    through ``step`` as through ``iterate`` without this). The engine lives in the map's
    cache, which ``set_params`` and pickling drop.

    Parameters
    ----------
    problem : Problem
        The map's prepared problem (read-only).
    """

    #: the name of the path (:meth:`GradientDescentMap.engine_path`)
    path = "blas"
    #: no fused stream: :meth:`Map._stream` and :meth:`Map._observe` run their generic loops
    fused = False

    def __init__(self, problem) -> None:
        self.problem = problem
        self._runners: dict = {}

    def runner(self, n_threads: int) -> Runner:
        """This thread's :class:`Runner` with ``n_threads`` workers (made on first use)."""
        import threading

        key = (threading.get_ident(), int(n_threads))
        r = self._runners.get(key)
        if r is None:
            r = self._runners[key] = Runner(self.problem, n_threads)
        return r

    def close(self) -> None:
        """Stop every runner's worker threads and drop its buffers."""
        for r in list(self._runners.values()):
            r.close()
        self._runners.clear()

    def loss(self, states: np.ndarray) -> np.ndarray:
        """The objective of each member, ``(E,)``, on the whole training set (:func:`loss_grad`)."""
        from ._gd_engine import n_threads_default

        return loss_grad(self.problem, states, want_grad=False,
                         runner=self.runner(n_threads_default()))[0]

    def advance(self, states: np.ndarray, n_steps: int, eta, n_threads=None) -> np.ndarray:
        """``n_steps`` GD steps of a validated ``(E, dim)`` batch; a new array (see :func:`advance`)."""
        from ._gd_engine import env_threads, n_threads_default

        env_threads()  # a bad DYNNET_NUM_THREADS is an error on either path
        n = n_threads_default() if n_threads is None else n_threads
        return advance(self.problem, eta, states, n_steps, runner=self.runner(n))

    def stream(self, states, n_steps, every, group, metric_name, eta, n_threads=None):
        """Not fused on this path (``fused`` is False): the map runs :meth:`Map._stream`'s loop."""
        raise NotImplementedError("the BLAS path has no fused stream; Map._stream runs it")

    def observe(self, states, n_steps, every, vectors, eta, n_threads=None):
        """Not fused on this path (``fused`` is False): the map runs :meth:`Map._observe`'s loop."""
        raise NotImplementedError("the BLAS path has no fused observe; Map._observe runs it")


def loss_grad(p, x, want_grad=True, n_threads=1, runner=None):
    """Loss ``(E,)`` and gradient ``(E, dim)`` of states ``x`` on the whole training set.

    ``p`` is the map's :class:`~dynnet.maps._gd_problem.Problem`. Samples are taken in blocks of
    :data:`SAMPLE_BLOCK`; each block's sums are added in block order.
    """
    r = Runner(p, n_threads) if runner is None else runner
    try:
        with r:
            return r.loss_grad(x, want_grad)
    finally:
        if runner is None:
            r.close()


def advance(p, eta, states: np.ndarray, n_steps: int, n_threads: int = 1,
            runner: Runner | None = None) -> np.ndarray:
    """``n_steps`` GD steps of a validated ``(E, dim)`` batch; a new array.

    ``eta`` is a float or an ``(E, 1)`` column of one learning rate per member (each member
    then has the bits of a run at its own value; a member at ``eta = 0`` is left unchanged).
    Members that become non-finite are all-NaN rows from then on (and cost nothing more).
    """
    out = np.array(states, dtype=np.float64, order="C", copy=True)
    if not np.any(eta) or n_steps == 0 or out.shape[0] == 0:
        return out
    if np.ndim(eta) != 0:
        eta = np.asarray(eta, dtype=np.float64).reshape(out.shape[0], 1)
    chunk = _chunk_members(p, out.shape[0])
    own = runner is None
    r = Runner(p, n_threads) if own else runner
    try:
        _advance_chunks(r, out, chunk, eta, n_steps)
    finally:
        if own:
            r.close()
    return out


def _advance_chunks(runner, out, chunk, eta, n_steps):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), runner as r:
        for c0 in range(0, out.shape[0], chunk):
            x = out[c0:c0 + chunk]
            ec = eta if np.ndim(eta) == 0 else eta[c0:c0 + chunk]
            alive = np.all(np.isfinite(x), axis=-1)
            x[~alive] = np.nan
            for _ in range(int(n_steps)):
                if not alive.any():
                    break
                xa = x[alive] if not alive.all() else x
                ea = ec if np.ndim(ec) == 0 or alive.all() else ec[alive]
                g = r.loss_grad(xa)[1]
                xa = xa - ea * g if np.ndim(ea) == 0 else np.where(ea == 0.0, xa, xa - ea * g)
                ok = np.all(np.isfinite(xa), axis=-1)
                if alive.all():
                    x[:] = xa
                else:
                    x[alive] = xa
                if not ok.all():
                    idx = np.flatnonzero(alive)[~ok]
                    x[idx] = np.nan
                    alive[idx] = False
