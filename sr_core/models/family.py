"""What a model family declares about itself, so that nothing central needs editing for a new one.

Each model file (``srcnn.py``, ``srresnet.py`` ...) ends with ``FAMILIES``: per architecture, its
registry entries (:class:`ModelSpec`), how to recognise its canonical state dict and read its
hyper-parameters from tensor shapes, the released key layouts that map onto its names, and the
hints the inference rewrites need (:mod:`sr_core.optimize`). As spandrel does for its
architectures: the family knows itself. :mod:`sr_core.registry` collects them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

ModelKind = Literal["baseline", "float", "int8", "discriminator"]
"""baseline: parameter-free (bicubic ...); float: a learned upscaler; int8: a float model run with calibrated
int8 ranges (CPU); discriminator: a GAN's critic, trained here but never an upscaler."""
StateDict = Mapping[str, torch.Tensor]
RenameRule = tuple[re.Pattern[str], str]


@dataclass(frozen=True)
class ModelSpec:
    """How to build one named model and what it is.

    ``architecture`` names the network family: models with the same architecture and
    ``default_kwargs`` can exchange weights and be interpolated. ``discriminator`` names the
    spec of the critic its GAN training uses. ``quantized_from`` names the float model an int8
    variant runs with calibrated ranges (:mod:`sr_core.int8`); ``int8_variant`` asks
    the registry for that variant (generators with batch norm, whose statistics let a generator
    synthesise calibration data).
    """

    name: str
    architecture: str
    builder: Callable[..., nn.Module]
    description: str
    paper: str
    kind: ModelKind = "float"
    default_kwargs: dict[str, Any] = field(default_factory=dict)
    discriminator: str | None = None
    quantized_from: str | None = None
    int8_variant: bool = False

    @property
    def learned(self) -> bool:
        """True for models that need a weights file (every kind but the baselines)."""
        return self.kind != "baseline"

    @property
    def upscales(self) -> bool:
        """True for the models that upscale images (every kind but the discriminators)."""
        return self.kind != "discriminator"

    def build(self, **overrides: Any) -> nn.Module:
        """A fresh model in eval mode with the paper's hyper-parameters, updated by ``overrides``."""
        return self.builder(**{**self.default_kwargs, **overrides}).eval()


@dataclass(frozen=True)
class KeyLayout:
    """A released checkpoint's naming scheme: how to recognise it, and the renames to canonical keys.

    ``rules(keys)`` may depend on the keys (the old ESRGAN arch numbers ``conv_body`` after the
    last block). The first matching rule renames a key; keys matched by none are kept, so
    strict loading reports them.
    """

    name: str
    recognises: Callable[[Collection[str]], bool]
    rules: Callable[[Collection[str]], tuple[RenameRule, ...]]


@dataclass(frozen=True)
class SubpixelTail:
    """Attribute names of a sub-pixel network's tail: the upsampler ``nn.Sequential``, the last conv after it,
    and the ``PixelShuffle`` inside an upsampling block (:func:`sr_core.optimize.fold_subpixel_tail`)."""

    upsampler: str
    last_conv: str
    shuffle: str


@dataclass(frozen=True)
class ModelFamily:
    """One architecture: its registry entries, its weights' signature and key layouts, its fold hints.

    ``recognises`` tells a canonical state dict of this architecture; ``kwargs_from_weights`` reads the
    constructor's keyword arguments from its shapes (None for parameter-free baselines). ``bn_convs``
    names, where it is not ``bnN`` after ``convN``, the layer each BatchNorm follows (BN attribute ->
    conv attribute) so inference can fold them. ``year`` orders the registry as the papers appeared.
    """

    architecture: str
    year: int
    specs: tuple[ModelSpec, ...]
    recognises: Callable[[StateDict], bool] | None = None
    kwargs_from_weights: Callable[[StateDict], dict[str, int]] | None = None
    key_layouts: tuple[KeyLayout, ...] = ()
    bn_convs: Mapping[str, str] = field(default_factory=dict)
    subpixel_tail: SubpixelTail | None = None


def rename_rules(*pairs: tuple[str, str]) -> tuple[RenameRule, ...]:
    """(regex, replacement) pairs compiled, for a :class:`KeyLayout`."""
    return tuple((re.compile(pattern), replacement) for pattern, replacement in pairs)


def has_keys(*required: str) -> Callable[[StateDict], bool]:
    """A signature test: the state dict holds every one of ``required``."""
    return lambda state_dict: all(key in state_dict for key in required)


def count_indices(keys: Collection[str], prefix: str) -> int:
    """How many entries an ``nn.Sequential`` named by ``prefix`` (``"body."``) has."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.")
    return len({match.group(1) for key in keys if (match := pattern.match(key))})
