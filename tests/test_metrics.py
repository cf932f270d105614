"""PSNR/SSIM on Y with a border crop, checked against the bicubic numbers every SR paper reports."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_core.imaging import bicubic_resize, make_lr, rgb_to_y
from sr_core.metrics import colour_shift, crop_border, detail_ratio, psnr_rgb, psnr_y, rmse_from_psnr, ssim_y

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# Bicubic x4 as published (SRCNN, VDSR, EDSR tables): (PSNR dB, SSIM) on Y with a 4 px border.
PUBLISHED_BICUBIC_X4 = {"set5": (28.42, 0.8100), "set14": (26.09, 0.7041)}


def _random_rgb(height: int = 24, width: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _bicubic_x4_scores(hr_path: Path) -> tuple[float, float]:
    """The protocol for one HR image: make_lr, PIL bicubic back up x4, PSNR/SSIM on Y (border 4)."""
    hr_uint8 = np.asarray(Image.open(hr_path).convert("RGB"))
    hr_cropped, lr_uint8 = make_lr(hr_uint8, 4)
    sr_uint8 = bicubic_resize(lr_uint8, (hr_cropped.shape[1], hr_cropped.shape[0]))
    return psnr_y(sr_uint8, hr_cropped, border=4), ssim_y(sr_uint8, hr_cropped, border=4)


@pytest.mark.parametrize("dataset", sorted(PUBLISHED_BICUBIC_X4))
def test_bicubic_x4_reproduces_the_published_set5_and_set14_scores(dataset):
    hr_paths = sorted((DATA_DIR / dataset).glob("*.png"))
    if not hr_paths:
        pytest.skip(f"no PNGs in {DATA_DIR / dataset}: the benchmark images are not in this checkout")
    scores = np.array([_bicubic_x4_scores(path) for path in hr_paths])
    psnr, ssim = scores.mean(axis=0)
    published_psnr, published_ssim = PUBLISHED_BICUBIC_X4[dataset]
    assert psnr == pytest.approx(published_psnr, abs=0.05)
    assert ssim == pytest.approx(published_ssim, abs=0.005)


def test_identical_images_have_infinite_psnr():
    image = _random_rgb()
    assert psnr_y(image, image) == math.inf
    assert psnr_rgb(image, image) == math.inf


def test_identical_images_have_ssim_one():
    image = _random_rgb()
    assert ssim_y(image, image) == pytest.approx(1.0)


def test_a_uniform_grey_error_gives_the_psnr_of_its_mse():
    hr = np.full((16, 16, 3), 100, dtype=np.uint8)
    sr = hr + np.uint8(10)
    y_error = 10 * (65.481 + 128.553 + 24.966) / 255  # a grey step of 10 moves Y by 10 * 219/255
    assert psnr_y(sr, hr) == pytest.approx(10 * math.log10(255**2 / y_error**2))
    assert psnr_rgb(sr, hr) == pytest.approx(10 * math.log10(255**2 / 100))


def test_psnr_ignores_errors_inside_the_border():
    hr = _random_rgb()
    sr = hr.copy()
    sr[:4] = 255 - sr[:4]
    sr[:, -4:] = 255 - sr[:, -4:]
    assert psnr_y(sr, hr, border=4) == math.inf
    assert psnr_y(sr, hr, border=0) < 20


def test_y_of_white_is_235_and_of_black_is_16():
    assert rgb_to_y(np.full((1, 1, 3), 255, dtype=np.uint8))[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(np.zeros((1, 1, 3), dtype=np.uint8))[0, 0] == pytest.approx(16.0)


def test_y_is_float64_and_not_rounded():
    y = rgb_to_y(np.array([[[1, 2, 3]]], dtype=np.uint8))
    assert y.dtype == np.float64
    assert y[0, 0] == pytest.approx(16 + (65.481 + 2 * 128.553 + 3 * 24.966) / 255)


@pytest.mark.parametrize("metric", [psnr_y, ssim_y, psnr_rgb])
def test_images_of_different_shapes_are_refused_with_both_sizes(metric):
    with pytest.raises(ValueError, match="20x24 px but the HR image is 20x28"):
        metric(_random_rgb(24, 20), _random_rgb(28, 20))


@pytest.mark.parametrize("metric", [psnr_y, ssim_y])
def test_float_images_are_refused_instead_of_measured_on_the_wrong_scale(metric):
    image = _random_rgb()
    with pytest.raises(ValueError, match="uint8"):
        metric(image.astype(np.float32) / 255, image)


def test_ssim_of_a_small_image_reduces_the_border_to_keep_its_11_px_window():
    hr, sr = _random_rgb(16, 16, seed=1), _random_rgb(16, 16, seed=2)
    assert ssim_y(sr, hr, border=4) == ssim_y(sr, hr, border=2)


def test_ssim_of_an_image_under_11_px_is_refused():
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim_y(_random_rgb(10, 30), _random_rgb(10, 30))


def test_psnr_of_an_image_no_bigger_than_its_border_is_refused():
    with pytest.raises(ValueError, match="nothing left"):
        psnr_y(_random_rgb(8, 8), _random_rgb(8, 8), border=4)


def test_negative_border_is_refused():
    with pytest.raises(ValueError, match="border"):
        psnr_y(_random_rgb(), _random_rgb(), border=-1)


def test_bicubic_upscaling_has_less_fine_detail_than_the_original():
    hr_cropped, lr_uint8 = make_lr(_random_rgb(64, 64), 4)
    blurred = bicubic_resize(lr_uint8, (64, 64))
    assert detail_ratio(hr_cropped, hr_cropped) == pytest.approx(1.0)
    assert detail_ratio(blurred, hr_cropped) < 0.2


def test_added_noise_raises_the_detail_ratio_above_one():
    hr = np.full((32, 32, 3), 128, dtype=np.uint8)
    hr[:, 16:] = 160
    noisy = np.clip(hr + np.random.default_rng(1).normal(0, 8, hr.shape), 0, 255).astype(np.uint8)
    assert detail_ratio(noisy, hr) > 1.5


def test_colour_shift_is_the_largest_change_of_a_channel_mean_in_levels():
    hr = _random_rgb(32, 32)
    tinted = hr.astype(np.int16)
    tinted[..., 2] += 3  # blue up by 3 levels (clipped where it would pass 255)
    tinted = np.clip(tinted, 0, 255).astype(np.uint8)
    expected = float(np.mean(tinted[4:-4, 4:-4, 2].astype(float) - hr[4:-4, 4:-4, 2]))
    assert colour_shift(tinted, hr) == pytest.approx(expected)
    assert colour_shift(hr, hr) == 0.0


def test_rmse_from_psnr_is_the_root_mean_square_error_of_y_that_psnr_measured():
    rng = np.random.default_rng(4)
    hr = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-9, 10, hr.shape), 0, 255).astype(np.uint8)
    error = crop_border(rgb_to_y(sr), 4) - crop_border(rgb_to_y(hr), 4)
    assert rmse_from_psnr(psnr_y(sr, hr)) == pytest.approx(np.sqrt(np.mean(error**2)))
    assert rmse_from_psnr(math.inf) == 0.0
