"""Writing files safely: a temporary file in the same folder, then os.replace.

Every file dynnet writes (result files, checkpoint chunks, tables, figures) goes
through :func:`atomic_write`: the data go to a new temporary file made with
``O_EXCL`` in the target's folder, are flushed to disk, and the temporary file is
then renamed over the target with :func:`os.replace`, which replaces a symbolic
link itself and never writes through it. :func:`save_figure` is the same for a
matplotlib figure, and :func:`real_folder` makes (or accepts) a folder that is not a
symbolic link, for the folders dynnet creates inside an output folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "save_figure", "real_folder", "check_output_path"]


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
        Flush the data to disk before the replace, and the folder's entry after it, so
        that the file is durable when this returns.
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
    if fsync:
        _fsync_folder(path.parent if str(path.parent) else Path("."))


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename of a file into it) to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a folder that cannot be opened for reading
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that do not sync folders
        pass
    finally:
        os.close(fd)


def real_folder(path: Path | str) -> Path:
    """Make the folder ``path`` (its parent must exist), or accept it if it is already a real folder.

    Parameters
    ----------
    path : str or Path
        The folder.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FileExistsError
        Something other than a folder is there, or a symbolic link (dynnet never
        writes into a folder through a link it did not make).
    """
    path = Path(path)
    if path.is_symlink():
        raise FileExistsError(f"{path} is a symbolic link; dynnet writes only into real folders it "
                              "can see (give another output folder, or remove the link)")
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder")
    path.mkdir(exist_ok=True)
    return path


def save_figure(fig, path: Path | str, *, overwrite: bool = False, dpi: int = 100) -> Path:
    """Write a matplotlib figure as PNG through :func:`atomic_write`.

    The path is checked as a result file's is (see
    :func:`check_output_path`): a symbolic link, a folder or another
    non-regular file there is always refused, an existing file unless ``overwrite``;
    the check is repeated just before the replace.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or Path
        The PNG file.
    overwrite : bool, default False
        Replace an existing regular file.
    dpi : int, default 100
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    path = check_output_path(path, overwrite=overwrite)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=dpi), prefix=f".{path.name}.",
                 before_replace=lambda: check_output_path(path, overwrite=overwrite))
    return path


def _as_path(path) -> Path:
    """A path given as str, bytes (decoded as the file system does) or os.PathLike."""
    if isinstance(path, (bytes, bytearray)):
        return Path(os.fsdecode(bytes(path)))
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"a path must be a str, bytes or os.PathLike, got {type(path).__name__} {path!r}")
    try:
        return Path(os.fsdecode(os.fspath(path)))
    except TypeError as exc:  # an os.PathLike whose __fspath__ returns something else
        raise TypeError(f"a path must be a str, bytes or os.PathLike: {exc}") from None


def check_output_path(path: Path | str, overwrite: bool = False) -> Path:
    """Decide, before any computing, whether a result may be written to ``path``.

    dynnet writes only regular files: a folder, a device, a fifo or a symbolic
    link at ``path`` is always refused, and an existing file only with
    ``overwrite=True``. The folder must exist.

    Parameters
    ----------
    path : str or Path
    overwrite : bool, default False

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        A file is there and ``overwrite`` is False, or something other than a
        regular file is there.
    FileNotFoundError
        The folder of ``path`` does not exist.
    """
    p = _as_path(path)
    if p.is_symlink():
        raise FileExistsError(f"{p} is a symbolic link; dynnet writes results only to regular files")
    if p.exists():
        if not p.is_file():
            kind = "a folder" if p.is_dir() else "not a regular file (a device, fifo or socket)"
            raise FileExistsError(f"{p} is {kind}; dynnet writes results only to regular files")
        if not overwrite:
            raise FileExistsError(f"{p} exists; give another path, or overwrite=True to replace it")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"cannot write {p}: folder {parent} is not writable")
    return p
