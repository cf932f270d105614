"""Network and image interpolation between a PSNR-oriented model and its GAN twin.

ESRGAN (Wang et al. 2018, sec. 3.4) blends the *parameters* of two networks of one
architecture, ``theta = (1 - alpha) * theta_psnr + alpha * theta_gan``, to trade distortion
(PSNR) for perceptual quality without retraining, and compares it with blending the two
*outputs* pixel by pixel, which the paper finds leaves either blur or the GAN's noise.
Any pair of checkpoints of one architecture works (SRResNet/SRGAN, Swift-SRGAN's pair), and so
do two users' model files spandrel builds as one architecture (``user_files``: two fine-tunes of
one Real-ESRGAN, say); mismatched ones are refused by name.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from sr_core import user_models
from sr_core import weights as weights_io
from sr_core.errors import WeightsMismatchError
from sr_core.imaging import to_float, to_uint8
from sr_core.inference import LoadedModel, load_model, run_network
from sr_core.lpips import lpips_against_or_none
from sr_core.optimize import inference_form
from sr_core.protocol import score_pair
from sr_core.registry import all_specs, get_spec

StateDict = dict[str, torch.Tensor]

DEFAULT_ALPHA_STEP = 0.05
# The perception-distortion curve's sampling of alpha, as in the ESRGAN paper's comparison.
CURVE_ALPHAS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
NETWORK, IMAGE = "network", "image"
SHOWN_KEYS = 5
# Interpolated networks kept in memory; an ESRGAN in fp32 is about 67 MB.
CACHED_NETWORKS = 8
CACHED_OUTPUTS = 8


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")


def _shown(keys: Sequence[str]) -> str:
    return ", ".join(keys[:SHOWN_KEYS]) + (", ..." if len(keys) > SHOWN_KEYS else "")


def interpolate_state_dicts(
    psnr_state: Mapping[str, torch.Tensor], gan_state: Mapping[str, torch.Tensor], alpha: float
) -> StateDict:
    """``(1 - alpha) * psnr + alpha * gan`` for every floating tensor; a pure function.

    ``alpha`` in [0, 1]: 0 is the PSNR model, 1 the GAN. Integer buffers (BN's
    ``num_batches_tracked``) are counters, not parameters, and are copied from the PSNR side.
    The result has the PSNR side's dtypes. Raises :class:`WeightsMismatchError` naming the
    keys when the two state dicts differ in keys or shapes (different architectures or sizes).
    """
    _check_alpha(alpha)
    missing = [key for key in psnr_state if key not in gan_state]
    unexpected = [key for key in gan_state if key not in psnr_state]
    misshaped = [
        f"{key} {tuple(psnr_state[key].shape)} vs {tuple(gan_state[key].shape)}"
        for key in psnr_state
        if key in gan_state and psnr_state[key].shape != gan_state[key].shape
    ]
    problems = [
        f"{len(keys)} {kind} ({_shown(keys)})"
        for kind, keys in (
            ("only in the first", missing),
            ("only in the second", unexpected),
            ("of different shapes", misshaped),
        )
        if keys
    ]
    if problems:
        raise WeightsMismatchError(
            "cannot interpolate two networks whose parameters differ: keys "
            + "; ".join(problems)
            + ". Pick two checkpoints of one architecture trained with the same hyper-parameters."
        )
    blended: StateDict = {}
    for key, psnr_tensor in psnr_state.items():
        gan_tensor = gan_state[key]
        if psnr_tensor.is_floating_point():
            mixed = torch.lerp(psnr_tensor.float(), gan_tensor.to(psnr_tensor.device).float(), alpha)
            blended[key] = mixed.to(psnr_tensor.dtype)
        else:
            blended[key] = psnr_tensor.clone()
    return blended


def interpolation_pairs() -> list[tuple[str, str]]:
    """(PSNR model, GAN model) pairs of the registry: each GAN with the plain-loss model of its architecture.

    Read from the registry (a GAN is a spec with a discriminator), so a new GAN family needs
    no change here: ``[("srresnet", "srgan"), ("esrgan_psnr", "esrgan"), ...]``.
    """
    specs = all_specs()
    return [
        (psnr.name, gan.name)
        for gan in specs
        if gan.discriminator is not None
        for psnr in specs
        if psnr.architecture == gan.architecture and psnr.kind == "float" and psnr.discriminator is None
    ]


def _architecture_kwargs(model: LoadedModel) -> dict[str, Any]:
    """The constructor arguments ``model``'s weights fit: the registry's defaults, overridden by the weights."""
    spec = get_spec(model.name)
    inferred = weights_io.infer_model_kwargs(model.state_dict, spec.architecture)
    return {**spec.default_kwargs, **inferred}


def _shared_architecture_kwargs(psnr_model: LoadedModel, gan_model: LoadedModel) -> dict[str, Any]:
    """The constructor arguments both models fit; :class:`WeightsMismatchError` naming those that differ."""
    psnr_kwargs, gan_kwargs = _architecture_kwargs(psnr_model), _architecture_kwargs(gan_model)
    keys = psnr_kwargs.keys() | gan_kwargs.keys()
    differing = sorted(key for key in keys if psnr_kwargs.get(key) != gan_kwargs.get(key))
    if differing:
        details = ", ".join(f"{key}={psnr_kwargs.get(key)} vs {gan_kwargs.get(key)}" for key in differing)
        raise WeightsMismatchError(
            f"{psnr_model.name!r} and {gan_model.name!r} are built with different hyper-parameters ({details}); "
            "network interpolation needs two checkpoints of the same network"
        )
    return psnr_kwargs


def check_interpolable(psnr_name: str, gan_name: str) -> None:
    """Raise :class:`WeightsMismatchError` unless the two names share a learned architecture.

    Checked before any weights are read, so the message is about the models the user chose.
    """
    psnr_spec, gan_spec = get_spec(psnr_name), get_spec(gan_name)
    if not (psnr_spec.learned and gan_spec.learned):
        fixed = psnr_name if not psnr_spec.learned else gan_name
        raise WeightsMismatchError(f"{fixed!r} has no parameters to interpolate; pick two learned models")
    quantized = [spec for spec in (psnr_spec, gan_spec) if spec.kind == "int8"]
    if quantized:
        raise WeightsMismatchError(
            f"{quantized[0].name!r} is an int8 variant; interpolate its float model {quantized[0].quantized_from!r}"
        )
    if psnr_spec.architecture != gan_spec.architecture:
        raise WeightsMismatchError(
            f"cannot interpolate {psnr_name!r} ({psnr_spec.architecture}) with {gan_name!r} "
            f"({gan_spec.architecture}): network interpolation needs two checkpoints of one architecture"
        )


def _ready_for_inference(network: nn.Module, like: LoadedModel) -> nn.Module:
    """``network`` prepared as :func:`load_model` prepares its models (:func:`inference_form`)."""
    return inference_form(network, like.device, like.dtype)


def round_alpha(alpha: float, step: float = DEFAULT_ALPHA_STEP) -> float:
    """``alpha`` on the grid of ``step`` (the unit of the cache), kept inside [0, 1]."""
    _check_alpha(alpha)
    return float(min(1.0, max(0.0, round(round(alpha / step) * step, 6))))


@functools.lru_cache(maxsize=CACHED_NETWORKS)
def _cached_interpolation(
    psnr_name: str,
    gan_name: str,
    psnr_weights: str | None,
    gan_weights: str | None,
    psnr_sha: str | None,
    gan_sha: str | None,
    alpha: float,
    device: str | None,
) -> nn.Module:
    """One interpolated network; the sha256s are in the key so replaced weights are re-blended."""
    psnr_model = load_model(psnr_name, psnr_weights, device)
    gan_model = load_model(gan_name, gan_weights, device)
    network = get_spec(psnr_name).build(**_shared_architecture_kwargs(psnr_model, gan_model))
    weights_io.load_into(network, interpolate_state_dicts(psnr_model.state_dict, gan_model.state_dict, alpha))
    return _ready_for_inference(network, psnr_model)


def interpolated_model(
    psnr_name: str,
    gan_name: str,
    alpha: float,
    step: float = DEFAULT_ALPHA_STEP,
    psnr_weights: str | None = None,
    gan_weights: str | None = None,
    device: str | None = None,
) -> nn.Module:
    """The network with parameters ``(1 - alpha) * theta_psnr + alpha * theta_gan``, ready to run.

    Both models come from :func:`load_model` (bundled weights unless files are given), so
    their weights are read once. ``alpha`` is rounded to ``step`` and one network is cached
    per step, which makes a slider cheap to move back and forth. Raises
    :class:`WeightsMismatchError` for models of different architectures or sizes and
    :class:`WeightsNotFoundError` when either has no weights.
    """
    check_interpolable(psnr_name, gan_name)
    psnr_model = load_model(psnr_name, psnr_weights, device)
    gan_model = load_model(gan_name, gan_weights, device)
    return _cached_interpolation(
        psnr_name,
        gan_name,
        psnr_weights,
        gan_weights,
        psnr_model.weights_sha256,
        gan_model.weights_sha256,
        round_alpha(alpha, step),
        device,
    )


def check_files_interpolable(first_file: str | Path, second_file: str | Path) -> None:
    """Raise :class:`WeightsMismatchError` unless spandrel reads both users' files as one architecture at one scale.

    Checked before any blending, so the message names the two files and what they are; files of one architecture
    but of different sizes are refused by :func:`interpolate_state_dicts`, naming the keys.
    """
    first, second = user_models.identify(first_file), user_models.identify(second_file)
    if (first.architecture, first.scale) != (second.architecture, second.scale):
        raise WeightsMismatchError(
            f"cannot interpolate {first.label}, x{first.scale} with {second.label}, x{second.scale}: network "
            "interpolation needs two checkpoints of one architecture and scale"
        )


@functools.lru_cache(maxsize=CACHED_NETWORKS)
def _cached_file_interpolation(
    first_file: str, second_file: str, first_sha: str | None, second_sha: str | None, alpha: float, device: str | None
) -> nn.Module:
    """One interpolated user network; the sha256s are in the key so replaced files are re-blended."""
    first, second = _endpoint(first_file, True, device), _endpoint(second_file, True, device)
    return user_models.network_with_weights(first, interpolate_state_dicts(first.state_dict, second.state_dict, alpha))


def interpolated_file_model(
    first_file: str | Path,
    second_file: str | Path,
    alpha: float,
    step: float = DEFAULT_ALPHA_STEP,
    device: str | None = None,
) -> nn.Module:
    """The network with parameters ``(1 - alpha) * theta_first + alpha * theta_second`` of two users' model files.

    What :func:`interpolated_model` is for the registry's pairs: ``alpha`` rounded to ``step``, one network
    cached per step. Raises :class:`WeightsMismatchError` for files of different architectures, scales, keys or
    shapes, and the errors of :func:`sr_core.user_models.identify` for bad files.
    """
    check_files_interpolable(first_file, second_file)
    first, second = _endpoint(str(first_file), True, device), _endpoint(str(second_file), True, device)
    return _cached_file_interpolation(
        str(Path(first_file).resolve()),
        str(Path(second_file).resolve()),
        first.weights_sha256,
        second.weights_sha256,
        round_alpha(alpha, step),
        device,
    )


def blend_images(first: np.ndarray, second: np.ndarray, alpha: float) -> np.ndarray:
    """Pixel-space interpolation ``(1 - alpha) * first + alpha * second`` of two float images in [0, 1].

    The baseline the paper compares network interpolation with; both images must have one shape.
    """
    _check_alpha(alpha)
    if first.shape != second.shape:
        raise ValueError(f"cannot blend images of shapes {first.shape} and {second.shape}")
    return ((1.0 - alpha) * first.astype(np.float32) + alpha * second.astype(np.float32)).astype(np.float32)


@dataclass(frozen=True)
class _ImageKey:
    """An image as a cache key: compared and hashed by its bytes' digest, carrying the array along."""

    digest: str
    array: np.ndarray = field(compare=False, hash=False)

    @classmethod
    def of(cls, array: np.ndarray) -> _ImageKey:
        contents = hashlib.blake2b(f"{array.shape}{array.dtype}".encode(), digest_size=16)
        contents.update(np.ascontiguousarray(array).tobytes())
        return cls(contents.hexdigest(), array)


