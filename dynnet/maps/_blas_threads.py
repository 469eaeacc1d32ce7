"""One BLAS thread for a call: the context shared by the numpy reference and the BLAS path.

Both run their own parallelism (threads over members, or none), so a matrix product
inside them must not start BLAS's thread pool as well. Kept apart from the engine
modules, which import each other's pieces, so that neither has to import the other.
"""

from __future__ import annotations

import contextlib

__all__ = ["blas_limit"]

_CONTROLLER = None


def blas_limit():
    """A context that keeps BLAS single-threaded (a no-op where threadpoolctl is missing).

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
    return _CONTROLLER.limit(limits=1, user_api="blas")
