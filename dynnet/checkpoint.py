"""Checkpoints: finished chunks of a long run, on disk, so a killed run can resume.

A checkpoint is a folder that dynnet owns. It holds

* ``.dynnet-checkpoint``: the marker, JSON with the run's fingerprint (a hash of
  the parameters and the seed entropy, everything that determines the numbers);
* ``.dynnet-checkpoint.lock``: held with an exclusive :func:`fcntl.flock` for as
  long as a run uses the folder, so a second run on the same folder fails at once;
* ``chunk-KEY-A-B.npz``: one file per finished chunk, written atomically (a
  temporary file in the same folder, then :func:`os.replace`), each carrying the
  fingerprint and read back only if it matches (``allow_pickle=False``).

Ownership rules (a user's files are never touched):

* a folder that exists without the marker is used only if it is empty;
  a non-empty one is refused;
* at the end of a run dynnet removes only the files it recognises (the marker,
  the lock and its chunk files), and the folder itself only if it made the
  folder and the folder is then empty.

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

__all__ = ["Checkpoint", "CheckpointError"]

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
        True: keep and use the finished chunks of this run. False: start afresh
        (dynnet's own chunk files are removed; nothing else is touched).

    Raises
    ------
    CheckpointError
        The path is a file, a non-empty folder that dynnet did not make, a
        folder in use by another run, or (with ``resume``) the checkpoint of a
        run with other parameters.
    """

    def __init__(self, path: Path | str, fingerprint: str, resume: bool) -> None:
        self.path = Path(path)
        self.fingerprint = hashlib.sha256(fingerprint.encode()).hexdigest()
        self.resume = bool(resume)
        self._lock_fd = None
        self._created = False

    # -- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> Checkpoint:
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # a failed run keeps its chunks (that is what resume is for); a finished one, or one
        # that failed before any chunk was written, cleans up
        self.close(finished=exc_type is None or not self._has_chunks())

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
        if marker.exists():
            try:
                old = json.loads(marker.read_text()).get("fingerprint")
            except (OSError, ValueError, AttributeError):
                old = None
            if self.resume and old != self.fingerprint:
                self._unlock()
                raise CheckpointError(
                    f"checkpoint {p} belongs to a run with other parameters or another seed; "
                    "run without resume to start afresh, or give another checkpoint folder"
                )
            if old == self.fingerprint and _read_created(marker):
                self._created = True  # a folder dynnet made in an earlier, interrupted run
        if not self.resume:
            self._remove_chunks()
        _atomic_write(marker, json.dumps({"fingerprint": self.fingerprint, "format": 1,
                                          "created": self._created}).encode())

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
                for name in (MARKER, LOCK):
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

    def _remove_chunks(self) -> None:
        for e in os.scandir(self.path):
            if e.is_file(follow_symlinks=False) and (_CHUNK.match(e.name) or _TMP.match(e.name)):
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


def _read_created(marker: Path) -> bool:
    try:
        return bool(json.loads(marker.read_text()).get("created", False))
    except (OSError, ValueError, AttributeError):
        return False


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
