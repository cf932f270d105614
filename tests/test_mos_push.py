"""The optional push of the ratings to a Hugging Face dataset: what would be scheduled, checked offline."""

import logging
import threading

import pytest
from mos_helpers import rating_fields, tiny_manifest

from studio.mos.push import push_plan, start_push
from studio.mos.storage import RatingsLog, read_ratings


@pytest.fixture
def hub_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SR_STUDIO_MOS_DIR", str(tmp_path / "mos"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("SR_STUDIO_DATASET_REPO", raising=False)
    return monkeypatch


@pytest.mark.parametrize("variables", [{}, {"HF_TOKEN": "hf_x"}, {"SR_STUDIO_DATASET_REPO": "lab/mos-ratings"}])
def test_nothing_is_pushed_unless_both_the_token_and_the_dataset_repo_are_set(hub_environment, variables):
    for name, value in variables.items():
        hub_environment.setenv(name, value)
    assert push_plan() is None


def test_the_ratings_and_manifests_would_be_pushed_to_a_private_dataset_but_never_the_stimuli(
    hub_environment, tmp_path
):
    hub_environment.setenv("HF_TOKEN", "hf_secret")
    hub_environment.setenv("SR_STUDIO_DATASET_REPO", "lab/mos-ratings")
    scheduled = []
    scheduler = start_push(push_plan(), scheduler=lambda **kwargs: scheduled.append(kwargs) or "scheduler")
    assert scheduler == "scheduler"
    assert scheduled == [
        {
            "repo_id": "lab/mos-ratings",
            "repo_type": "dataset",
            "folder_path": tmp_path / "mos",
            "every": 5.0,
            "path_in_repo": "mos",
            "allow_patterns": ["*/ratings.csv", "*/manifest.json"],
            "private": True,
            "token": "hf_secret",
        }
    ]


def test_a_scheduler_that_cannot_start_is_logged_and_rating_goes_on(hub_environment, caplog):
    hub_environment.setenv("HF_TOKEN", "hf_secret")
    hub_environment.setenv("SR_STUDIO_DATASET_REPO", "lab/mos-ratings")

    def offline(**_kwargs):
        raise ConnectionError("no network")

    with caplog.at_level(logging.WARNING):
        assert start_push(push_plan(), scheduler=offline) is None
    assert "not pushing MOS ratings to lab/mos-ratings: ConnectionError" in caplog.text


def test_an_append_waits_for_the_push_lock_so_a_push_never_uploads_half_a_row(tmp_path):
    push_lock = threading.Lock()
    log = RatingsLog(tmp_path / "ratings.csv", tiny_manifest(), extra_lock=push_lock)
    with push_lock:
        writer = threading.Thread(target=log.record, args=(rating_fields(),))
        writer.start()
        writer.join(timeout=0.3)
        assert writer.is_alive(), "the append waits while a push holds the lock"
    writer.join(timeout=10)
    assert len(read_ratings(tmp_path / "ratings.csv").frame) == 1
