"""Device-aware, tiled x4 upscaling with cached models.

Large inputs are cut into overlapping tiles so memory stays bounded; each tile is run with a
margin of ``overlap`` LR pixels of real context that is cropped away afterwards, so the seams
see the same neighbourhood as an untiled run would (exactly when the overlap covers the
network's receptive field, to well below 1/255 in practice for the deep ones).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from sr_core import hub
from sr_core import weights as weights_io
from sr_core.device import available_memory_bytes, inference_dtype, keep_freed_cpu_memory, pick_device
from sr_core.errors import UnsupportedOnThisCPUError, WeightsMismatchError, WeightsNotFoundError
from sr_core.imaging import LoadedImage
from sr_core.models.blocks import count_parameters, pil_bicubic_resize
from sr_core.models.family import ModelSpec
from sr_core.optimize import inference_form
from sr_core.protocol import SCALE
from sr_core.registry import all_specs, get_spec

DEFAULT_OVERLAP = 16
MIN_TILE, MAX_TILE = 32, 512
# Live buffers at a network's widest layer (its input, output and the allocator's slack), for the tile budget.
LIVE_BUFFERS = 6
# The zoo's widest layer, 64 channels at x4 (the last upsampling stage), in float32: the tile budget of a
# network that was not probed (one passed in directly rather than loaded).
DEFAULT_ACTIVATION_BYTES_PER_LR_PIXEL = 64 * SCALE**2 * 4 * LIVE_BUFFERS
PROBE_SIDE = 16

Tiling = Literal["supported", "discouraged", "internal"]
"""Whether a model may be cut into tiles (spandrel's advice for users' models; SR Studio's own are all "supported")."""


def auto_tile_size(
    device: torch.device, bytes_per_lr_pixel: int = DEFAULT_ACTIVATION_BYTES_PER_LR_PIXEL, memory_fraction: float = 0.25
) -> int:
    """The largest square LR tile whose activations fit in a fraction of the free memory.

    ``bytes_per_lr_pixel``: the network's, from :func:`activation_bytes_per_lr_pixel`. Capped at
    :data:`MAX_TILE`: beyond that, bigger tiles gain little speed on a CPU and lose cache locality.
    """
    budget = available_memory_bytes(device) * memory_fraction
    side = int((budget / bytes_per_lr_pixel) ** 0.5)
    return max(MIN_TILE, min(MAX_TILE, side))


def activation_bytes_per_lr_pixel(network: nn.Module, dtype: torch.dtype) -> int:
    """Peak bytes per LR pixel of ``network``'s widest layer in ``dtype``, times :data:`LIVE_BUFFERS`.

    Measured, not assumed: one forward pass on a small float32 probe (CPU) records every layer's output
    size, so a users' transformer with 180 channels gets smaller tiles than a 64-channel SRResNet. A
    network that cannot run the probe (one that needs larger inputs) gets the zoo's default.
    """
    widest = 0

    def record(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal widest
        if isinstance(output, torch.Tensor):
            widest = max(widest, output.numel())

    hooks = [module.register_forward_hook(record) for module in network.modules()]
    try:
        with torch.inference_mode():
            network(torch.zeros(1, 3, PROBE_SIDE, PROBE_SIDE))
    except (RuntimeError, ValueError, AssertionError):
        return DEFAULT_ACTIVATION_BYTES_PER_LR_PIXEL
    finally:
        for hook in hooks:
            hook.remove()
    values_per_lr_pixel = -(-widest // PROBE_SIDE**2)
    return values_per_lr_pixel * torch.finfo(dtype).bits // 8 * LIVE_BUFFERS


@dataclass(frozen=True)
class LoadedModel:
    """A ready-to-run model and where its weights came from (shown to users and recorded in MOS).

    ``network`` is optimised for inference (batch norm folded); ``state_dict`` keeps the
    trained parameters as they are, which is what network interpolation blends. ``scale`` and
    ``tiling`` differ from x4 and "supported" only for users' own models (:mod:`sr_core.user_models`).
    """

    name: str
    network: nn.Module
    state_dict: dict[str, torch.Tensor]
    device: torch.device
    dtype: torch.dtype
    weights_file: str | None
    weights_sha256: str | None
    parameters: int
    scale: int = SCALE
    tiling: Tiling = "supported"
    activation_bytes_per_lr_pixel: int = DEFAULT_ACTIVATION_BYTES_PER_LR_PIXEL


def _weights_for(name: str, weights_file: str | None) -> tuple[dict[str, torch.Tensor] | None, dict, str | None]:
    """(state dict, architecture kwargs, file) for ``name``: the given file or the bundled one.

    A user's file decides the network's size (block count, widths), but must be of the
    model's architecture: ESRGAN weights are never loaded into an SRResNet.
    """
    architecture = get_spec(name).architecture
    if weights_file is not None:
        state_dict = weights_io.read_state_dict(weights_file)
        return (
            state_dict,
            weights_io.infer_model_kwargs(weights_io.to_canonical_keys(state_dict), architecture),
            str(weights_file),
        )
    located = hub.locate_weights(name)
    if located is None:
        raise WeightsNotFoundError(
            f"model {name!r} has no bundled weights yet; pass a weights file (--weights FILE) "
            "or train one with `python -m sr_core train`"
        )
    return weights_io.read_state_dict(located.path), dict(located.entry.arch_kwargs), str(located.path)


def _load_int8_model(spec: ModelSpec, ranges_file: str | None) -> LoadedModel:
    """An int8 variant: its float model's bundled weights quantized with the calibrated ranges, on CPU.

    ``ranges_file`` replaces the bundled ranges (from ``quantize --publish --weights-dir``); they
    must have been calibrated for the float weights that load. The bundled ranges are refused on
    a CPU where they lose the model's quality (:func:`refusal_on_this_cpu`).
    """
    from sr_core import int8  # torchao's PT2E stack: imported only when an int8 model loads

    name, float_name = spec.name, str(spec.quantized_from)
    if ranges_file is None and (refusal := refusal_on_this_cpu(name)):
        raise UnsupportedOnThisCPUError(refusal)
    float_model = load_model(float_name, device="cpu", dtype=torch.float32)
    if ranges_file is None:
        located = hub.locate_weights(name)
        if located is None:
            raise WeightsNotFoundError(
                f"model {name!r} has no calibrated int8 ranges; run `python -m sr_core quantize --model "
                f"{float_name} --publish` (it publishes only a model that meets the int8 bar)"
            )
        ranges_file = str(located.path)
    int8.check_calibrated_for(ranges_file, float_model.weights_sha256)
    network = spec.build(**weights_io.infer_model_kwargs(float_model.state_dict, spec.architecture))
    weights_io.load_into(network, float_model.state_dict)
    graph = int8.int8_graph(network, weights_io.read_state_dict(ranges_file), Path(ranges_file).name)
    return LoadedModel(
        name=name,
        network=int8.Int8Network(graph),
        state_dict=float_model.state_dict,
        device=torch.device("cpu"),
        dtype=torch.float32,
        weights_file=ranges_file,
        weights_sha256=weights_io.sha256_file(ranges_file),
        parameters=float_model.parameters,
        activation_bytes_per_lr_pixel=float_model.activation_bytes_per_lr_pixel,
    )


def _load_model_uncached(name: str, weights_file: str | None, device_name: str, dtype: torch.dtype) -> LoadedModel:
    spec = get_spec(name)
    device = torch.device(device_name)
    if device.type == "cpu":
        keep_freed_cpu_memory()
    if spec.kind == "int8":
        return _load_int8_model(spec, weights_file)
    state_dict, arch_kwargs, source = (None, {}, None) if not spec.learned else _weights_for(name, weights_file)
    network = spec.build(**arch_kwargs)
    if state_dict is not None:
        weights_io.load_into(network, state_dict)
    trained_parameters = {key: value.detach().clone() for key, value in network.state_dict().items()}
    parameters = count_parameters(network)
    activation_bytes = activation_bytes_per_lr_pixel(network, dtype)
    network = inference_form(network, device, dtype)
    return LoadedModel(
        name=name,
        network=network,
        state_dict=trained_parameters,
        device=device,
        dtype=dtype,
        weights_file=source,
        weights_sha256=weights_io.sha256_file(source) if source else None,
        parameters=parameters,
        activation_bytes_per_lr_pixel=activation_bytes,
    )


@functools.lru_cache(maxsize=16)
def _cached_model(
    name: str, weights_file: str | None, modified: float, device_name: str, dtype: torch.dtype
) -> LoadedModel:
    return _load_model_uncached(name, weights_file, device_name, dtype)


def load_model(
    name: str, weights_file: str | Path | None = None, device: str | None = None, dtype: torch.dtype | None = None
) -> LoadedModel:
    """The model ``name`` with its bundled weights (or ``weights_file``), loaded once and cached.

    The cache key includes the file's modification time, so replacing a weights file on disk
    reloads it; it also includes the precision (:func:`sr_core.device.inference_dtype`), which
    ``SR_STUDIO_CPU_BF16`` may change; ``dtype`` overrides it (evaluation runs in float32). Raises
    :class:`WeightsNotFoundError` for a learned model without weights.
    """
    path = str(weights_file) if weights_file is not None else None
    modified = Path(path).stat().st_mtime if path and Path(path).exists() else 0.0
    spec = get_spec(name)
    chosen_device = torch.device("cpu") if spec.kind == "int8" else pick_device(device)
    if dtype is None or spec.kind != "float":
        dtype = app_dtype(spec, chosen_device)
    return _cached_model(name, path, modified, str(chosen_device), dtype)


def app_dtype(spec: ModelSpec, device: torch.device) -> torch.dtype:
    """The precision the app runs a model in on ``device``: :func:`sr_core.device.inference_dtype` for
    learned float models; float32 for baselines (exact resizes) and int8 variants (float32 around int8 kernels)."""
    return inference_dtype(device) if spec.kind == "float" else torch.float32


def model_has_weights(name: str) -> bool:
    """True when ``name`` can run now: a baseline, a learned model with weights (bundled, or on the Hub),
    or an int8 variant with calibrated ranges and its float model's weights."""
    spec = get_spec(name)
    if spec.kind == "int8" and not hub.weights_available(str(spec.quantized_from)):
        return False
    return not spec.learned or hub.weights_available(name)


def model_for_weights(weights_file: str | Path) -> str:
    """The SR model a weights file holds: the one its metadata names (files SR Studio wrote), else the first
    float model of the architecture its keys show.

    Raises :class:`WeightsNotFoundError` / :class:`CorruptWeightsError` for a missing, unreadable
    or unsafe file and :class:`WeightsMismatchError` for tensors of no SR architecture, so a file
    is never silently ignored.
    """
    state_dict = weights_io.to_canonical_keys(weights_io.read_state_dict(weights_file))
    architecture = weights_io.detect_architecture(state_dict)
    if architecture is None:
        weights_io.infer_model_kwargs(state_dict)  # raises, listing the known architectures
    candidates = [spec.name for spec in all_specs() if spec.architecture == architecture and spec.kind == "float"]
    if not candidates:
        raise WeightsMismatchError(
            f"{Path(weights_file).name} holds a {architecture}, which does not upscale; pass the generator's weights"
        )
    named = weights_io.read_metadata(weights_file).get("model") if weights_io.is_safetensors(weights_file) else None
    return named if named in candidates else candidates[0]


def refusal_on_this_cpu(name: str) -> str | None:
    """Why ``name`` is not offered on this machine, or None: only an int8 variant whose bundled ranges
    lose its quality on this CPU's int8 kernels is refused (see :mod:`sr_core.int8`)."""
    spec = get_spec(name)
    if spec.kind != "int8":
        return None
    entry, float_entry = weights_io.find_weights(name), weights_io.find_weights(str(spec.quantized_from))
    if entry is None or float_entry is None:
        return None
    from sr_core import int8

    return int8.refusal_on_this_cpu(entry, float_entry)


def bundled_arch_kwargs(name: str) -> dict:
    """The constructor arguments of ``name``'s available weights ({} for the default size or no weights)."""
    located = hub.locate_weights(name)
    return {} if located is None else dict(located.entry.arch_kwargs)


def tile_for(model: LoadedModel, tile: int | None) -> int | None:
    """The LR tile side ``model`` runs with when asked for ``tile`` (0: chosen from free memory; None: never tiled).

    A model that tiles internally is never tiled; one whose output suffers from tiles (transformers that use
    context across the image) gets at least :data:`MAX_TILE` when the tile is chosen automatically, so images up
    to that side run whole and larger ones have the fewest seams.
    """
    if model.tiling == "internal" or tile is None:
        return None
    if tile == 0:
        automatic = auto_tile_size(model.device, model.activation_bytes_per_lr_pixel)
        return max(automatic, MAX_TILE) if model.tiling == "discouraged" else automatic
    return tile


def _tile_spans(length: int, tile: int) -> list[tuple[int, int]]:
    """(start, end) of the fewest spans of at most ``tile`` that cover ``length``, as equal as integers allow.

    Equal spans, not ``tile``-sized ones plus a remainder: 480 columns at tile 444 are two
    spans of 240, not 444 plus a second tile of 444 mostly overlapping the first.
    """
    count = -(-length // tile)
    bounds = [round(index * length / count) for index in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _run(network: nn.Module, lr: torch.Tensor) -> torch.Tensor:
    """One forward pass in the network's dtype and memory format, returned as float32."""
    parameter = next(network.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    lr = lr.to(dtype=dtype).contiguous(memory_format=torch.channels_last)
    return network(lr).float()


@torch.inference_mode()
def upscale_tensor(
    network: nn.Module,
    lr: torch.Tensor,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    scale: int = SCALE,
) -> torch.Tensor:
    """Upscale a float NCHW batch in [0, 1] by ``scale``; output is clamped to [0, 1].

    ``tile`` is the LR tile side without its margins (None: no tiling); it bounds memory, so
    an image of at most ``tile**2`` pixels runs whole whatever its shape (tiles only cost time:
    their margins are computed twice). Each tile is run with up to ``overlap`` pixels of real
    neighbouring context on every side, then only its core is kept, so results do not depend
    on where the tile borders fall.
    """
    height, width = lr.shape[-2:]
    if tile is None or height * width <= tile * tile:
        return _run(network, lr).clamp_(0.0, 1.0)
    output = torch.empty(lr.shape[0], lr.shape[1], height * scale, width * scale, dtype=torch.float32, device=lr.device)
    for top, bottom in _tile_spans(height, tile):
        for left, right in _tile_spans(width, tile):
            pad_top, pad_left = min(overlap, top), min(overlap, left)
            pad_bottom, pad_right = min(overlap, height - bottom), min(overlap, width - right)
            patch = lr[..., top - pad_top : bottom + pad_bottom, left - pad_left : right + pad_right]
            result = _run(network, patch)
            core = result[
                ...,
                pad_top * scale : result.shape[-2] - pad_bottom * scale,
                pad_left * scale : result.shape[-1] - pad_right * scale,
            ]
            output[..., top * scale : bottom * scale, left * scale : right * scale] = core
    return output.clamp_(0.0, 1.0)


@dataclass(frozen=True)
class UpscaleResult:
    """An upscaled image ready for :func:`sr_core.imaging.save_image`, with timing."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    grayscale: bool
    bit_depth: int
    seconds: float
    model: str
    notices: tuple[str, ...]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the result."""
        return self.rgb.shape[1], self.rgb.shape[0]


def image_to_batch(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWxC float array -> 1xCxHxW tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None].to(device)


def run_network(network: nn.Module, lr_rgb: np.ndarray, tile: int | None = None) -> np.ndarray:
    """x4 output (float HxWx3 in [0, 1]) of a ready network for a float LR image HxWx3 in [0, 1], on its device."""
    parameter = next(network.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    return batch_to_image(upscale_tensor(network, image_to_batch(lr_rgb.astype(np.float32), device), tile))


def batch_to_image(tensor: torch.Tensor) -> np.ndarray:
    """1xCxHxW tensor -> HxWxC float32 array on the host."""
    return tensor[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma, used to turn a colour network's output back into a grey image."""
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def upscale_image(
    image: LoadedImage,
    model_name: str,
    weights_file: str | Path | None = None,
    tile: int | None = 0,
    device: str | None = None,
) -> UpscaleResult:
    """Upscale a loaded image x4 with a named model (see :func:`upscale_with`)."""
    return upscale_with(image, load_model(model_name, weights_file, device), tile)


def upscale_with(image: LoadedImage, model: LoadedModel, tile: int | None = 0) -> UpscaleResult:
    """Upscale a loaded image by ``model.scale`` with a loaded model (a named one or a user's file).

    Alpha is upscaled separately with bicubic and re-attached (networks are trained on RGB);
    grey images go through the network as three equal channels and come back grey.
    ``tile=0`` chooses the tile size from free memory, ``None`` disables tiling (see :func:`tile_for`).
    """
    started = time.perf_counter()
    lr = image_to_batch(image.rgb, model.device)
    sr = batch_to_image(upscale_tensor(model.network, lr, tile_for(model, tile), scale=model.scale))
    alpha = None
    if image.alpha is not None:
        alpha_batch = torch.from_numpy(image.alpha)[None, None]
        alpha = (
            pil_bicubic_resize(alpha_batch, image.height * model.scale, image.width * model.scale)[0, 0]
            .clamp(0, 1)
            .numpy()
        )
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
    seconds = time.perf_counter() - started
    if image.grayscale:
        sr = np.repeat(_luma(sr)[..., None], 3, axis=2)
    return UpscaleResult(sr, alpha, image.grayscale, image.bit_depth, seconds, model.name, image.notices)