def _endpoint(model_name: str, user_file: bool, device: str | None) -> LoadedModel:
    """One end of an interpolation: a bundled model by name, or (``user_file``) a user's file loaded by spandrel."""
    return user_models.load_user_model(model_name, device) if user_file else load_model(model_name, device=device)


@functools.lru_cache(maxsize=CACHED_OUTPUTS)
def _cached_output(
    model_name: str, user_file: bool, weights_sha: str | None, device: str | None, lr: _ImageKey
) -> np.ndarray:
    return run_network(_endpoint(model_name, user_file, device).network, lr.array)


def model_output(model_name: str, lr_rgb: np.ndarray, device: str | None = None, user_file: bool = False) -> np.ndarray:
    """Output of a bundled model (or, ``user_file``, of a user's model file) for ``lr_rgb``, remembered for the
    last few images.

    The interpolation endpoints are needed at every slider position for the pixel blend; this
    runs each once per image.
    """
    model = _endpoint(model_name, user_file, device)
    output = _cached_output(model_name, user_file, model.weights_sha256, device, _ImageKey.of(lr_rgb))
    output.setflags(write=False)
    return output


@dataclass(frozen=True)
class InterpolatedOutputs:
    """The two ways of interpolating at one ``alpha``: blended parameters vs blended pixels (float HxWx3)."""

    alpha: float
    network: np.ndarray
    image: np.ndarray


