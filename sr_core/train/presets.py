"""Training configurations: one dataclass of every hyper-parameter, and the papers' values as data.

A run's configuration is a preset (:data:`PRESETS`), updated by a YAML file of ``key: value``
lines, then by ``--set key=value`` pairs, then by the command line's own flags; values are
converted to the type of the field they replace, so ``--set lr=2e-4`` is a float. The whole
configuration is stored in every checkpoint, so a resumed run trains exactly as it started.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import torch
import yaml
from torch import nn

from sr_core.errors import TrainingConfigError
from sr_core.models.family import ModelSpec
from sr_core.models.subpixel import subpixel_convs
from sr_core.registry import get_spec

# Fields that take one of a few words; everything else is checked by its type.
CHOICES: dict[str, tuple[str, ...]] = {
    "pixel_criterion": ("mse", "l1"),
    "content_loss": ("none", "vgg", "mobilenet_v2"),
    "content_criterion": ("mse", "l1"),
    "vgg_layer": ("22", "54"),
    "mobilenet_mode": ("paper", "released"),
    "adversarial": ("none", "gan", "ragan"),
    "gan_form": ("log", "linear"),
    "optimizer": ("adam", "adamw", "sgd"),
    "scheduler": ("none", "multistep", "plateau"),
    "amp": ("auto", "bf16", "fp16", "off"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Every hyper-parameter of a training run. Defaults are SRResNet's; presets change what their paper does."""

    preset: str = "srresnet"
    model: str = "srresnet"  # registry name of the generator; its discriminator comes from the registry
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {"num_block": 1} for tests
    init_from: str | None = None  # a run folder or weights file to start the generator from (GAN stage)

    # Data: HR folders, every val_every-th image held out for validation (0: none).
    data: tuple[str, ...] = ()
    val_every: int = 20
    val_crop: int = 0  # centre crop of validation HR images in px (0: whole images)
    hr_crop: int = 96  # side of the random HR training crops; LR crops are hr_crop / 4
    batch_size: int = 16  # global: split over DDP processes
    workers: int = 2
    seed: int = 0
    steps: int = 1_000_000

    # Generator loss: pixel_weight * pixel + content_weight * content + tv_weight * TV
    # + lowpass_weight * L1 of the x4 block means (colour anchor; 0 in every paper) + adversarial_weight * GAN.
    pixel_criterion: str = "mse"
    pixel_weight: float = 1.0
    content_loss: str = "none"
    content_weight: float = 1.0
    content_criterion: str = "mse"
    vgg_layer: str = "54"
    vgg_before_activation: bool = False
    feature_scale: float = 1.0
    mobilenet_mode: str = "paper"
    features: str = (
        "imagenet"  # content loss network: imagenet (torchvision, else packaged), packaged, random or a file
    )
    tv_weight: float = 0.0
    lowpass_weight: float = 0.0
    phase_weight: float = 0.0  # L1 of SR's and HR's per-phase offsets from their 4x4 block means (losses.PhaseMeanLoss)
    line_phase_weight: float = 0.0  # the same per row and per column of the crop (losses.LinePhaseLoss)
    adversarial: str = "none"
    adversarial_weight: float = 0.0
    gan_form: str = "log"
    # Random translation (0..N px, per image) of what the discriminator and the content loss's
    # feature network see, by cropping N px: it unlocks their strided sampling grids from G's x4
    # sub-pixel grid, which otherwise become stripes (see objective.shifted_crops).
    discriminator_shift: int = 0
    content_shift: int = 0
    # Keep every phase of the sub-pixel upsamplers at the same DC gain after each generator step,
    # the structural cure for their period-2/4 stripes (see sr_core.models.subpixel).
    tie_subpixel_phases: bool = False
    # Keep an exponential moving average of the generator's weights (0: none; e.g. 0.999 averages
    # about the last 1,000 steps). It smooths the step-to-step jitter of a GAN stage, and when it is
    # kept, validation, export and publish use the average instead of the last step's weights.
    ema_decay: float = 0.0

    # Optimisation (the discriminator uses the same optimiser, learning rate and schedule).
    optimizer: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_scales: dict[str, float] = field(default_factory=dict)  # parameter-name prefix -> lr multiplier
    scheduler: str = "none"
    milestones: tuple[int, ...] = ()  # steps at which multistep multiplies the lr by gamma
    gamma: float = 0.5
    plateau_factor: float = 0.1  # ReduceLROnPlateau on validation PSNR, one check per validation
    plateau_patience: int = 10

    # Engineering.
    amp: str = "auto"  # auto: CUDA bf16 where supported, else fp16 with a grad scaler; CPU bf16 only where native
    channels_last: bool = True
    device: str | None = None  # default: CUDA if available, else CPU (DDP: cuda:LOCAL_RANK)
    threads: int = 0  # CPU threads per process (0: torch's default)
    validate_every: int = 500
    checkpoint_every: int = 1000

    @property
    def discriminator(self) -> str | None:
        """Registry name of the discriminator, for runs with an adversarial loss."""
        return get_spec(self.model).discriminator if self.adversarial != "none" else None


