"""Why GAN stages stripe: the periodic part of each discriminator's gradient, aligned with G's grid or not.

The generator learns whatever the adversarial gradient asks of its output. Averaged over a batch
of natural-looking images, that gradient should have no preferred phase; a component that
repeats every 2 or 4 px, always on the same phase of the x4 sub-pixel grid, is what the
sub-pixel convolutions then learn as stripes. This prints the stripe score
(:func:`sr_core.metrics.periodic_peak_ratio`, 1.0-1.1 for natural images) of the batch-mean
input gradient of each paper's discriminator (freshly initialised, as a GAN stage starts),
with the images fed as training crops are (aligned), and cropped at a random offset per image
(``discriminator_shift``, the fix).

    python -m benchmarks.discriminator_grid
    python -m benchmarks.discriminator_grid --batch 64 --side 128 --shift 16
"""

from __future__ import annotations

import argparse

import torch
from torch.nn import functional as F

from sr_core.metrics import periodic_peak_ratio
from sr_core.registry import build_model
from sr_core.train.objective import shifted_crops

DISCRIMINATORS = ("srgan_discriminator", "swiftsrgan_discriminator", "esrgan_discriminator")


def smooth_images(batch: int, side: int) -> torch.Tensor:
    """Random images with a natural-looking falling spectrum (box-blurred noise), NCHW in [0, 1]."""
    return F.avg_pool2d(torch.rand(batch, 3, side, side), 5, stride=1, padding=2)


def mean_gradient_ratio(discriminator: torch.nn.Module, images: torch.Tensor, shift: int) -> float:
    """Stripe score of the batch- and channel-mean gradient of sum(D(x)) with respect to the images x."""
    images = images.clone().requires_grad_(True)
    discriminator(shifted_crops(images, shift)).sum().backward()
    gradient = images.grad.mean(dim=(0, 1))
    if shift:
        gradient = gradient[:-shift, :-shift]  # the border only some crops reached
    return periodic_peak_ratio(gradient.double().numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--shift", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3, help="independent draws (D init and images); median shown")
    args = parser.parse_args()
    print(
        f"batch-mean input gradient of a fresh D, {args.batch} images of {args.side} px, median of {args.seeds} seeds"
    )
    print(f"{'discriminator':<26}{'aligned':>9}{f'shift {args.shift}':>10}")
    for name in DISCRIMINATORS:
        aligned, shifted = [], []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            discriminator, images = build_model(name).train(), smooth_images(args.batch, args.side)
            aligned.append(mean_gradient_ratio(discriminator, images, 0))
            shifted.append(mean_gradient_ratio(discriminator, images, args.shift))
        print(f"{name:<26}{sorted(aligned)[len(aligned) // 2]:>9.2f}{sorted(shifted)[len(shifted) // 2]:>10.2f}")


if __name__ == "__main__":
    main()
