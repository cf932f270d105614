"""A run's CSV log, shared by SR training and the GAN lab's trainer: one row per step, resumable.

A resumed run first drops the rows after its checkpoint's step (a crashed run may have logged
steps it will now train again), so every step appears once. Rows are written as they come and
flushed, so a run's curves can be read while it trains.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

Row = Mapping[str, float | int | str]


def rows_up_to(path: Path, step: int) -> tuple[list[str] | None, list[dict[str, str]]]:
    """(header, rows with ``step`` <= ``step``) of a run's CSV; (None, []) when it does not exist."""
    if not path.is_file():
        return None, []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return (list(reader.fieldnames) if reader.fieldnames else None), [
            row for row in reader if int(row["step"]) <= step
        ]


def formatted(value: float | int | str) -> float | int | str:
    """Floats with 7 significant digits (float32 precision): the CSV stays readable and exact enough."""
    return f"{value:.7g}" if isinstance(value, float) else value


class RunLog:
    """One CSV of a run (``metrics.csv`` ...), cut back to ``resume_step`` and appended to row by row.

    ``columns`` fixes the header up front; without it the first row's keys (or the kept file's header) do.
    Keys of a row that are not columns are ignored.
    """

    def __init__(self, path: Path, resume_step: int, columns: Sequence[str] | None = None) -> None:
        header, kept = rows_up_to(path, resume_step) if resume_step else (None, [])
        self._handle: IO[str] = open(path, "w", newline="")
        self._writer: csv.DictWriter[str] | None = None
        fieldnames = list(columns) if columns is not None else header
        if fieldnames:
            self._start(fieldnames)
            self._writer_of_started().writerows(kept)
            self._handle.flush()

    def _start(self, fieldnames: list[str]) -> None:
        self._writer = csv.DictWriter(self._handle, fieldnames=fieldnames, extrasaction="ignore")
        self._writer.writeheader()

    def _writer_of_started(self) -> csv.DictWriter[str]:
        assert self._writer is not None, "the header is written before any row"
        return self._writer

    def append(self, row: Row) -> None:
        """Write one step's row."""
        if self._writer is None:
            self._start(list(row))
        self._writer_of_started().writerow({key: formatted(value) for key, value in row.items()})
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
