"""BLAS threads for a call (one, unless told): the context shared by the numpy reference and the BLAS path.

Both run their own parallelism (threads over members, or none), so a matrix product
inside them must not start BLAS's thread pool as well. Kept apart from the engine
modules, which import each other's pieces, so that neither has to import the other.
"""

from __future__ import annotations

import contextlib

__all__ = ["blas_limit"]

_CONTROLLER = None


def blas_limit(n_threads: int = 1):
    """A context that runs BLAS on ``n_threads`` threads (a no-op where threadpoolctl is missing).

    Parameters
    ----------
    n_threads : int, default 1
        Threads BLAS may use inside the context.

    Returns
    -------
    contextlib.AbstractContextManager
    """
    global _CONTROLLER
    try:
        import threadpoolctl
    except ImportError:  # pragma: no cover - a dependency of scikit-learn
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = threadpoolctl.ThreadpoolController()
    return _CONTROLLER.limit(limits=max(1, int(n_threads)), user_api="blas")
