"""PSNR and SSIM as the SR papers measure them, so our numbers are comparable with theirs.

The convention (SRCNN, SRGAN, ESRGAN and their MATLAB evaluation scripts): both images are uint8
RGB, converted to the BT.601 luma Y (:func:`sr_core.imaging.rgb_to_y`, float64, not rounded),
a border of ``scale`` pixels is removed on every side (the upscaler cannot know what lies beyond
the edge), and PSNR uses a peak of 255. SSIM is Wang et al.'s: an 11x11 Gaussian window with
sigma 1.5, population covariances, K1 = 0.01, K2 = 0.03, data range 255.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

from sr_core.imaging import rgb_to_y

DATA_RANGE = 255.0
SSIM_WINDOW = 11
"""Side of SSIM's Gaussian window (sigma 1.5, truncated at 3.5 sigma); images must be at least this big."""


def psnr_y(sr_uint8: np.ndarray, hr_uint8: np.ndarray, border: int = 4) -> float:
    """PSNR in dB on the Y channel of two uint8 HxWx3 images, ``border`` px cropped per side.

    Identical images give ``math.inf``.
    """
    _check_pair(sr_uint8, hr_uint8)
    return _psnr(crop_border(rgb_to_y(sr_uint8), border), crop_border(rgb_to_y(hr_uint8), border))


def rmse_from_psnr(psnr_db: float) -> float:
    """The RMSE in 8-bit levels that a PSNR in dB stands for (0 for identical images, ``inf`` dB).

    Blau & Michaeli's perception-distortion plane puts distortion as RMSE on its x axis, so
    both axes there read "lower is better"; PSNR is the same measurement on a log scale.
    """
    return DATA_RANGE * 10.0 ** (-psnr_db / 20.0)


def psnr_rgb(sr_uint8: np.ndarray, hr_uint8: np.ndarray, border: int = 4) -> float:
    """PSNR in dB over the R, G and B channels of two uint8 HxWx3 images, ``border`` px cropped per side.

    Not the papers' number (they use Y); offered for readers who want colour errors counted.
    """
    _check_pair(sr_uint8, hr_uint8)
    sr, hr = (crop_border(image.astype(np.float64), border) for image in (sr_uint8, hr_uint8))
    return _psnr(sr, hr)


