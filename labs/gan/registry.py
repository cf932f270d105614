"""The one table of GAN names -> builders (separate from the SR models' registry).

Each builder is a few lines that pick the family, its networks and the source's training
hyper-parameters. Network widths come from a size preset: "paper" is the sources' sizes,
"small" a CPU-friendly reduction for longer runs on a laptop, "tiny" for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from labs.gan.acgan import ACGAN
from labs.gan.capsule import CapsuleBody
from labs.gan.discriminators import ConvBody, Discriminator, MLPBody, SineConvBody
from labs.gan.errors import GanSettingError
from labs.gan.generators import DCGANGenerator, LinearGenerator, MLPGenerator, SineGenerator
from labs.gan.goodfellow import GoodfellowGAN
from labs.gan.infogan import InfoGAN
from labs.gan.layers import FeatureBody, thesis_dense_init
from labs.gan.model import GAN, OptimizerSettings
from labs.gan.wgan import WassersteinGAN
from sr_core.errors import UnknownModelError

ImageShape = tuple[int, ...]  # (C, H, W) of the data's images; the 1-D and sine GANs ignore it
MNIST_SHAPE: ImageShape = (1, 28, 28)
MNIST_CLASSES = 10
SINE_LATENT_DIM = 16
SINE_INSTANCE_NOISE = 0.3
ONE_D_LR_DECAY = 0.5  # CycleGAN's schedule: constant for the first half, then linearly to zero

# Keyword arguments of each network per size preset.
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "generator": {"width": 128},
        "cnn": {"width": 32},
        "capsule": {},
        "sine_generator": {"width": 64},
        "sine_discriminator": {"width": 32},
    },
    "small": {
        "generator": {"width": 64},
        "cnn": {"width": 16},
        "capsule": {"conv_channels": 64, "capsule_maps": 8},
        "sine_generator": {"width": 32},
        "sine_discriminator": {"width": 16},
    },
    "tiny": {
        "generator": {"width": 8},
        "cnn": {"width": 4},
        "capsule": {"conv_channels": 8, "capsule_maps": 2, "routing_units": 16},
        "sine_generator": {"width": 8},
        "sine_discriminator": {"width": 4},
    },
}
DISCRIMINATOR_BODIES: dict[str, Callable[..., FeatureBody]] = {"cnn": ConvBody, "capsule": CapsuleBody}

# tf.train.AdamOptimizer()'s defaults, the thesis's optimizer; Radford et al.'s Adam for the image GANs.
THESIS_ADAM = OptimizerSettings("adam", 1e-3, (0.9, 0.999))
DCGAN_ADAM = OptimizerSettings("adam", 2e-4, (0.5, 0.999))


@dataclass(frozen=True)
class GanSpec:
    """How to build one named GAN, and what it trains on.

    ``data``: "toy1d" (a generated 1-D target), "sine" (generated sine images) or "images"
    (``--data``: MNIST or an image folder). ``discriminators``: the bodies it can be built with.
    """

    name: str
    builder: Callable[..., GAN]
    description: str
    paper: str
    data: str
    discriminators: tuple[str, ...] = ("cnn", "capsule")
    needs_labels: bool = False


def _one_d(
    image_shape: ImageShape,
    discriminator: str,
    size: str,
    *,
    generator: str = "linear",
    dropout: float = 0.0,
    k: int = 1,
    lr: float = THESIS_ADAM.lr,
    minimax: bool = False,
    lr_decay: float = ONE_D_LR_DECAY,
) -> GAN:
    """Thesis 4.3/4.4: a linear (batch 100, D 3x64) or MLP (3x256, batch 200, D 3x256) generator, as its code.

    Not in the thesis: both learning rates fall linearly to zero over the last ``lr_decay`` of the
    run (:func:`labs.gan.model.decayed_lr_scale`). It is for the MLP on the mixture, whose mean
    (1.15, half-way between modes 8.7 apart) is 10% off as soon as 1.3% of the mass sits in the
    wrong mode: at the thesis's constant rate the networks kept trading mass between the modes and
    the last snapshot's mean was 18-55% off depending on where the run stopped; with the decay the
    2000-step runs end 3-5% off on most seeds, but still 12-53% off on some.
    """
    gen: nn.Module
    if generator == "linear":
        if dropout:
            raise GanSettingError("dropout applies to the MLP generator: add --generator mlp")
        gen, hidden, batch_size = LinearGenerator(), 64, 100
    elif generator == "mlp":
        gen, hidden, batch_size = MLPGenerator(dropout=dropout), 256, 200
    else:
        raise GanSettingError(f"the 1-D generator is 'linear' or 'mlp', not {generator!r}")
    disc = Discriminator(MLPBody(hidden_features=hidden))
    thesis_dense_init(gen)
    thesis_dense_init(disc)
    optimizer = OptimizerSettings("adam", lr, THESIS_ADAM.betas)
    return GoodfellowGAN(
        gen,
        disc,
        k=k,
        minimax=minimax,
        latent_dim=1,
        batch_size=batch_size,
        g_optimizer=optimizer,
        d_optimizer=optimizer,
        lr_decay=lr_decay,
    )


def _sine(
    image_shape: ImageShape,
    discriminator: str,
    size: str,
    *,
    k: int = 1,
    lr: float = THESIS_ADAM.lr,
    weight_decay: float = 1e-4,
    instance_noise: float = SINE_INSTANCE_NOISE,
) -> GAN:
    """Thesis 4.5: uniform noise, batch 32, an L2 penalty on every weight (strength not given: 1e-4).

    Adam at 1e-3, TensorFlow's default that the thesis's code uses, with DCGAN's beta1 0.5: at 2e-4
    the generator still drew no curve after 800 steps. Not in the thesis: instance noise on D's
    inputs (see :class:`GoodfellowGAN`) and batch norm in both networks (see :class:`SineGenerator`
    and :class:`SineConvBody`); without them D separated binary waves from tanh outputs perfectly in
    every setup tried (``--instance-noise 0``). Open: 2000 steps draw clean curves of only a few
    phases (curve IoU 0.56, phase distance 0.69); minibatch-std features, spectral norm and batch
    norm over real and fake together did not widen them.

    Both networks are built for the thesis's 50x50 images whatever ``image_shape`` says: the
    generator always draws 50x50, so a discriminator sized for other data could not read it.
    """
    gen = SineGenerator(SINE_LATENT_DIM, **SIZES[size]["sine_generator"])
    disc = Discriminator(SineConvBody(**SIZES[size]["sine_discriminator"]))
    optimizer = OptimizerSettings("adam", lr, DCGAN_ADAM.betas, weight_decay)
    return GoodfellowGAN(
        gen,
        disc,
        k=k,
        latent_dim=SINE_LATENT_DIM,
        latent="uniform",
        batch_size=32,
        g_optimizer=optimizer,
        d_optimizer=optimizer,
        instance_noise=instance_noise,
    )


def _image_networks(
    image_shape: ImageShape,
    discriminator: str,
    size: str,
    input_dim: int,
    num_classes: int = 0,
    num_continuous: int = 0,
    batch_norm: bool = True,
) -> tuple[nn.Module, nn.Module]:
    """The report's generator and the chosen discriminator body (cnn or capsule) with the GAN's heads."""
    channels, height, width = image_shape
    generator = DCGANGenerator(input_dim, (channels, height, width), **SIZES[size]["generator"])
    body = DISCRIMINATOR_BODIES[discriminator](image_shape, batch_norm=batch_norm, **SIZES[size][discriminator])
    return generator, Discriminator(body, num_classes, num_continuous)


def _dcgan(image_shape: ImageShape, discriminator: str, size: str, *, k: int = 1, lr: float = DCGAN_ADAM.lr) -> GAN:
    gen, disc = _image_networks(image_shape, discriminator, size, 100)
    optimizer = OptimizerSettings("adam", lr, DCGAN_ADAM.betas)
    return GoodfellowGAN(gen, disc, k=k, latent_dim=100, batch_size=64, g_optimizer=optimizer, d_optimizer=optimizer)


def _wgan(
    image_shape: ImageShape, discriminator: str, size: str, *, k: int = 5, lr: float = 5e-5, clip_value: float = 0.01
) -> GAN:
    """Arjovsky et al.: RMSprop 5e-5, clipping at 0.01, 5 critic steps per generator step."""
    gen, disc = _image_networks(image_shape, discriminator, size, 100)
    optimizer = OptimizerSettings("rmsprop", lr)
    return WassersteinGAN(
        gen,
        disc,
        n_critic=k,
        clip_value=clip_value,
        latent_dim=100,
        batch_size=64,
        g_optimizer=optimizer,
        d_optimizer=optimizer,
    )


def _wgan_gp(
    image_shape: ImageShape, discriminator: str, size: str, *, k: int = 5, lr: float = 1e-4, gp_weight: float = 10.0
) -> GAN:
    """Gulrajani et al.: Adam(1e-4, 0, 0.9), lambda 10, 5 critic steps, no batch norm in the critic."""
    gen, disc = _image_networks(image_shape, discriminator, size, 100, batch_norm=False)
    optimizer = OptimizerSettings("adam", lr, (0.0, 0.9))
    return WassersteinGAN(
        gen,
        disc,
        n_critic=k,
        gp_weight=gp_weight,
        latent_dim=100,
        batch_size=64,
        g_optimizer=optimizer,
        d_optimizer=optimizer,
    )


def _acgan(image_shape: ImageShape, discriminator: str, size: str, *, lr: float = DCGAN_ADAM.lr) -> GAN:
    gen, disc = _image_networks(image_shape, discriminator, size, 100 + MNIST_CLASSES, num_classes=MNIST_CLASSES)
    optimizer = OptimizerSettings("adam", lr, DCGAN_ADAM.betas)
    return ACGAN(
        gen,
        disc,
        latent_dim=100,
        num_classes=MNIST_CLASSES,
        batch_size=64,
        g_optimizer=optimizer,
        d_optimizer=optimizer,
    )


def _infogan(image_shape: ImageShape, discriminator: str, size: str, *, lr: float = DCGAN_ADAM.lr) -> GAN:
    """Chen et al.'s MNIST codes: 62 noise values, one 10-way categorical code, two continuous codes."""
    gen, disc = _image_networks(
        image_shape, discriminator, size, 62 + MNIST_CLASSES + 2, num_classes=MNIST_CLASSES, num_continuous=2
    )
    optimizer = OptimizerSettings("adam", lr, DCGAN_ADAM.betas)
    return InfoGAN(
        gen,
        disc,
        latent_dim=62,
        num_classes=MNIST_CLASSES,
        num_continuous=2,
        batch_size=64,
        g_optimizer=optimizer,
        d_optimizer=optimizer,
    )


