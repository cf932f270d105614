"""The loss functions of the SR papers, each a small module with one job.

Images are float NCHW RGB tensors in [0, 1] (a model's raw output may overshoot; nothing is
clamped here, the loss sees what the model made). Discriminator outputs are probabilities for
SRGAN and Swift-SRGAN (their networks end in a sigmoid) and raw logits for ESRGAN.

- :class:`PixelLoss`: MSE (SRCNN, SRResNet, Swift-SRGAN) or L1 (ESRGAN) between SR and HR.
- :class:`LowFrequencyLoss`: L1 between SR and HR box-downscaled x4: holds colour and shading
  in a GAN stage while leaving texture to the discriminator (our addition, not a paper's).
- :class:`TotalVariationLoss`: smoothness prior (SRGAN's VGG22 variant, Swift-SRGAN's code).
- :class:`PerceptualLoss`: distance between VGG19 feature maps: phi(5,4) after activation
  rescaled by 1/12.75 (SRGAN), or before activation with L1 (ESRGAN).
- :class:`MobileNetV2ContentLoss`: Swift-SRGAN's content loss on MobileNetV2 features.
- :class:`GANLoss`: the standard GAN; the generator minimises -log D(G(x)).
- :class:`RelativisticAverageGANLoss`: ESRGAN's RaGAN, in its generator and discriminator forms.

Frozen feature networks come from :func:`vgg_loss_features` and :func:`mobilenet_content_loss`:
torchvision's VGG19 / MobileNetV2 ImageNet weights (the papers' networks) where torchvision can
fetch them, else the packaged stand-ins of :mod:`sr_core.feature_nets` (VGG16, EfficientNet-Lite0),
said on stderr and recorded in the run's metadata; never random features unless asked for.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from sr_core.errors import WeightsMismatchError, WeightsNotFoundError
from sr_core.feature_nets import PACKAGED_SOURCE, VGG16_CONV_INDEX, LiteFeatures, efficientnet_lite0, packaged_stack
from sr_core.weights import read_state_dict, sha256_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SRGAN_FEATURE_SCALE = 1.0 / 12.75
"""SRGAN rescales VGG feature maps by 1/12.75 so that the VGG loss (x ~0.006) is of the scale of the MSE."""

VGG19_CONV_INDEX = {"22": 7, "54": 34}
"""Index of conv2_2 and conv5_4 in torchvision's ``vgg19().features``; the ReLU after each is the next index."""
VGG16_STAND_IN_INDEX = {"22": VGG16_CONV_INDEX["22"], "54": VGG16_CONV_INDEX["53"]}
"""The VGG16 layer standing in for each VGG19 one: conv2_2 for conv2_2, conv5_3 (block 5's last) for conv5_4."""
STAND_INS = {"vgg19": "vgg16", "mobilenet_v2": "efficientnet_lite0"}

MOBILENET_V2_PAPER_BLOCKS = 17
"""Swift-SRGAN's paper takes the output of block 16, ``mobilenet_v2().features[16]``: the first 17 modules."""

FEATURE_NETWORKS = ("vgg19", "mobilenet_v2")
RANDOM_FEATURES_SEED = 0
_CRITERIA = {"mse": F.mse_loss, "l1": F.l1_loss}


def _criterion(name: str):
    if name not in _CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(_CRITERIA)}, not {name!r}")
    return _CRITERIA[name]


class PixelLoss(nn.Module):
    """Mean squared (``"mse"``) or absolute (``"l1"``) difference of SR and HR, both NCHW."""

    def __init__(self, criterion: str = "mse") -> None:
        super().__init__()
        self.criterion = _criterion(criterion)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return self.criterion(sr.float(), hr.float())


