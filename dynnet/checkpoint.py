"""Checkpoints: finished chunks of a long run, on disk, so a killed run can resume.

A checkpoint is a folder that dynnet owns. It holds

* ``.dynnet-checkpoint``: the marker, JSON with the run's fingerprint (a hash of
  the parameters and the seed entropy, everything that determines the numbers);
* ``.dynnet-checkpoint.lock``: held with an exclusive :func:`fcntl.flock` for as
  long as a run uses the folder, so a second run on the same folder fails at once
  (a file of that name that dynnet did not make is used as the lock but never
  removed);
* ``chunk-KEY-A-B.npz``: one file per finished chunk, written atomically (a
  temporary file in the same folder, then :func:`os.replace`), each carrying the
  fingerprint and read back only if it matches (``allow_pickle=False``).

Ownership rules (a user's files are never touched):

* a folder that exists without the marker is used only if it is empty;
  a non-empty one is refused;
* finished chunks are never discarded silently: a new run (``resume=False``) on
  a folder that holds finished chunks is refused (``resume=True`` continues it;
  :func:`discard` removes them to start afresh);
* a run with ``keep=True`` (the command line's, and ``Study.run(...,
  keep_checkpoint=True)``) keeps its chunks when it finishes; they are removed
  by :meth:`Checkpoint.remove` once the result file is written, flushed to disk
  and renamed into place (``Study.save`` does it), so a failed save loses nothing;
* dynnet removes only the files it recognises (the marker, a lock it made and its
  chunk files), and the folder itself only if it made the folder and the folder
  is then empty.

Results are per initial condition and do not depend on chunking, so a resumed
run is bitwise identical to an uninterrupted one, whatever the chunk size or
number of jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from ._files import atomic_write

__all__ = ["Checkpoint", "CheckpointError", "discard", "finished_chunks"]

MARKER = ".dynnet-checkpoint"
LOCK = ".dynnet-checkpoint.lock"
_CHUNK = re.compile(r"^chunk-[A-Za-z0-9_.=+-]*-\d{7}-\d{7}\.npz$")
_TMP = re.compile(r"^\.(chunk|marker)-.*\.part$")


class CheckpointError(RuntimeError):
    """A checkpoint folder that cannot be used (someone else's, in use, or of another run)."""


class Checkpoint:
    """The checkpoint folder of one run; use as a context manager.

    Parameters
    ----------
    path : str or Path
        The folder. It may not exist yet (dynnet creates it), or be empty, or be
        a checkpoint folder that dynnet made.
    fingerprint : str
        Text that determines the run's numbers (its parameters and seed); chunks
        written under another fingerprint are never used.
    resume : bool
        True: keep and use the finished chunks of this run (a folder with no
        chunk yet simply starts). False: start afresh; a folder that already
        holds finished chunks is refused (nothing is deleted).
    keep : bool, default False
        When the run finishes, keep its chunks (release the lock only) instead of
        removing them; :meth:`remove` removes them once the result is safely on disk.

    Attributes
    ----------
    kept : bool
        True after a finished run whose chunks were kept (``keep``).

    Raises
    ------
    CheckpointError
        The path is a file, a non-empty folder that dynnet did not make, a
        folder in use by another run, a folder with finished chunks (without
        ``resume``), or (with ``resume``) the checkpoint of a run with other
        parameters.
    """

    def __init__(self, path: Path | str, fingerprint: str, resume: bool, keep: bool = False) -> None:
        self.path = Path(path)
        self.fingerprint = hashlib.sha256(fingerprint.encode()).hexdigest()
        self.resume = bool(resume)
        self.keep = bool(keep)
        self.kept = False
        self._lock_fd = None
        self._created = False
        self._own_lock = True

    # -- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> Checkpoint:
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # a failed run keeps its chunks (that is what resume is for); so does a finished one with
        # ``keep`` (until its result is on disk: remove()); any other finished one, or one that
        # failed before any chunk was written, cleans up
        has_chunks = self._has_chunks()
        self.kept = exc_type is None and self.keep and has_chunks
        self.close(finished=not has_chunks or (exc_type is None and not self.keep))

    def _has_chunks(self) -> bool:
        try:
            return any(_CHUNK.match(e.name) for e in os.scandir(self.path))
        except OSError:
            return False

    def open(self) -> None:
        """Claim the folder: check ownership, take the lock, write the marker.

        Raises
        ------
        CheckpointError
            The folder is not dynnet's, is in use, or (with ``resume``) belongs
            to another run.
        """
        p = self.path
        if p.exists() and not p.is_dir():
            raise CheckpointError(f"checkpoint {p} exists and is not a folder")
        if p.is_symlink():
            raise CheckpointError(f"checkpoint {p} is a symbolic link; give a real folder")
        marker = p / MARKER
        lock_existed = (p / LOCK).exists()
        if p.exists():
            if not marker.exists() and any(e.name != LOCK for e in os.scandir(p)):
                raise CheckpointError(
                    f"checkpoint folder {p} is not empty and was not made by dynnet (no {MARKER} "
                    "marker); dynnet never writes into or deletes a folder it does not own: give a "
                    "new or empty folder"
                )
        else:
            if not p.parent.is_dir():
                raise CheckpointError(f"cannot make checkpoint {p}: folder {p.parent} does not exist")
            p.mkdir()
            self._created = True
        self._lock()
        meta = _read_marker(marker)
        # the lock file is dynnet's if this run made it, or if the marker of an earlier run says so
        self._own_lock = not lock_existed or (bool(meta) and bool(meta.get("own_lock", True)))
        if marker.exists():
            old = meta.get("fingerprint")
            n = finished_chunks(p)
            if self.resume and old != self.fingerprint and n:
                self._unlock()
                raise CheckpointError(
                    f"checkpoint {p} belongs to a run with other parameters or another seed; "
                    "give another checkpoint folder; dynnet.checkpoint.discard(path) starts afresh"
                )
            if not self.resume and n:
                self._unlock()
                whose = ("this run" if old == self.fingerprint
                         else "a run with other parameters or another seed")
                raise CheckpointError(
                    f"checkpoint {p} holds {n} finished chunk(s) of {whose}; nothing was deleted: "
                    "resume=True continues it, dynnet.checkpoint.discard(path) starts afresh"
                )
            if old == self.fingerprint and meta.get("created", False):
                self._created = True  # a folder dynnet made in an earlier, interrupted run
        self._remove_chunks(finished_too=False)  # torn temporary files of an earlier run only
        _atomic_write(marker, json.dumps({"fingerprint": self.fingerprint, "format": 1,
                                          "created": self._created, "own_lock": self._own_lock}).encode())

    def close(self, finished: bool) -> None:
        """Release the lock; if ``finished``, remove dynnet's files (and its own folder).

        Parameters
        ----------
        finished : bool
            True when the run completed (its result is in memory): the chunk
            files, the marker and the lock go, and the folder too if dynnet made
            it and nothing else is in it. False keeps the chunks for a resume.
        """
        try:
            if finished:
                self._remove_chunks()
                for name in (MARKER, LOCK) if self._own_lock else (MARKER,):
                    try:
                        (self.path / name).unlink()
                    except FileNotFoundError:
                        pass
        finally:
            self._unlock()
        if finished and self._created:
            try:
                self.path.rmdir()  # only if empty: a file the user put there stays, with its folder
            except OSError:
                pass

    def remove(self) -> bool:
        """Remove the chunks a finished run kept (``keep``), now that its result is on disk.

        Takes the lock again and removes dynnet's files only if the folder still
        holds this run's marker (another run may have claimed it since).

        Returns
        -------
        bool
            True if the checkpoint was removed; False if it was gone, in use by
            another run, or another run's.
        """
        if not self.path.is_dir() or self.path.is_symlink():
            return False
        try:
            self._lock()
        except (CheckpointError, OSError):
            return False
        meta = _read_marker(self.path / MARKER)
        if meta.get("fingerprint") != self.fingerprint:
            self._unlock()
            return False
        self._created = bool(meta.get("created", False))
        self._own_lock = bool(meta.get("own_lock", True))
        self.close(finished=True)
        self.kept = False
        return True

    def _lock(self) -> None:
        import fcntl

        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise CheckpointError(
                f"checkpoint {self.path} is in use by another dynnet run (it holds the lock); "
                "wait for it to finish or give another output"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            import fcntl

            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _remove_chunks(self, finished_too: bool = True) -> None:
        for e in os.scandir(self.path):
            if e.is_file(follow_symlinks=False) and ((finished_too and _CHUNK.match(e.name))
                                                     or _TMP.match(e.name)):
                os.unlink(e.path)

    # -- chunks -------------------------------------------------------------------------------
    def load(self, key: str = "") -> dict[int, dict[str, np.ndarray]]:
        """Finished results of this run under ``key``, per initial-condition index.

        A chunk file that is torn, unreadable or of another run is ignored
        (its initial conditions run again).

        Parameters
        ----------
        key : str, default ""
            The part of the run (for example ``"eps-003"``); letters, digits and ``_.=+-``.

        Returns
        -------
        dict
            Initial-condition index to ``{array name: array}``.
        """
        out: dict[int, dict[str, np.ndarray]] = {}
        for f in sorted(self.path.glob(f"chunk-{_safe(key)}-*.npz")):
            if not _CHUNK.match(f.name):
                continue
            try:
                with np.load(f, allow_pickle=False) as z:
                    data = {k: z[k] for k in z.files}
            except (OSError, ValueError, EOFError):
                continue
            fp = data.pop("__fingerprint__", None)
            if fp is None or str(fp) != self.fingerprint or "__index__" not in data:
                continue
            idx = data.pop("__index__")
            try:
                for j, i in enumerate(idx):
                    out[int(i)] = {k: v[j] for k, v in data.items()}
            except (IndexError, TypeError, ValueError):
                continue
        return out

    def save(self, key: str, index: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
        """Store one finished chunk, atomically, with the run's fingerprint.

        Parameters
        ----------
        key : str
            The part of the run, as for :meth:`load`.
        index : array of int
            The chunk's initial-condition indices.
        arrays : dict of str to numpy.ndarray
            The chunk's results, initial conditions on axis 0.
        """
        index = np.asarray(index)
        name = self.path / f"chunk-{_safe(key)}-{int(index[0]):07d}-{int(index[-1]):07d}.npz"
        atomic_write(name, lambda fh: np.savez(fh, __index__=index,
                                               __fingerprint__=np.array(self.fingerprint), **arrays),
                     prefix=".chunk-")
        _fault_injection(self.path)


def _safe(key: str) -> str:
    key = str(key) or "run"
    if not re.fullmatch(r"[A-Za-z0-9_.=+-]+", key):
        raise ValueError(f"checkpoint key {key!r} must be letters, digits or _.=+-")
    return key


def _read_marker(marker: Path) -> dict:
    """The marker's JSON ({} if missing or unreadable)."""
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def finished_chunks(path: Path | str) -> int:
    """The number of finished chunk files in a checkpoint folder dynnet made (0 for any other path).

    Parameters
    ----------
    path : str or Path
        The checkpoint folder.

    Returns
    -------
    int
    """
    p = Path(path)
    if p.is_symlink() or not (p / MARKER).is_file():
        return 0
    try:
        return sum(1 for e in os.scandir(p) if _CHUNK.match(e.name) and e.is_file(follow_symlinks=False))
    except OSError:
        return 0


def discard(path: Path | str) -> int:
    """Remove the finished chunks of a checkpoint folder dynnet made, to start a run afresh.

    Only dynnet's files go (its chunks, the marker, a lock it made), and the
    folder if dynnet made it and it is then empty; a folder without dynnet's
    marker is left alone.

    Parameters
    ----------
    path : str or Path
        The checkpoint folder (``OUT.ckpt`` for ``dynnet run --out OUT``).

    Returns
    -------
    int
        The number of chunk files removed.

    Raises
    ------
    CheckpointError
        The folder is in use by another run.
    """
    p = Path(path)
    n = finished_chunks(p)
    if not (p / MARKER).is_file() or p.is_symlink():
        return 0
    meta = _read_marker(p / MARKER)
    ck = Checkpoint(p, "", resume=True)
    ck._lock()
    ck._created = bool(meta.get("created", False))
    ck._own_lock = bool(meta.get("own_lock", True))
    ck.close(finished=True)
    return n


def _atomic_write(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data), prefix=".marker-", fsync=False)


def _fault_injection(path: Path) -> None:
    """Test hook: ``DYNNET_TEST_EXIT_AFTER_CHUNKS=k`` ends the process hard (``os._exit``)
    right after the k-th chunk file of a run is on disk, as a ``kill -9`` would; the
    tests of resume use it instead of timing."""
    k = os.environ.get("DYNNET_TEST_EXIT_AFTER_CHUNKS")
    if not k:
        return
    n = sum(1 for f in path.glob("chunk-*.npz") if _CHUNK.match(f.name))
    if n >= int(k):
        os._exit(137)