def interpolate_outputs(
    lr_rgb: np.ndarray,
    psnr_name: str,
    gan_name: str,
    alpha: float,
    step: float = DEFAULT_ALPHA_STEP,
    device: str | None = None,
    user_files: bool = False,
) -> InterpolatedOutputs:
    """Upscale ``lr_rgb`` (float HxWx3 in [0, 1]) with the interpolated network and blend the endpoints' outputs.

    ``psnr_name`` and ``gan_name`` are bundled models, or with ``user_files`` the paths of two users' model files
    (:func:`interpolated_file_model`).
    """
    alpha = round_alpha(alpha, step)
    interpolate = interpolated_file_model if user_files else interpolated_model
    network = interpolate(psnr_name, gan_name, alpha, step, device=device)
    blended = blend_images(
        model_output(psnr_name, lr_rgb, device, user_files), model_output(gan_name, lr_rgb, device, user_files), alpha
    )
    return InterpolatedOutputs(alpha, run_network(network, lr_rgb), blended)


def perception_distortion_curve(
    lr_rgb: np.ndarray,
    hr_uint8: np.ndarray,
    psnr_name: str,
    gan_name: str,
    alphas: Sequence[float] = CURVE_ALPHAS,
    device: str | None = None,
    progress: Callable[[float, str], None] | None = None,
    user_files: bool = False,
) -> pd.DataFrame:
    """PSNR and SSIM (Y channel, protocol border) and LPIPS of network and image interpolation at each alpha.

    ``lr_rgb`` is the protocol's LR of ``hr_uint8`` as float HxWx3 in [0, 1]. One row per
    (alpha, method) with columns ``alpha``, ``interpolation`` ("network" or "image"),
    ``psnr``, ``ssim``, ``lpips`` (AlexNet, whole image; NaN where LPIPS is unavailable or the
    image is under 31 px): the perception-distortion data of the ESRGAN paper's comparison for
    this image. ``progress(fraction, text)`` is told which alpha runs next. ``user_files``: the two
    names are paths of users' model files, as in :func:`interpolate_outputs`.
    """
    perceptual_distance = lpips_against_or_none(to_float(hr_uint8))
    rows = []
    for index, alpha in enumerate(alphas):
        if progress is not None:
            progress(index / len(alphas), f"alpha = {alpha:.2f} ({index + 1}/{len(alphas)})")
        outputs = interpolate_outputs(lr_rgb, psnr_name, gan_name, alpha, device=device, user_files=user_files)
        for method, output in ((NETWORK, outputs.network), (IMAGE, outputs.image)):
            pair = score_pair(to_uint8(output), hr_uint8, perceptual_distance)
            rows.append(
                {
                    "alpha": float(alpha),
                    "interpolation": method,
                    "psnr": pair.psnr,
                    "ssim": pair.ssim,
                    "lpips": np.nan if pair.lpips is None else pair.lpips,
                }
            )
    return pd.DataFrame(rows, columns=["alpha", "interpolation", "psnr", "ssim", "lpips"])
