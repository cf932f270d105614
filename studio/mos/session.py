"""A rater's session: what the browser is shown, and how its ratings are recorded.

The browser never learns a method: a :class:`TrialView` carries the stimulus as pixels (the
app sends them as a fresh PNG without metadata), a progress line, a prompt and the trial
number, nothing else. The plan, with its methods, stays on the server in
``<study>/sessions/<session_id>.json`` (written once, when the session starts); the browser
keeps only the random session id, so a reload (or a server restart) resumes where the
ratings CSV says the session stopped. A trial is recorded once: the (session, trial) key is
checked by :class:`~studio.mos.storage.RatingsLog` under its lock, so a double click, a
second tab or a replayed request cannot record it twice. Response times are measured on the
server, from sending a trial to receiving its rating.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import unicodedata
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sr_core import __version__
from sr_core.files import atomic_target
from studio.mos.errors import DuplicateRatingError, InvalidRatingError, SessionNotFoundError
from studio.mos.protocol import (
    CALIBRATION,
    SCORE_LABELS,
    PlannedTrial,
    ProtocolConfig,
    plan_session,
)
from studio.mos.storage import MAX_ID_LENGTH, SESSION_ID, RatingsLog, neutralise
from studio.mos.study import PreparedStudy, StudyDefinition, prepare_study

NICKNAME_LENGTH = 40
ANONYMOUS_PREFIX = "anon-"
_BLANKS = re.compile(r"\s+")


@dataclass(frozen=True)
class RaterSession:
    """One rater's pass through a plan. ``done`` are the recorded trials; ``served_*`` the trial on screen since when."""

    session_id: str
    rater_id: str
    study_id: str
    plan: tuple[PlannedTrial, ...]
    done: frozenset[int] = frozenset()
    served_trial: int | None = None
    served_at: float | None = None

    @property
    def next_trial(self) -> PlannedTrial | None:
        """The first planned trial not yet recorded; None when the session is complete."""
        return next((planned for planned in self.plan if planned.trial not in self.done), None)


@dataclass(frozen=True)
class TrialView:
    """What the browser shows for a trial: pixels (uint8 HxWx3) and text that never names the method.

    ``trial`` is None once the session is complete (then ``pixels`` is None too).
    """

    trial: int | None
    pixels: np.ndarray | None
    progress: str
    prompt: str


def rater_id_from_nickname(nickname: str | None) -> str:
    """The CSV's rater id: the nickname tidied (one line, at most 40 characters, spreadsheet-safe), or ``anon-<random>``."""
    text = _BLANKS.sub(" ", unicodedata.normalize("NFKC", nickname or ""))
    text = "".join(character for character in text if unicodedata.category(character)[0] != "C").strip()
    text = text[:NICKNAME_LENGTH]
    return neutralise(text)[:MAX_ID_LENGTH] if text else ANONYMOUS_PREFIX + secrets.token_hex(4)


def open_desk(
    definition: StudyDefinition,
    root: Path | None = None,
    config: ProtocolConfig | None = None,
    extra_lock: AbstractContextManager | None = None,
) -> RatingDesk:
    """The desk of ``definition``'s study under ``root`` (default ``SR_STUDIO_MOS_DIR``), preparing it if needed."""
    study = prepare_study(definition, root)
    return RatingDesk(study, RatingsLog(study.ratings_path, study.manifest, extra_lock), config)


