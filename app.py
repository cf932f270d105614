"""SR Studio's web app: a thin Gradio layer over :mod:`sr_core`.

Each tab is one ``build_*_tab()`` function that lays out components and wires them to one
library function per event (:mod:`sr_core.compare`, :mod:`sr_core.interpolation`); no image
maths happens here. Images travel as files in both directions: uploads are taken as the
original file (``type="filepath"``, ``image_mode=None``) so alpha and 16-bit reach the
library, and every result is a PNG the library wrote (``format="png"``), because Gradio's
default WebP re-encoding would make a comparison of SR artefacts a comparison of
compression artefacts.

``python app.py`` serves on Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default
127.0.0.1:7860). Its settings (concurrency, queue size, upload limit, pixel cap ...) are
environment variables, all defined and documented in :mod:`sr_core.settings`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from gradio import processing_utils
from gradio.data_classes import ImageData
import plotly.graph_objects as go

from sr_core import compare, settings, user_models
from sr_core.errors import SRStudioError
from sr_core.imaging import pixel_cap_from_env
from ui.gan_lab_tab import build_gan_lab_tab
from ui.mos_tabs import build_rate_tab, build_results_tab

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
CONCURRENCY = settings.concurrency()
# Every event that runs a network queues under this one id, so the tabs together never run
# more than CONCURRENCY models at once on a small CPU host.
MODEL_QUEUE = "sr_models"
MODE_CHOICES = [
    ("Treat as ground truth: make its x4 LR with the protocol's bicubic, report PSNR/SSIM/LPIPS", compare.GROUND_TRUTH),
    ("Treat as low resolution: upscale it as it is (no reference, so no PSNR/SSIM)", compare.LOW_RESOLUTION),
]
OWN_FOLDER_LABEL = f"Your models ({settings.USER_MODELS_DIR.name})"
HEADER = """# SR Studio
x4 super-resolution with the models of the SR papers, compared honestly: images stay lossless PNG
end to end and metrics follow the papers' protocol (Y channel, 4-pixel border).
Learned models appear as *unavailable (no weights)* until their weights are in `weights/`."""


def example_images() -> list[str]:
    """The bundled example images, in name order."""
    return sorted(str(path) for path in ASSETS_DIR.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


def _shown_as_gradio_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's user errors into ``gr.Error`` pop-ups (generators included); bugs still raise.

    A file the server cannot write (a full disk) is an ``OSError``, not a bug: the user is told
    so in one line (without server paths) instead of Gradio's bare "Error".
    """
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def streaming(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from handler(*args, **kwargs)
            except (SRStudioError, OSError) as error:
                raise _gradio_error(error) from None
        return streaming

    @functools.wraps(handler)
    def single(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except (SRStudioError, OSError) as error:
            raise _gradio_error(error) from None
    return single


def _gradio_error(error: SRStudioError | OSError) -> gr.Error:
    if isinstance(error, SRStudioError):
        return gr.Error(str(error))
    return gr.Error(f"The server could not write or read a file ({error.strerror or type(error).__name__}); "
                    "try again later.")


def _require_upload(path: str | None) -> str:
    if not path:
        raise gr.Error("Upload an image (or pick an example) first.")
    return path


def _notes(lines: tuple[str, ...] | list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _unopened_upload(cache_dir: str, payload: ImageData | None) -> str | None:
    """The uploaded file's path, never opened: what the upload components hand their handlers.

    ``gr.Image.preprocess`` opens every upload with PIL before the handler runs, so an empty,
    truncated, HTML or bomb file failed inside Gradio with its generic "raised an exception"
    instead of reaching :func:`sr_core.imaging.open_image`, whose one-line message the CLI gives
    for the same file. This way the library does all the opening and validation. A pasted image
    arrives inline (a data URL) and is stored as a file, also unopened.
    """
    if payload is None:
        return None
    if payload.url and payload.url.startswith("data:"):
        return processing_utils.save_base64_to_cache(payload.url, cache_dir)
    return payload.path


def _input_image(label: str, elem_id: str) -> gr.Image:
    """An upload that hands the library the original file, untouched.

    Its ``preprocess`` is replaced on the instance: a subclass of a Gradio component makes
    Gradio write a ``.pyi`` stub beside the defining file at import time.
    """
    upload = gr.Image(label=label, type="filepath", image_mode=None, format="png", sources=["upload", "clipboard"],
                      elem_id=elem_id)
    upload.preprocess = functools.partial(_unopened_upload, upload.GRADIO_CACHE)  # type: ignore[method-assign]
    return upload


def _model_files_upload(label: str, file_count: str) -> gr.File:
    """Users' model files, handed to the library as paths; spandrel tells what they are."""
    return gr.File(label=f"{label} (.safetensors / .pth; any architecture spandrel recognises)", file_count=file_count,
                   file_types=list(user_models.USER_MODEL_SUFFIXES), type="filepath")


def _own_file(upload: str | None, folder_name: str | None) -> str | None:
    """A model file of the user's: the uploaded one, else the one chosen from the user models folder, else none."""
    return upload or (str(compare.folder_model_path(folder_name)) if folder_name else None)


def _result_image(label: str) -> gr.Image:
    return gr.Image(label=label, type="filepath", format="png", interactive=False, buttons=["download", "fullscreen"])


# --- Upscale -------------------------------------------------------------------------------


@_shown_as_gradio_errors
def upscale(
    path: str | None, model_name: str, shrink: bool = False, model_file: str | None = None,
    folder_model: str | None = None, progress: gr.Progress = gr.Progress()
) -> tuple[str, str, str]:
    """Upscale tab: the PNG (shown and offered as a file) and a summary line stating the sizes.

    A model file of the user's (uploaded, else chosen from the user models folder) replaces the named model.
    """
    own_file = _own_file(model_file, folder_model)
    progress(0.0, desc=f"Upscaling with {Path(own_file).name if own_file else model_name}")
    outcome = compare.upscale_file(_require_upload(path), model_name, compare.new_output_dir(), shrink=shrink,
                                   model_file=own_file)
    summary = f"**{outcome.summary}**"
    if outcome.notices:
        summary += "\n\n" + _notes(outcome.notices)
    return str(outcome.path), str(outcome.path), summary


@_shown_as_gradio_errors
def upscale_button(model_file: str | None = None, folder_model: str | None = None) -> gr.Button:
    """Upscale tab: the button states the scale of the chosen model (an own file may be x1, x2 ...)."""
    return gr.Button(compare.upscale_label(_own_file(model_file, folder_model)))


def build_upscale_tab() -> None:
    with gr.Tab("Upscale"):
        with gr.Row():
            with gr.Column():
                image = _input_image("Image", "upscale-input")
                model = gr.Dropdown(compare.model_choices(), value=compare.default_upscale_model(), label="Model")
                shrink = gr.Checkbox(False, label=compare.SHRINK_LABEL,
                                     info=f"Up to {compare.SHRINK_HEADROOM}x the cap of {pixel_cap_from_env():,} pixels")
                with gr.Accordion("Or your own model (any scale)", open=False):
                    model_file = _model_files_upload("Model file", "single")
                    folder_choices = compare.folder_model_choices()
                    folder_model = gr.Dropdown(folder_choices, value=None, label=OWN_FOLDER_LABEL,
                                               visible=bool(folder_choices))
                run = gr.Button(compare.upscale_label(), variant="primary")
            with gr.Column():
                result = _result_image("x4 result (PNG)")
                download = gr.File(label="Download PNG", interactive=False)
                summary = gr.Markdown()
        outputs = [result, download, summary]
        run.click(upscale, [image, model, shrink, model_file, folder_model], outputs, api_name="upscale",
                  concurrency_id=MODEL_QUEUE, concurrency_limit=CONCURRENCY)
        gr.on([model_file.change, folder_model.change], upscale_button, [model_file, folder_model], run,
              api_name="upscale_label", concurrency_id=MODEL_QUEUE, concurrency_limit=CONCURRENCY)
        gr.Examples([[path, compare.default_upscale_model()] for path in example_images()], [image, model], outputs,
                    fn=upscale, cache_examples=True, cache_mode="lazy")


# --- Compare -------------------------------------------------------------------------------


@_shown_as_gradio_errors
def run_comparison(
    path: str | None, mode: str, model_names: list[str], model_files: list[str] | None = None,
    folder_models: list[str] | None = None, progress: gr.Progress = gr.Progress()
) -> Iterator[tuple[Any, ...]]:
    """Compare tab: stream gallery, table, chart, notes, downloads, state and slider choices per finished model.

    ``model_files`` (uploaded) and ``folder_models`` (names in the user models folder) add one column each.
    """
    out_dir = compare.new_output_dir()
    own_files = [*(model_files or []), *map(compare.folder_model_path, folder_models or [])]
    views = compare.compare_stream(_require_upload(path), mode, model_names, out_dir,
                                   progress=lambda fraction, text: progress(fraction, desc=text), model_files=own_files)
    for view in views:
        before, after = view.slider_defaults
        choices = view.viewable
        yield (view.gallery, view.table, view.chart, _notes(view.notices), [str(p) for p in view.downloads] or None,
               view, gr.Dropdown(choices=choices, value=before), gr.Dropdown(choices=choices, value=after))


@_shown_as_gradio_errors
def zoom(
    view: compare.CompareView | None, center_x: float, center_y: float, size: int, factor: int
) -> list[tuple[str, str]]:
    """Compare tab: the same crop of every result, enlarged with nearest neighbour."""
    if view is None:
        return []
    return compare.zoom_outputs(view.outputs, center_x, center_y, int(size), int(factor), compare.new_output_dir())


@_shown_as_gradio_errors
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
                image = _input_image("Image", "compare-input")
                gr.Examples([[path] for path in example_images()], [image])
            with gr.Column(scale=2):
                mode = gr.Radio(MODE_CHOICES, value=compare.GROUND_TRUTH, label="The upload is")
                models = gr.CheckboxGroup(compare.model_choices(), value=list(compare.COMPARE_MODELS), label="Models")
                folder_choices = compare.folder_model_choices()
                folder_models = gr.CheckboxGroup(folder_choices, label=OWN_FOLDER_LABEL, visible=bool(folder_choices))
                model_files = _model_files_upload("Add model files, x4", "multiple")
                run = gr.Button("Compare", variant="primary", elem_id="compare-run")
                notes = gr.Markdown()
        gallery = gr.Gallery(label="Outputs", columns=3, format="png", object_fit="contain", height="auto",
                             elem_id="compare-gallery")
        with gr.Row():
            table = gr.Dataframe(label="Metrics", interactive=False, wrap=True, elem_id="compare-metrics")
            chart = gr.Plot(label="PSNR / SSIM / LPIPS (AlexNet, lower is better) / seconds")
        downloads = gr.File(label="Download: all outputs + metrics (zip), metrics (CSV)", file_count="multiple",
                            interactive=False)
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

        compared = run.click(run_comparison, [image, mode, models, model_files, folder_models],
                             [gallery, table, chart, notes, downloads, view, before, after],
                             api_name="compare", concurrency_id=MODEL_QUEUE, concurrency_limit=CONCURRENCY)
        zoom_inputs = [view, center_x, center_y, size, factor]
        compared.success(zoom, zoom_inputs, zoomed).success(slide, [view, before, after], slider)
        for control in (center_x, center_y, size, factor):
            control.release(zoom, zoom_inputs, zoomed)
        gr.on([before.input, after.input], slide, [view, before, after], slider)


# --- Interpolate ---------------------------------------------------------------------------


def _interpolated_files(
    first_file: str | None, second_file: str | None, first_folder: str | None, second_folder: str | None
) -> list[str]:
    """The user's two files to blend (each uploaded, else from the folder); none chosen: the bundled pair."""
    return [file for file in (_own_file(first_file, first_folder), _own_file(second_file, second_folder)) if file]


@_shown_as_gradio_errors
def interpolate(
    path: str | None, mode: str, gan_name: str, alpha: float, first_file: str | None = None,
    second_file: str | None = None, first_folder: str | None = None, second_folder: str | None = None,
    progress: gr.Progress = gr.Progress()
) -> tuple[str, str, str]:
    """Interpolate tab: network interpolation and pixel blend at ``alpha``, of the pair or of two files of the user's."""
    progress(0.0, desc=f"Interpolating at alpha = {alpha:.2f}")
    shown = compare.interpolation_view(_require_upload(path), mode, gan_name, alpha, compare.new_output_dir(),
                                       model_files=_interpolated_files(first_file, second_file, first_folder,
                                                                       second_folder))
    return str(shown.network_path), str(shown.image_path), shown.caption


@_shown_as_gradio_errors
def plot_curve(
    path: str | None, mode: str, gan_name: str, first_file: str | None = None, second_file: str | None = None,
    first_folder: str | None = None, second_folder: str | None = None, progress: gr.Progress = gr.Progress()
) -> tuple[pd.DataFrame, go.Figure]:
    """Interpolate tab: the perception-distortion plane of the upload (per-alpha table and plot)."""
    curve = compare.curve_for_upload(_require_upload(path), mode, gan_name,
                                     progress=lambda fraction, text: progress(fraction, desc=text),
                                     model_files=_interpolated_files(first_file, second_file, first_folder,
                                                                     second_folder))
    return curve.round({"psnr": 2, "ssim": 4, "lpips": 4}), compare.curve_chart(curve)


def build_interpolate_tab() -> None:
    with gr.Tab("Interpolate"):
        gr.Markdown("ESRGAN's network interpolation: blend the *parameters* of a PSNR model and its GAN twin, "
                    "theta = (1 - alpha) theta_PSNR + alpha theta_GAN, beside blending their *outputs* at the same "
                    "alpha; or blend two model files of your own of one architecture (two fine-tunes of one network).")
        with gr.Row():
            with gr.Column(scale=1):
                image = _input_image("Image", "interpolate-input")
                gr.Examples([[path] for path in example_images()], [image])
            with gr.Column(scale=2):
                mode = gr.Radio(MODE_CHOICES, value=compare.GROUND_TRUTH, label="The upload is")
                pair = gr.Dropdown(compare.pair_choices(), value="esrgan", label="PSNR model -> GAN model")
                with gr.Accordion("Or two model files of your own (one architecture and shape, x4)", open=False):
                    with gr.Row():
                        first_file = _model_files_upload("First model, alpha = 0", "single")
                        second_file = _model_files_upload("Second model, alpha = 1", "single")
                    folder_choices = compare.folder_model_choices()
                    with gr.Row(visible=bool(folder_choices)):
                        first_folder = gr.Dropdown(folder_choices, value=None, label=f"First: {OWN_FOLDER_LABEL}")
                        second_folder = gr.Dropdown(folder_choices, value=None, label=f"Second: {OWN_FOLDER_LABEL}")
                alpha = gr.Slider(0, 1, value=0.8, step=0.05, label="alpha (0: PSNR model, 1: GAN); updates on release")
                run = gr.Button("Interpolate", variant="primary")
                caption = gr.Markdown()
        with gr.Row():
            network = _result_image("Network interpolation")
            blended = _result_image("Pixel blend of the two outputs")
        curve_button = gr.Button("Plot the perception-distortion plane (alpha = 0, 0.2, ..., 1)")
        with gr.Row():
            curve_table = gr.Dataframe(label="PSNR / SSIM / LPIPS per alpha", interactive=False)
            curve_plot = gr.Plot(label="Network vs image interpolation: LPIPS (perception) against RMSE (distortion)")

        own_files = [first_file, second_file, first_folder, second_folder]
        gr.on([alpha.release, run.click], interpolate, [image, mode, pair, alpha, *own_files],
              [network, blended, caption], api_name="interpolate", concurrency_id=MODEL_QUEUE,
              concurrency_limit=CONCURRENCY)
        curve_button.click(plot_curve, [image, mode, pair, *own_files], [curve_table, curve_plot], api_name="curve",
                           concurrency_id=MODEL_QUEUE, concurrency_limit=CONCURRENCY)


# --- the app -------------------------------------------------------------------------------

TABS: tuple[Callable[[], None], ...] = (build_upscale_tab, build_compare_tab, build_interpolate_tab, build_gan_lab_tab,
                                        build_rate_tab, build_results_tab)


def build_demo(tabs: tuple[Callable[[], None], ...] = TABS) -> gr.Blocks:
    """The app with its tabs and queue; launch it with :func:`launch`."""
    with gr.Blocks(title="SR Studio", delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown(HEADER)
        for build_tab in tabs:
            build_tab()
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=settings.queue_size())
    return demo


def launch(demo: gr.Blocks, **overrides: Any) -> Any:
    """Serve ``demo`` with the upload limit; host and port from Gradio's environment unless overridden."""
    return demo.launch(max_file_size=settings.max_file_size(), **overrides)


if __name__ == "__main__":
    launch(build_demo())