_SPECS: tuple[GanSpec, ...] = (
    GanSpec(
        "gan1d",
        _one_d,
        "1-D GAN: linear or MLP generator on N(2.5, 3.25) or a two-normal mixture",
        "Goodfellow et al. 2014; thesis ch. 4.3-4.4",
        "toy1d",
        ("mlp",),
    ),
    GanSpec(
        "sine",
        _sine,
        "50x50 binary sine waves: transposed-conv generator, conv discriminator",
        "thesis ch. 4.5",
        "sine",
        ("cnn",),
    ),
    GanSpec(
        "dcgan",
        _dcgan,
        "DCGAN: the report's generator, classical or capsule discriminator",
        "Radford et al. 2015; CapsNet-GAN report",
        "images",
    ),
    GanSpec("wgan", _wgan, "WGAN with weight clipping", "Arjovsky et al. 2017; CapsNet-GAN report", "images"),
    GanSpec("wgan-gp", _wgan_gp, "WGAN with gradient penalty", "Gulrajani et al. 2017", "images"),
    GanSpec(
        "acgan",
        _acgan,
        "ACGAN: class-conditional generator, discriminator with a class head",
        "Odena et al. 2016; CapsNet-GAN report",
        "images",
        needs_labels=True,
    ),
    GanSpec(
        "infogan",
        _infogan,
        "InfoGAN: categorical + continuous codes recovered by a Q head",
        "Chen et al. 2016; CapsNet-GAN report",
        "images",
    ),
)
_REGISTRY: dict[str, GanSpec] = {spec.name: spec for spec in _SPECS}


