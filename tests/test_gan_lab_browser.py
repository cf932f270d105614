"""The GAN Lab tab end to end in a real browser: train the 1-D GAN live, see the runs (bundled and the user's), sample.

The tab is served by the app's own ``build_demo``/``launch`` with only this tab, and driven
with Debian's ``chromium`` through Playwright; skipped, with the reason, where it is missing.
"""

import pytest
from served_app import CHROMIUM, CHROMIUM_ARGS, served_in_this_process

from labs.gan.trainer import GanRunConfig, Schedule, train

TIMEOUT_MS = 90_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium); .ci/run installs it",
)


def quiet(line: str) -> None:
    """Swallow the trainer's progress lines."""


@pytest.fixture
def gan_lab_url(tmp_path, monkeypatch):
    """The app with only the GAN Lab tab: the repository's bundled GAN runs and a runs folder of one tiny sine run."""
    import app
    from studio.ui.gan_lab_tab import build_gan_lab_tab

    runs = tmp_path / "runs"
    train(GanRunConfig("sine", size="tiny"), runs / "sine-cnn", Schedule(steps=2, sample_every=2), log=quiet)
    monkeypatch.setenv("SR_STUDIO_GAN_RUNS", str(runs))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    with served_in_this_process(app.build_demo((build_gan_lab_tab,))) as url:
        yield url


def test_gan_lab_trains_the_1d_gan_live_and_shows_the_runs_gallery(tmp_path, gan_lab_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(gan_lab_url, timeout=TIMEOUT_MS)
            page.get_by_role("tab", name="GAN Lab").click()

            gallery = page.locator("#gan-runs-gallery")
            expect(gallery.locator("img")).to_have_count(11, timeout=TIMEOUT_MS)  # ten bundled, the sine run
            expect(page.locator("#gan-runs-table")).to_contain_text("capsule")
            expect(page.locator("#gan-runs-table table tr")).to_have_count(11)  # header and ten bundled runs
            expect(page.locator("#gan-runs-curves .js-plotly-plot")).to_be_visible(timeout=TIMEOUT_MS)

            page.locator("#gan-sample-run-button").click()
            expect(page.locator("#gan-sample-image img")).to_be_visible(timeout=TIMEOUT_MS)

            page.locator("#gan1d-run").click()
            status = page.locator("#gan1d-status")
            expect(status).to_contain_text("step 1500/1500", timeout=TIMEOUT_MS)
            expect(status).to_contain_text("learned mean")
            expect(page.locator("#gan1d-plot .js-plotly-plot")).to_be_visible()
            expect(page.locator("#gan1d-plot")).to_contain_text("D(x)")
            page.screenshot(path=str(tmp_path / "gan_lab.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "gan_lab.png").stat().st_size > 0
