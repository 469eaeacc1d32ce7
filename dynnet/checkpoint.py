"""Checkpoints: finished chunks of a long run, on disk, so a killed run can resume.

A checkpoint is a directory holding ``meta.json`` (a fingerprint of the
parameters that determine the numbers) and one ``.npz`` file per finished
chunk, each written atomically (to a temporary name, then renamed). Loading
uses ``allow_pickle=False``. Results are per initial condition and do not
depend on chunking, so a resumed run is bitwise identical to an uninterrupted
one even with a different chunk size or number of jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

__all__ = ["Checkpoint"]


class Checkpoint:
    """Finished chunks of one run, keyed by a fingerprint of its parameters."""

    def __init__(self, path, fingerprint: str, resume: bool):
        self.path = Path(path)
        self.fingerprint = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
        meta = self.path / "meta.json"
        if self.path.exists() and not resume:
            shutil.rmtree(self.path)
        if self.path.exists() and meta.exists():
            old = json.loads(meta.read_text()).get("fingerprint")
            if old != self.fingerprint:
                raise ValueError(
                    f"checkpoint {self.path} belongs to a run with other parameters; "
                    "remove it or run without resume"
                )
        self.path.mkdir(parents=True, exist_ok=True)
        if not meta.exists():
            _atomic_write(meta, json.dumps({"fingerprint": self.fingerprint}).encode())

    def load(self) -> dict[int, dict[str, np.ndarray]]:
        """Finished results per initial-condition index."""
        out: dict[int, dict[str, np.ndarray]] = {}
        for f in sorted(self.path.glob("chunk-*.npz")):
            try:
                with np.load(f, allow_pickle=False) as z:
                    data = {k: z[k] for k in z.files}
            except (OSError, ValueError):  # a torn file: that chunk runs again
                continue
            idx = data.pop("__index__")
            for j, i in enumerate(idx):
                out[int(i)] = {k: v[j] for k, v in data.items()}
        return out

    def save(self, index: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
        """Store one finished chunk; ``arrays`` have the chunk's inits on axis 0."""
        name = self.path / f"chunk-{int(index[0]):07d}-{int(index[-1]):07d}.npz"
        tmp = name.with_name(name.name + ".part")
        with open(tmp, "wb") as fh:
            np.savez(fh, __index__=np.asarray(index), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, name)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
