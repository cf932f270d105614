"""The Interpolate tab: ESRGAN's network interpolation beside a pixel blend, and the perception-distortion plane."""

from __future__ import annotations

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from studio.services import interpolate, model_choices, outputs
from studio.ui.components import (
    CONCURRENCY,
    MODEL_QUEUE,
    OWN_FOLDER_LABEL,
    chosen_model_file,
    mode_choice,
    model_files_upload,
    require_upload,
    result_image,
    upload_with_examples,
)
from studio.ui.errors import shown_as_gradio_errors


def _interpolated_files(
    first_file: str | None, second_file: str | None, first_folder: str | None, second_folder: str | None
) -> list[str]:
    """The user's two files to blend (each uploaded, else from the folder); none chosen: the bundled pair."""
    return [
        file
        for file in (chosen_model_file(first_file, first_folder), chosen_model_file(second_file, second_folder))
        if file
    ]


@shown_as_gradio_errors
def interpolate_upload(
    path: str | None,
    mode: str,
    gan_name: str,
    alpha: float,
    first_file: str | None = None,
    second_file: str | None = None,
    first_folder: str | None = None,
    second_folder: str | None = None,
    progress: gr.Progress = gr.Progress(),
) -> tuple[str, str, str]:
    """Interpolate tab: network interpolation and pixel blend at ``alpha``, of the pair or of two files of the user's."""
    progress(0.0, desc=f"Interpolating at alpha = {alpha:.2f}")
    shown = interpolate.interpolation_view(
        require_upload(path),
        mode,
        gan_name,
        alpha,
        outputs.new_output_dir(),
        model_files=_interpolated_files(first_file, second_file, first_folder, second_folder),
    )
    return str(shown.network_path), str(shown.image_path), shown.caption


@shown_as_gradio_errors
def plot_curve(
    path: str | None,
    mode: str,
    gan_name: str,
    first_file: str | None = None,
    second_file: str | None = None,
    first_folder: str | None = None,
    second_folder: str | None = None,
    progress: gr.Progress = gr.Progress(),
) -> tuple[pd.DataFrame, go.Figure]:
    """Interpolate tab: the perception-distortion plane of the upload (per-alpha table and plot)."""
    curve = interpolate.curve_for_upload(
        require_upload(path),
        mode,
        gan_name,
        progress=lambda fraction, text: progress(fraction, desc=text),
        model_files=_interpolated_files(first_file, second_file, first_folder, second_folder),
    )
    return curve.round({"psnr": 2, "ssim": 4, "lpips": 4}), interpolate.curve_chart(curve)


def build_interpolate_tab() -> None:
    with gr.Tab("Interpolate"):
        gr.Markdown(
            "ESRGAN's network interpolation: blend the *parameters* of a PSNR model and its GAN twin, "
            "theta = (1 - alpha) theta_PSNR + alpha theta_GAN, beside blending their *outputs* at the same "
            "alpha; or blend two model files of your own of one architecture (two fine-tunes of one network)."
        )
        with gr.Row():
            with gr.Column(scale=1):
                image = upload_with_examples("interpolate-input")
            with gr.Column(scale=2):
                mode = mode_choice()
                pair = gr.Dropdown(
                    interpolate.pair_choices(),
                    value=model_choices.DEFAULT_INTERPOLATION_GAN,
                    label="PSNR model -> GAN model",
                )
                with gr.Accordion("Or two model files of your own (one architecture and shape, x4)", open=False):
                    with gr.Row():
                        first_file = model_files_upload("First model, alpha = 0", "single")
                        second_file = model_files_upload("Second model, alpha = 1", "single")
                    folder_choices = model_choices.folder_model_choices()
                    with gr.Row(visible=bool(folder_choices)):
                        first_folder = gr.Dropdown(folder_choices, value=None, label=f"First: {OWN_FOLDER_LABEL}")
                        second_folder = gr.Dropdown(folder_choices, value=None, label=f"Second: {OWN_FOLDER_LABEL}")
                alpha = gr.Slider(0, 1, value=0.8, step=0.05, label="alpha (0: PSNR model, 1: GAN); updates on release")
                run = gr.Button("Interpolate", variant="primary")
                caption = gr.Markdown()
        with gr.Row():
            network = result_image("Network interpolation")
            blended = result_image("Pixel blend of the two outputs")
        curve_button = gr.Button("Plot the perception-distortion plane (alpha = 0, 0.2, ..., 1)")
        with gr.Row():
            curve_table = gr.Dataframe(label="PSNR / SSIM / LPIPS per alpha", interactive=False)
            curve_plot = gr.Plot(label="Network vs image interpolation: LPIPS (perception) against RMSE (distortion)")

        own_files = [first_file, second_file, first_folder, second_folder]
        gr.on(
            [alpha.release, run.click],
            interpolate_upload,
            [image, mode, pair, alpha, *own_files],
            [network, blended, caption],
            api_name="interpolate",
            concurrency_id=MODEL_QUEUE,
            concurrency_limit=CONCURRENCY,
        )
        curve_button.click(
            plot_curve,
            [image, mode, pair, *own_files],
            [curve_table, curve_plot],
            api_name="curve",
            concurrency_id=MODEL_QUEUE,
            concurrency_limit=CONCURRENCY,
        )
