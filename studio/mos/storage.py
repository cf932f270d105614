"""The ratings CSV: append-only, one row per rating, safe for many writers and for crashes.

The CSV is the product of a study, so losing or corrupting a row is a bug:

- every append holds a file lock (``<csv>.lock``, the ``filelock`` package, so processes and
  threads take turns), writes the row with one ``write`` on an ``O_APPEND`` descriptor, then
  flushes and ``fsync``\\ s before the rating counts as recorded;
- a writer killed mid-append leaves at most one torn last line (no final newline): readers
  skip it with a warning, and the next append moves the fragment to ``<csv>.torn`` (kept for
  inspection, never silently dropped) before writing, so the file is whole again;
- values are validated against the study's manifest (:func:`validate_rating`): a score is a
  whole number 1..5, ids are the manifest's, a (session, trial) is recorded once; anything
  else is refused with a message and writes nothing;
- text cells are neutralised against CSV injection (a rater called ``=HYPERLINK(...)`` is
  stored as ``'=HYPERLINK(...)``), and no rater text ever becomes a path.

The header starts with :data:`COLUMNS` in that order (the contract researchers' scripts rely
on); :data:`EXTRA_COLUMNS` follow. :func:`read_ratings` reads any CSV whose header starts with
:data:`COLUMNS`, including files that have only those.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from studio.mos.errors import DuplicateRatingError, InvalidRatingError, RatingsFileError
from studio.mos.manifest import HR, NEAREST, Manifest
from studio.mos.protocol import KINDS, RATED_KINDS, REPEAT, TRIAL

COLUMNS: tuple[str, ...] = (
    "timestamp",
    "study_id",
    "session_id",
    "rater_id",
    "trial",
    "image_id",
    "method",
    "score",
    "response_ms",
    "repeat",
    "app_version",
)
EXTRA_COLUMNS: tuple[str, ...] = ("kind", "expected", "protocol")
HEADER: tuple[str, ...] = COLUMNS + EXTRA_COLUMNS
LOCK_TIMEOUT_S = 30.0
MAX_RESPONSE_MS = 24 * 3600 * 1000
MAX_ID_LENGTH = 64
SESSION_ID = re.compile(r"[0-9a-f]{32}")
_SCORE = re.compile(r"[1-5]")
_WHOLE_NUMBER = re.compile(r"[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Rating:
    """One validated rating: a row of the CSV. ``response_ms`` is None when unknown; ``expected`` for known answers."""

    timestamp: str
    study_id: str
    session_id: str
    rater_id: str
    trial: int
    image_id: str
    method: str
    score: int
    response_ms: int | None
    repeat: int
    app_version: str
    kind: str
    expected: int | None
    protocol: str

    def cells(self) -> list[str]:
        """The row's cells in :data:`HEADER` order, text neutralised against CSV injection."""
        return [neutralise("" if value is None else str(value)) for value in (getattr(self, name) for name in HEADER)]


def neutralise(text: str) -> str:
    """``text`` made safe for spreadsheets: a leading formula character gets a ``'`` in front (OWASP's advice)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def parse_score(value: object) -> int:
    """A score as the protocol allows it: the whole number 1..5 (an int, or its one-digit text); else an error."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return value
    if isinstance(value, float) and value.is_integer() and 1 <= value <= 5:
        return int(value)
    if isinstance(value, str) and _SCORE.fullmatch(value):
        return int(value)
    raise InvalidRatingError(f"a score must be a whole number from 1 (bad) to 5 (excellent), not {value!r}")


def validate_rating(fields: Mapping[str, object], manifest: Manifest) -> Rating:
    """The :class:`Rating` of a submission's fields, checked against the study; :class:`InvalidRatingError` says what is wrong."""
    kind = _one_of(fields.get("kind", TRIAL), KINDS, "kind")
    study_id = _one_of(fields.get("study_id"), (manifest.study_id,), "study id")
    session_id = str(fields.get("session_id", ""))
    if not SESSION_ID.fullmatch(session_id):
        raise InvalidRatingError(f"session id {session_id[:40]!r} is not a session of this app")
    image_ids = manifest.images if kind in RATED_KINDS else manifest.calibration_images
    image_id = _one_of(fields.get("image_id"), tuple(image_ids), "image id")
    method = _one_of(fields.get("method"), manifest.methods if kind in RATED_KINDS else (NEAREST, HR), "method")
    expected = fields.get("expected")
    return Rating(
        timestamp=_timestamp(fields.get("timestamp")),
        study_id=study_id,
        session_id=session_id,
        rater_id=_rater_id(fields.get("rater_id")),
        trial=_whole_number(fields.get("trial"), "trial", low=1),
        image_id=image_id,
        method=method,
        score=parse_score(fields.get("score")),
        response_ms=None
        if fields.get("response_ms") is None
        else _whole_number(fields.get("response_ms"), "response time (ms)", high=MAX_RESPONSE_MS),
        repeat=int(kind == REPEAT),
        app_version=_text(fields.get("app_version", manifest.app_version), "app version"),
        kind=kind,
        expected=None if expected is None else parse_score(expected),
        protocol=_text(fields.get("protocol", manifest.protocol), "protocol"),
    )


