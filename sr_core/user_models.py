"""Users' own model files, of any architecture spandrel recognises, run and scored like the bundled models.

People compare community checkpoints (Real-ESRGAN, SRVGGNetCompact, SwinIR, HAT, DAT ...) beside the papers'
models. Rather than one more key table per family, spandrel (chaiNNer's and ComfyUI's loader; its main, MIT
package only) tells the architecture from the state dict's keys and the hyper-parameters from its shapes. The
file itself is read by SR Studio's safe reader (:func:`sr_core.weights.read_state_dict`: safetensors, or
``torch.load(weights_only=True)``) after a size cap, so a malicious pickle never runs and a huge file is never
read. What spandrel says of a model is honoured: its scale, its input channels, its size requirements (the input
is padded to them and the output cropped back), whether it may be tiled and whether it may run in half precision.

The families SR Studio trains keep their own modules: :func:`load_weights_file` runs a file the project's key
tables recognise as before, and hands only the others to spandrel. spandrel is imported here only, when a file
is loaded: it imports dozens of architectures and torchvision, which CLI start-up must not wait for.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from sr_core import settings
from sr_core import weights as weights_io
from sr_core.device import pick_device
from sr_core.errors import UnknownArchitectureError, UnsupportedScaleError, WeightsMismatchError, WeightsTooLargeError
from sr_core.inference import LoadedModel, Tiling, activation_bytes_per_lr_pixel, load_model, model_for_weights
from sr_core.models.blocks import count_parameters
from sr_core.protocol import SCALE
from sr_core.registry import get_spec

if TYPE_CHECKING:
    from spandrel import ImageModelDescriptor

USER_MODEL_SUFFIXES = weights_io.SAFETENSORS_SUFFIXES + weights_io.PICKLE_SUFFIXES
CACHED_MODELS = 4
SHOWN_KEYS = 5
# BT.601 luma: what a grey (one input channel) model sees of an RGB image.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
IMAGE_CHANNELS = (1, 3)


@dataclass(frozen=True)
class UserModelInfo:
    """What a user's model file is, as spandrel reads it from the tensors' names and shapes.

    ``architecture`` is spandrel's name ("ESRGAN", "SwinIR"); ``size_multiple_of``/``size_minimum`` are the
    input sides the network needs (inputs are padded to them); ``tiling`` is spandrel's advice on cutting an
    image into tiles; ``supports_half``/``supports_bfloat16`` whether reduced precision keeps its output.
    """

    file: Path
    architecture: str
    purpose: str
    scale: int
    input_channels: int
    output_channels: int
    parameters: int
    tags: tuple[str, ...]
    size_minimum: int
    size_multiple_of: int
    size_square: bool
    tiling: Tiling
    supports_half: bool
    supports_bfloat16: bool
    sha256: str

    @property
    def label(self) -> str:
        """How the model is shown beside the bundled ones: its file name and detected architecture."""
        return f"{self.file.name} ({self.architecture})"

    def describe(self) -> list[str]:
        """``models --weights FILE``: one ``field: value`` line each."""
        size = f"multiple of {self.size_multiple_of}, at least {self.size_minimum} px" + (
            ", square" if self.size_square else ""
        )
        precisions = ", ".join(
            name for name, ok in (("fp16", self.supports_half), ("bf16", self.supports_bfloat16)) if ok
        )
        return [
            f"file: {self.file.name}",
            f"architecture: {self.architecture} ({self.purpose}, spandrel)",
            f"scale: x{self.scale}",
            f"parameters: {self.parameters:,}",
            f"channels: {self.input_channels} in, {self.output_channels} out",
            f"tags: {', '.join(self.tags) or '-'}",
            f"input size: {size}",
            f"tiling: {self.tiling}",
            f"half precision: {precisions or 'no (runs in float32)'}",
            f"sha256: {self.sha256}",
        ]


class SpandrelNetwork(nn.Module):
    """A spandrel model as SR Studio runs networks: RGB float NCHW in [0, 1] in, RGB at the model's scale out.

    A grey model (one input channel) sees the luma and its output is repeated to RGB. spandrel's call pads the
    input to the model's size requirements, crops the output back and clamps it to [0, 1].
    """

    def __init__(self, descriptor: ImageModelDescriptor) -> None:
        super().__init__()
        self.model = descriptor.model  # registered, so the runners find its device and dtype
        self._descriptor = descriptor

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self._descriptor.input_channels == 1:
            image = torch.einsum("nchw,c->nhw", image, image.new_tensor(LUMA_WEIGHTS))[:, None]
        # Contiguous: the runners pass channels_last tensors and some architectures ``view`` their input.
        output = self._descriptor(image.contiguous())
        return output.repeat(1, 3, 1, 1) if output.shape[1] == 1 else output


def check_size(path: str | Path) -> None:
    """Raise :class:`WeightsTooLargeError` when the file is over ``SR_STUDIO_USER_MODEL_MAX_SIZE``, before reading it."""
    path = Path(path)
    cap = settings.user_model_max_bytes()
    if path.is_file() and path.stat().st_size > cap:
        raise WeightsTooLargeError(
            f"{path.name} is {path.stat().st_size:,} bytes, over the cap of {cap:,} bytes for model files; "
            f"raise {settings.USER_MODEL_MAX_SIZE.name} if you trust it"
        )


def read_user_state_dict(path: str | Path) -> weights_io.StateDict:
    """The tensors of a user's model file, read safely within the size cap (wrappers and prefixes removed)."""
    check_size(path)
    return weights_io.read_state_dict(path)


