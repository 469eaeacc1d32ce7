"""The format of dynnet's tables of numbers (``dynnet reproduce``'s headline and answers tables).

One row per number: a stable ``key``, the ``quantity`` in words, the number as printed
(``dynnet``) and in full (``value``), the paper's statement, the ``rule`` of the verdict,
the ``verdict`` and a ``note``. Written as CSV, atomically.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

FIELDS = ["key", "quantity", "dynnet", "value", "paper", "rule", "verdict", "note"]


def _fmt(value, fmt: str) -> str:
    if isinstance(value, str):
        return value
    if not np.isfinite(value):
        return "nan"
    return format(value, fmt)


def open_question_row(key: str, quantity: str, value, fmt: str, rule: str = "no verdict: a measurement",
                      verdict: str = "n/a", note: str = "") -> dict:
    """One row of the open questions' table (:data:`dynnet.reproduce.FIELDS`): ``value`` shown
    with ``fmt`` and kept in full (``repr``; a string as it is), the paper's column saying that
    the paper leaves the question open."""
    return {"key": key, "quantity": quantity, "dynnet": _fmt(value, fmt),
            "value": value if isinstance(value, str) else repr(float(value)),
            "paper": "(an open question of the paper)", "rule": rule, "verdict": verdict, "note": note}


def write_csv(path: Path | str, rows: list[dict], overwrite: bool = False) -> None:
    """Write the headline rows as CSV (columns :data:`FIELDS`), atomically.

    Parameters
    ----------
    path : str or Path
    rows : list of dict
    overwrite : bool, default False
        Replace an existing file.
    """
    import io

    from ._files import atomic_write
    from .results import check_output_path

    path = check_output_path(path, overwrite=overwrite)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    data = buf.getvalue().encode()
    atomic_write(path, lambda fh: fh.write(data), fsync=False)


def read_csv(path: Path | str) -> dict[str, dict]:
    """The rows of a headline CSV, by key.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
    """
    with open(path, newline="") as fh:
        return {r["key"]: r for r in csv.DictReader(fh)}


