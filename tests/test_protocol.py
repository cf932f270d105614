"""One protocol module: which files are images, HR -> LR, the smallest scorable HR, scoring a pair."""

import numpy as np
import pytest
from PIL import Image

from sr_core.errors import InvalidImageError
from sr_core.imaging import to_float
from sr_core.lpips import lpips_against_or_none
from sr_core.metrics import psnr_y, ssim_y
from sr_core.protocol import MIN_HR_SIDE, SCALE, check_hr_size, hr_and_lr, image_files, score_pair


def test_image_files_are_the_images_of_a_folder_in_name_order(tmp_path):
    for name in ("b.PNG", "a.jpg", "SOURCES.md", "c.webp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    assert [path.name for path in image_files(tmp_path)] == ["a.jpg", "b.PNG", "c.webp"]


def test_the_smallest_scorable_hr_still_holds_ssims_window_after_the_x4_crop():
    check_hr_size(MIN_HR_SIDE, MIN_HR_SIDE, "ok.png", "")
    with pytest.raises(InvalidImageError, match=rf"tiny.png is {MIN_HR_SIDE - 1}x40 px.*at least {MIN_HR_SIDE}x"):
        check_hr_size(MIN_HR_SIDE - 1, 40, "tiny.png", "remove it")
    hr, lr = hr_and_lr(np.zeros((MIN_HR_SIDE, MIN_HR_SIDE, 3), np.uint8))
    assert ssim_y(hr, hr) == pytest.approx(1.0)


def test_the_lr_is_the_pil_bicubic_downscale_of_the_hr_cropped_to_a_multiple_of_the_scale():
    hr = np.random.default_rng(0).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    cropped, lr = hr_and_lr(hr)
    assert cropped.shape == (36, 48, 3) and lr.shape == (36 // SCALE, 48 // SCALE, 3)
    expected = np.asarray(Image.fromarray(cropped).resize((12, 9), Image.Resampling.BICUBIC))
    assert np.abs(lr.astype(int) - expected.astype(int)).max() <= 1


def test_a_pair_scores_as_the_metrics_do_with_lpips_only_when_asked():
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-9, 10, hr.shape), 0, 255).astype(np.uint8)
    plain = score_pair(sr, hr)
    assert (plain.psnr, plain.ssim, plain.lpips) == (psnr_y(sr, hr), ssim_y(sr, hr), None)
    against_hr = lpips_against_or_none(to_float(hr))
    if against_hr is not None:
        assert score_pair(sr, hr, against_hr).lpips == pytest.approx(against_hr(to_float(sr)))
