"""Running independent chunks of work: serially or with joblib, with progress."""

from __future__ import annotations

import os

from .base import check_int

__all__ = ["map_chunks", "effective_n_jobs"]


def effective_n_jobs(n_jobs) -> int:
    """Number of workers for ``n_jobs`` (-1: every core; ``DYNNET_NUM_THREADS`` caps it)."""
    n = check_int(None, "n_jobs", n_jobs)
    cores = os.cpu_count() or 1
    cap = os.environ.get("DYNNET_NUM_THREADS")
    if cap:
        cores = max(1, min(cores, int(cap)))
    if n == 0:
        raise ValueError("dynnet: parameter n_jobs=0 is not allowed; use a positive int or -1")
    if n < 0:
        n = max(1, cores + 1 + n)
    return n


class _OneThreadEach:
    """Run ``func`` in a joblib worker with the engine limited to one thread, so
    ``n_jobs`` workers use ``n_jobs`` cores, not ``n_jobs`` x cores. Results do
    not depend on the thread count."""

    def __init__(self, func):
        self.func = func

    def __call__(self, *args):
        old = os.environ.get("DYNNET_NUM_THREADS")
        os.environ["DYNNET_NUM_THREADS"] = "1"
        try:
            return self.func(*args)
        finally:  # a threading backend shares this process: leave it as it was
            if old is None:
                os.environ.pop("DYNNET_NUM_THREADS", None)
            else:
                os.environ["DYNNET_NUM_THREADS"] = old


def map_chunks(func, arg_tuples, n_jobs=1, progress=False, desc=None, on_result=None):
    """``[func(*args) for args in arg_tuples]``, in order, maybe in parallel.

    ``on_result(i, value)`` is called as each chunk finishes (in order), so a
    caller can checkpoint. Results do not depend on ``n_jobs``: each chunk is a
    pure function of its arguments.
    """
    n = effective_n_jobs(n_jobs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(arg_tuples), desc=desc, unit="chunk")
    out = []
    try:
        if n == 1 or len(arg_tuples) <= 1:
            it = (func(*a) for a in arg_tuples)
        else:
            from joblib import Parallel, delayed

            work = _OneThreadEach(func)
            it = Parallel(n_jobs=n, return_as="generator")(delayed(work)(*a) for a in arg_tuples)
        for i, value in enumerate(it):
            out.append(value)
            if on_result is not None:
                on_result(i, value)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out
