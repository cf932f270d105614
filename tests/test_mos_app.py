"""The Rate and MOS Results tabs: their wiring, their handlers, and two raters rating at once in real browsers.

The browser test uses Debian's ``chromium`` through Playwright (skipped, with the reason, only
where it is not installed), like ``test_browser.py``.
"""

import asyncio
import re
import struct
from pathlib import Path

import gradio as gr
import pytest
from mos_helpers import write_study_images
from served_app import CHROMIUM, CHROMIUM_ARGS

import app
from studio.mos.storage import read_ratings
from studio.ui import components, mos_tabs

TIMEOUT_MS = 30_000
STUDY_METHODS = ("nearest", "bicubic", "srcnn", "hr")
METHOD_WORDS = re.compile(r"nearest|bicubic|srcnn|srgan|esrgan|swiftsrgan|\bhr\b|trap", re.IGNORECASE)


@pytest.fixture
def study_environment(tmp_path, monkeypatch, tiny_weights):
    """A three-image study (one for calibration) with srcnn weights; its CSV lives under tmp_path, nothing is pushed."""
    tiny_weights("srcnn")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("SR_STUDIO_MOS_STUDY", str(write_study_images(tmp_path / "hr")))
    monkeypatch.setenv("SR_STUDIO_MOS_DIR", str(tmp_path / "mos"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return tmp_path / "mos"


def _components(demo, kind):
    return [block for block in demo.blocks.values() if type(block) is kind]


def test_the_stimulus_is_a_png_of_pixels_and_ratings_have_their_own_queue(study_environment):
    demo = app.build_demo()
    labels = [tab.label for tab in _components(demo, gr.Tab)]
    assert labels[-2:] == ["Rate", "MOS Results"]
    stimulus = next(image for image in _components(demo, gr.Image) if image.elem_id == "mos-stimulus")
    assert (stimulus.format, stimulus.type, stimulus.interactive) == ("png", "numpy", False)
    rating_events = [fn for fn in demo.fns.values() if fn.concurrency_id == mos_tabs.RATING_QUEUE]
    assert len(rating_events) == 7, "start, resume and the five score buttons"
    assert mos_tabs.RATING_QUEUE != components.MODEL_QUEUE
    assert all(fn.api_visibility == "private" for fn in rating_events)


def test_the_handlers_refuse_a_missing_consent_a_missing_session_and_a_bad_score(study_environment):
    with pytest.raises(gr.Error, match="consent"):
        mos_tabs.start_session("alice", False)
    with pytest.raises(gr.Error, match="Start a session first"):
        mos_tabs.rate(None, 1, 3)
    session, saved, *_ = mos_tabs.start_session("alice", True)
    assert saved == {"session_id": session.session_id}
    with pytest.raises(gr.Error, match="whole number from 1"):
        mos_tabs.rate(session, 1, "5; x")
    session, *_ = mos_tabs.rate(session, 1, 1)
    replayed, *_ = mos_tabs.rate(session, 1, 5)
    csv_path = mos_tabs.current_desk().study.ratings_path
    assert read_ratings(csv_path).frame["score"].tolist() == [1], "the replay wrote nothing"
    assert replayed.next_trial.trial == 2
    assert mos_tabs.resume_session({"session_id": "../../etc/passwd"})[:2] == (None, None)


def test_the_results_handler_offers_the_raw_csv_and_the_summary_for_download(study_environment):
    with pytest.raises(gr.Error, match="No study has ratings yet"):
        mos_tabs.show_results(None, False)
    session, *_ = mos_tabs.start_session("alice", True)
    for trial in range(1, 8):
        session, *_ = mos_tabs.rate(session, trial, 1 + trial % 5)
    shown = mos_tabs.show_results(None, False)
    overview, paper, downloads = shown[1], shown[2], shown[-1]
    raw, summary = (Path(path) for path in downloads)
    assert raw.read_bytes() == mos_tabs.current_desk().study.ratings_path.read_bytes()
    assert summary.read_text().startswith("method,MOS,CI low,CI high")
    assert "by 1 raters" in overview and paper.iloc[:, 0].tolist() == ["PSNR", "SSIM", "MOS"]
    # Seven ratings of a shuffled study may leave fewer than three rated stimuli: then rho is "not defined".
    correlations = (
        r"Spearman correlation of MOS .* LPIPS \(lower is better\) (rho = \S+, p = \S+, |not defined, )n = \d"
    )
    assert re.search(correlations, overview)


def _png_chunk_types(data: bytes) -> list[bytes]:
    types, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        types.append(kind)
        offset += 12 + length
    return types


async def _rate_session(page, url, nickname, reload_after=None):
    """Rate a whole session in ``page`` (score by trial number, every third by keyboard); return {trial: score}."""
    from playwright.async_api import expect

    await page.goto(url, timeout=TIMEOUT_MS)
    await page.get_by_role("tab", name="Rate").click()
    await page.locator("#mos-nickname textarea").fill(nickname)
    await page.locator("#mos-consent input").check()
    await page.locator("#mos-start").click()
    progress, trial_box = page.locator("#mos-progress"), page.locator("#mos-trial input")
    given, checked_blindness = {}, False
    while True:
        await expect(progress).not_to_have_text("", timeout=TIMEOUT_MS)
        if "Complete" in await progress.inner_text():
            return given
        await expect(page.locator("#mos-stimulus img")).to_be_visible(timeout=TIMEOUT_MS)
        await expect(page.locator("#mos-trial")).to_be_hidden()
        trial = int(await trial_box.input_value())
        if not checked_blindness:
            await _check_blindness(page)
            checked_blindness = True
        score = 1 + trial % 5
        if trial % 3 == 0:
            await page.keyboard.press(str(score))
        else:
            await page.locator(f"#mos-score-{score}").click()
        given[trial] = score
        await expect(trial_box).not_to_have_value(str(trial), timeout=TIMEOUT_MS)
        if trial == reload_after:
            await page.reload()
            await page.get_by_role("tab", name="Rate").click()
            await expect(progress).to_contain_text(re.compile("Image|Calibration|Complete"), timeout=TIMEOUT_MS)


async def _check_blindness(page):
    """The Rate tab names no method; the image is a pixels-only PNG with a neutral URL, shown at its own size."""
    panel = await page.locator("#mos-stimulus").evaluate("e => e.closest('[role=tabpanel]').innerHTML")
    image = page.locator("#mos-stimulus img")
    source = await image.get_attribute("src")
    assert not METHOD_WORDS.search(panel) and not METHOD_WORDS.search(source)
    assert source.endswith("/image.png")
    data = await (await page.request.get(source)).body()
    assert _png_chunk_types(data)[0] == b"IHDR" and not {b"tEXt", b"zTXt", b"iTXt"} & set(_png_chunk_types(data))
    natural, shown = await image.evaluate("e => [[e.naturalWidth, e.naturalHeight], [e.width, e.height]]")
    assert natural == shown == [48, 40]


async def _two_raters_at_once_then_the_results(url):
    """Alice (who reloads the page mid-way) and Bob rate at once; then a third page shows the results table."""
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            alice, bob = [await (await browser.new_context()).new_page() for _ in range(2)]
            given = await asyncio.gather(
                _rate_session(alice, url, "alice", reload_after=5), _rate_session(bob, url, '=HYPERLINK("x")')
            )
            researcher = await browser.new_page(viewport={"width": 1400, "height": 1600})
            await researcher.goto(url, timeout=TIMEOUT_MS)
            await researcher.get_by_role("tab", name="MOS Results").click()
            await researcher.locator("#mos-results-show").click()
            overview = researcher.locator("#mos-results-overview")
            await expect(overview).to_contain_text("16 ratings by 2 raters of 2 images", timeout=TIMEOUT_MS)
            return given, await researcher.locator("#mos-results-paper").inner_text()
        finally:
            await browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")
def test_two_raters_at_once_on_one_app_make_a_correct_csv_and_the_results_tab_shows_the_table(
    study_environment, running_app
):
    (alice, bob), paper_table = asyncio.run(_two_raters_at_once_then_the_results(running_app()))

    desk = mos_tabs.current_desk()
    table = read_ratings(desk.study.ratings_path)
    assert table.warnings == ()
    frame = table.frame
    for rater_id, given in (("alice", alice), ('\'=HYPERLINK("x")', bob)):
        rows = frame[frame["rater_id"] == rater_id].sort_values("trial")
        assert len(rows) == len(given) == 14, "2 calibration + 2 images x 4 methods + 2 repeats + gold + trap"
        assert dict(zip(rows["trial"], rows["score"])) == given
        session = desk.resume(rows["session_id"].iloc[0])
        planned = [(step.trial, step.image_id, step.method, step.kind) for step in session.plan]
        assert list(zip(rows["trial"], rows["image_id"], rows["method"], rows["kind"])) == planned
    assert sorted(set(frame.loc[frame["kind"] == "trial", "method"])) == sorted(STUDY_METHODS)
    for text in ("PSNR", "SSIM", "MOS", *STUDY_METHODS):
        assert text in paper_table
