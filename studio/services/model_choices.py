"""Which models a tab offers: bundled ones with their availability, users' own files, the Upscale default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sr_core import settings, user_models
from sr_core.errors import SRStudioError
from sr_core.inference import (
    LoadedModel,
    model_has_weights,
    refusal_on_this_cpu,
)
from sr_core.registry import sr_model_names
from studio.services.uploads import ServiceSettingsError

NO_WEIGHTS = "unavailable (no weights)"
# The studio's default picks, in one place. The Compare tab's models, one per paper; the Upscale tab's
# model: the first of these that can run now; the Interpolate tab's pair, by its GAN.
COMPARE_MODELS: tuple[str, ...] = ("bicubic", "srcnn", "srgan", "esrgan", "swiftsrgan")
DEFAULT_INTERPOLATION_GAN = "esrgan"
UPSCALE_PREFERENCE: tuple[str, ...] = ("esrgan", "swiftsrgan", "srgan", "srresnet", "esrgan_psnr", "srcnn", "bicubic")


def model_label(name: str) -> str:
    """The name with its availability, as the model pickers show it: ``esrgan (unavailable (no weights))``."""
    return name if model_has_weights(name) else f"{name} ({NO_WEIGHTS})"


def model_choices(names: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(label, name) pairs for a dropdown of SR models, unavailable ones labelled but listed; a model this CPU
    cannot run at its quality (an int8 variant without VNNI kernels) is left out."""
    return [
        (model_label(name), name)
        for name in (names if names is not None else sr_model_names())
        if refusal_on_this_cpu(name) is None
    ]


def default_upscale_model() -> str:
    """The first model of :data:`UPSCALE_PREFERENCE` that has weights (bicubic always has)."""
    return next(name for name in UPSCALE_PREFERENCE if model_has_weights(name))


def own_models(model_files: Sequence[str | Path]) -> dict[str, LoadedModel]:
    """Users' model files loaded by spandrel, by label ("file.pth (ESRGAN)"); every one read and checked to be x4
    (the protocol's scale) before any runs, so a bad file costs nothing but its one-line error."""
    models = [user_models.load_user_model(path) for path in model_files]
    for model in models:
        user_models.require_scale(model, "Compare")
    return {
        label: replace(model, name=label) for model, label in zip(models, distinct_labels([m.name for m in models]))
    }


def distinct_labels(labels: Sequence[str]) -> list[str]:
    """``labels`` with repeats numbered ("a.pth (ESRGAN)", "a.pth (ESRGAN) #2"): two uploads of one name stay two columns."""
    seen: dict[str, int] = {}
    distinct = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        distinct.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return distinct


def folder_model_choices() -> list[tuple[str, str]]:
    """(label, file name) of the readable model files in ``SR_STUDIO_USER_MODELS_DIR``, listed beside the bundled
    ones at start-up; an unreadable file is listed with its error so the user sees why it cannot be chosen."""
    choices = []
    for path in user_models.user_model_files():
        try:
            info = user_models.identify(path)
        except SRStudioError as error:
            choices.append((f"{path.name} (unreadable: {error})", path.name))
            continue
        choices.append((f"{info.label}, x{info.scale}", path.name))
    return choices


def folder_model_path(file_name: str) -> Path:
    """The path of a file of the user models folder chosen by name; names outside the folder's listing are refused,
    so a client can never make the server read another file."""
    listed = {path.name: path for path in user_models.user_model_files()}
    if file_name not in listed:
        shown = ", ".join(listed) or f"none: set {settings.USER_MODELS_DIR.name}"
        raise ServiceSettingsError(f"no model file {file_name!r} in the user models folder; choose one of: {shown}")
    return listed[file_name]
