"""Optional: push the ratings to a Hugging Face dataset repo every few minutes, as a backup and for sharing.

Set ``HF_TOKEN`` (a Space secret) and ``SR_STUDIO_DATASET_REPO`` (``owner/name``) and the app
starts one huggingface_hub ``CommitScheduler`` that commits every study's ``ratings.csv`` and
``manifest.json`` (not the stimuli, not the sessions) from ``SR_STUDIO_MOS_DIR`` to the dataset
repo, privately if it has to create it. Appends hold the scheduler's lock
(:class:`~studio.mos.storage.RatingsLog`'s ``extra_lock``), so a push never uploads half a row.
:func:`push_plan` says what would be scheduled without touching the network, which is what the
tests check.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import CommitScheduler

from sr_core import settings
from studio.mos.manifest import MANIFEST_NAME, RATINGS_NAME

log = logging.getLogger(__name__)

PUSH_EVERY_MINUTES = 5.0
PATH_IN_REPO = "mos"


@dataclass(frozen=True)
class PushPlan:
    """The arguments of the ``CommitScheduler`` the app would start (the token is not kept here)."""

    repo_id: str
    folder: Path
    every_minutes: float = PUSH_EVERY_MINUTES
    path_in_repo: str = PATH_IN_REPO
    allow_patterns: tuple[str, ...] = (f"*/{RATINGS_NAME}", f"*/{MANIFEST_NAME}")

    def scheduler_kwargs(self, token: str) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "repo_type": "dataset",
            "folder_path": self.folder,
            "every": self.every_minutes,
            "path_in_repo": self.path_in_repo,
            "allow_patterns": list(self.allow_patterns),
            "private": True,
            "token": token,
        }


def push_plan() -> PushPlan | None:
    """What would be pushed, from the environment; None unless both ``HF_TOKEN`` and the dataset repo are set."""
    repo_id = settings.dataset_repo()
    if repo_id is None or settings.hf_token() is None:
        return None
    return PushPlan(repo_id, settings.mos_dir())


def start_push(plan: PushPlan, scheduler: Callable[..., Any] = CommitScheduler) -> Any | None:
    """Start the scheduler of ``plan``; a failure (offline, a bad token) is logged and the app runs without pushing."""
    try:
        return scheduler(**plan.scheduler_kwargs(settings.hf_token() or ""))
    # The Hub client raises its own, HTTP and OS errors; none of them may stop raters from rating.
    except Exception as error:  # noqa: BLE001
        log.warning("not pushing MOS ratings to %s: %s: %s", plan.repo_id, type(error).__name__, error)
        return None


@functools.cache
def app_scheduler() -> Any | None:
    """The process's one scheduler, started at first use when the environment asks for pushing; else None."""
    plan = push_plan()
    return start_push(plan) if plan is not None else None