def ssim_y(sr_uint8: np.ndarray, hr_uint8: np.ndarray, border: int = 4) -> float:
    """SSIM in [-1, 1] on the Y channel of two uint8 HxWx3 images, ``border`` px cropped per side.

    SSIM's window needs 11x11 pixels: on an image too small to keep them after cropping
    ``border``, the border is reduced as far as needed (a 16x16 image is measured with a border
    of 2) rather than failing; an image under 11 px on a side raises ``ValueError``.
    """
    _check_pair(sr_uint8, hr_uint8)
    smaller_side = min(sr_uint8.shape[:2])
    if smaller_side < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} px, not {sr_uint8.shape[1]}x{sr_uint8.shape[0]}"
        )
    border = min(border, (smaller_side - SSIM_WINDOW) // 2)
    sr_y, hr_y = crop_border(rgb_to_y(sr_uint8), border), crop_border(rgb_to_y(hr_uint8), border)
    score = structural_similarity(
        sr_y, hr_y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=DATA_RANGE
    )
    return float(score)


def detail_ratio(sr_uint8: np.ndarray, hr_uint8: np.ndarray, border: int = 4) -> float:
    """Fine detail of the SR image relative to the HR image: the ratio of their Y channels' Laplacian energy.

    PSNR rewards the blur that averages plausible textures; a GAN trades PSNR for texture. This
    says how much high-frequency energy an output has (1.0: as much as the HR image, below 1:
    smoother, above: more, e.g. noise or GAN artefacts), so "sharper than its PSNR twin" is a number.
    """
    _check_pair(sr_uint8, hr_uint8)
    sr_energy, hr_energy = (_laplacian_energy(crop_border(rgb_to_y(image), border)) for image in (sr_uint8, hr_uint8))
    return math.inf if hr_energy == 0.0 else sr_energy / hr_energy


def colour_shift(sr_uint8: np.ndarray, hr_uint8: np.ndarray, border: int = 4) -> float:
    """The largest difference of mean R, G or B between the two images, in levels of 0..255.

    Y-channel PSNR is blind to a tint; a GAN or a quantized model can drift in colour, so the
    weights' floor (mean colour within 2 levels of HR) is checked with this.
    """
    _check_pair(sr_uint8, hr_uint8)
    sr, hr = (crop_border(image.astype(np.float64), border) for image in (sr_uint8, hr_uint8))
    return float(np.max(np.abs(sr.mean(axis=(0, 1)) - hr.mean(axis=(0, 1)))))


STRIPE_PERIODS = (4, 2)  # the x4 grid's periods in pixels: 1/4 and 1/2 cycle per pixel
STRIPE_NEIGHBOURS = 3


def stripe_score(rgb_uint8: np.ndarray) -> float:
    """How strongly an image repeats with the x4 grid's periods: 1.0-1.1 for natural photos.

    A sub-pixel upsampler that has not learnt to blend its four phases leaves stripes of period 4
    (or 2) pixels. In the power spectrum of the mean-removed luma, summed over rows (one energy
    per horizontal frequency) and over columns (vertical), the energy at 1/4 and 1/2 cycle per
    pixel is divided by the mean of its six nearest bins (+-1..3); the score is the largest of
    the four ratios.
    """
    return periodic_peak_ratio(rgb_to_y(rgb_uint8))


def periodic_peak_ratio(luma: np.ndarray) -> float:
    """:func:`stripe_score` of any 2-D float signal (an image's luma, or a gradient with respect to it)."""
    if min(luma.shape) < 4 * STRIPE_NEIGHBOURS:
        raise ValueError(f"the stripe score needs at least {4 * STRIPE_NEIGHBOURS} px a side, got {luma.shape[::-1]}")
    power = np.abs(np.fft.fft2(luma - luma.mean())) ** 2
    ratios = []
    for energy in (power.sum(axis=0), power.sum(axis=1)):  # per horizontal, then per vertical frequency
        size = energy.size
        for period in STRIPE_PERIODS:
            peak = round(size / period)
            neighbours = [
                energy[(peak + offset) % size] for offset in range(-STRIPE_NEIGHBOURS, STRIPE_NEIGHBOURS + 1) if offset
            ]
            ratios.append(float(energy[peak] / max(np.mean(neighbours), np.finfo(float).tiny)))
    return max(ratios)


def crop_border(image: np.ndarray, border: int) -> np.ndarray:
    """Remove ``border`` pixels from each side of an HxW[xC] image; raise if nothing is left."""
    if border < 0:
        raise ValueError(f"border must be 0 or more pixels, not {border}")
    height, width = image.shape[:2]
    if height <= 2 * border or width <= 2 * border:
        raise ValueError(f"an image of {width}x{height} px has nothing left after cropping a {border} px border")
    return image[border : height - border, border : width - border]


def _psnr(sr: np.ndarray, hr: np.ndarray) -> float:
    """PSNR in dB of two float64 arrays in [0, 255]; ``inf`` when they are equal."""
    mse = float(np.mean((sr - hr) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(DATA_RANGE**2 / mse)


def _laplacian_energy(luma: np.ndarray) -> float:
    """Mean squared 4-neighbour Laplacian of a float image (0 for images under 3x3 px)."""
    laplacian = 4 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:]
    return float(np.mean(laplacian**2)) if laplacian.size else 0.0


def _check_pair(sr_uint8: np.ndarray, hr_uint8: np.ndarray) -> None:
    """Both images uint8 HxWx3 of one shape, else an error that says how to get there."""
    for role, image in (("SR", sr_uint8), ("HR", hr_uint8)):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"the {role} image must be uint8 HxWx3 in 0..255 (use imaging.to_uint8), "
                f"not {image.dtype} of shape {image.shape}"
            )
    if sr_uint8.shape != hr_uint8.shape:
        raise ValueError(
            f"the SR image is {sr_uint8.shape[1]}x{sr_uint8.shape[0]} px but the HR image is "
            f"{hr_uint8.shape[1]}x{hr_uint8.shape[0]} px; crop the HR image with imaging.crop_to_multiple "
            "and upscale by exactly the scale"
        )
