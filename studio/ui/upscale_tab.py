"""The Upscale tab: one upload x4 with a bundled model, or at its own scale with a model file of the user's."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from sr_core.imaging import pixel_cap_from_env
from studio.services import model_choices, outputs, uploads, upscale
from studio.ui.components import (
    CONCURRENCY,
    MODEL_QUEUE,
    OWN_FOLDER_LABEL,
    chosen_model_file,
    example_images,
    input_image,
    model_files_upload,
    notes_markdown,
    require_upload,
    result_image,
)
from studio.ui.errors import shown_as_gradio_errors


@shown_as_gradio_errors
def upscale_upload(
    path: str | None,
    model_name: str,
    shrink: bool = False,
    model_file: str | None = None,
    folder_model: str | None = None,
    progress: gr.Progress = gr.Progress(),
) -> tuple[str, str, str]:
    """Upscale tab: the PNG (shown and offered as a file) and a summary line stating the sizes.

    A model file of the user's (uploaded, else chosen from the user models folder) replaces the named model.
    """
    model_path = chosen_model_file(model_file, folder_model)
    progress(0.0, desc=f"Upscaling with {Path(model_path).name if model_path else model_name}")
    outcome = upscale.upscale_file(
        require_upload(path), model_name, outputs.new_output_dir(), shrink=shrink, model_file=model_path
    )
    summary = f"**{outcome.summary}**"
    if outcome.notices:
        summary += "\n\n" + notes_markdown(outcome.notices)
    return str(outcome.path), str(outcome.path), summary


@shown_as_gradio_errors
def upscale_button(model_file: str | None = None, folder_model: str | None = None) -> gr.Button:
    """Upscale tab: the button states the scale of the chosen model (an own file may be x1, x2 ...)."""
    return gr.Button(upscale.upscale_label(chosen_model_file(model_file, folder_model)))


def build_upscale_tab() -> None:
    with gr.Tab("Upscale"):
        with gr.Row():
            with gr.Column():
                image = input_image("Image", "upscale-input")
                model = gr.Dropdown(
                    model_choices.model_choices(), value=model_choices.default_upscale_model(), label="Model"
                )
                shrink = gr.Checkbox(
                    False,
                    label=uploads.SHRINK_LABEL,
                    info=f"Up to {uploads.SHRINK_HEADROOM}x the cap of {pixel_cap_from_env():,} pixels",
                )
                with gr.Accordion("Or your own model (any scale)", open=False):
                    model_file = model_files_upload("Model file", "single")
                    folder_choices = model_choices.folder_model_choices()
                    folder_model = gr.Dropdown(
                        folder_choices, value=None, label=OWN_FOLDER_LABEL, visible=bool(folder_choices)
                    )
                run = gr.Button(upscale.upscale_label(), variant="primary")
            with gr.Column():
                result = result_image("x4 result (PNG)")
                download = gr.File(label="Download PNG", interactive=False)
                summary = gr.Markdown()
        shown = [result, download, summary]
        run.click(
            upscale_upload,
            [image, model, shrink, model_file, folder_model],
            shown,
            api_name="upscale",
            concurrency_id=MODEL_QUEUE,
            concurrency_limit=CONCURRENCY,
        )
        gr.on(
            [model_file.change, folder_model.change],
            upscale_button,
            [model_file, folder_model],
            run,
            api_name="upscale_label",
            concurrency_id=MODEL_QUEUE,
            concurrency_limit=CONCURRENCY,
        )
        gr.Examples(
            [[path, model_choices.default_upscale_model()] for path in example_images()],
            [image, model],
            shown,
            fn=upscale_upload,
            cache_examples=True,
            cache_mode="lazy",
        )
