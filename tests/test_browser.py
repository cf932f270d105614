"""End to end in a real browser: upload an image, run Compare, see every model's output and the metrics.

Uses Debian's ``chromium`` package through Playwright (no browser download); skipped, with
the reason, only where that browser is not installed. Tiny random weights stand in for the
trained ones, so the test also checks that models without weights are shown as unavailable.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from PIL import Image
from served_app import CHROMIUM, CHROMIUM_ARGS

WITH_WEIGHTS, WITHOUT_WEIGHTS = ("bicubic", "srcnn", "esrgan"), ("srgan", "swiftsrgan")
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium); .ci/run installs it",
)


@contextmanager
def browser_page(url: str, height: int) -> Iterator[Any]:
    """A headless Chromium page at ``url``, 1400 px wide and ``height`` tall, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.goto(url, timeout=TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def test_compare_tab_shows_every_model_and_the_metrics_table(tmp_path, tiny_weights, running_app):
    from playwright.sync_api import expect

    tiny_weights("srcnn", "esrgan")
    upload = tmp_path / "upload.png"
    Image.fromarray((np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8)).save(upload)
    url = running_app()

    with browser_page(url, 1800) as page:
        page.get_by_role("tab", name="Compare").click()
        page.locator("#compare-input input[type=file]").set_input_files(str(upload))
        expect(page.locator("#compare-input img")).to_be_visible(timeout=TIMEOUT_MS)
        page.locator("#compare-run").click()

        metrics = page.locator("#compare-metrics")
        for model in WITH_WEIGHTS + WITHOUT_WEIGHTS:
            expect(metrics).to_contain_text(model, timeout=TIMEOUT_MS)
        expect(metrics).not_to_contain_text("waiting", timeout=TIMEOUT_MS)
        expect(metrics).to_contain_text("unavailable (no weights)")

        gallery = page.locator("#compare-gallery")
        expect(gallery.locator("img")).to_have_count(1 + len(WITH_WEIGHTS + WITHOUT_WEIGHTS), timeout=TIMEOUT_MS)
        for model in ("HR (ground truth)", *WITH_WEIGHTS, *WITHOUT_WEIGHTS):
            expect(gallery).to_contain_text(re.compile(re.escape(model)))
        page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    assert (tmp_path / "compare.png").stat().st_size > 0


def test_a_truncated_upload_gets_the_librarys_message_in_the_browser(tmp_path, running_app):
    from playwright.sync_api import expect

    from sr_core.errors import InvalidImageError
    from sr_core.imaging import open_image

    upload = tmp_path / "photo.jpg"
    Image.fromarray((np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8)).save(upload)
    upload.write_bytes(upload.read_bytes()[:300])
    with pytest.raises(InvalidImageError) as refused:
        open_image(upload)
    url = running_app()

    with browser_page(url, 1200) as page:
        page.locator("#upscale-input input[type=file]").set_input_files(str(upload))
        page.get_by_role("button", name="Upscale x4").click()
        expect(page.get_by_text(str(refused.value)).first).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_text("raised an exception")).to_have_count(0)
