"""The MOS tabs: Rate (a blind rating session) and MOS Results (the study's analysis).

A thin layer over :mod:`studio.mos`. The Rate tab shows the app's study
(``SR_STUDIO_MOS_STUDY``, default ``assets/``), prepared on the first session start (or ahead
with ``python -m sr_core mos-prepare``) under ``SR_STUDIO_MOS_DIR``. What reaches the browser
is blind by construction: the stimulus is a numpy array that Gradio writes as a fresh PNG
(``format="png"``, a content-hash folder, the name ``image.png``, no text chunks); labels and
element ids are the same for every method. The browser keeps only its session id
(``gr.BrowserState``), so selecting the Rate tab after a reload (or a server restart) resumes
the session. Ratings and session starts run on their own queue (:data:`RATING_QUEUE`), never
behind model runs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from sr_core import settings
from studio.mos.analysis import correlation_summary, paper_table
from studio.mos.errors import DuplicateRatingError, SessionNotFoundError
from studio.mos.manifest import RATINGS_NAME
from studio.mos.plots import distribution_figure, rank_figure
from studio.mos.protocol import SCORE_LABELS
from studio.mos.push import app_scheduler
from studio.mos.results import StudyResults, export_results, results_of, studies_with_ratings
from studio.mos.session import RaterSession, RatingDesk, TrialView, open_desk
from studio.mos.study import default_definition
from studio.services.outputs import new_output_dir
from studio.ui.errors import user_errors

RATING_QUEUE = "mos_ratings"
RATING_CONCURRENCY = 8
BROWSER_STORAGE_KEY = "sr_studio_mos_session"
INSTRUCTIONS = """### Rate the quality of upscaled images
You will see images one at a time, at their native size. Rate the **quality** of each from
**1 (Bad)** to **5 (Excellent)** with the buttons or the keys 1-5; there is no right answer, go by
your first impression. First come a few calibration examples whose expected score is shown.
Some images appear twice, and a few check that you are paying attention. A session takes a few
minutes; if you reload the page, select this tab again to carry on where you stopped."""
CONSENT = (
    "I agree that my ratings, the nickname I give (or a random id), the time of each rating and my response "
    "times are stored and may be published as part of a research data set. No other data about me is kept."
)
KEYBOARD_AND_LAYOUT_JS = """
if (!window.srStudioMosKeys) {
  window.srStudioMosKeys = true;
  const style = document.createElement('style');
  style.textContent = `#mos-stimulus img { width: auto !important; height: auto !important; max-width: none !important;
    max-height: none !important; object-fit: none !important; }
    #mos-stimulus { overflow: auto; }`;
  document.head.appendChild(style);
  document.addEventListener('keydown', (event) => {
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey || !/^[1-5]$/.test(event.key)) return;
    const target = event.target;
    if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
    const button = document.getElementById('mos-score-' + event.key);
    if (!button || button.offsetParent === null || button.disabled) return;
    event.preventDefault();
    button.click();
  });
}
"""

_desks: dict[tuple[Any, Path], RatingDesk] = {}
_desks_lock = threading.Lock()


def current_desk() -> RatingDesk:
    """The rating desk of the app's study, prepared once per process (and per study settings)."""
    definition, root = default_definition(), settings.mos_dir()
    with _desks_lock:
        if (definition, root) not in _desks:
            scheduler = app_scheduler()
            _desks[definition, root] = open_desk(definition, root, extra_lock=getattr(scheduler, "lock", None))
        return _desks[definition, root]


# --- Rate ----------------------------------------------------------------------------------


def start_session(nickname: str | None, consent: bool) -> tuple[Any, ...]:
    """Start a session for the rater (after consent) and show its first trial."""
    if not consent:
        raise gr.Error("Please read the consent text and tick the box to take part.")
    with user_errors("store the rating"):
        desk = current_desk()
        session, view = desk.serve(desk.start(nickname))
    return session, {"session_id": session.session_id}, *_shown(view)


def resume_session(saved: Any) -> tuple[Any, ...]:
    """Resume the session this browser saved (after a reload); no change when it has none or it is gone."""
    session_id = saved.get("session_id") if isinstance(saved, dict) else None
    if not session_id:
        return (gr.skip(),) * 9
    with user_errors("store the rating"):
        desk = current_desk()
        try:
            session = desk.resume(session_id)
        except SessionNotFoundError:
            return None, None, *(gr.skip(),) * 7
        session, view = desk.serve(session)
    return session, gr.skip(), *_shown(view)