class LowFrequencyLoss(nn.Module):
    """Mean absolute difference of SR and HR after ``scale`` x ``scale`` box averaging.

    A short GAN stage on a CPU drifts in colour by several levels: a constant tint costs the pixel
    MSE almost nothing next to the adversarial term. On the block means that drift is all there is,
    while texture at the block scale averages out, so this term pins colour and shading without
    fighting the sharper detail the GAN brings (the idea of frequency separation, Fritsche et al. 2019).
    """

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(F.avg_pool2d(sr.float(), self.scale), F.avg_pool2d(hr.float(), self.scale))


def _whole_blocks(image: torch.Tensor, scale: int) -> torch.Tensor:
    """``image`` in float32, cropped at the bottom and right to whole ``scale`` x ``scale`` blocks of the LR grid."""
    height, width = image.shape[-2] // scale * scale, image.shape[-1] // scale * scale
    return image.float()[..., :height, :width]


def phase_means(image: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """Each image's mean deviation from its ``scale`` x ``scale`` block means at every sub-pixel phase: N x C x scale x scale.

    Natural images have no grid, so theirs are near zero; an upsampler that brightens some of its
    phases wherever there is texture has a fixed pattern here, the stripes the stripe score finds.
    """
    image = _whole_blocks(image, scale)
    height, width = image.shape[-2:]
    blocks = image.unflatten(-1, (width // scale, scale)).unflatten(-3, (height // scale, scale))
    return (blocks - blocks.mean(dim=(-3, -1), keepdim=True)).mean(dim=(-4, -2))


class PhaseMeanLoss(nn.Module):
    """Mean absolute difference of SR's and HR's :func:`phase_means` (crops that start on the LR grid).

    Why: tying the sub-pixel phases' DC gains (:mod:`sr_core.models.subpixel`) stops a flat region
    from striping, but a PReLU after the shuffle still rectifies each phase's texture response
    differently, so textured regions come out with a phase-locked offset of about a level that a
    perceptual loss rewards as texture energy. This term makes that offset cost what it is: a
    difference from HR at a fixed sub-pixel phase. It leaves the texture itself to the other terms.
    """

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(phase_means(sr, self.scale), phase_means(hr, self.scale))


def line_phase_means(image: torch.Tensor, scale: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's and each column's mean deviation from its ``scale``-px segment means at every phase.

    Returns (N x C x rows x scale, N x C x columns x scale). A row's values fix its DFT at 1/4 and
    1/2 cycle per pixel exactly (the segment means cancel there), so these are what the stripe
    score sums over the rows and columns of an image; :func:`phase_means` takes one mean over the
    whole crop, where a pattern whose sign follows the texture from row to row cancels out.
    """
    image = _whole_blocks(image, scale)
    height, width = image.shape[-2:]
    rows = image.unflatten(-1, (width // scale, scale))
    columns = image.transpose(-2, -1).unflatten(-1, (height // scale, scale))
    row_offsets, column_offsets = (
        (segments - segments.mean(dim=-1, keepdim=True)).mean(dim=-2) for segments in (rows, columns)
    )
    return row_offsets, column_offsets


class LinePhaseLoss(nn.Module):
    """Mean absolute difference of SR's and HR's :func:`line_phase_means`, rows and columns alike.

    Why: a GAN stage's texture-modulated stripes (a phase-locked offset whose sign changes with
    the texture) escape :class:`PhaseMeanLoss`, which sees only the crop's mean, but not the
    stripe score, which adds each row's energy at the grid's periods. Charging each row and
    column's phase offsets against HR's trains on what the score measures, and nothing else.
    """

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        (sr_rows, sr_columns), (hr_rows, hr_columns) = (
            line_phase_means(sr, self.scale),
            line_phase_means(hr, self.scale),
        )
        return (F.l1_loss(sr_rows, hr_rows) + F.l1_loss(sr_columns, hr_columns)) / 2


class TotalVariationLoss(nn.Module):
    """2 x (mean squared vertical + mean squared horizontal neighbour difference) of an NCHW image.

    The form of SRGAN's reimplementations and Swift-SRGAN's released code, which weigh it by
    2e-8; a constant image scores 0.
    """

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        image = image.float()
        vertical = (image[:, :, 1:, :] - image[:, :, :-1, :]).pow(2).mean()
        horizontal = (image[:, :, :, 1:] - image[:, :, :, :-1]).pow(2).mean()
        return 2.0 * (vertical + horizontal)


class FeatureLoss(nn.Module):
    """Distance between the feature maps a frozen network computes for SR and for HR.

    ``features`` maps NCHW RGB in [0, 1] (ImageNet-normalised first when ``imagenet_norm``)
    to feature maps, which are multiplied by ``feature_scale`` before ``criterion`` compares
    them. The network stays frozen and in eval mode (its batch norms keep ImageNet statistics)
    even when a parent module is put in training mode.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, features: nn.Module, imagenet_norm: bool, feature_scale: float, criterion: str) -> None:
        super().__init__()
        self.features = features.eval().requires_grad_(False)
        self.imagenet_norm = imagenet_norm
        self.feature_scale = feature_scale
        self.criterion = _criterion(criterion)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> FeatureLoss:
        super().train(mode)
        self.features.eval()
        return self

    def extract(self, image: torch.Tensor) -> torch.Tensor:
        """Scaled feature maps of an NCHW RGB image in [0, 1]."""
        if self.imagenet_norm:
            image = (image - self.mean) / self.std
        return self.features(image) * self.feature_scale

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.extract(hr)
        return self.criterion(self.extract(sr).float(), target.float())


class PerceptualLoss(FeatureLoss):
    """VGG19 feature distance at phi(2,2) or phi(5,4), before or after that conv's ReLU.

    ``vgg_features`` is torchvision's ``vgg19().features`` (see :func:`feature_network`), or the
    packaged VGG16 stack with ``conv_index=VGG16_STAND_IN_INDEX`` (see :func:`vgg_loss_features`).
    SRGAN: layer "54", after activation, MSE, ``feature_scale=SRGAN_FEATURE_SCALE``.
    ESRGAN: layer "54", before activation (sharper, denser features), L1, scale 1.
    """

    def __init__(
        self,
        vgg_features: nn.Sequential,
        layer: str = "54",
        before_activation: bool = False,
        imagenet_norm: bool = True,
        feature_scale: float = 1.0,
        criterion: str = "mse",
        conv_index: dict[str, int] = VGG19_CONV_INDEX,
    ) -> None:
        if layer not in conv_index:
            raise ValueError(f"VGG19 layer must be one of {', '.join(conv_index)}, not {layer!r}")
        last = conv_index[layer] + (0 if before_activation else 1)
        super().__init__(vgg_features[: last + 1], imagenet_norm, feature_scale, criterion)


class MobileNetV2ContentLoss(FeatureLoss):
    """Swift-SRGAN's content loss: MSE between MobileNetV2 feature maps.

    ``mode="paper"``: the output of block 16 of ImageNet-normalised input, as the paper
    defines it. ``mode="released"``: the whole feature stack (1280 channels) of the raw
    [0, 1] image, as the authors' released code computes it.
    """

    def __init__(self, mobilenet_features: nn.Sequential, mode: str = "paper") -> None:
        if mode not in ("paper", "released"):
            raise ValueError(f"mode must be 'paper' or 'released', not {mode!r}")
        paper = mode == "paper"
        features = mobilenet_features[:MOBILENET_V2_PAPER_BLOCKS] if paper else mobilenet_features
        super().__init__(features, imagenet_norm=paper, feature_scale=1.0, criterion="mse")


class GANLoss(nn.Module):
    """The standard GAN on discriminator logits l, any shape; D(x) = sigmoid(l) is the paper's probability.

    ``form="log"`` (SRGAN, Swift-SRGAN's paper): D minimises -log D(x) - log(1 - D(G(z))) and
    G minimises -log D(G(z)), the non-saturating form. ``form="linear"`` (Swift-SRGAN's
    released code): D minimises 1 - D(x) + D(G(z)) and G minimises 1 - D(G(z)).
    The log form is computed from the logits (-log sigmoid(l) = softplus(-l)): from
    probabilities, a confident D rounds D(G(z)) to 0 or D(x) to 1 and its gradient is lost.
    """

    relativistic = False

    def __init__(self, form: str = "log") -> None:
        super().__init__()
        if form not in ("log", "linear"):
            raise ValueError(f"GAN loss form must be 'log' or 'linear', not {form!r}")
        self.form = form

    def generator(self, fake_out: torch.Tensor, real_out: torch.Tensor | None = None) -> torch.Tensor:
        """G's loss from the logits of D on G(z); ``real_out`` is unused (the standard GAN judges each image alone)."""
        fake = fake_out.float()
        if self.form == "linear":
            return (1.0 - torch.sigmoid(fake)).mean()
        return F.softplus(-fake).mean()

    def discriminator(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        """D's loss from its logits on HR images (real) and on SR images (fake)."""
        real, fake = real_out.float(), fake_out.float()
        if self.form == "linear":
            return 1.0 - torch.sigmoid(real).mean() + torch.sigmoid(fake).mean()
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def probabilities(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> tuple[float, float]:
        """Mean D(x) and D(G(z)), the figures a GAN's training curves show."""
        return float(torch.sigmoid(real_out.float()).mean()), float(torch.sigmoid(fake_out.float()).mean())


class RelativisticAverageGANLoss(nn.Module):
    """ESRGAN's relativistic average GAN on raw discriminator logits C(.), shape (N, 1).

    D_Ra(a, b) = sigmoid(C(a) - mean C(b)) is the probability that a real image is more
    realistic than the average fake. D minimises -log D_Ra(x_r, x_f) - log(1 - D_Ra(x_f, x_r));
    G minimises the same with the roles swapped, so G profits from gradients of both real and
    fake images. Each form averages its two terms, as the authors' code does (the paper
    writes their sum; the 5e-3 weight was tuned with the average).
    """

    relativistic = True

    def generator(self, fake_out: torch.Tensor, real_out: torch.Tensor | None = None) -> torch.Tensor:
        """G's loss from C(G(z)) and C(x) (the latter detached: it carries no gradient to G)."""
        if real_out is None:
            raise ValueError("the relativistic generator loss needs the discriminator's output on HR images")
        return self.discriminator(real_out=fake_out, fake_out=real_out)

    def discriminator(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        """D's loss from C(x) on HR images and C(G(z)) on SR images."""
        real, fake = real_out.float(), fake_out.float()
        real_vs_fake = F.binary_cross_entropy_with_logits(real - fake.mean(), torch.ones_like(real))
        fake_vs_real = F.binary_cross_entropy_with_logits(fake - real.mean(), torch.zeros_like(fake))
        return (real_vs_fake + fake_vs_real) / 2.0

    def probabilities(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> tuple[float, float]:
        """Mean D_Ra(x_r, x_f) and D_Ra(x_f, x_r)."""
        real, fake = real_out.float(), fake_out.float()
        return float(torch.sigmoid(real - fake.mean()).mean()), float(torch.sigmoid(fake - real.mean()).mean())


def vgg_loss_features(source: str) -> tuple[nn.Sequential, dict[str, int], str]:
    """The VGG stack of the perceptual loss, its layer index table and where its weights came from.

    ``source`` as :func:`feature_network` takes it, plus ``"packaged"``: the VGG16 stand-in at
    once. ``"imagenet"`` is torchvision's VGG19 where it can be fetched, else the stand-in.
    """
    if _torchvision_can_supply("vgg19", source):
        features, description = feature_network("vgg19", source)
        return features, VGG19_CONV_INDEX, description
    return packaged_stack("vgg16"), VGG16_STAND_IN_INDEX, _stand_in_description("vgg19")


def mobilenet_content_loss(source: str, mode: str = "paper") -> tuple[FeatureLoss, str]:
    """Swift-SRGAN's content loss and where its network came from: MobileNetV2 (see :func:`vgg_loss_features`
    for ``source``), or the packaged EfficientNet-Lite0 standing in for it: its last block's 320-channel map in
    ``"paper"`` mode (as MobileNetV2's block 16), its 1280-channel head in ``"released"`` mode (the whole stack)."""
    if _torchvision_can_supply("mobilenet_v2", source):
        features, description = feature_network("mobilenet_v2", source)
        return MobileNetV2ContentLoss(features, mode=mode), description
    if mode not in ("paper", "released"):
        raise ValueError(f"mode must be 'paper' or 'released', not {mode!r}")
    lite = LiteFeatures(efficientnet_lite0(), head=mode == "released")
    return FeatureLoss(lite, imagenet_norm=False, feature_scale=1.0, criterion="mse"), _stand_in_description(
        "mobilenet_v2"
    )


def _torchvision_can_supply(name: str, source: str) -> bool:
    """Whether ``source`` is torchvision's ``name`` (random, a file, or fetchable ImageNet weights); a failed fetch
    is said on stderr, and the packaged stand-in is used instead."""
    if source == "packaged":
        return False
    if source != "imagenet":
        return True
    try:
        _feature_weights(name, source)
    except WeightsNotFoundError:
        print(
            f"note: torchvision cannot fetch {name}'s ImageNet weights here; using the packaged ImageNet "
            f"{STAND_INS[name]} in its place (--features packaged skips the attempt)",
            file=sys.stderr,
        )
        return False
    return True


def _stand_in_description(name: str) -> str:
    stand_in = STAND_INS[name]
    return f"packaged:{stand_in}:{PACKAGED_SOURCE[stand_in]} (stand-in for {name})"


def feature_network(name: str, source: str) -> tuple[nn.Sequential, str]:
    """The ``features`` stack of torchvision's ``name`` (vgg19, mobilenet_v2) and a note of where its weights came from.

    ``source`` is ``"imagenet"`` (torchvision's ImageNet weights, fetched once into torch's
    cache), ``"random"`` (untrained, seeded so every run and every resume gets the same
    network: for tests and smoke runs only) or the path of a torchvision state dict of the
    whole model. When the ImageNet weights cannot be fetched, the error says how to choose
    one of the others; nothing else is used silently.
    """
    if name not in FEATURE_NETWORKS:
        raise ValueError(f"feature network must be one of {', '.join(FEATURE_NETWORKS)}, not {name!r}")
    with torch.device("meta"):  # shapes only: the classifier, never used, costs nothing
        model = torchvision.models.get_model(name, weights=None)
    if source == "random":
        features = model.features.to_empty(device="cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_FEATURES_SEED)
            for module in features.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
        return features, f"random:{name}:seed{RANDOM_FEATURES_SEED}"
    state_dict, description = _feature_weights(name, source)
    try:
        model.load_state_dict(state_dict, strict=True, assign=True)
    except RuntimeError as error:
        raise WeightsMismatchError(f"{source} is not a torchvision {name} state dict: {str(error)[:300]}") from None
    return model.features, description


def _feature_weights(name: str, source: str) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict of torchvision's ``name`` from ``source`` ("imagenet" or a file) and its description."""
    if source == "imagenet":
        weights = torchvision.models.get_model_weights(name).IMAGENET1K_V1
        try:
            return weights.get_state_dict(progress=False), f"imagenet:{name}:{weights}"
        except OSError as error:
            raise WeightsNotFoundError(
                f"cannot fetch the ImageNet weights of {name} ({error}); download {weights.url} and pass "
                f"--features FILE, or pass --features random for untrained features (smoke tests only)"
            ) from None
    path = Path(source)
    if not path.is_file():
        raise WeightsNotFoundError(
            f"--features must be 'imagenet', 'packaged', 'random' or a weights file; {source!r} is none of them"
        )
    return read_state_dict(path), f"file:{path.name}:sha256:{sha256_file(path)}"
