"""Running independent chunks of work: serially, with joblib, or on a dask cluster.

A study splits its work into chunks, each a pure function of its arguments,
and hands them to :func:`map_chunks`. Where the chunks run is decided here:

* ``n_jobs`` resolving to 1: in the calling process, one after the other;
* otherwise, under no joblib configuration (or ``parallel_config(backend="loky")``):
  in ``n_jobs`` loky worker processes that die with the calling process;
* under any other active joblib backend (``joblib.parallel_config(backend="dask")``,
  :func:`scheduler`, ``"threading"``, ...): through that backend, with
  ``n_jobs=-1`` meaning "as many workers as the backend has".

Results do not depend on where the chunks ran.

Stopping
--------
While :func:`map_chunks` runs in the main thread, SIGTERM is handled like
Ctrl-C (SIGINT): no more chunks are submitted, the worker processes are
terminated, and :class:`Terminated` (a :class:`KeyboardInterrupt`) is raised
to the caller, so ``finally`` blocks and context managers run. The previous
SIGTERM handler is restored when :func:`map_chunks` returns.

Worker processes never outlive the process that started them, even when it
is killed with SIGKILL (which no handler can catch): on Linux each loky worker
asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``,
see ``man 2 PR_SET_PDEATHSIG``), and on every platform a watchdog thread in
the worker ends it once its parent is gone. Idle loky workers already exit
when the pipe to a dead parent closes; the two mechanisms also cover workers
busy in a long computation.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from .base import check_int

if TYPE_CHECKING:
    from distributed import Client

_T = TypeVar("_T")

__all__ = ["map_chunks", "effective_n_jobs", "resolve_n_jobs", "thread_cap", "scheduler", "Terminated"]

#: environment variable that caps the number of threads and worker processes
THREADS_VAR = "DYNNET_NUM_THREADS"

_POSITIVE = re.compile(r"^\s*[0-9]+\s*$")


class Terminated(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM), handled like Ctrl-C.

    A subclass of :class:`KeyboardInterrupt`, so code that handles Ctrl-C
    handles it too. Raised by :func:`map_chunks` after its workers are
    terminated.

    Parameters
    ----------
    signum : int
        The signal received (``signal.SIGTERM``).

    Attributes
    ----------
    signum : int
        The signal received. A command-line program conventionally exits
        with status ``128 + signum`` (143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"dynnet: stopped by {signal.Signals(self.signum).name}; "
                         "the worker processes were terminated")


def thread_cap() -> int | None:
    """The cap set by the environment variable ``DYNNET_NUM_THREADS``, or None.

    Returns
    -------
    int or None
        The positive integer in ``DYNNET_NUM_THREADS``; None if the variable
        is unset or empty.

    Raises
    ------
    ValueError
        If the variable holds anything but a positive integer (``"abc"``,
        ``"0"``, ``"-2"``, ``"1.5"``). The message names the variable, its value
        and what is allowed.
    """
    raw = os.environ.get(THREADS_VAR)
    if raw is None or raw.strip() == "":
        return None
    if not _POSITIVE.match(raw) or int(raw) < 1:
        raise ValueError(
            f"dynnet: environment variable {THREADS_VAR}={raw!r} is not allowed; "
            f"use a positive integer (e.g. {THREADS_VAR}=4) or leave it unset")
    return int(raw)


def _check_n_jobs(n_jobs: int) -> int:
    if isinstance(n_jobs, str):
        raise TypeError(f"dynnet: parameter n_jobs={n_jobs!r} must be an integer (a positive int, "
                        "or -1 for every core), got str")
    n = check_int(None, "n_jobs", n_jobs)
    if n == 0:
        raise ValueError("dynnet: parameter n_jobs=0 is not allowed; use a positive int, "
                         "or -1 for every core (-2 for all but one, ...)")
    return n


def effective_n_jobs(n_jobs: int) -> int:
    """Number of local workers for ``n_jobs``.

    .. math::

       n = \\begin{cases} n_\\text{jobs} & n_\\text{jobs} > 0 \\\\
           \\max(1,\\ c + 1 + n_\\text{jobs}) & n_\\text{jobs} < 0 \\end{cases}

    where :math:`c` is the number of cores, capped by ``DYNNET_NUM_THREADS``
    (joblib's convention: -1 is every core, -2 all but one, ...).

    Parameters
    ----------
    n_jobs : int
        A positive number of workers, or a negative one counted from the
        number of cores. ``0``, booleans and non-integers are refused.

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    TypeError
        If ``n_jobs`` is not an int (a bool, a float, a string, None).
    ValueError
        If ``n_jobs`` is 0, or ``DYNNET_NUM_THREADS`` is not a positive integer.

    References
    ----------
    joblib, ``Parallel(n_jobs=...)``: https://joblib.readthedocs.io/
    """
    n = _check_n_jobs(n_jobs)
    cores = os.cpu_count() or 1
    cap = thread_cap()
    if cap is not None:
        cores = max(1, min(cores, cap))
    if n < 0:
        n = max(1, cores + 1 + n)
    return n


def resolve_n_jobs(n_jobs: int) -> int:
    """The number of workers a run with ``n_jobs`` gets, resolved once, where it runs.

    .. math::

       n = \\begin{cases} n_\\text{jobs} & n_\\text{jobs} > 0 \\\\
           \\max(1,\\ w + 1 + n_\\text{jobs}) & n_\\text{jobs} < 0 \\end{cases}

    where :math:`w` is the number of workers there are, counted where the chunks run.

    Under an active joblib backend other than loky (``joblib.parallel_config(backend="dask")``,
    :func:`scheduler`, ``"threading"``), ``n_jobs=-1`` means every worker of that backend, as
    the backend counts them (a dask cluster: its worker threads); otherwise the local cores
    (:func:`effective_n_jobs`, capped by ``DYNNET_NUM_THREADS``). A positive ``n_jobs`` is
    returned as it is. :meth:`dynnet.studies.base.Study.run` calls this once per run and hands
    the result on as ``RunContext.n_jobs``; :func:`map_chunks` given that number runs chunks
    where the unresolved request would have (a result of 1 runs them in the calling process).

    Parameters
    ----------
    n_jobs : int
        A positive number of workers, or a negative one counted from the workers there are
        (-1 every one, -2 all but one, ...). ``0``, booleans and non-integers are refused.

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    TypeError, ValueError
        As :func:`effective_n_jobs`.

    References
    ----------
    joblib, ``ParallelBackendBase.effective_n_jobs``: https://joblib.readthedocs.io/
    """
    n = _check_n_jobs(n_jobs)
    if n > 0:
        return n
    backend = _explicit_backend()
    if backend is None:
        return effective_n_jobs(n)
    return max(1, int(backend.effective_n_jobs(n)))


# ---------------------------------------------------------------------------
# one engine thread per task
# ---------------------------------------------------------------------------
_env_lock = threading.Lock()
_env_depth = 0
_env_saved: str | None = None


class _OneThreadEach:
    """Run ``func`` in a joblib task with the engine limited to one thread, so
    ``k`` tasks at once use ``k`` cores, not ``k`` x cores. Results do not
    depend on the thread count. Tasks running in threads of one process
    (threading backend, dask workers with several threads) share the setting;
    the last one to finish restores the variable."""

    def __init__(self, func):
        self.func = func

    def __call__(self, *args):
        global _env_depth, _env_saved
        with _env_lock:
            if _env_depth == 0:
                _env_saved = os.environ.get(THREADS_VAR)
                os.environ[THREADS_VAR] = "1"
            _env_depth += 1
        try:
            return self.func(*args)
        finally:
            with _env_lock:
                _env_depth -= 1
                if _env_depth == 0:
                    if _env_saved is None:
                        os.environ.pop(THREADS_VAR, None)
                    else:
                        os.environ[THREADS_VAR] = _env_saved


# ---------------------------------------------------------------------------
# workers die with their parent
# ---------------------------------------------------------------------------
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _parent_alive(parent_pid: int, direct: bool) -> bool:
    if direct:
        return os.getppid() == parent_pid
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(parent_pid: int, direct: bool) -> None:  # pragma: no cover - runs in workers
    import time

    while _parent_alive(parent_pid, direct):
        time.sleep(1.0)
    os._exit(1)  # ends the whole worker process, whatever its main thread is doing


def _die_with_parent(parent_pid: int, arm_pdeathsig: bool) -> None:  # pragma: no cover - in workers
    """Loky worker initializer: end this worker when ``parent_pid`` dies.

    On Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel kill the
    worker when the thread that spawned it exits; it is armed only when the
    workers were started from the main thread (so only the death of the
    process, not of a helper thread, fires it). A daemon thread also checks
    the parent once a second, which covers other platforms and other threads
    (it needs the GIL, so it acts between compiled calls).
    """
    direct = os.getppid() == parent_pid
    if direct and arm_pdeathsig and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    # the parent may have died before prctl was armed
    if direct and os.getppid() != parent_pid:
        os._exit(1)
    if not direct and not _parent_alive(parent_pid, False):
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, direct), daemon=True,
                     name="dynnet-parent-watchdog").start()


# ---------------------------------------------------------------------------
# SIGTERM like SIGINT
# ---------------------------------------------------------------------------
@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Raise :class:`Terminated` on SIGTERM inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.getsignal(signal.SIGTERM)
    if old is None or old == signal.SIG_IGN:  # not ours to restore / deliberately ignored
        yield
        return
    fired = []

    def handler(signum, frame):
        if fired:  # a second SIGTERM while cleaning up: let the cleanup finish
            return
        fired.append(signum)
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _explicit_backend():
    """The active joblib backend if the caller chose one other than loky, else None."""
    from joblib._parallel_backends import LokyBackend
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return None if isinstance(backend, LokyBackend) else backend


def map_chunks(func: Callable[..., _T], arg_tuples: Iterable[tuple], n_jobs: int = 1,
               progress: bool = False, desc: str | None = None,
               on_result: Callable[[int, _T], Any] | None = None, unit: str = "chunk") -> list[_T]:
    """``[func(*args) for args in arg_tuples]``, in order, maybe in parallel.

    Parameters
    ----------
    func : callable
        A pure function of its arguments (picklable, for worker processes).
    arg_tuples : iterable of tuple
        One tuple of arguments per chunk (consumed into a list first).
    n_jobs : int, default 1
        1 runs the chunks in this process. Otherwise, under no joblib
        configuration, ``effective_n_jobs(n_jobs)`` loky worker processes
        (-1: every core, capped by ``DYNNET_NUM_THREADS``); under an active
        joblib backend other than loky (``joblib.parallel_config(backend="dask")``,
        :func:`scheduler`), ``n_jobs`` is passed to that backend, where -1
        means every worker it has.
    progress : bool, default False
        Show a tqdm progress bar over the chunks.
    desc : str, optional
        Label of the progress bar.
    on_result : callable, optional
        ``on_result(i, value)`` is called in this process as each chunk's
        result arrives, in order, so a caller can checkpoint.
    unit : str, default "chunk"
        What the progress bar counts (``"cell"`` for a grid's cells).

    Returns
    -------
    list
        The results, in the order of ``arg_tuples``. They do not depend on
        ``n_jobs`` or the backend: each chunk is a pure function of its
        arguments.

    Raises
    ------
    Terminated
        On SIGTERM (main thread only), after the workers are terminated.
    KeyboardInterrupt
        On Ctrl-C, after the workers are terminated.

    Notes
    -----
    Any exception, from a chunk or from ``on_result``, stops submitting and
    terminates the workers before it propagates. Loky workers die with this
    process even when it is killed by SIGKILL (see the module docstring).

    References
    ----------
    joblib, ``Parallel`` and ``parallel_config``: https://joblib.readthedocs.io/
    """
    n_req = _check_n_jobs(n_jobs)
    arg_tuples = list(arg_tuples)
    bar = None
    it = None
    with _sigterm_as_interrupt():
        try:
            explicit = _explicit_backend() if n_req != 1 and arg_tuples else None
            if explicit is not None:
                from joblib import Parallel, delayed

                work = _OneThreadEach(func)
                par = Parallel(n_jobs=n_req, return_as="generator")
            else:
                n = effective_n_jobs(n_req)
                par = None
                if n > 1 and len(arg_tuples) > 1:
                    from joblib import Parallel, delayed
                    from joblib._parallel_backends import LokyBackend

                    main = threading.current_thread() is threading.main_thread()
                    work = _OneThreadEach(func)
                    backend = LokyBackend(initializer=_die_with_parent,
                                          initargs=(os.getpid(), main))
                    par = Parallel(n_jobs=n, backend=backend, return_as="generator")
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(arg_tuples), desc=desc, unit=unit)
            if par is None:
                it = (func(*a) for a in arg_tuples)
            else:
                it = par(delayed(work)(*a) for a in arg_tuples)
            out = []
            for i, value in enumerate(it):
                out.append(value)
                if on_result is not None:
                    on_result(i, value)
                if bar is not None:
                    bar.update(1)
            return out
        finally:
            if it is not None:
                import warnings

                with warnings.catch_warnings():  # joblib warns that unfinished tasks were dropped
                    warnings.simplefilter("ignore")
                    it.close()  # stops submitting and kills the workers if not finished
            if bar is not None:
                bar.close()


@contextlib.contextmanager
def scheduler(address: str, timeout: float = 10.0) -> Iterator[Client]:
    """Run :func:`map_chunks` (and so every study) on a dask cluster inside the block.

    Connects a :class:`distributed.Client` to the scheduler at ``address`` and
    activates ``joblib.parallel_config(backend="dask")`` with it. Inside the
    block, a study run with ``n_jobs=-1`` sends its chunks to every worker
    of the cluster (``n_jobs=1`` still runs them locally). The client is
    closed on exit; the cluster keeps running.

    Parameters
    ----------
    address : str
        The scheduler's address, e.g. ``"tcp://10.0.0.5:8786"``, as printed by
        ``dask scheduler`` (or a cluster's ``scheduler_address``).
    timeout : float, default 10.0
        Seconds to wait for the connection before giving up.

    Yields
    ------
    distributed.Client
        The connected client.

    Raises
    ------
    ImportError
        If ``distributed`` is not installed (``pip install "dask[distributed]"``).
    ValueError
        If ``address`` is not a non-empty string or ``timeout`` is not positive.
    ConnectionError
        If the scheduler cannot be reached, or does not answer dask's handshake,
        within ``timeout`` seconds (a port that accepts but never answers, or a
        server that is not a dask scheduler, included).

    Examples
    --------
    >>> from dynnet.parallel import scheduler
    >>> with scheduler("tcp://10.0.0.5:8786"):  # doctest: +SKIP
    ...     study.run(n_jobs=-1)

    References
    ----------
    Dask.distributed, https://distributed.dask.org/ ; joblib's dask backend,
    https://joblib.readthedocs.io/en/stable/parallel.html
    """
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"dynnet: parameter address={address!r} is not allowed; give the dask "
                         "scheduler's address as a string, e.g. 'tcp://host:8786'")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"dynnet: parameter timeout={timeout!r} is not allowed; "
                         "give a positive number of seconds")
    import re

    if not re.fullmatch(r"((tcp|tls|ucx|ws|wss|inproc)://)?[\w.\-\[\]:]+:\d+/?", address.strip()):
        raise ValueError(f"dynnet: scheduler address {address!r} is not an address; give it as "
                         "'tcp://host:port' (the dask scheduler prints it when it starts)")
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError("dynnet: a dask scheduler needs the 'distributed' package; install it "
                          "with: pip install \"dask[distributed]\"") from exc
    import joblib

    address = address.strip()
    _probe_scheduler(address, float(timeout))  # distributed's own handshake read has no deadline
    try:
        client = Client(address, timeout=float(timeout), set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - any failure to connect becomes one line
        _quiet_failed_clients()
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ConnectionError(f"dynnet: cannot connect to the dask scheduler at {address!r} within "
                              f"{timeout:g} s: {detail}") from exc
    try:
        with joblib.parallel_config(backend="dask", client=client):
            yield client
    finally:
        client.close()


def _probe_scheduler(address: str, timeout: float) -> None:
    """Open one comm to ``address`` and complete dask's handshake within ``timeout`` seconds, in a
    thread with its own event loop; raise ConnectionError otherwise.

    ``distributed.Client`` waits for the scheduler's handshake without a deadline, so a port
    that accepts but never answers would hang it; and a server that is not a dask scheduler
    answers bytes that dask reads as frame lengths (an "Unable to allocate ... EiB" error)."""
    import asyncio

    from distributed.comm import connect

    outcome: list = []

    async def handshake():
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    def target():
        try:
            asyncio.run(handshake())
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=target, name="dynnet-scheduler-probe", daemon=True)
    worker.start()
    worker.join(timeout + 2.0)  # the probe's own deadline ends it first; this is a last guard
    if outcome and outcome[0] is None:
        return
    if not outcome or isinstance(outcome[0], (asyncio.TimeoutError, TimeoutError)):
        raise ConnectionError(f"dynnet: cannot connect to the dask scheduler at {address!r} within "
                              f"{timeout:g} s: no answer to dask's handshake (is a dask scheduler "
                              "running there?)")
    exc = outcome[0]
    if isinstance(exc, OSError):
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ConnectionError(f"dynnet: cannot connect to the dask scheduler at {address!r} within "
                              f"{timeout:g} s: {detail}") from None
    raise ConnectionError(f"dynnet: cannot connect to the dask scheduler at {address!r} within "
                          f"{timeout:g} s: the server there did not answer as a dask scheduler "
                          f"({type(exc).__name__}); check the address and port") from None


def _quiet_failed_clients() -> None:
    """A Client whose construction failed is closed again by its ``__del__`` later, which prints
    a second traceback after the one-line error; drop those (and only those)."""
    if getattr(sys.unraisablehook, "_dynnet", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable):
        obj = getattr(unraisable, "object", None)
        if getattr(obj, "__qualname__", "") == "Client.__del__" and \
                getattr(obj, "__module__", "").startswith("distributed"):
            return
        previous(unraisable)

    hook._dynnet = True
    sys.unraisablehook = hook
