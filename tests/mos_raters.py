"""Raters driving a running app's Rate tab over HTTP, exactly as the browser's Gradio front end does.

The rating events are private (no client library may call them, so a script cannot rate
without seeing the images), so this speaks the front end's queue protocol: ``POST
/gradio_api/queue/join`` with the event's ``fn_index`` and the page's ``session_hash``, then the
answer from the ``/gradio_api/queue/data`` event stream. The events are found in the app's
``/config`` by their buttons' element ids, as a browser's page finds them.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

SCORES = (1, 2, 3, 4, 5)
REQUEST_TIMEOUT_S = 120


class RatingRefused(Exception):
    """The app answered an event with an error pop-up (``gr.Error``)."""


def write_study_images(folder: Path, count: int = 3, side: int = 32) -> Path:
    """``count`` small HR images for a fast study (one of them is used for calibration)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"image{index}.png")
    return folder


@dataclass(frozen=True)
class RateTab:
    """The Rate tab's events (fn indices, trigger ids) and where the trial number and session id sit in their outputs."""

    start: tuple[int, int]
    resume: tuple[int, int]
    scores: dict[int, tuple[int, int]]
    trial_output: int
    saved_output: int
    score_trial_output: int

    @classmethod
    def of(cls, base_url: str) -> RateTab:
        config = httpx.get(base_url + "config", timeout=REQUEST_TIMEOUT_S).json()
        element = {
            component["props"].get("elem_id"): component["id"]
            for component in config["components"]
            if component.get("props", {}).get("elem_id")
        }
        kinds = {component["id"]: component["type"] for component in config["components"]}
        saved = next(cid for cid, kind in kinds.items() if kind == "browserstate")
        events = {
            (target[0], target[1]): dependency
            for dependency in config["dependencies"]
            for target in dependency["targets"]
        }
        start = events[element["mos-start"], "click"]
        resume = next(
            dependency
            for (_, trigger), dependency in events.items()
            if trigger == "select" and dependency["inputs"] == [saved]
        )
        scores = {score: events[element[f"mos-score-{score}"], "click"] for score in SCORES}
        return cls(
            start=(start["id"], element["mos-start"]),
            resume=(resume["id"], resume["targets"][0][0]),
            scores={score: (event["id"], element[f"mos-score-{score}"]) for score, event in scores.items()},
            trial_output=start["outputs"].index(element["mos-trial"]),
            saved_output=start["outputs"].index(saved),
            score_trial_output=scores[1]["outputs"].index(element["mos-trial"]),
        )


def intended_score(rater: int, trial: int) -> int:
    """The score rater ``rater`` gives trial ``trial``: fixed, so the CSV can be checked row by row."""
    return (3 * trial + rater) % 5 + 1


@dataclass
class Rater:
    """One person at one browser: starts a session, rates every trial, may reload (resume) on another server."""

    index: int
    base_url: str
    pause_s: float = 0.0
    session_id: str | None = None
    trial: int | None = None
    acknowledged: list[tuple[int, int]] = field(default_factory=list)
    session_hash: str = field(default_factory=lambda: uuid.uuid4().hex[:11])

    def start(self) -> None:
        tab = RateTab.of(self.base_url)
        outputs = self._event(tab.start, [f"rater{self.index}", True])
        self.session_id = outputs[tab.saved_output]["session_id"]
        self.trial = outputs[tab.trial_output]

    def reload(self, base_url: str) -> None:
        """A page reload (on a restarted app): a new page session that resumes the saved rating session."""
        self.base_url, self.session_hash = base_url, uuid.uuid4().hex[:11]
        tab = RateTab.of(self.base_url)
        self.trial = self._event(tab.resume, [{"session_id": self.session_id}])[tab.trial_output]

    def rate_until_done(self) -> None:
        """Rate the trial on screen until the session ends; each acknowledged rating is remembered."""
        tab = RateTab.of(self.base_url)
        while self.trial is not None:
            time.sleep(self.pause_s)
            trial, score = int(self.trial), intended_score(self.index, int(self.trial))
            outputs = self._event(tab.scores[score], [None, trial])
            self.acknowledged.append((trial, score))
            self.trial = outputs[tab.score_trial_output]

    def _event(self, event: tuple[int, int], data: list[object]) -> list[object]:
        fn_index, trigger_id = event
        api = self.base_url + "gradio_api"
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
            joined = http.post(
                f"{api}/queue/join",
                json={
                    "data": data,
                    "fn_index": fn_index,
                    "trigger_id": trigger_id,
                    "session_hash": self.session_hash,
                    "event_data": None,
                },
            )
            joined.raise_for_status()
            event_id = joined.json()["event_id"]
            with http.stream("GET", f"{api}/queue/data", params={"session_hash": self.session_hash}) as stream:
                for line in stream.iter_lines():
                    message = json.loads(line[5:]) if line.startswith("data:") else {}
                    if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                        if not message.get("success"):
                            raise RatingRefused(str(message.get("output", {}).get("error")))
                        return message["output"]["data"]
        raise RatingRefused("the event stream ended without an answer")


def ratings_csv(mos_dir: Path) -> Path:
    """The one ratings CSV under the MOS folder (one study)."""
    (found,) = mos_dir.glob("*/ratings.csv")
    return found


def check_ratings(csv_path: Path, raters: list[Rater], complete: bool) -> int:
    """Assert the CSV parses cleanly and holds every acknowledged rating once, each as its rater meant it.

    With ``complete``, the CSV holds exactly the acknowledged ratings; otherwise it may also hold
    ratings whose answer never reached the rater (in flight when the app was killed). Returns
    the number of rows.
    """
    from studio.mos.storage import read_ratings

    table = read_ratings(csv_path)
    assert table.warnings == (), table.warnings
    frame = table.frame
    rows = list(zip(frame["session_id"], frame["trial"].astype(int), frame["score"].astype(int), frame["rater_id"]))
    assert len({(session, trial) for session, trial, _, _ in rows}) == len(rows), "a trial was recorded twice"
    rater_of = {rater.session_id: rater.index for rater in raters}
    for session, trial, score, rater_id in rows:
        assert rater_id == f"rater{rater_of[session]}" and score == intended_score(rater_of[session], trial)
    acknowledged = {(rater.session_id, trial) for rater in raters for trial, _ in rater.acknowledged}
    recorded = {(session, trial) for session, trial, _, _ in rows}
    assert acknowledged <= recorded, f"acknowledged ratings lost: {sorted(acknowledged - recorded)}"
    if complete:
        assert recorded == acknowledged
    return len(rows)
