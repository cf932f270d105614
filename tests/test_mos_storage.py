"""The ratings CSV: its header contract, many writers at once, crashes mid-append, refused submissions."""

import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
from mos_helpers import CALIBRATION_IMAGE, STUDY_ID, rating_fields, tiny_manifest

from studio.mos.errors import DuplicateRatingError, InvalidRatingError, RatingsFileError
from studio.mos.storage import COLUMNS, RatingsLog, read_ratings, snapshot_csv

CONTRACT_HEADER = "timestamp,study_id,session_id,rater_id,trial,image_id,method,score,response_ms,repeat,app_version"
WRITERS, RATINGS_PER_WRITER, RACED_TRIALS = 16, 200, 40


@pytest.fixture
def csv_path(tmp_path):
    return tmp_path / "ratings.csv"


@pytest.fixture
def memory_csv_path(tmp_path):
    """A CSV path on tmpfs where there is one: there fsync costs nothing, so a test of the locking stays fast.

    On the disk of the machine these tests were written on, each fsync'd append takes about 4 ms
    and the lock makes 3200 of them take turns: 13 s of disk waits that say nothing about the locking.
    """
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="sr_studio_mos_", dir=shm)) if shm.is_dir() else tmp_path
    yield folder / "ratings.csv"
    if folder != tmp_path:
        shutil.rmtree(folder)


def _append_many(path, session, count):
    log = RatingsLog(path, tiny_manifest())
    for trial in range(1, count + 1):
        log.record(rating_fields(session, trial))


def _race_for_the_same_trials(path, count, start_together, recorded):
    """Every racer tries to record trials 1..count of one session, all starting each trial together; report its wins."""
    log = RatingsLog(path, tiny_manifest())
    won = 0
    for trial in range(1, count + 1):
        start_together.wait()
        try:
            log.record(rating_fields(7, trial))
            won += 1
        except DuplicateRatingError:
            pass
    recorded.put(won)


def _append_until_killed(path, acknowledged):
    """Append forever; after each append returns, report its trial number through the pipe."""
    log = RatingsLog(path, tiny_manifest())
    for trial in range(1, 10**6):
        log.record(rating_fields(99, trial))
        os.write(acknowledged, f"{trial}\n".encode())


def _write_half_a_row_and_hang(path, started):
    """What a writer killed inside its write leaves: the first half of a row without its line end."""
    with open(path, "ab") as handle:
        handle.write(b"2025-01-01T00:00:00.000Z," + STUDY_ID.encode() + b",0000")
        handle.flush()
    os.write(started, b"x")
    time.sleep(60)


def _fork():
    return multiprocessing.get_context("fork")


def test_the_header_starts_with_the_contract_columns_in_that_order(csv_path):
    RatingsLog(csv_path, tiny_manifest()).record(rating_fields())
    header = csv_path.read_text().splitlines()[0]
    assert header.startswith(CONTRACT_HEADER + ",")
    assert ",".join(COLUMNS) == CONTRACT_HEADER


def test_sixteen_processes_appending_200_ratings_each_leave_exactly_3200_valid_rows(memory_csv_path):
    csv_path = memory_csv_path
    writers = [
        _fork().Process(target=_append_many, args=(csv_path, session, RATINGS_PER_WRITER)) for session in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0

    table = read_ratings(csv_path)
    assert table.warnings == ()
    assert len(table.frame) == WRITERS * RATINGS_PER_WRITER
    keys = set(zip(table.frame["session_id"], table.frame["trial"]))
    assert keys == {(f"{session:032x}", trial) for session in range(WRITERS) for trial in range(1, 201)}
    assert csv_path.read_text().count("\n") == 1 + WRITERS * RATINGS_PER_WRITER


def test_processes_racing_to_record_the_same_trials_record_each_exactly_once(memory_csv_path):
    recorded, start_together = _fork().Queue(), _fork().Barrier(WRITERS)
    racers = [
        _fork().Process(
            target=_race_for_the_same_trials, args=(memory_csv_path, RACED_TRIALS, start_together, recorded)
        )
        for _ in range(WRITERS)
    ]
    for racer in racers:
        racer.start()
    wins = [recorded.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=120)
    assert sum(wins) == RACED_TRIALS
    assert sorted(read_ratings(memory_csv_path).frame["trial"]) == list(range(1, RACED_TRIALS + 1))


def test_a_writer_killed_mid_append_leaves_a_parseable_file_and_loses_no_recorded_row(csv_path):
    acknowledged_read, acknowledged_write = os.pipe()
    writer = _fork().Process(target=_append_until_killed, args=(csv_path, acknowledged_write))
    writer.start()
    received = b""
    while received.count(b"\n") < 60:
        received += os.read(acknowledged_read, 4096)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    os.close(acknowledged_write)
    while chunk := os.read(acknowledged_read, 4096):
        received += chunk
    recorded = {int(line) for line in received.split()}

    table = read_ratings(csv_path)
    assert recorded <= set(table.frame["trial"]), "every append that returned is in the file"
    assert len(table.warnings) <= 1, "at most one torn last line"
    RatingsLog(csv_path, tiny_manifest()).record(rating_fields(1, 1))
    after = read_ratings(csv_path)
    assert after.warnings == ()
    assert len(after.frame) == len(table.frame) + 1


def test_a_torn_last_line_is_skipped_by_readers_and_repaired_by_the_next_append(csv_path):
    log = RatingsLog(csv_path, tiny_manifest())
    for trial in (1, 2, 3):
        log.record(rating_fields(0, trial))
    started_read, started_write = os.pipe()
    writer = _fork().Process(target=_write_half_a_row_and_hang, args=(csv_path, started_write))
    writer.start()
    os.read(started_read, 1)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()

    torn = read_ratings(csv_path)
    assert len(torn.frame) == 3
    assert len(torn.warnings) == 1 and "torn last line" in torn.warnings[0]

    RatingsLog(csv_path, tiny_manifest()).record(rating_fields(0, 4))
    repaired = read_ratings(csv_path)
    assert repaired.warnings == ()
    assert list(repaired.frame["trial"]) == [1, 2, 3, 4]
    assert (csv_path.parent / "ratings.csv.torn").read_bytes().startswith(b"2025-01-01T00:00:00.000Z,tiny-")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"score": 0}, "whole number from 1"),
        ({"score": 6}, "whole number from 1"),
        ({"score": "5; x"}, "whole number from 1"),
        ({"score": 4.5}, "whole number from 1"),
        ({"score": True}, "whole number from 1"),
        ({"score": ""}, "whole number from 1"),
        ({"score": "5\n"}, "whole number from 1"),
        ({"image_id": "gamma"}, "image id 'gamma' is not one of"),
        ({"image_id": "../../etc/passwd"}, "image id"),
        ({"method": "esrgan"}, "method 'esrgan' is not one of"),
        ({"study_id": "other-study"}, "study id"),
        ({"session_id": "not-a-session"}, "session id"),
        ({"session_id": "0" * 32 + "\n"}, "session id"),
        ({"kind": "calibration"}, "image id"),
        ({"trial": 0}, "trial 0 is out of range"),
        ({"trial": "1; DROP"}, "trial must be a whole number"),
        ({"rater_id": "two\nlines"}, "rater id"),
        ({"timestamp": "yesterday"}, "timestamp"),
    ],
)
def test_bad_submissions_are_refused_with_a_message_and_write_nothing(csv_path, changes, message):
    log = RatingsLog(csv_path, tiny_manifest())
    log.record(rating_fields(0, 1))
    before = csv_path.read_bytes()
    with pytest.raises(InvalidRatingError, match=message):
        log.record({**rating_fields(0, 2), **changes})
    assert csv_path.read_bytes() == before


