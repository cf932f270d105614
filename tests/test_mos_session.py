"""A rater's session: blind views, one row per trial, resume after a reload, replays and bad scores refused."""

import re

import numpy as np
import pytest
from mos_helpers import write_study_images

from studio.mos.errors import DuplicateRatingError, InvalidRatingError, SessionNotFoundError
from studio.mos.protocol import ProtocolConfig
from studio.mos.session import RatingDesk, open_desk, rater_id_from_nickname
from studio.mos.storage import RatingsLog, read_ratings
from studio.mos.study import StudyDefinition

METHODS = ("nearest", "bicubic", "hr")
METHOD_WORDS = re.compile(r"\b(nearest|bicubic|hr|srcnn|srgan|esrgan|swiftsrgan|trap|neighbou?r)\b", re.IGNORECASE)


@pytest.fixture
def desk(tmp_path, tiny_weights):
    tiny_weights()
    return open_desk(StudyDefinition(write_study_images(tmp_path / "hr"), METHODS), tmp_path / "mos")


def _rate_all(desk, session, score=3):
    session, view = desk.serve(session)
    while view.trial is not None:
        session = desk.submit(session, view.trial, score)
        session, view = desk.serve(session)
    return session, view


def test_a_session_records_one_row_per_planned_trial_and_then_thanks_the_rater(desk):
    session, view = _rate_all(desk, desk.start("alice"))
    assert view.pixels is None and "Thank you" in view.prompt
    frame = read_ratings(desk.study.ratings_path).frame
    assert len(frame) == len(session.plan)
    planned = [(step.trial, step.image_id, step.method, step.kind) for step in session.plan]
    assert list(zip(frame["trial"], frame["image_id"], frame["method"], frame["kind"])) == planned
    assert set(frame["rater_id"]) == {"alice"} and (frame["response_ms"] >= 0).all()
    assert set(frame["study_id"]) == {desk.study.manifest.study_id}


def test_the_browser_sees_pixels_and_neutral_text_but_never_the_method(desk):
    session, view = desk.serve(desk.start())
    while view.trial is not None:
        planned = next(step for step in session.plan if step.trial == view.trial)
        assert np.array_equal(view.pixels, desk.study.pixels(planned.image_id, planned.variant))
        assert not METHOD_WORDS.search(view.progress + " " + view.prompt)
        assert set(vars(view)) == {"trial", "pixels", "progress", "prompt"}
        session = desk.submit(session, view.trial, 4)
        session, view = desk.serve(session)


def test_a_reload_or_a_server_restart_resumes_the_session_where_the_csv_says_it_stopped(desk):
    session, view = desk.serve(desk.start())
    for _ in range(3):
        session = desk.submit(session, view.trial, 2)
        session, view = desk.serve(session)
    restarted = RatingDesk(desk.study, RatingsLog(desk.study.ratings_path, desk.study.manifest))
    resumed, resumed_view = restarted.serve(restarted.resume(session.session_id))
    assert resumed.done == {1, 2, 3} and resumed_view.trial == view.trial == 4


@pytest.mark.parametrize("saved", ["../../etc/passwd", 12, None, "0" * 32])
def test_a_malformed_or_unknown_saved_session_id_is_refused(desk, saved):
    with pytest.raises(SessionNotFoundError):
        desk.resume(saved)


def test_a_replayed_trial_a_foreign_trial_and_a_bad_score_are_refused_and_write_nothing(desk):
    session, view = desk.serve(desk.start())
    session = desk.submit(session, view.trial, 1)
    session, view = desk.serve(session)
    before = desk.study.ratings_path.read_bytes()
    with pytest.raises(DuplicateRatingError):
        desk.submit(session, 1, 5)
    with pytest.raises(InvalidRatingError, match="not part of this session"):
        desk.submit(session, 999, 5)
    for score in (0, 6, "5; x", None):
        with pytest.raises(InvalidRatingError, match="whole number from 1"):
            desk.submit(session, view.trial, score)
    assert desk.study.ratings_path.read_bytes() == before


def test_only_the_trial_on_screen_can_be_rated_whatever_trial_the_browser_names(desk):
    session, view = desk.serve(desk.start())
    before = desk.study.ratings_path.read_bytes() if desk.study.ratings_path.exists() else b""
    later = [step.trial for step in session.plan if step.trial != view.trial]
    for named in (later[0], later[-1], str(later[1])):
        with pytest.raises(InvalidRatingError, match="not the image on screen"):
            desk.submit(session, named, 3)
    session = desk.submit(session, view.trial, 3)
    with pytest.raises(DuplicateRatingError):
        desk.submit(session, view.trial, 4)
    rows = read_ratings(desk.study.ratings_path).frame
    assert len(rows) == 1 + (len(before.splitlines()) - 1 if before else 0)
    assert rows["trial"].tolist()[-1] == view.trial and rows["score"].tolist()[-1] == 3


def test_response_times_are_measured_on_the_server_from_showing_to_rating(desk, monkeypatch):
    clock = iter([100.0, 102.5])
    monkeypatch.setattr("studio.mos.session.time.monotonic", lambda: next(clock))
    session, view = desk.serve(desk.start())
    desk.submit(session, view.trial, 1)
    assert read_ratings(desk.study.ratings_path).frame["response_ms"].tolist() == [2500]


@pytest.mark.parametrize(
    ("nickname", "rater_id"),
    [
        ("  Alice   Smith ", "Alice Smith"),
        ("two\nlines\tand\x00nul", "two lines andnul"),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("../../x" + "y" * 60, "../../x" + "y" * 33),
    ],
)
def test_a_nickname_is_tidied_into_a_spreadsheet_safe_rater_id(nickname, rater_id):
    assert rater_id_from_nickname(nickname) == rater_id


def test_an_anonymous_rater_gets_a_random_id_and_no_rater_text_becomes_a_path(desk):
    assert re.fullmatch(r"anon-[0-9a-f]{8}", rater_id_from_nickname(""))
    assert rater_id_from_nickname(None) != rater_id_from_nickname(None)
    desk.start("../../escape")
    assert [path.parent for path in desk.study.folder.rglob("*escape*")] == []
    assert all(re.fullmatch(r"[0-9a-f]{32}\.json", path.name) for path in desk.study.sessions_dir.iterdir())


def test_later_sessions_get_the_least_rated_image_first(desk):
    desk.config = ProtocolConfig(images_per_session=1, target_raters=1, repeats=0)
    first, _ = _rate_all(desk, desk.start())
    second = desk.start()
    rated = {step.image_id for step in first.plan if step.kind == "trial"}
    offered = {step.image_id for step in second.plan if step.kind == "trial"}
    assert len(rated) == len(offered) == 1 and rated != offered
