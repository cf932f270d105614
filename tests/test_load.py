"""Load: many concurrent users of one app on 127.0.0.1, upscaling and rating at once; every answer is right.

Upscale clients use gradio_client and upload their own tiny images, so an answer sent to the
wrong request would show as a pixel difference against the library's own result for that
image. Raters drive the Rate tab as the browser does (``mos_raters.py``) with scores fixed by
(rater, trial), so the ratings CSV can be checked row by row. The load is bounded
in count (clients x requests) and in time (a timeout per request); memory is checked as the
server's resident set size after a warm-up round against after the whole load.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from mos_raters import Rater, check_ratings, ratings_csv, write_study_images
from PIL import Image
from served_app import free_port, resident_mib, start_app_process, stop, wait_until_serving

from studio.services import upscale

REQUEST_TIMEOUT_S = 120
MODEL = "srcnn"


@dataclass(frozen=True)
class Answer:
    upload: Path
    served: Path
    summary: str


def _uploads(folder: Path, client: int, count: int) -> list[Path]:
    """``count`` small images unique to ``client`` (sizes vary too, so a swapped answer cannot pass)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(client)
    paths = []
    for index in range(count):
        height, width = 12 + client % 3, 16 + index
        path = folder / f"client{client}_{index}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _one_client(url: str, uploads: list[Path], downloads: Path) -> list[Answer]:
    from gradio_client import Client, handle_file

    client = Client(url, download_files=str(downloads), verbose=False, analytics_enabled=False)
    answers = []
    for upload in uploads:
        job = client.submit(handle_file(str(upload)), MODEL, False, api_name="/upscale")
        served, _, summary = job.result(timeout=REQUEST_TIMEOUT_S)
        answers.append(Answer(upload, Path(served), summary))
    return answers


def drive_upscales(url: str, clients: int, requests: int, folder: Path, round_name: str = "load") -> list[Answer]:
    """``clients`` users at once, each sending ``requests`` upscales in turn; every answer, in no particular order."""
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [
            pool.submit(
                _one_client,
                url,
                _uploads(folder / round_name / "in", client, requests),
                folder / round_name / f"downloads{client}",
            )
            for client in range(clients)
        ]
        return [answer for future in futures for answer in future.result(timeout=REQUEST_TIMEOUT_S * requests)]


def assert_answers_are_the_librarys(answers: list[Answer], expected_count: int, scratch: Path) -> None:
    assert len(answers) == expected_count and len({answer.upload for answer in answers}) == expected_count
    scratch.mkdir(parents=True, exist_ok=True)
    for answer in answers:
        library = upscale.upscale_file(answer.upload, MODEL, scratch)
        with Image.open(answer.served) as served, Image.open(library.path) as expected:
            assert served.format == "PNG"
            assert np.array_equal(np.asarray(served), np.asarray(expected)), answer.upload.name
        with Image.open(answer.upload) as upload:
            assert f"{upload.width}x{upload.height} -> {upload.width * 4}x{upload.height * 4}" in answer.summary


def rate_sessions(raters: list[Rater]) -> None:
    """Each rater starts a session and rates it to the end, all at once."""

    def session(rater: Rater) -> None:
        rater.start()
        rater.rate_until_done()

    with ThreadPoolExecutor(max_workers=len(raters)) as pool:
        for finished in [pool.submit(session, rater) for rater in raters]:
            finished.result(timeout=REQUEST_TIMEOUT_S * 20)


def upscales_and_ratings_at_once(
    url: str, clients: int, requests: int, raters: list[Rater], folder: Path, round_name: str
) -> list[Answer]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        upscaled = pool.submit(drive_upscales, url, clients, requests, folder, round_name)
        rated = pool.submit(rate_sessions, raters)
        rated.result()
        return upscaled.result()


@pytest.fixture
def tiny_study_settings(monkeypatch, tmp_path) -> Path:
    """The app's MOS study: three 32 px images in a fresh MOS folder (returned), nothing pushed anywhere."""
    monkeypatch.setenv("SR_STUDIO_MOS_STUDY", str(write_study_images(tmp_path / "study_images")))
    monkeypatch.setenv("SR_STUDIO_MOS_DIR", str(tmp_path / "mos"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("SR_STUDIO_DATASET_REPO", raising=False)
    return tmp_path / "mos"


def test_concurrent_upscales_and_mos_ratings_are_all_answered_rightly(
    tiny_weights, tiny_study_settings, running_app, tmp_path
):
    tiny_weights(MODEL)
    url = running_app()
    drive_upscales(url, clients=2, requests=1, folder=tmp_path, round_name="warm-up")
    before = resident_mib(os.getpid())
    raters = [Rater(index, url) for index in range(3)]
    answers = upscales_and_ratings_at_once(
        url, clients=8, requests=3, raters=raters, folder=tmp_path, round_name="load"
    )
    after = resident_mib(os.getpid())
    assert_answers_are_the_librarys(answers, 8 * 3, tmp_path / "library")
    rows = check_ratings(ratings_csv(tiny_study_settings), raters, complete=True)
    assert rows == sum(len(rater.acknowledged) for rater in raters) and all(rater.acknowledged for rater in raters)
    print(f"in-process server RSS: {before:.0f} MiB after warm-up, {after:.0f} MiB after 24 upscales, {rows} ratings")
    # The server shares this process with its clients: the load must not grow it by more than a little.
    assert after - before < 150, f"resident memory grew from {before:.0f} to {after:.0f} MiB"


@pytest.mark.slow
def test_a_served_app_answers_sixteen_clients_and_eight_raters_rightly_with_bounded_memory(
    tiny_weights, tiny_study_settings, tmp_path
):
    weights = tiny_weights(MODEL)
    port, log = free_port(), tmp_path / "app.log"
    server = start_app_process(port, weights, tmp_path / "data", log)
    url = f"http://127.0.0.1:{port}/"
    raters = [Rater(index, url) for index in range(8)]
    try:
        wait_until_serving(server, port, log)
        drive_upscales(url, clients=4, requests=2, folder=tmp_path, round_name="warm-up")
        before = resident_mib(server.pid)
        answers = upscales_and_ratings_at_once(url, 16, 3, raters, tmp_path, "round0")
        answers += [
            answer
            for round_index in (1, 2)
            for answer in drive_upscales(url, clients=16, requests=3, folder=tmp_path, round_name=f"round{round_index}")
        ]
        after = resident_mib(server.pid)
    finally:
        stop(server)
    assert_answers_are_the_librarys(answers, 3 * 16 * 3, tmp_path / "library")
    rows = check_ratings(ratings_csv(tiny_study_settings), raters, complete=True)
    print(f"server RSS: {before:.0f} MiB after warm-up, {after:.0f} MiB after {len(answers)} upscales, {rows} ratings")
    assert after - before < 100, f"the server's resident memory grew from {before:.0f} to {after:.0f} MiB"