_SRGAN_STAGE: dict[str, Any] = dict(
    init_from=None,
    content_loss="vgg",
    pixel_weight=0.0,
    content_weight=1.0,
    vgg_layer="54",
    feature_scale=1.0 / 12.75,
    adversarial="gan",
    adversarial_weight=1e-3,
    lr=1e-4,
    betas=(0.9, 0.999),
    scheduler="multistep",
    milestones=(100_000,),
    gamma=0.1,
    steps=200_000,
)
_SWIFTSRGAN_STAGE: dict[str, Any] = dict(
    optimizer="adamw",
    lr=1e-3,
    weight_decay=1e-2,
    scheduler="plateau",
    batch_size=32,
    hr_crop=96,
    steps=100_000,
)

PRESETS: dict[str, TrainConfig] = {
    # Dong et al.: MSE, SGD with momentum 0.9, lr 1e-4 (1e-5 for the last layer), 33 px sub-images, batch 128.
    "srcnn": TrainConfig(
        preset="srcnn",
        model="srcnn",
        optimizer="sgd",
        lr=1e-4,
        momentum=0.9,
        lr_scales={"conv3": 0.1},
        hr_crop=32,
        batch_size=128,
        steps=1_000_000,
    ),
    "srcnn_935": TrainConfig(
        preset="srcnn_935",
        model="srcnn_935",
        optimizer="sgd",
        lr=1e-4,
        momentum=0.9,
        lr_scales={"conv3": 0.1},
        hr_crop=32,
        batch_size=128,
        steps=1_000_000,
    ),
    # Ledig et al.: MSE, Adam (beta1 0.9) at 1e-4 for 10^6 steps, 16 crops of 96 px.
    "srresnet": TrainConfig(preset="srresnet", model="srresnet"),
    # SRGAN from a trained SRResNet: VGG54 (rescaled 1/12.75) + 1e-3 adversarial, 10^5 steps at 1e-4, 10^5 at 1e-5.
    "srgan": TrainConfig(preset="srgan", model="srgan", **_SRGAN_STAGE),
    # The paper's SRGAN-MSE: the same GAN stage with the pixel MSE as content loss.
    "srgan_mse": TrainConfig(
        preset="srgan_mse", model="srgan", **{**_SRGAN_STAGE, "content_loss": "none", "pixel_weight": 1.0}
    ),
    # Wang et al., PSNR stage: L1, Adam 2e-4, halved every 2x10^5 steps, 16 crops of 128 px.
    "esrgan_psnr": TrainConfig(
        preset="esrgan_psnr",
        model="esrgan_psnr",
        pixel_criterion="l1",
        lr=2e-4,
        scheduler="multistep",
        milestones=(200_000, 400_000, 600_000, 800_000),
        gamma=0.5,
        hr_crop=128,
        steps=1_000_000,
    ),
    # ESRGAN from esrgan_psnr: VGG54 before activation (L1) + 5e-3 RaGAN + 1e-2 L1, Adam 1e-4 halved at 50k/100k/200k/300k.
    "esrgan": TrainConfig(
        preset="esrgan",
        model="esrgan",
        pixel_criterion="l1",
        pixel_weight=1e-2,
        content_loss="vgg",
        content_criterion="l1",
        vgg_layer="54",
        vgg_before_activation=True,
        adversarial="ragan",
        adversarial_weight=5e-3,
        lr=1e-4,
        scheduler="multistep",
        milestones=(50_000, 100_000, 200_000, 300_000),
        gamma=0.5,
        hr_crop=128,
        steps=400_000,
    ),
    # Krishnan & Sahin: AdamW, ReduceLROnPlateau, mixed precision, batch 32. The paper gives no lr or length:
    # lr 1e-3 is the authors' code's; 96 px crops are their code's default (the paper cut 1024 px from DIV2K).
    "swiftsrgan_psnr": TrainConfig(preset="swiftsrgan_psnr", model="swiftsrgan_psnr", **_SWIFTSRGAN_STAGE),
    # The GAN stage of the paper: MobileNetV2 block-16 content loss + 1e-3 adversarial (-log D).
    "swiftsrgan": TrainConfig(
        preset="swiftsrgan",
        model="swiftsrgan",
        pixel_weight=0.0,
        content_loss="mobilenet_v2",
        mobilenet_mode="paper",
        adversarial="gan",
        adversarial_weight=1e-3,
        **_SWIFTSRGAN_STAGE,
    ),
    # The authors' released code: MSE + 0.006 whole-stack MobileNetV2 + 1e-3 (1 - D) + 2e-8 TV, D loss 1 - D(x) + D(G(z)).
    "swiftsrgan_released": TrainConfig(
        preset="swiftsrgan_released",
        model="swiftsrgan",
        pixel_weight=1.0,
        content_loss="mobilenet_v2",
        mobilenet_mode="released",
        content_weight=0.006,
        tv_weight=2e-8,
        adversarial="gan",
        gan_form="linear",
        adversarial_weight=1e-3,
        **_SWIFTSRGAN_STAGE,
    ),
}


_FIELD_TYPES: dict[str, Any] = get_type_hints(TrainConfig)


