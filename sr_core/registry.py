"""The one table of model names -> builders.

Everything that builds a model by name (CLI, app, trainer, evaluation) goes through
:func:`build_model`; nothing else switches on model names. A spec also says which
architecture a name shares (``srgan`` is SRResNet with other weights) so network
interpolation can check that two models are compatible, and which discriminator its GAN
training uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from sr_core.errors import UnknownModelError
from sr_core.models.blocks import Interpolation
from sr_core.models.discriminators import esrgan_discriminator, srgan_discriminator
from sr_core.models.esrgan import RRDBNet
from sr_core.models.srcnn import SRCNN
from sr_core.models.srresnet import SRResNet
from sr_core.models.swiftsrgan import SwiftSRGANDiscriminator, SwiftSRGANGenerator

SCALE = 4
INT8_SUFFIX = "-int8"


@dataclass(frozen=True)
class ModelSpec:
    """How to build one named model and what it is.

    ``architecture`` names the network family: models with the same architecture and
    ``default_kwargs`` can exchange weights and be interpolated. ``learned`` is False for the
    parameter-free baselines, which need no weights file. ``quantized_from`` names the float
    model an int8 variant is calibrated from: it runs that model's weights with int8 ranges
    (:mod:`sr_core.quant.int8_models`) and is never trained or interpolated itself.
    """

    name: str
    architecture: str
    builder: Callable[..., nn.Module]
    description: str
    paper: str
    learned: bool = True
    default_kwargs: dict[str, Any] = field(default_factory=dict)
    discriminator: str | None = None
    quantized_from: str | None = None

    def build(self, **overrides: Any) -> nn.Module:
        """A fresh model in eval mode with the paper's hyper-parameters, updated by ``overrides``."""
        return self.builder(**{**self.default_kwargs, **overrides}).eval()


_FLOAT_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("nearest", "interpolation", Interpolation, "Nearest-neighbour x4 (MOS score-1 anchor)",
              "baseline", learned=False, default_kwargs={"mode": "nearest"}),
    ModelSpec("bicubic", "interpolation", Interpolation, "Bicubic x4, PIL/MATLAB kernel (a = -0.5)",
              "baseline", learned=False, default_kwargs={"mode": "bicubic"}),
    ModelSpec("srcnn", "srcnn", SRCNN, "SRCNN 9-5-5, Y channel, n1=64 n2=32", "Dong et al. 2014; thesis ch. 2",
              default_kwargs={"f2": 5}),
    ModelSpec("srcnn_935", "srcnn", SRCNN, "SRCNN 9-3-5, Y channel, n1=64 n2=32", "Dong et al. 2014; thesis ch. 2",
              default_kwargs={"f2": 3}),
    ModelSpec("srresnet", "srresnet", SRResNet, "SRResNet (MSE), 16 residual blocks with BN",
              "Ledig et al. 2017; thesis ch. 5"),
    ModelSpec("srgan", "srresnet", SRResNet, "SRGAN generator (perceptual + adversarial)",
              "Ledig et al. 2017; thesis ch. 5", discriminator="srgan_discriminator"),
    ModelSpec("esrgan_psnr", "rrdbnet", RRDBNet, "ESRGAN's PSNR-oriented RRDBNet (L1)",
              "Wang et al. 2018; thesis ch. 6"),
    ModelSpec("esrgan", "rrdbnet", RRDBNet, "ESRGAN (RRDBNet, relativistic GAN + VGG54 before activation)",
              "Wang et al. 2018; thesis ch. 6", discriminator="esrgan_discriminator"),
    ModelSpec("swiftsrgan_psnr", "swiftsrgan", SwiftSRGANGenerator, "Swift-SRGAN generator pre-trained with MSE",
              "Krishnan & Sahin 2021"),
    ModelSpec("swiftsrgan", "swiftsrgan", SwiftSRGANGenerator, "Swift-SRGAN (depthwise-separable SRGAN)",
              "Krishnan & Sahin 2021", discriminator="swiftsrgan_discriminator"),
    ModelSpec("srgan_discriminator", "srgan_discriminator", srgan_discriminator,
              "SRGAN discriminator: 8 convs 64->512, dense 1024, sigmoid", "Ledig et al. 2017"),
    ModelSpec("esrgan_discriminator", "esrgan_discriminator", esrgan_discriminator,
              "ESRGAN VGG128 discriminator (relativistic, logits)", "Wang et al. 2018"),
    ModelSpec("swiftsrgan_discriminator", "swiftsrgan_discriminator", SwiftSRGANDiscriminator,
              "Swift-SRGAN discriminator: 8 separable conv blocks, dense 1024", "Krishnan & Sahin 2021"),
)



def _int8_variant(spec: ModelSpec) -> ModelSpec:
    """``spec``'s int8 twin (``swiftsrgan-int8``): same network, weights and size, int8 on CPU."""
    return replace(spec, name=spec.name + INT8_SUFFIX, description=f"{spec.description}; int8, data-free calibrated (CPU)",
                   discriminator=None, quantized_from=spec.name)


# Generators with batch norm: their BN statistics let a generator synthesise calibration data (ZS-CGAN's idea).
_INT8_BASES = ("srresnet", "srgan", "swiftsrgan_psnr", "swiftsrgan")
_SPECS: tuple[ModelSpec, ...] = (
    *[spec for spec in _FLOAT_SPECS if not spec.architecture.endswith("discriminator")],
    *[_int8_variant(spec) for spec in _FLOAT_SPECS if spec.name in _INT8_BASES],
    *[spec for spec in _FLOAT_SPECS if spec.architecture.endswith("discriminator")],
)
_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; an :class:`UnknownModelError` lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; choose one of: {', '.join(sr_model_names())}") from None


def build_model(name: str, **overrides: Any) -> nn.Module:
    """Build the model registered as ``name`` (random or parameter-free weights, eval mode)."""
    return get_spec(name).build(**overrides)


def all_specs() -> tuple[ModelSpec, ...]:
    """Every registered model, SR generators first, in the order the papers appeared."""
    return _SPECS


def sr_model_names() -> list[str]:
    """Names of the models that upscale images (discriminators excluded)."""
    return [spec.name for spec in _SPECS if not spec.architecture.endswith("discriminator")]