class RatingsLog:
    """The ratings CSV of one study, for appending: validates, refuses replays, writes durably.

    It keeps an index of the recorded (session, trial) keys and of the raters of each image,
    brought up to date from the file under the lock before each append, so several processes
    appending to one file all see each other's rows. ``extra_lock`` is also held while writing
    (the Hugging Face push's lock, so it never uploads half a row).
    """

    def __init__(self, path: Path, manifest: Manifest, extra_lock: AbstractContextManager | None = None) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._file_lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_S)
        self._thread_lock = threading.RLock()
        self._extra_lock = extra_lock
        self._offset = 0
        self._keys: set[tuple[str, int]] = set()
        self._raters_per_image: dict[str, set[str]] = {}

    def record(self, fields: Mapping[str, object]) -> Rating:
        """Validate ``fields`` and append them as one row; raises before writing anything if they are refused."""
        rating = validate_rating(fields, self.manifest)
        with self._locked():
            self._catch_up()
            if (rating.session_id, rating.trial) in self._keys:
                raise DuplicateRatingError(
                    f"trial {rating.trial} of this session is already recorded; each trial is rated once"
                )
            self._append_line(_csv_line(rating.cells()))
            self._index(rating.session_id, rating.trial, rating.image_id, rating.kind)
        return rating

    def recorded_trials(self, session_id: str) -> frozenset[int]:
        """The trials of ``session_id`` already in the file (read now, so other processes' rows count)."""
        with self._locked():
            self._catch_up()
            return frozenset(trial for session, trial in self._keys if session == session_id)

    def raters_per_image(self) -> dict[str, int]:
        """Rated image id -> number of sessions that rated it (trial rows only)."""
        with self._locked():
            self._catch_up()
            return {image_id: len(sessions) for image_id, sessions in self._raters_per_image.items()}

    def _locked(self) -> ExitStack:
        stack = ExitStack()
        stack.enter_context(self._thread_lock)
        try:
            stack.enter_context(self._file_lock)
        except Timeout:
            stack.close()
            raise RatingsFileError(f"{self.path} stayed locked for {LOCK_TIMEOUT_S:.0f} s; try again") from None
        stack.enter_context(self._extra_lock or nullcontext())
        return stack

    def _catch_up(self) -> None:
        """Start the file with its header (or check its header); then index the complete rows added since last time."""
        if self._offset and (not self.path.exists() or self.path.stat().st_size < self._offset):
            raise RatingsFileError(
                f"{self.path} was removed or cut short while the app was appending to it; "
                "put it back or restart the app"
            )
        if self._offset == 0:
            self._offset = self._checked_header()
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            added = handle.read()
        complete = added[: added.rfind(b"\n") + 1]
        for row in csv.reader(io.StringIO(complete.decode("utf-8", errors="replace"))):
            if len(row) == len(HEADER):
                fields = dict(zip(HEADER, row))
                if _WHOLE_NUMBER.fullmatch(fields["trial"]):
                    self._index(fields["session_id"], int(fields["trial"]), fields["image_id"], fields["kind"])
        self._offset += len(complete)

    def _checked_header(self) -> int:
        """The header's length in bytes; writes it into a new, empty or torn-at-birth file first."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = _csv_line(HEADER)
        first_line = b""
        if self.path.exists():
            with open(self.path, "rb") as handle:
                first_line = handle.readline()
        if not first_line.endswith(b"\n"):
            self._append_line(header)
            first_line = header
        if first_line != header:
            raise RatingsFileError(
                f"{self.path} has another header than this app writes; move it away so that a new file can be started"
            )
        return len(header)

    def _index(self, session_id: str, trial: int, image_id: str, kind: str) -> None:
        self._keys.add((session_id, trial))
        if kind == TRIAL:
            self._raters_per_image.setdefault(image_id, set()).add(session_id)

    def _append_line(self, line: bytes) -> None:
        """Write one whole line at the end, after repairing a torn last line; durable when this returns."""
        descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _repair_torn_tail(descriptor, self.path)
            written = 0
            while written < len(line):
                written += os.write(descriptor, line[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@dataclass(frozen=True)
class RatingsTable:
    """The valid rows of a ratings CSV as a DataFrame (all :data:`HEADER` columns), and what was skipped and why."""

    frame: pd.DataFrame
    warnings: tuple[str, ...]


def read_ratings(path: str | Path) -> RatingsTable:
    """Read a ratings CSV whose header starts with :data:`COLUMNS`; a torn last line and bad rows are skipped with a warning.

    Files with only :data:`COLUMNS` get ``kind`` from ``repeat`` (trial or repeat) and no
    ``expected``, so every row counts as a rating of the study's stimuli.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise RatingsFileError(f"cannot read {path} ({error.strerror})") from None
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    warnings = []
    torn = lines.pop()
    if torn:
        warnings.append(
            f"skipped a torn last line (line {len(lines) + 1}, no line end: a writer was interrupted): {torn[:80]!r}"
        )
    rows = list(csv.reader(lines))
    if not rows or tuple(rows[0][: len(COLUMNS)]) != COLUMNS:
        raise RatingsFileError(f"{path} is not a ratings CSV: its header must start with {','.join(COLUMNS)}")
    header = rows[0]
    records, bad_lines = [], []
    for line_number, row in enumerate(rows[1:], start=2):
        record = _parsed_row(dict(zip(header, row))) if len(row) == len(header) else None
        if record is None:
            bad_lines.append(line_number)
        else:
            records.append(record)
    if bad_lines:
        shown = ", ".join(map(str, bad_lines[:10])) + (" ..." if len(bad_lines) > 10 else "")
        warnings.append(f"skipped {len(bad_lines)} malformed row(s) at line(s) {shown}")
    frame = pd.DataFrame.from_records(records, columns=list(dict.fromkeys([*HEADER, *header])))
    for column in ("trial", "score", "repeat"):
        frame[column] = frame[column].astype(int)
    for column in ("response_ms", "expected"):
        frame[column] = frame[column].astype("Int64")
    return RatingsTable(frame, tuple(warnings))