def rate(session: RaterSession | None, trial: float | None, score: object) -> tuple[Any, ...]:
    """Record the score of the trial on screen and show the next; a trial already recorded (double click) is skipped."""
    if session is None:
        raise gr.Error("Start a session first (or select the Rate tab again to resume yours).")
    with user_errors("store the rating"):
        desk = current_desk()
        try:
            session = desk.submit(session, None if trial is None else int(trial), score)
        except DuplicateRatingError:
            session = desk.refreshed(session)
        session, view = desk.serve(session)
    return session, *_shown(view)


def _shown(view: TrialView) -> tuple[Any, ...]:
    """(intro column, rating column, progress, prompt, stimulus, trial number, score buttons) for a view.

    A finished session shows the start form again, so the next rater on a shared computer can begin.
    """
    finished = view.trial is None
    return (
        gr.Column(visible=finished),
        gr.Column(visible=True),
        f"**{view.progress}**",
        view.prompt,
        view.pixels,
        view.trial,
        gr.Row(visible=not finished),
    )


def _trial_number() -> gr.Number:
    """The hidden box of the trial on screen, which the score buttons send back (a replay of it is a double click).

    It sits outside the columns the handlers show and hide: Gradio 6 re-renders a column's
    children when an update re-sends its visibility, and a ``visible="hidden"`` child came back
    visible, an editable box under the stimulus.
    """
    return gr.Number(None, precision=0, visible="hidden", elem_id="mos-trial")


def _score_handler(score: int):
    """The click handler of the button for ``score`` (each button its own event, so the score cannot be altered)."""

    def rate_with_score(session: RaterSession | None, trial: float | None) -> tuple[Any, ...]:
        return rate(session, trial, score)

    return rate_with_score


def build_rate_tab() -> None:
    """Lay out the Rate tab and wire its events."""
    with gr.Tab("Rate") as tab:
        session = gr.State(None)
        # The saved value is only the random session id, which the server checks; a fixed key (Gradio's default
        # is random per process) lets a rater resume after the server restarts, e.g. after a Space slept.
        saved = gr.BrowserState(None, storage_key=BROWSER_STORAGE_KEY, secret=BROWSER_STORAGE_KEY)
        gr.HTML("", js_on_load=KEYBOARD_AND_LAYOUT_JS, padding=False)
        gr.Markdown(INSTRUCTIONS)
        trial = _trial_number()
        with gr.Column(visible=True) as intro:
            nickname = gr.Textbox(
                label="Nickname (optional; leave empty to stay anonymous)", max_length=40, elem_id="mos-nickname"
            )
            consent = gr.Checkbox(False, label=CONSENT, elem_id="mos-consent")
            start = gr.Button("Start rating", variant="primary", elem_id="mos-start")
        with gr.Column(visible=False) as rating:
            progress = gr.Markdown(elem_id="mos-progress")
            prompt = gr.Markdown(elem_id="mos-prompt")
            stimulus = gr.Image(
                type="numpy",
                format="png",
                interactive=False,
                show_label=False,
                label="Image",
                buttons=[],
                elem_id="mos-stimulus",
            )
            with gr.Row(visible=False) as buttons:
                score_buttons = [
                    gr.Button(f"{score} {label}", elem_id=f"mos-score-{score}", min_width=90)
                    for score, label in SCORE_LABELS.items()
                ]
        shown = [intro, rating, progress, prompt, stimulus, trial, buttons]
        queue: dict[str, Any] = {
            "concurrency_id": RATING_QUEUE,
            "concurrency_limit": RATING_CONCURRENCY,
            "api_visibility": "private",
        }
        start.click(start_session, [nickname, consent], [session, saved, *shown], **queue)
        tab.select(resume_session, saved, [session, saved, *shown], **queue)
        for score, button in zip(SCORE_LABELS, score_buttons):
            button.click(_score_handler(score), [session, trial], [session, *shown], **queue)


# --- Results -------------------------------------------------------------------------------


def list_studies() -> gr.Dropdown:
    """The studies with ratings, most recently rated first, the first one picked."""
    studies = studies_with_ratings(settings.mos_dir())
    return gr.Dropdown(choices=studies, value=studies[0] if studies else None)


