"""Where numba caches dynnet's compiled kernels, with a fallback when nowhere is writable.

dynnet's kernels are compiled with ``cache=True``. numba looks for a cache folder
when a kernel is *defined* (at ``import dynnet``): next to the source file
(``__pycache__``), or in the user's cache folder under ``HOME``. With a read-only
installation and no writable ``HOME`` it finds none and the import itself fails
("cannot cache function ...: no locator available"). :func:`ensure_cache` checks
that before the kernels are defined and, where no folder would do, points numba at
a fresh temporary folder for this process (and its workers): the kernels then
compile as usual but are not kept between runs, and one line says so.

:func:`check_threads` does the same for ``NUMBA_NUM_THREADS``: numba refuses a value
below 1 with a traceback at its own import; dynnet ignores such a value, with one
line, before numba reads it.

:func:`compile_notice` says, once per process and only while it happens, that the
engine is being compiled: the first run on a machine compiles the SIMD kernels
(a minute or two on 2 cores), and without a word that looks like a hang.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

__all__ = ["ensure_cache", "check_threads", "compile_notice"]

#: seconds a first kernel call may take before the compile notice is printed (loading a
#: cached kernel takes well under this; compiling one takes a minute or more)
NOTICE_DELAY = 3.0
#: no notice at all (``dynnet ... --quiet`` sets it)
QUIET = False
_notice = {"shown": False}
_NOTICE = ("dynnet: compiling the engine for this machine (once: later runs load it from numba's cache); "
           "this takes a minute or two")


@contextlib.contextmanager
def compile_notice(dispatcher, delay: float | None = None, file=None):
    """Print one line if a first call of the numba ``dispatcher`` is still running after ``delay`` s.

    Nothing is printed when the dispatcher already holds a compiled signature in
    this process, when the notice was shown before, with :data:`QUIET`, or when the
    call ends first (a kernel loaded from the cache).

    Parameters
    ----------
    dispatcher : numba dispatcher
        The kernel about to be called (its ``signatures`` tell whether it is ready).
    delay : float, optional
        Seconds before the line; :data:`NOTICE_DELAY` by default.
    file : file object, optional
        Where the line goes; ``sys.stderr`` by default.

    Yields
    ------
    None
        The block runs the call.
    """
    if QUIET or _notice["shown"] or getattr(dispatcher, "signatures", ()):
        yield
        return

    def say():
        if not _notice["shown"]:
            _notice["shown"] = True
            print(_NOTICE, file=sys.stderr if file is None else file, flush=True)

    timer = threading.Timer(NOTICE_DELAY if delay is None else delay, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()

#: the source files that define kernels with ``cache=True`` (their folders are where numba looks)
KERNEL_FILES = ("maps/_gd_engine.py", "maps/_gd_simd.py", "maps/_gd_blas.py", "estimators/timeseries.py",
                "estimators/graphs.py")


def _probe() -> None:  # pragma: no cover - never called; its code object stands for a kernel
    pass


def _has_location(source: str) -> bool:
    """Whether one of numba's cache locators accepts a kernel defined in ``source``."""
    from numba.core import caching

    for cls in caching.CacheImpl._locator_classes:
        try:
            if cls.from_function(_probe, source) is not None:
                return True
        except (OSError, RuntimeError, ValueError):
            continue
    return False


def check_threads() -> bool:
    """Ignore (unset, with one line) a ``NUMBA_NUM_THREADS`` that is not a positive integer.

    Returns
    -------
    bool
        True if the variable was unset.
    """
    text = os.environ.get("NUMBA_NUM_THREADS")
    if text is None:
        return False
    try:
        ok = int(text.strip()) >= 1
    except ValueError:
        ok = False
    if ok:
        return False
    del os.environ["NUMBA_NUM_THREADS"]
    print(f"dynnet: NUMBA_NUM_THREADS={text!r} is not a positive number of threads; ignoring it "
          "(numba uses every core; set it to 1 or more, or unset it)", file=sys.stderr)
    return True


def ensure_cache() -> str | None:
    """Make sure numba can cache dynnet's kernels; otherwise use a temporary cache folder.

    Nothing is changed when ``NUMBA_CACHE_DIR`` or ``NUMBA_CACHE_LOCATOR_CLASSES``
    is set (the user chose), or when numba finds a writable folder by itself.

    Returns
    -------
    str or None
        The temporary cache folder now in use, or None if nothing was changed.
    """
    if os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("NUMBA_CACHE_LOCATOR_CLASSES"):
        return None
    try:
        from numba.core import caching, config
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    if not hasattr(caching, "CacheImpl") or not hasattr(caching.CacheImpl, "_locator_classes"):
        return None  # pragma: no cover - a numba whose cache internals differ: leave it alone
    here = Path(__file__).resolve().parent
    sources = [str(here / f) for f in KERNEL_FILES if (here / f).exists()]
    if all(_has_location(s) for s in sources):
        return None
    import tempfile

    try:
        folder = tempfile.mkdtemp(prefix="dynnet-numba-cache-")
    except OSError:  # pragma: no cover - no writable temporary folder either
        return None
    import atexit
    import shutil

    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # "for this run only"
    config.CACHE_DIR = folder
    os.environ["NUMBA_CACHE_DIR"] = folder  # worker processes read it when they import numba
    print(f"dynnet: no writable folder for numba's cache (the installation and HOME are read-only); "
          f"compiled kernels are kept in {folder} for this run only (set NUMBA_CACHE_DIR to a "
          "writable folder to keep them)", file=sys.stderr)
    return folder


if "numba" not in sys.modules:  # numba reads NUMBA_NUM_THREADS when it is first imported
    check_threads()
ensure_cache()  # on import, from dynnet/__init__.py, before any kernel is defined
