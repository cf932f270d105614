"""What the app's tabs share: the upload and result components, the model queue, the examples.

Images travel as files in both directions: uploads are taken as the original file
(``type="filepath"``, ``image_mode=None``) so alpha and 16-bit reach the library, and every
result is a PNG the library wrote (``format="png"``), because Gradio's default WebP
re-encoding would make a comparison of SR artefacts a comparison of compression artefacts.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import gradio as gr
from gradio import processing_utils
from gradio.data_classes import ImageData

from sr_core import settings, user_models
from sr_core.protocol import image_files
from studio.services import model_choices, uploads

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
CONCURRENCY = settings.concurrency()
# Every event that runs a network queues under this one id, so the tabs together never run
# more than CONCURRENCY models at once on a small CPU host.
MODEL_QUEUE = "sr_models"
MODE_CHOICES = [
    ("Treat as ground truth: make its x4 LR with the protocol's bicubic, report PSNR/SSIM/LPIPS", uploads.GROUND_TRUTH),
    ("Treat as low resolution: upscale it as it is (no reference, so no PSNR/SSIM)", uploads.LOW_RESOLUTION),
]
OWN_FOLDER_LABEL = f"Your models ({settings.USER_MODELS_DIR.name})"


def example_images() -> list[str]:
    """The bundled example images, in name order."""
    return [str(path) for path in image_files(ASSETS_DIR)]


def require_upload(path: str | None) -> str:
    """The upload's path; none yet is the one user error Gradio itself can tell (the library never saw a file)."""
    if not path:
        raise gr.Error("Upload an image (or pick an example) first.")
    return path


def notes_markdown(lines: tuple[str, ...] | list[str]) -> str:
    """Notices (a shrunk upload, a dropped alpha channel ...) as a Markdown list under a result."""
    return "\n".join(f"- {line}" for line in lines)


def unopened_upload(cache_dir: str, payload: ImageData | None) -> str | None:
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


def input_image(label: str, elem_id: str) -> gr.Image:
    """An upload that hands the library the original file, untouched.

    Its ``preprocess`` is replaced on the instance: a subclass of a Gradio component makes
    Gradio write a ``.pyi`` stub beside the defining file at import time.
    """
    upload = gr.Image(
        label=label, type="filepath", image_mode=None, format="png", sources=["upload", "clipboard"], elem_id=elem_id
    )
    upload.preprocess = functools.partial(unopened_upload, upload.GRADIO_CACHE)  # type: ignore[method-assign]
    return upload


def model_files_upload(label: str, file_count: Literal["single", "multiple"]) -> gr.File:
    """Users' model files, handed to the library as paths; spandrel tells what they are."""
    return gr.File(
        label=f"{label} (.safetensors / .pth; any architecture spandrel recognises)",
        file_count=file_count,
        file_types=list(user_models.USER_MODEL_SUFFIXES),
        type="filepath",
    )


def chosen_model_file(upload: str | None, folder_name: str | None) -> str | None:
    """A model file of the user's: the uploaded one, else the one chosen from the user models folder, else none."""
    return upload or (str(model_choices.folder_model_path(folder_name)) if folder_name else None)


def result_image(label: str) -> gr.Image:
    return gr.Image(label=label, type="filepath", format="png", interactive=False, buttons=["download", "fullscreen"])


def upload_with_examples(elem_id: str) -> gr.Image:
    """The upload of the Compare and Interpolate tabs with the bundled examples under it."""
    image = input_image("Image", elem_id)
    gr.Examples([[path] for path in example_images()], [image])
    return image


def mode_choice() -> gr.Radio:
    """Whether the upload is the HR reference (ground truth) or an LR image to upscale as it is."""
    return gr.Radio(MODE_CHOICES, value=uploads.GROUND_TRUTH, label="The upload is")