def show_results(study_id: str | None, exclude_flagged: bool) -> tuple[Any, ...]:
    """Everything the Results tab shows for a study (default: the one rated last): overview, tables, figures, downloads."""
    studies = studies_with_ratings(settings.mos_dir())
    if not studies:
        raise gr.Error("No study has ratings yet: rate some images in the Rate tab first.")
    study_id = study_id if study_id in studies else studies[0]
    csv_path = settings.mos_dir() / study_id / RATINGS_NAME
    with user_errors("store the rating"):
        results = results_of(csv_path, exclude_flagged=exclude_flagged)
        downloads = export_results(results, csv_path, new_output_dir())
    report = results.report
    summary = report.summary.round(
        {"MOS": 2, "CI low": 2, "CI high": 2, "SD": 2, "DMOS": 2, "z-MOS": 2, "mean rank": 2, "PSNR": 2, "SSIM": 4}
    )
    return (
        gr.Dropdown(choices=studies, value=study_id),
        _overview(results),
        paper_table(report.summary),
        summary,
        distribution_figure(report.trials, report.summary),
        rank_figure(report.summary),
        report.pairwise.round({"mean A - B": 2, "W": 1, "p": 4, "p (Holm)": 4}),
        report.screening.round({"mean": 2, "sd": 2, "repeat_mad": 2}),
        [str(path) for path in downloads],
    )


def _overview(results: StudyResults) -> str:
    report, manifest = results.report, results.manifest
    trials = report.trials
    lines = [
        (
            f"**{report.study_id}**: {len(trials)} ratings by {trials['rater_id'].nunique()} raters of "
            f"{trials['image_id'].nunique()} images."
        )
    ]
    if manifest is not None and manifest.skipped:
        skipped = "; ".join(f"{method} ({reason})" for method, reason in manifest.skipped.items())
        lines.append(f"Not in this study: {skipped}")
    if report.friedman is not None:
        lines.append(
            f"Friedman test across all methods: chi2 = {report.friedman.statistic:.2f}, "
            f"p = {report.friedman.p_value:.3g} ({report.friedman.blocks} rater-image blocks)."
        )
    lines.append(f"Krippendorff's alpha: interval {report.alpha_interval:.3f}, ordinal {report.alpha_ordinal:.3f}.")
    lines.append(correlation_summary(report.correlations) + ".")
    flagged = int(report.screening["flagged"].sum())
    lines.append(
        f"Raters flagged by the screening: {flagged}"
        + (f"; left out: {', '.join(report.excluded)}" if report.excluded else "")
    )
    lines += [f"Warning: {warning}" for warning in results.warnings]
    return "\n\n".join(lines)


def build_results_tab() -> None:
    """Lay out the MOS Results tab and wire its events."""
    with gr.Tab("MOS Results") as tab:
        gr.Markdown(
            "### MOS results\nMOS with 95% confidence intervals, DMOS against the hidden HR (ACR-HR), "
            "z-scored MOS, mean ranks, Wilcoxon signed-rank tests with Holm's correction, Friedman's test, "
            "Krippendorff's alpha, rater screening (ITU-R BT.500, gold, trap, calibration, repeats) and "
            "the Spearman correlation of MOS with PSNR, SSIM and LPIPS over the rated stimuli."
        )
        with gr.Row():
            study = gr.Dropdown([], label="Study", elem_id="mos-results-study")
            exclude = gr.Checkbox(False, label="Leave out flagged raters (their rows stay in the CSV)")
            show = gr.Button("Show results", variant="primary", elem_id="mos-results-show")
        overview = gr.Markdown(elem_id="mos-results-overview")
        paper = gr.Dataframe(
            pd.DataFrame(),
            label="As in the SRGAN paper: PSNR / SSIM / MOS",
            interactive=False,
            elem_id="mos-results-paper",
        )
        summary = gr.Dataframe(pd.DataFrame(), label="Per method", interactive=False, elem_id="mos-results-summary")
        with gr.Row():
            distribution = gr.Plot(label="Score distribution")
            ranks = gr.Plot(label="Average rank")
        pairwise = gr.Dataframe(
            pd.DataFrame(), label="Pairwise Wilcoxon signed-rank tests (Holm-corrected)", interactive=False
        )
        screening = gr.Dataframe(pd.DataFrame(), label="Rater screening", interactive=False)
        downloads = gr.File(
            label="Download: raw ratings CSV, per-method summary CSV", file_count="multiple", interactive=False
        )
        tab.select(list_studies, None, study)
        show.click(
            show_results,
            [study, exclude],
            [study, overview, paper, summary, distribution, ranks, pairwise, screening, downloads],
        )