def _descriptor(state_dict: Mapping[str, torch.Tensor], name: str) -> ImageModelDescriptor:
    """spandrel's model for ``state_dict`` (of file ``name``), or a typed error that says what spandrel said.

    Architecture loaders raise anything (KeyError, AssertionError, RuntimeError ...) for tensors that pass their
    key check but not their shapes, so every failure of ``load`` becomes one :class:`WeightsMismatchError`.
    """
    from spandrel import MAIN_REGISTRY, ImageModelDescriptor, ModelLoader, UnsupportedModelError

    try:
        descriptor = ModelLoader().load_from_state_dict(dict(state_dict))
    except UnsupportedModelError as error:
        keys = ", ".join(list(state_dict)[:SHOWN_KEYS]) + (", ..." if len(state_dict) > SHOWN_KEYS else "")
        said = f"{type(error).__name__}{': ' + str(error) if str(error) else ''}"
        raise UnknownArchitectureError(
            f"{name}: the weights do not match any SR Studio architecture, nor any of the {len(MAIN_REGISTRY)} of "
            f"spandrel's main package (spandrel says {said}; first keys: {keys}); architectures under non-commercial "
            "licences need spandrel-extra-arches, which SR Studio does not install"
        ) from None
    except Exception as error:  # noqa: BLE001 - see docstring
        detected = next(
            (
                arch.architecture.name
                for arch in MAIN_REGISTRY.architectures("detection")
                if arch.detect(dict(state_dict))
            ),
            "a known architecture",
        )
        reason = "; ".join(line.strip() for line in str(error).splitlines()[:2] if line.strip())
        raise WeightsMismatchError(
            f"{name}: spandrel takes it for {detected} but cannot build it ({type(error).__name__}: {reason}); "
            "the file is damaged or a variant spandrel does not support"
        ) from None
    if not isinstance(descriptor, ImageModelDescriptor):
        raise UnknownArchitectureError(
            f"{name} is a {descriptor.architecture.name} {descriptor.purpose.lower()} model, which needs a mask; "
            "it does not upscale images"
        )
    if descriptor.input_channels not in IMAGE_CHANNELS or descriptor.output_channels not in IMAGE_CHANNELS:
        raise UnknownArchitectureError(
            f"{name} is a {descriptor.architecture.name} for {descriptor.input_channels}-channel input and "
            f"{descriptor.output_channels}-channel output; SR Studio runs grey or RGB models"
        )
    return descriptor


def _tiling(descriptor: ImageModelDescriptor) -> Tiling:
    return cast(Tiling, descriptor.tiling.name.lower())  # SUPPORTED/DISCOURAGED/INTERNAL


def _precision(descriptor: ImageModelDescriptor, device: torch.device, dtype: torch.dtype | None) -> torch.dtype:
    """``dtype``, else float16 on a GPU where spandrel says the model supports it, else float32.

    Never bfloat16 by default: spandrel's flag does not hold for every architecture (SwinIR keeps its attention
    masks in float32 and its matmuls refuse the mix), and SR Studio's bf16 CPU speed-up is measured on its own
    models only.
    """
    if dtype is not None:
        return dtype
    return torch.float16 if device.type == "cuda" and descriptor.supports_half else torch.float32