def gan_names() -> list[str]:
    """Every registered GAN, in table order."""
    return [spec.name for spec in _SPECS]


def get_gan_spec(name: str) -> GanSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"no GAN named {name!r}; choose one of {', '.join(gan_names())}") from None


def build_gan(
    name: str,
    *,
    discriminator: str | None = None,
    size: str = "paper",
    image_shape: ImageShape = MNIST_SHAPE,
    batch_size: int | None = None,
    **options: Any,
) -> GAN:
    """A fresh GAN by name; ``discriminator`` defaults to the spec's first body, ``options`` go to its builder.

    ``image_shape`` (C, H, W) is the data's; ``batch_size`` overrides the source's minibatch.
    """
    spec = get_gan_spec(name)
    discriminator = discriminator or spec.discriminators[0]
    if discriminator not in spec.discriminators:
        raise GanSettingError(f"{name} has no {discriminator!r} discriminator; it has {', '.join(spec.discriminators)}")
    if size not in SIZES:
        raise GanSettingError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    try:
        gan = spec.builder(image_shape, discriminator, size, **options)
    except TypeError as error:
        if "unexpected keyword argument" not in str(error):
            raise
        raise GanSettingError(f"{name} does not take that option ({error})") from None
    if batch_size is not None:
        if batch_size < 1:
            raise GanSettingError(f"batch size must be positive, not {batch_size}")
        gan.batch_size = batch_size
    return gan