class RatingDesk:
    """The rating service of one prepared study in a server process: starts, resumes, serves and records sessions."""

    def __init__(self, study: PreparedStudy, log: RatingsLog, config: ProtocolConfig | None = None) -> None:
        self.study = study
        self.log = log
        self.config = config or ProtocolConfig()

    def start(self, nickname: str | None = None) -> RaterSession:
        """A new session with its own random plan (least-rated images first), saved before it is used."""
        session_id = secrets.token_hex(16)
        rng = np.random.default_rng(int(session_id, 16))
        plan = plan_session(self.study.manifest, self.config, self.log.raters_per_image(), rng)
        session = RaterSession(session_id, rater_id_from_nickname(nickname), self.study.manifest.study_id, plan)
        self.study.sessions_dir.mkdir(parents=True, exist_ok=True)
        saved = {
            "session_id": session_id,
            "rater_id": session.rater_id,
            "study_id": session.study_id,
            "created": _utc_now(),
            "plan": [asdict(planned) for planned in plan],
        }
        with atomic_target(self._session_file(session_id)) as temporary, open(temporary, "w") as handle:
            json.dump(saved, handle, indent=1)
        return session

    def resume(self, session_id: object) -> RaterSession:
        """The session ``session_id`` (from the browser, so untrusted) with its recorded trials; else an error."""
        if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
            raise SessionNotFoundError("this browser's saved session id is not one this app made; start a new session")
        path = self._session_file(session_id)
        if not path.is_file():
            raise SessionNotFoundError("no session of this study has that id (the study changed?); start a new session")
        saved = json.loads(path.read_text())
        plan = tuple(PlannedTrial(**planned) for planned in saved["plan"])
        return RaterSession(
            session_id, saved["rater_id"], saved["study_id"], plan, self.log.recorded_trials(session_id)
        )

    def serve(self, session: RaterSession) -> tuple[RaterSession, TrialView]:
        """The session's next trial as the browser may see it; the session remembers when it was served."""
        planned = session.next_trial
        if planned is None:
            view = TrialView(
                None,
                None,
                f"Complete: {len(session.plan)} of {len(session.plan)}",
                f"**Thank you!** All {len(session.plan)} ratings of this session are saved. You can close this page.",
            )
            return replace(session, served_trial=None, served_at=None), view
        view = TrialView(
            planned.trial,
            self.study.pixels(planned.image_id, planned.variant),
            _progress(session, planned),
            _prompt(planned),
        )
        return replace(session, served_trial=planned.trial, served_at=time.monotonic()), view

    def submit(self, session: RaterSession, trial: object, score: object) -> RaterSession:
        """Record ``score`` for ``trial`` of ``session``; refused (nothing written) for a bad score, trial or replay.

        Only the trial the server showed last (``served_trial``) can be rated, whatever the
        browser names: a past trial is a replay (:class:`DuplicateRatingError`: a double click),
        any other one is refused. The image and method come from the server's plan, never from
        the request.
        """
        planned = next((step for step in session.plan if str(step.trial) == str(trial)), None)
        if planned is None:
            raise InvalidRatingError(f"trial {str(trial)[:20]!r} is not part of this session")
        if planned.trial in session.done:
            raise DuplicateRatingError(f"trial {planned.trial} of this session is already recorded")
        if planned.trial != session.served_trial:
            raise InvalidRatingError(f"trial {planned.trial} is not the image on screen; reload the page to go on")
        response_ms = round((time.monotonic() - session.served_at) * 1000) if session.served_at is not None else None
        self.log.record(
            {
                "timestamp": _utc_now(),
                "study_id": session.study_id,
                "session_id": session.session_id,
                "rater_id": session.rater_id,
                "trial": planned.trial,
                "image_id": planned.image_id,
                "method": planned.method,
                "score": score,
                "response_ms": response_ms,
                "app_version": __version__,
                "kind": planned.kind,
                "expected": planned.expected,
                "protocol": self.study.manifest.protocol,
            }
        )
        return replace(session, done=session.done | {planned.trial})

    def refreshed(self, session: RaterSession) -> RaterSession:
        """``session`` with the trials recorded by any tab or process (after a refused replay)."""
        return replace(session, done=self.log.recorded_trials(session.session_id))

    def _session_file(self, session_id: str) -> Path:
        return self.study.sessions_dir / f"{session_id}.json"


def _progress(session: RaterSession, planned: PlannedTrial) -> str:
    calibration = [step for step in session.plan if step.kind == CALIBRATION]
    if planned.kind == CALIBRATION:
        return f"Calibration example {calibration.index(planned) + 1} of {len(calibration)}"
    rated = [step for step in session.plan if step.kind != CALIBRATION]
    return f"Image {rated.index(planned) + 1} of {len(rated)}"


def _prompt(planned: PlannedTrial) -> str:
    if planned.kind == CALIBRATION and planned.expected is not None:
        label = SCORE_LABELS[planned.expected]
        return (
            f"**Calibration.** This is an example of **{label.lower()}** quality: it should get "
            f"**{planned.expected} ({label})**. Press {planned.expected} to go on."
        )
    return "How good is the quality of this image? Rate it from **1 (Bad)** to **5 (Excellent)**."


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