@functools.lru_cache(maxsize=CACHED_MODELS)
def _cached_user_model(
    path: str, modified: float, device_name: str, dtype: torch.dtype | None
) -> tuple[UserModelInfo, LoadedModel]:
    file = Path(path)
    descriptor = _descriptor(read_user_state_dict(file), file.name)
    sha256 = weights_io.sha256_file(file)
    size = descriptor.size_requirements
    info = UserModelInfo(
        file=file,
        architecture=descriptor.architecture.name,
        purpose=descriptor.purpose,
        scale=descriptor.scale,
        input_channels=descriptor.input_channels,
        output_channels=descriptor.output_channels,
        parameters=count_parameters(descriptor.model),
        tags=tuple(descriptor.tags),
        size_minimum=size.minimum,
        size_multiple_of=size.multiple_of,
        size_square=size.square,
        tiling=_tiling(descriptor),
        supports_half=descriptor.supports_half,
        supports_bfloat16=descriptor.supports_bfloat16,
        sha256=sha256,
    )
    trained = {key: tensor.detach().clone() for key, tensor in descriptor.model.state_dict().items()}
    device = torch.device(device_name)
    precision = _precision(descriptor, device, dtype)
    activation_bytes = activation_bytes_per_lr_pixel(descriptor.model.eval(), precision)
    descriptor.to(device=device, dtype=precision).eval()
    for parameter in descriptor.model.parameters():
        parameter.requires_grad_(False)
    loaded = LoadedModel(
        name=info.label,
        network=SpandrelNetwork(descriptor),
        state_dict=trained,
        device=device,
        dtype=precision,
        weights_file=str(file),
        weights_sha256=sha256,
        parameters=info.parameters,
        scale=info.scale,
        tiling=info.tiling,
        activation_bytes_per_lr_pixel=activation_bytes,
    )
    return info, loaded


def _user_model(path: str | Path, device: str | None, dtype: torch.dtype | None) -> tuple[UserModelInfo, LoadedModel]:
    """Cached by the file's modification time, so replacing a file on disk loads it again."""
    resolved = Path(path).resolve()
    modified = resolved.stat().st_mtime if resolved.is_file() else 0.0
    return _cached_user_model(str(resolved), modified, str(pick_device(device)), dtype)


def identify(path: str | Path) -> UserModelInfo:
    """What a user's file holds (architecture, scale, channels, parameters ...); typed errors for bad files.

    :class:`WeightsNotFoundError`/:class:`CorruptWeightsError` (missing, not a checkpoint, truncated, pickled
    code), :class:`WeightsTooLargeError` (over the cap), :class:`UnknownArchitectureError` (spandrel does not
    know it) and :class:`WeightsMismatchError` (spandrel knows the keys but cannot build the network).
    """
    return _user_model(path, "cpu", torch.float32)[0]


def load_user_model(path: str | Path, device: str | None = None, dtype: torch.dtype | None = None) -> LoadedModel:
    """A user's file loaded by spandrel, ready for :func:`sr_core.inference.upscale_with`; errors as :func:`identify`.

    ``dtype`` None: float32, or float16 on a GPU where spandrel says the model supports it; evaluation passes
    float32.
    """
    return _user_model(path, device, dtype)[1]


def load_weights_file(path: str | Path, device: str | None = None, dtype: torch.dtype | None = None) -> LoadedModel:
    """The model a weights file holds: SR Studio's own family when its key tables recognise the file, else spandrel's.

    The project's families keep their own modules (int8, interpolation and the manifest know them); every other
    architecture spandrel knows runs too.
    """
    state_dict = read_user_state_dict(path)
    if weights_io.detect_architecture(state_dict) is not None:
        return load_model(model_for_weights(path), path, device, dtype)
    return load_user_model(path, device, dtype)


def describe_weights_file(path: str | Path) -> list[str]:
    """``models --weights FILE``: what the file holds, one ``field: value`` line each.

    The file is read as :func:`load_weights_file` runs it.
    """
    if weights_io.detect_architecture(read_user_state_dict(path)) is None:
        return identify(path).describe()
    model = load_weights_file(path, "cpu", torch.float32)
    return [
        f"file: {Path(path).name}",
        f"architecture: {get_spec(model.name).architecture} (SR Studio's {model.name})",
        f"scale: x{model.scale}",
        f"parameters: {model.parameters:,}",
        f"sha256: {model.weights_sha256}",
    ]


def network_with_weights(model: LoadedModel, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """A copy of a user model's network holding other weights of the same keys and shapes, on the model's device
    and in its precision: how an interpolation of two users' files runs its blend without detecting it again."""
    if not isinstance(model.network, SpandrelNetwork):
        raise TypeError(f"{model.name} is not a user model loaded by spandrel")
    network = copy.deepcopy(model.network)
    network.model.load_state_dict(state_dict)
    return network


def require_scale(model: LoadedModel, where: str, scale: int = SCALE) -> None:
    """Raise :class:`UnsupportedScaleError` unless ``model`` upscales by ``scale`` (Compare, evaluate and MOS: x4)."""
    if model.scale != scale:
        raise UnsupportedScaleError(
            f"{model.name} upscales x{model.scale}; {where} scores x{scale} models only (the protocol's LR is the HR "
            f"shrunk x{scale}): use it in the Upscale tab or `python -m sr_core upscale`"
        )


def user_model_files(folder: str | Path | None = None) -> list[Path]:
    """The model files of ``folder`` (default ``SR_STUDIO_USER_MODELS_DIR``; none when unset), in name order."""
    folder = settings.user_models_dir() if folder is None else Path(folder)
    if folder is None or not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in USER_MODEL_SUFFIXES)
