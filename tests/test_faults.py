"""Faults: processes killed with SIGKILL mid-work, then restarted, lose nothing they had saved.

A killed process gets no chance to clean up, so only what is written atomically (temporary
file, then ``os.replace``) or append-safely survives; these tests kill real processes at
unpredictable moments and check what a restart makes of it. (A full disk while saving is in
``test_hardening.py``.)
"""

from __future__ import annotations

import csv
import errno
import os as os_module
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from mos_raters import REQUEST_TIMEOUT_S, Rater, RatingRefused, check_ratings, ratings_csv, write_study_images
from PIL import Image
from served_app import free_port, start_app_process, stop, wait_until_serving

from sr_core.errors import SRStudioError
from sr_core.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from sr_core.train.report import METRICS_NAME
from studio.mos.storage import read_ratings

ROOT = Path(__file__).resolve().parents[1]
TRAIN_STEPS = 60
KILL_AFTER_STEP = 12


@pytest.fixture(scope="module")
def tiny_training_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for index in range(10):
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((48, 48), Image.Resampling.BICUBIC).save(folder / f"{index}.png")
    return folder


def _train(data: Path, run_dir: Path, resume: bool = False) -> subprocess.Popen:
    """``python -m sr_core train`` of a tiny ESRGAN (PSNR stage) in a subprocess, checkpointing every 3 steps."""
    if resume:
        arguments = ["--out", str(run_dir), "--resume", "--no-progress"]
    else:
        arguments = [
            "--preset",
            "esrgan_psnr",
            "--data",
            str(data),
            "--out",
            str(run_dir),
            "--steps",
            str(TRAIN_STEPS),
            "--batch-size",
            "4",
            "--hr-crop",
            "32",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--checkpoint-every",
            "3",
            "--validate-every",
            "1000",
            "--no-progress",
            "--set",
            "model_kwargs={num_block: 1, num_feat: 8, num_grow_ch: 4}",
            "--set",
            "val_every=5",
            "--set",
            "channels_last=false",
        ]
    return subprocess.Popen(
        [sys.executable, "-m", "sr_core", "train", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-2000:]


def _checkpoint_step(run_dir: Path) -> int:
    try:
        return int(load_checkpoint(run_dir / CHECKPOINT_NAME)["step"])
    except SRStudioError:  # not written yet
        return 0


def _rows_without_timing(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_a_training_run_killed_and_resumed_ends_exactly_as_an_uninterrupted_one(tiny_training_data, tmp_path):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    _finish(_train(tiny_training_data, straight))

    victim = _train(tiny_training_data, interrupted)
    deadline = time.monotonic() + 240
    while _checkpoint_step(interrupted) < KILL_AFTER_STEP:
        assert victim.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    killed_at = _checkpoint_step(interrupted)
    assert KILL_AFTER_STEP <= killed_at < TRAIN_STEPS, killed_at

    _finish(_train(tiny_training_data, interrupted, resume=True))
    expected, resumed = (load_checkpoint(run / CHECKPOINT_NAME) for run in (straight, interrupted))
    assert resumed["step"] == expected["step"] == TRAIN_STEPS
    for key, weight in expected["generator"].items():
        assert torch.equal(resumed["generator"][key], weight), key
    assert _rows_without_timing(interrupted / METRICS_NAME) == _rows_without_timing(straight / METRICS_NAME)


# --- MOS ratings ------------------------------------------------------------------------------


@pytest.fixture
def tiny_study(tmp_path: Path):
    """A prepared MOS study of three 32 px images (one for calibration) rated with nearest, bicubic and the HR."""
    from studio.mos.study import StudyDefinition, prepare_study

    images = tmp_path / "study_images"
    images.mkdir()
    rng = np.random.default_rng(1)
    for index in range(3):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(images / f"image{index}.png")
    return prepare_study(StudyDefinition(images, methods=("nearest", "bicubic", "hr")), root=tmp_path / "mos")


def rating_fields(study, session_id: str, trial: int, score: int = 3) -> dict[str, object]:
    """A valid trial rating of ``study`` (image and method cycle with the trial number)."""
    manifest = study.manifest
    image_ids, methods = sorted(manifest.images), list(manifest.methods)
    return {
        "timestamp": "2026-01-01T00:00:00Z",
        "study_id": manifest.study_id,
        "session_id": session_id,
        "rater_id": "rater",
        "trial": trial,
        "image_id": image_ids[trial % len(image_ids)],
        "method": methods[trial % len(methods)],
        "score": score,
        "response_ms": 900 + trial,
    }


class _FullDiskOs:
    """``os`` for the ratings module, on a disk that fills mid-write: half the bytes land, then ENOSPC."""

    def __init__(self) -> None:
        self.__dict__.update({name: value for name, value in vars(os_module).items() if name != "write"})

    @staticmethod
    def write(descriptor: int, data: bytes) -> int:
        os_module.write(descriptor, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os_module.strerror(errno.ENOSPC))


def test_a_full_disk_while_a_rating_is_saved_is_a_clear_error_and_keeps_every_earlier_rating(tiny_study, monkeypatch):
    from studio.mos import storage

    session = "a" * 32
    log = storage.RatingsLog(tiny_study.ratings_path, tiny_study.manifest)
    for trial in range(1, 6):
        log.record(rating_fields(tiny_study, session, trial))
    with monkeypatch.context() as full_disk:
        full_disk.setattr(storage, "os", _FullDiskOs())
        with pytest.raises(OSError, match="No space left on device"):
            log.record(rating_fields(tiny_study, session, 6))

    after_failure = storage.read_ratings(tiny_study.ratings_path)
    assert after_failure.frame["trial"].tolist() == [1, 2, 3, 4, 5]
    assert any("torn last line" in warning for warning in after_failure.warnings)
    log.record(rating_fields(tiny_study, session, 6))  # space again: the same rating is accepted, not a replay
    repaired = storage.read_ratings(tiny_study.ratings_path)
    assert repaired.frame["trial"].tolist() == [1, 2, 3, 4, 5, 6] and repaired.warnings == ()


def _rows_so_far(mos_dir: Path) -> int:
    """Complete rows in the study's ratings CSV now (0 before the first rating)."""
    files = list(mos_dir.glob("*/ratings.csv"))
    return max(0, files[0].read_bytes().count(b"\n") - 1) if files else 0


def _rate_until_stopped(rater: Rater) -> None:
    """Rate until the session ends or the server goes away (as a person's browser would just stop)."""
    try:
        if rater.session_id is None:
            rater.start()
        rater.rate_until_done()
    except (httpx.HTTPError, RatingRefused):
        pass


@pytest.mark.slow
def test_the_app_killed_while_raters_submit_loses_no_acknowledged_rating_and_its_csv_parses(tmp_path):
    study = {
        "SR_STUDIO_MOS_STUDY": str(write_study_images(tmp_path / "study_images")),
        "SR_STUDIO_MOS_DIR": str(tmp_path / "mos"),
        "HF_TOKEN": "",
        "SR_STUDIO_DATASET_REPO": "",
    }
    log, weights = tmp_path / "app.log", tmp_path / "no_weights"

    def serve() -> tuple[subprocess.Popen, str]:
        port = free_port()
        server = start_app_process(port, weights, tmp_path / "data", log, **study)
        wait_until_serving(server, port, log)
        return server, f"http://127.0.0.1:{port}/"

    server, url = serve()
    raters = [Rater(index, url, pause_s=0.05) for index in range(6)]
    try:
        with ThreadPoolExecutor(max_workers=len(raters)) as pool:
            running = [pool.submit(_rate_until_stopped, rater) for rater in raters]
            deadline = time.monotonic() + 120
            while not (all(rater.session_id for rater in raters) and _rows_so_far(tmp_path / "mos") >= 20):
                assert time.monotonic() < deadline and not all(future.done() for future in running)
                time.sleep(0.01)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=30)
            for future in running:
                future.result(timeout=REQUEST_TIMEOUT_S)
        interrupted = [rater for rater in raters if rater.trial is not None]
        assert interrupted, "every session ended before the kill: the test killed nothing"
        csv_path = ratings_csv(tmp_path / "mos")
        killed_with = len(read_ratings(csv_path).frame)  # it parses, whatever the kill tore

        server, url = serve()
        for rater in raters:
            rater.reload(url)
        with ThreadPoolExecutor(max_workers=len(raters)) as pool:
            for finished in [pool.submit(rater.rate_until_done) for rater in raters]:
                finished.result(timeout=REQUEST_TIMEOUT_S * 20)
    finally:
        stop(server)
    rows = check_ratings(csv_path, raters, complete=False)
    print(f"killed with {killed_with} rows, {len(interrupted)} sessions open; {rows} rows after the restart")
    assert all(rater.trial is None for rater in raters), "every session was finished after the restart"
    assert rows > killed_with and rows - sum(len(rater.acknowledged) for rater in raters) <= len(interrupted)


def test_a_full_disk_while_the_rate_tab_saves_a_rating_is_a_clear_message_and_the_rating_can_be_sent_again(
    tmp_path, monkeypatch
):
    import gradio as gr

    from studio.mos import storage
    from studio.ui import mos_tabs

    monkeypatch.setenv("SR_STUDIO_MOS_STUDY", str(write_study_images(tmp_path / "study_images")))
    monkeypatch.setenv("SR_STUDIO_MOS_DIR", str(tmp_path / "mos"))
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(tmp_path / "no_weights"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    session, _, *shown = mos_tabs.start_session("rater", True)
    session, *shown = mos_tabs.rate(session, shown[5], 1)
    trial = shown[5]
    with monkeypatch.context() as full_disk:
        full_disk.setattr(storage, "os", _FullDiskOs())
        with pytest.raises(gr.Error, match=r"could not store the rating \(No space left on device\)"):
            mos_tabs.rate(session, trial, 4)
    mos_tabs.rate(session, trial, 4)
    table = read_ratings(ratings_csv(tmp_path / "mos"))
    assert table.frame["trial"].tolist() == [1, trial] and table.frame["score"].tolist() == [1, 4]
    assert table.warnings == ()
