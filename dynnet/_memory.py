"""Memory facts every layer may ask for: what is available, and the error of a run that does not fit.

Kept at the bottom of the house: the datasets (checking a network's size when a map
builds its problem) and the studies (the memory estimate before a run) both use it.
"""

from __future__ import annotations

import os

__all__ = ["MemoryBudgetError", "available_memory"]


class MemoryBudgetError(MemoryError):
    """A run whose estimated memory does not fit the budget; raised before anything is allocated."""


def available_memory() -> int:
    """Bytes of memory available to a new allocation (``MemAvailable`` on Linux)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - other platforms
        return 2**34


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"  # pragma: no cover