def test_a_replayed_trial_is_refused_even_from_another_process_and_writes_nothing(csv_path):
    RatingsLog(csv_path, tiny_manifest()).record(rating_fields(0, 1))
    before = csv_path.read_bytes()
    other_process_log = RatingsLog(csv_path, tiny_manifest())
    with pytest.raises(DuplicateRatingError, match="already recorded"):
        other_process_log.record(rating_fields(0, 1, score=5))
    assert csv_path.read_bytes() == before


def test_calibration_gold_and_trap_items_use_the_calibration_images(csv_path):
    log = RatingsLog(csv_path, tiny_manifest())
    log.record(rating_fields(0, 1, kind="calibration", image_id=CALIBRATION_IMAGE, method="nearest", expected=1))
    log.record(rating_fields(0, 2, kind="trap", image_id=CALIBRATION_IMAGE, method="hr", expected=2))
    frame = read_ratings(csv_path).frame
    assert list(frame["kind"]) == ["calibration", "trap"] and list(frame["expected"]) == [1, 2]


def test_a_rater_name_that_is_a_formula_is_stored_neutralised(csv_path):
    log = RatingsLog(csv_path, tiny_manifest())
    for trial, name in enumerate(['=HYPERLINK("http://evil","x")', "+1", "-2", "@SUM(A1)"], start=1):
        log.record(rating_fields(0, trial, rater_id=name))
    stored = list(read_ratings(csv_path).frame["rater_id"])
    assert stored == ['\'=HYPERLINK("http://evil","x")', "'+1", "'-2", "'@SUM(A1)"]
    assert [line.split(",")[3][:2] for line in csv_path.read_text().splitlines()[1:]] == ["\"'", "'+", "'-", "'@"]


def test_a_file_with_another_header_is_never_appended_to(csv_path):
    csv_path.write_text("name,score\nalice,5\n")
    with pytest.raises(RatingsFileError, match="another header"):
        RatingsLog(csv_path, tiny_manifest()).record(rating_fields())
    assert csv_path.read_text() == "name,score\nalice,5\n"


def test_a_ratings_file_removed_while_the_app_appends_is_reported_not_silently_restarted(csv_path):
    log = RatingsLog(csv_path, tiny_manifest())
    log.record(rating_fields(0, 1))
    csv_path.unlink()
    with pytest.raises(RatingsFileError, match="removed or cut short"):
        log.record(rating_fields(0, 2))
    assert not csv_path.exists()


def test_readers_take_a_file_with_only_the_contract_columns_and_skip_malformed_rows(csv_path):
    csv_path.write_text(
        CONTRACT_HEADER + "\n"
        f"2025-01-01T00:00:00Z,{STUDY_ID},{0:032x},r,1,alpha,bicubic,4,900,0,0.1.0\n"
        f"2025-01-01T00:00:01Z,{STUDY_ID},{0:032x},r,2,alpha,bicubic,7,900,0,0.1.0\n"
        f"2025-01-01T00:00:02Z,{STUDY_ID},{0:032x},r,3,alpha,bicubic,2,,1,0.1.0\n"
    )
    table = read_ratings(csv_path)
    assert list(table.frame["score"]) == [4, 2]
    assert list(table.frame["kind"]) == ["trial", "repeat"]
    assert table.warnings == ("skipped 1 malformed row(s) at line(s) 3",)


def test_a_download_snapshot_leaves_out_a_torn_last_line(csv_path, tmp_path):
    RatingsLog(csv_path, tiny_manifest()).record(rating_fields())
    with open(csv_path, "ab") as handle:
        handle.write(b"2025-01-01T00:00")
    copy = snapshot_csv(csv_path, tmp_path / "copy.csv")
    assert read_ratings(copy).warnings == () and len(read_ratings(copy).frame) == 1
