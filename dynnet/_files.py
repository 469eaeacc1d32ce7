"""Writing files safely: a temporary file in the same folder, then os.replace."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write"]


def atomic_write(path: Path, write: Callable[[BinaryIO], object], *, prefix: str = ".",
                 fsync: bool = True, before_replace: Callable[[], None] | None = None) -> None:
    """Write ``path`` through a temporary file in its folder, replaced into place when complete.

    Parameters
    ----------
    path : Path
        The file to write.
    write : callable
        ``write(fh)`` writes the content to the open binary file ``fh``.
    prefix : str, default "."
        Start of the temporary file's name (it ends with ``.part``).
    fsync : bool, default True
        Flush the data to disk before the replace.
    before_replace : callable or None, default None
        Called just before :func:`os.replace` (a last check that may raise).

    Notes
    -----
    On any failure, including ``KeyboardInterrupt``, the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=prefix, suffix=".part")
    try:
        mask = os.umask(0)  # mkstemp makes 0600; a result file gets the mode any new file would
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
