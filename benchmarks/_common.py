"""Small helpers shared by the benchmark scripts: timing and plain-text tables."""

from __future__ import annotations

import importlib.util
import time


def have(module: str) -> bool:
    """True if ``module`` can be imported (peers are optional: the ``bench`` extra)."""
    return importlib.util.find_spec(module) is not None


def best_time(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls of ``fn()`` in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def timed(fn) -> float:
    """Wall time of one call of ``fn()`` in seconds."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def blas_info() -> str:
    """The BLAS/OpenMP libraries loaded in this process, with kernel and threads (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    parts = []
    for lib in threadpool_info():
        name = lib.get("internal_api", "?")
        where = lib.get("filepath", "").rsplit("/", 3)[-3:]
        extra = f", kernel {lib['architecture']}" if lib.get("architecture") else ""
        parts.append(f"{name} {lib.get('version') or ''} ({'/'.join(where)}; "
                     f"{lib.get('num_threads')} threads{extra})")
    return "; ".join(parts) or "none loaded"


def fmt(x, digits: int = 3) -> str:
    """A number for a table: ``-`` for None, thousands separators for big ones."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def print_table(headers, rows, title: str | None = None) -> str:
    """Print (and return) a Markdown table."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in cells)) if cells else len(h)
              for k, h in enumerate(headers)]
    lines = []
    if title:
        lines.append(f"\n{title}\n")
    lines.append("| " + " | ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for r in cells:
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def make_jax_iterate(gd_map):
    """The JAX peer of ``GradientDescentMap.iterate``: ``f(W, n_steps)``, jit + vmap(grad) + lax.scan.

    float64, the map's data and flat layout, sigmoid hidden layers and the mean softmax
    cross-entropy (the map's defaults); shared by the engine and wide-network benchmarks.
    """
    import jax
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    p = gd_map.problem()
    X = jnp.asarray(p.X)
    Y = jnp.asarray(p.Y)
    eta = float(gd_map.eta)
    layers = list(zip(p.offsets, p.sizes[:-1], p.sizes[1:], strict=True))

    def loss(w):
        a = X
        for k, ((w0, b0, b1), n_in, n_out) in enumerate(layers):
            z = a @ w[w0:b0].reshape(n_in, n_out) + w[b0:b1]
            a = jax.nn.sigmoid(z) if k < len(layers) - 1 else z
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(a) * Y, axis=-1))

    grad = jax.vmap(jax.grad(loss))

    def run(W, n_steps):
        def body(w, _):
            return w - eta * grad(w), None

        return jax.lax.scan(body, W, None, length=n_steps)[0]

    jitted = jax.jit(run, static_argnums=1)

    def iterate(W, n_steps):
        return np.asarray(jitted(jnp.asarray(W), n_steps).block_until_ready())

    return iterate