def snapshot_csv(path: Path, destination: Path) -> Path:
    """A consistent copy of a ratings CSV for download: taken under its lock, without a torn last line."""
    try:
        with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
            content = Path(path).read_bytes()
    except Timeout:
        raise RatingsFileError(f"{path} stayed locked for {LOCK_TIMEOUT_S:.0f} s; try again") from None
    Path(destination).write_bytes(content[: content.rfind(b"\n") + 1])
    return Path(destination)


def _parsed_row(fields: dict[str, str]) -> dict[str, str | int | None] | None:
    """A row with typed values, or None when a value is outside the contract (e.g. a score of 7)."""
    try:
        kind = fields.get("kind") or (REPEAT if fields["repeat"] == "1" else TRIAL)
        parsed = {
            **fields,
            "trial": _whole_number(fields["trial"], "trial", low=1),
            "score": parse_score(fields["score"]),
            "response_ms": _whole_number(fields["response_ms"], "response_ms") if fields["response_ms"] else None,
            "repeat": int(_one_of(fields["repeat"], ("0", "1"), "repeat")),
            "kind": _one_of(kind, KINDS, "kind"),
            "expected": parse_score(fields["expected"]) if fields.get("expected") else None,
        }
    except InvalidRatingError:
        return None
    return parsed


def _repair_torn_tail(descriptor: int, path: Path) -> None:
    """Cut an unterminated last line off the file (saving it to ``<csv>.torn``); a no-op for a whole file."""
    size = os.fstat(descriptor).st_size
    if size == 0 or os.pread(descriptor, 1, size - 1) == b"\n":
        return
    start = size
    while start > 0:
        chunk_start = max(0, start - 4096)
        chunk = os.pread(descriptor, start - chunk_start, chunk_start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            start = chunk_start + newline + 1
            break
        start = chunk_start
    fragment = os.pread(descriptor, size - start, start)
    with open(str(path) + ".torn", "ab") as torn:
        torn.write(fragment + b"\n")
        torn.flush()
        os.fsync(torn.fileno())
    os.ftruncate(descriptor, start)


def _csv_line(cells: Iterable[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


def _one_of(value: object, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        shown = ", ".join(allowed[:12]) + (" ..." if len(allowed) > 12 else "")
        raise InvalidRatingError(f"{what} {str(value)[:40]!r} is not one of this study's: {shown}")
    return value


def _whole_number(value: object, what: str, low: int = 0, high: int | None = None) -> int:
    is_text_number = isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value) is not None
    if isinstance(value, bool) or not (isinstance(value, int) or is_text_number):
        raise InvalidRatingError(f"{what} must be a whole number, not {str(value)[:40]!r}")
    number = int(value)  # type: ignore[call-overload]  # an int, or text of digits (checked above)
    if number < low or (high is not None and number > high):
        raise InvalidRatingError(f"{what} {number} is out of range")
    return number


def _rater_id(value: object) -> str:
    text = _text(value, "rater id")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidRatingError(f"a rater id has at most {MAX_ID_LENGTH} characters")
    return text


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or _CONTROL.search(value):
        raise InvalidRatingError(f"{what} must be a line of text, not {str(value)[:40]!r}")
    return value


def _timestamp(value: object) -> str:
    """An ISO 8601 UTC timestamp (``...Z`` or ``...+00:00``)."""
    text = _text(value, "timestamp")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    offset = moment.utcoffset() if moment is not None else None
    if offset is None or offset.total_seconds() != 0:
        raise InvalidRatingError(f"timestamp {text[:40]!r} is not ISO 8601 UTC")
    return text
