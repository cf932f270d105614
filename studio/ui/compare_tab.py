"""The Compare tab: the chosen models side by side on one upload, with metrics, zoom, slider and downloads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from studio.services import compare, model_choices, outputs
from studio.ui.components import (
    CONCURRENCY,
    MODEL_QUEUE,
    OWN_FOLDER_LABEL,
    mode_choice,
    model_files_upload,
    notes_markdown,
    require_upload,
    upload_with_examples,
)
from studio.ui.errors import shown_as_gradio_errors


@shown_as_gradio_errors
def run_comparison(
    path: str | None,
    mode: str,
    model_names: list[str],
    model_files: list[str] | None = None,
    folder_models: list[str] | None = None,
    progress: gr.Progress = gr.Progress(),
) -> Iterator[tuple[Any, ...]]:
    """Compare tab: stream gallery, table, chart, notes, downloads, state and slider choices per finished model.

    ``model_files`` (uploaded) and ``folder_models`` (names in the user models folder) add one column each.
    """
    out_dir = outputs.new_output_dir()
    own_files: list[str | Path] = [*(model_files or []), *map(model_choices.folder_model_path, folder_models or [])]
    views = compare.compare_stream(
        require_upload(path),
        mode,
        model_names,
        out_dir,
        progress=lambda fraction, text: progress(fraction, desc=text),
        model_files=own_files,
    )
    for view in views:
        before, after = view.slider_defaults
        choices = view.viewable
        yield (
            view.gallery,
            view.table,
            view.chart,
            notes_markdown(view.notices),
            [str(p) for p in view.downloads] or None,
            view,
            gr.Dropdown(choices=choices, value=before),
            gr.Dropdown(choices=choices, value=after),
        )


@shown_as_gradio_errors
def zoom(
    view: compare.CompareView | None, center_x: float, center_y: float, size: int, factor: int
) -> list[tuple[str, str]]:
    """Compare tab: the same crop of every result, enlarged with nearest neighbour."""
    if view is None:
        return []
    return compare.zoom_outputs(view.outputs, center_x, center_y, int(size), int(factor), outputs.new_output_dir())


@shown_as_gradio_errors
def slide(view: compare.CompareView | None, before: str | None, after: str | None) -> tuple[str, str] | None:
    """Compare tab: two results in the before/after slider."""
    if view is None or not before or not after:
        return None
    return compare.slider_pair(view.outputs, before, after)


def build_compare_tab() -> None:
    with gr.Tab("Compare"):
        view = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1):
                image = upload_with_examples("compare-input")
            with gr.Column(scale=2):
                mode = mode_choice()
                models = gr.CheckboxGroup(
                    model_choices.model_choices(), value=list(model_choices.COMPARE_MODELS), label="Models"
                )
                folder_choices = model_choices.folder_model_choices()
                folder_models = gr.CheckboxGroup(folder_choices, label=OWN_FOLDER_LABEL, visible=bool(folder_choices))
                model_files = model_files_upload("Add model files, x4", "multiple")
                run = gr.Button("Compare", variant="primary", elem_id="compare-run")
                notes = gr.Markdown()
        gallery = gr.Gallery(
            label="Outputs", columns=3, format="png", object_fit="contain", height="auto", elem_id="compare-gallery"
        )
        with gr.Row():
            table = gr.Dataframe(label="Metrics", interactive=False, wrap=True, elem_id="compare-metrics")
            chart = gr.Plot(label="PSNR / SSIM / LPIPS (AlexNet, lower is better) / seconds")
        downloads = gr.File(
            label="Download: all outputs + metrics (zip), metrics (CSV)", file_count="multiple", interactive=False
        )
        with gr.Accordion("Zoom: the same crop of every output", open=True):
            with gr.Row():
                center_x = gr.Slider(0, 1, value=0.5, step=0.01, label="Crop centre x (fraction of width)")
                center_y = gr.Slider(0, 1, value=0.5, step=0.01, label="Crop centre y (fraction of height)")
                size = gr.Slider(8, 256, value=48, step=8, label="Crop size (output pixels)")
                factor = gr.Slider(2, 8, value=4, step=1, label="Enlargement (nearest neighbour)")
            zoomed = gr.Gallery(label="Zoomed crops", columns=4, format="png", object_fit="contain", height="auto")
        with gr.Accordion("Before / after", open=True):
            with gr.Row():
                before = gr.Dropdown([], label="Before (left)")
                after = gr.Dropdown([], label="After (right)")
            slider = gr.ImageSlider(label="Before / after", type="filepath", format="png")

        compared = run.click(
            run_comparison,
            [image, mode, models, model_files, folder_models],
            [gallery, table, chart, notes, downloads, view, before, after],
            api_name="compare",
            concurrency_id=MODEL_QUEUE,
            concurrency_limit=CONCURRENCY,
        )
        zoom_inputs = [view, center_x, center_y, size, factor]
        compared.success(zoom, zoom_inputs, zoomed).success(slide, [view, before, after], slider)
        for control in (center_x, center_y, size, factor):
            control.release(zoom, zoom_inputs, zoomed)
        gr.on([before.input, after.input], slide, [view, before, after], slider)