def preset(name: str) -> TrainConfig:
    """The preset ``name``; a :class:`TrainingConfigError` lists the valid names."""
    if name not in PRESETS:
        raise TrainingConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def with_overrides(config: TrainConfig, overrides: dict[str, Any], source: str) -> TrainConfig:
    """``config`` with ``overrides`` applied, each value converted to its field's type; ``source`` names them in errors."""
    converted = {}
    for key, value in overrides.items():
        if key not in _FIELD_TYPES:
            close = difflib.get_close_matches(key, list(_FIELD_TYPES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TrainingConfigError(f"{source}: unknown setting {key!r}{hint}")
        converted[key] = _convert(key, value, source)
    return check(replace(config, **converted))


def _convert(key: str, value: Any, source: str) -> Any:
    """``value`` (a YAML scalar, list or mapping) as the type the field ``key`` is declared with."""
    declared = _FIELD_TYPES[key]
    try:
        if declared is bool:
            if not isinstance(value, bool):
                raise ValueError("expected true or false")
            return value
        if declared in (int, float):
            number = float(value)
            if declared is int and number != int(number):
                raise ValueError("expected a whole number")
            return declared(number)
        if get_origin(declared) is tuple:
            element = get_args(declared)[0]
            items = value if isinstance(value, (list, tuple)) else [value]
            return tuple(element(float(item)) if element in (int, float) else element(item) for item in items)
        if get_origin(declared) is dict:
            if not isinstance(value, dict):
                raise ValueError("expected a mapping such as {conv3: 0.1}")
            return dict(value)
        optional = type(None) in get_args(declared)
        if isinstance(value, bool):
            # YAML 1.1 reads a bare off/no as false and on/yes as true: amp=off means the word.
            return "off" if not value else "on"
        return None if value is None and optional else str(value)
    except (TypeError, ValueError) as error:
        raise TrainingConfigError(f"{source}: {key}={value!r} is not valid ({error})") from None


def _generator_shape(spec: ModelSpec, config: TrainConfig) -> nn.Module:
    """``config``'s generator (of ``spec``) built on the meta device: its layers without memory or initialisation cost."""
    try:
        with torch.device("meta"):
            return spec.build(**config.model_kwargs)
    except TypeError as error:
        raise TrainingConfigError(f"model_kwargs do not fit {config.model}: {error}") from None


def check(config: TrainConfig) -> TrainConfig:
    """``config`` if its values can work together, else a :class:`TrainingConfigError` saying which does not."""
    for key, allowed in CHOICES.items():
        if getattr(config, key) not in allowed:
            raise TrainingConfigError(f"{key} must be one of {', '.join(allowed)}, not {getattr(config, key)!r}")
    spec = get_spec(config.model)
    if spec.kind not in ("float",):
        raise TrainingConfigError(f"model {config.model!r} has nothing to train; choose an SR network")
    if config.adversarial != "none" and spec.discriminator is None:
        raise TrainingConfigError(f"model {config.model!r} has no discriminator; use a GAN model or adversarial=none")
    generator = _generator_shape(spec, config)
    if config.tie_subpixel_phases and not subpixel_convs(generator):
        raise TrainingConfigError(f"tie_subpixel_phases: {config.model} has no sub-pixel (PixelShuffle) upsampler")
    if config.hr_crop <= 0 or config.hr_crop % 4:
        raise TrainingConfigError(f"hr_crop must be a positive multiple of 4, not {config.hr_crop}")
    for key in ("discriminator_shift", "content_shift"):
        if not 0 <= getattr(config, key) < config.hr_crop // 2:
            raise TrainingConfigError(
                f"{key} must be 0 or more and under half the HR crop ({config.hr_crop // 2}), not {getattr(config, key)}"
            )
    if not 0.0 <= config.ema_decay < 1.0:
        raise TrainingConfigError(f"ema_decay must be 0 (no average) or in (0, 1), not {config.ema_decay}")
    for key in ("steps", "batch_size", "validate_every", "checkpoint_every"):
        if getattr(config, key) <= 0:
            raise TrainingConfigError(f"{key} must be positive, not {getattr(config, key)}")
    return config


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The ``key: value`` mapping of a YAML configuration file."""
    try:
        values = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise TrainingConfigError(f"cannot read the configuration {path}: {error}") from None
    if not isinstance(values, dict):
        raise TrainingConfigError(f"{path} must hold a mapping of setting: value lines")
    return values


def parse_set_pairs(pairs: list[str]) -> dict[str, Any]:
    """``["lr=2e-4", "milestones=[10, 20]"]`` -> ``{"lr": "2e-4", "milestones": [10, 20]}`` (values read as YAML)."""
    values = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key.strip():
            raise TrainingConfigError(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            values[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise TrainingConfigError(f"--set {pair!r}: the value is not valid YAML ({error})") from None
    return values


def to_record(config: TrainConfig) -> dict[str, Any]:
    """The configuration as plain lists, dicts and scalars (what checkpoints and YAML files hold)."""
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(config).items()
    }


def from_record(record: dict[str, Any]) -> TrainConfig:
    """Inverse of :func:`to_record`."""
    return with_overrides(TrainConfig(), record, "checkpoint")
