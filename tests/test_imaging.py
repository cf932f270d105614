"""Opening every kind of image a user may bring, refusing the rest clearly, and writing clean PNGs."""

from __future__ import annotations

import errno
import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin

from sr_core.errors import ImageTooLargeError, InvalidImageError
from sr_core.imaging import (
    DEFAULT_PIXEL_CAP,
    PIXEL_CAP_ENV,
    LoadedImage,
    bicubic_resize,
    crop_to_multiple,
    float_to_unit_range,
    make_lr,
    open_image,
    pil_to_loaded,
    pixel_cap_from_env,
    rgb_to_ycbcr,
    save_image,
    to_float,
    to_uint8,
    ycbcr_to_rgb,
)


def _saved(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def _png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _random_rgb_image(width: int = 64, height: int = 64, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zero_png(width: int, height: int, bit_depth: int = 1, colour_type: int = 0, channels: int = 1) -> bytes:
    """A valid all-zero PNG of any size, compressed row by row so a huge one costs little memory."""
    row = bytes(1 + (width * bit_depth * channels + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fails the test if any image's pixels are decoded: size checks must come from the header."""

    def refuse(self):
        raise AssertionError("pixels were decoded before the size was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", refuse, raising=False)


# --- files that are not images ---------------------------------------------------------------


def test_a_zero_byte_file_is_refused_as_empty(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InvalidImageError, match=r"'empty.png' is empty \(0 bytes\).*PNG, JPEG"):
        open_image(tmp_path / "empty.png")


def test_zero_bytes_of_upload_are_refused_as_empty():
    with pytest.raises(InvalidImageError, match="empty"):
        open_image(b"")


def test_a_truncated_png_is_refused_as_damaged(tmp_path):
    whole = _png_bytes(_random_rgb_image())
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidImageError, match="PNG file but its data is damaged or truncated"):
        open_image(tmp_path / "cut.png")


def test_a_truncated_jpeg_is_refused_as_damaged(tmp_path):
    buffer = io.BytesIO()
    _random_rgb_image().save(buffer, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InvalidImageError, match="damaged or truncated"):
        open_image(tmp_path / "cut.jpg")


def test_a_text_file_is_refused_naming_it_text_and_the_accepted_formats(tmp_path):
    (tmp_path / "notes.png").write_text("these are not pixels\n")
    with pytest.raises(InvalidImageError, match=r"'notes.png' is a text file.*Accepted formats: PNG, JPEG"):
        open_image(tmp_path / "notes.png")


def test_an_svg_is_refused_as_vector_graphics(tmp_path):
    svg = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect/></svg>'
    (tmp_path / "logo.svg").write_text(svg)
    with pytest.raises(InvalidImageError, match="SVG drawing"):
        open_image(tmp_path / "logo.svg")


def test_an_html_page_is_refused_as_a_web_page(tmp_path):
    (tmp_path / "photo.jpg").write_text("<!DOCTYPE html>\n<html><body><img src='photo.jpg'></body></html>")
    with pytest.raises(InvalidImageError, match="HTML page"):
        open_image(tmp_path / "photo.jpg")


def test_an_image_format_we_do_not_accept_is_refused(tmp_path):
    (tmp_path / "frame.ppm").write_bytes(b"P6\n2 2\n255\n" + bytes(12))
    with pytest.raises(InvalidImageError, match="unsupported format.*WebP"):
        open_image(tmp_path / "frame.ppm")


def test_a_missing_file_is_refused_with_a_typed_error(tmp_path):
    with pytest.raises(InvalidImageError, match="cannot read 'absent.png'"):
        open_image(tmp_path / "absent.png")


# --- size limits ----------------------------------------------------------------------------


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, no_pixel_decoding):
    (tmp_path / "bomb.png").write_bytes(_zero_png(30000, 30000))
    with pytest.raises(ImageTooLargeError, match="too large.*Downscale"):
        open_image(tmp_path / "bomb.png", pixel_cap=2**40)


def test_an_image_over_the_default_cap_is_refused_from_its_header_without_warnings(tmp_path, no_pixel_decoding):
    (tmp_path / "huge.png").write_bytes(_zero_png(10000, 10000, bit_depth=8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageTooLargeError, match=r"10000x10000 = 100,000,000 pixels.*16,777,216.*Downscale"):
            open_image(tmp_path / "huge.png")


def test_the_pixel_cap_argument_is_inclusive(tmp_path):
    path = _saved(_random_rgb_image(10, 10), tmp_path / "ten.png")
    assert open_image(path, pixel_cap=100).width == 10
    with pytest.raises(ImageTooLargeError, match="10x10 = 100 pixels, over the cap of 99"):
        open_image(path, pixel_cap=99)


def test_the_pixel_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(PIXEL_CAP_ENV, raising=False)
    assert pixel_cap_from_env() == DEFAULT_PIXEL_CAP == 4096 * 4096
    monkeypatch.setenv(PIXEL_CAP_ENV, "1000")
    assert pixel_cap_from_env() == 1000


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5"])
def test_a_malformed_pixel_cap_in_the_environment_is_refused(monkeypatch, value):
    monkeypatch.setenv(PIXEL_CAP_ENV, value)
    with pytest.raises(ValueError, match="pixel"):
        pixel_cap_from_env()


@pytest.mark.parametrize("size", [(1, 1), (2000, 1), (1, 2000)])
def test_images_one_pixel_wide_or_high_are_valid(tmp_path, size):
    path = _saved(_random_rgb_image(*size), tmp_path / "thin.png")
    image = open_image(path)
    assert (image.width, image.height) == size
    assert image.rgb.shape == (size[1], size[0], 3)


# --- modes ------------------------------------------------------------------------------------


def test_rgb_pixels_are_float32_in_the_unit_range_and_exact(tmp_path):
    source = _random_rgb_image(5, 3)
    image = open_image(_saved(source, tmp_path / "rgb.png"))
    assert image.rgb.dtype == np.float32
    assert np.array_equal(to_uint8(image.rgb), np.asarray(source))
    assert (image.alpha, image.grayscale, image.bit_depth, image.notices, image.source_mode) == (
        None,
        False,
        8,
        (),
        "RGB",
    )


def test_the_bytes_of_a_file_open_like_the_file(tmp_path):
    source = _random_rgb_image(5, 3)
    assert np.array_equal(open_image(_png_bytes(source)).rgb, open_image(_saved(source, tmp_path / "a.png")).rgb)


def test_rgba_keeps_its_alpha_separately(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (4, 6, 4), dtype=np.uint8)
    image = open_image(_saved(Image.fromarray(rgba), tmp_path / "rgba.png"))
    assert np.array_equal(to_uint8(image.rgb), rgba[..., :3])
    assert image.alpha is not None and np.array_equal(to_uint8(image.alpha), rgba[..., 3])


def test_grey_images_are_flagged_and_repeat_their_channel(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    image = open_image(_saved(Image.fromarray(grey), tmp_path / "grey.png"))
    assert image.grayscale and image.bit_depth == 8 and image.alpha is None
    assert all(np.array_equal(to_uint8(image.rgb[..., c]), grey) for c in range(3))


def test_grey_with_alpha_keeps_both(tmp_path):
    grey_alpha = np.stack([np.full((3, 4), 90, np.uint8), np.full((3, 4), 30, np.uint8)], axis=2)
    image = open_image(_saved(Image.fromarray(grey_alpha), tmp_path / "la.png"))
    assert image.grayscale and image.source_mode == "LA"
    assert np.all(to_uint8(image.rgb) == 90) and np.all(to_uint8(image.alpha) == 30)


def test_one_bit_images_are_black_and_white(tmp_path):
    bits = Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8)).convert("1")
    image = open_image(_saved(bits, tmp_path / "bits.png"))
    assert image.grayscale
    assert np.array_equal(image.rgb[..., 0], [[0.0, 1.0], [1.0, 0.0]])


def test_palette_images_become_rgb(tmp_path):
    palette = Image.new("P", (3, 2))
    palette.putpalette([10, 20, 30, 200, 100, 50])
    palette.putpixel((1, 0), 1)
    image = open_image(_saved(palette, tmp_path / "palette.png"))
    assert image.alpha is None and not image.grayscale
    assert to_uint8(image.rgb)[0, 0].tolist() == [10, 20, 30] and to_uint8(image.rgb)[0, 1].tolist() == [200, 100, 50]


def test_palette_transparency_becomes_an_alpha_channel(tmp_path):
    palette = Image.new("P", (3, 2))
    palette.putpalette([10, 20, 30, 200, 100, 50])
    palette.putpixel((1, 0), 1)
    image = open_image(_saved(palette, tmp_path / "transparent.png", transparency=0))
    assert image.alpha is not None
    assert image.alpha[0, 1] == 1.0 and image.alpha[0, 0] == 0.0
    assert to_uint8(image.rgb)[0, 1].tolist() == [200, 100, 50]


def test_sixteen_bit_grey_keeps_its_precision(tmp_path):
    values = np.array([[0, 1, 257], [32768, 65534, 65535]], dtype=np.uint16)
    image = open_image(_saved(Image.fromarray(values), tmp_path / "deep.png"))
    assert image.source_mode == "I;16" and image.bit_depth == 16 and image.grayscale
    assert np.array_equal(np.round(image.rgb[..., 0].astype(np.float64) * 65535), values)


def test_thirty_two_bit_integer_grey_is_read_as_sixteen_bit(tmp_path):
    values = np.array([[0, 1000, 65535, 70000]], dtype=np.int32)
    image = open_image(_saved(Image.fromarray(values), tmp_path / "int.tif"))
    assert image.source_mode == "I" and image.bit_depth == 16
    assert np.allclose(image.rgb[0, :, 0], [0, 1000 / 65535, 1, 1])
    assert any("clipped" in notice for notice in image.notices)


def test_float_images_in_the_unit_range_are_kept(tmp_path):
    values = np.array([[0.0, 0.25, 1.0]], dtype=np.float32)
    image = open_image(_saved(Image.fromarray(values), tmp_path / "float.tif"))
    assert image.source_mode == "F" and image.grayscale
    assert np.array_equal(image.rgb[..., 0], values) and image.notices == ()


@pytest.mark.parametrize(
    ("values", "expected", "notice"),
    [
        ([[0.0, 127.5, 255.0]], [[0.0, 0.5, 1.0]], "0-255"),
        ([[0.0, 500.0, 1000.0]], [[0.0, 0.5, 1.0]], "maximum"),
        ([[-0.5, 0.5, 1.0]], [[0.0, 0.5, 1.0]], "negative"),
        ([[np.nan, 0.5, np.inf]], [[0.0, 0.5, 0.0]], "non-finite"),
    ],
)
def test_float_images_outside_the_unit_range_follow_the_documented_rule(values, expected, notice):
    unit, notices = float_to_unit_range(np.array(values, dtype=np.float32))
    assert np.allclose(unit, expected)
    assert any(notice in text for text in notices)


def test_cmyk_is_converted_to_rgb_with_a_notice(tmp_path):
    image = open_image(_saved(Image.new("CMYK", (4, 3), (0, 255, 255, 0)), tmp_path / "print.tif"))
    assert to_uint8(image.rgb)[0, 0].tolist() == [255, 0, 0]
    assert image.source_mode == "CMYK" and any("CMYK" in notice for notice in image.notices)


def test_ycbcr_is_converted_to_rgb_with_a_notice():
    image = pil_to_loaded(Image.new("YCbCr", (4, 3), (128, 128, 128)))
    assert to_uint8(image.rgb)[0, 0].tolist() == [128, 128, 128]
    assert any("YCbCr" in notice for notice in image.notices)


def test_sixteen_bit_colour_pngs_open_with_a_notice_about_eight_bits():
    row = b"\x00" + np.array([[65535, 0, 32896]], dtype=">u2").tobytes()
    header = struct.pack(">IIBBBBB", 1, 1, 16, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(row))
    image = open_image(png + _png_chunk(b"IEND", b""))
    assert to_uint8(image.rgb)[0, 0].tolist() == [255, 0, 128]
    assert any("16-bit colour" in notice for notice in image.notices)


@pytest.mark.parametrize("suffix", ["gif", "png", "webp"])
def test_an_animated_image_gives_its_first_frame_with_a_notice(tmp_path, suffix):
    red, blue = Image.new("RGB", (4, 4), (255, 0, 0)), Image.new("RGB", (4, 4), (0, 0, 255))
    options = {"lossless": True} if suffix == "webp" else {}
    path = _saved(red, tmp_path / f"anim.{suffix}", save_all=True, append_images=[blue], duration=100, **options)
    image = open_image(path)
    assert to_uint8(image.rgb)[0, 0].tolist() == [255, 0, 0]
    assert any("animated image (2 frames): using the first frame" in notice for notice in image.notices)


def test_exif_orientation_turns_the_photo_upright(tmp_path):
    stored = np.zeros((8, 16, 3), dtype=np.uint8)
    stored[:, :8] = (255, 0, 0)
    stored[:, 8:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = _saved(Image.fromarray(stored), tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    image = open_image(path)
    assert (image.width, image.height) == (8, 16)
    assert to_uint8(image.rgb)[2, 4, 0] > 200 and to_uint8(image.rgb)[13, 4, 2] > 200  # left half now on top
    assert any("EXIF orientation" in notice for notice in image.notices)


def test_loaded_image_refuses_arrays_of_the_wrong_shape():
    with pytest.raises(ValueError, match="HxWx3"):
        LoadedImage(np.zeros((4, 4), np.float32), None, False, 8, (), "L")
    with pytest.raises(ValueError, match="alpha"):
        LoadedImage(np.zeros((4, 4, 3), np.float32), np.zeros((4, 5), np.float32), False, 8, (), "RGBA")


# --- saving -----------------------------------------------------------------------------------


def test_save_image_round_trips_pixels_and_strips_metadata(tmp_path):
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "someone private")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    rgba = np.random.default_rng(2).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    source = _saved(Image.fromarray(rgba), tmp_path / "in.png", pnginfo=text, exif=exif.tobytes(), dpi=(300, 300))
    loaded = open_image(source)
    save_image(loaded.rgb, tmp_path / "out.png", alpha=loaded.alpha)
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == "RGBA" and np.array_equal(np.asarray(written), rgba)
        assert written.info == {} and len(written.getexif()) == 0


def test_save_image_writes_sixteen_bit_grey_exactly(tmp_path):
    values = np.array([[0, 1, 257], [32768, 65534, 65535]], dtype=np.uint16)
    loaded = open_image(_saved(Image.fromarray(values), tmp_path / "deep.png"))
    save_image(loaded.rgb, tmp_path / "out.png", grayscale=True, bit_depth=16)
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == "I;16" and np.array_equal(np.asarray(written), values)


def test_save_image_writes_eight_bit_grey_as_one_channel(tmp_path):
    save_image(np.full((2, 3, 3), 0.5, np.float32), tmp_path / "grey.png", grayscale=True)
    with Image.open(tmp_path / "grey.png") as written:
        assert written.mode == "L" and np.all(np.asarray(written) == 128)


def test_save_image_leaves_no_partial_file_when_the_disk_is_full(tmp_path, monkeypatch):
    (tmp_path / "kept.png").write_bytes(b"previous result")

    def fill_disk(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half an image")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", fill_disk)
    rgb = np.zeros((4, 4, 3), np.float32)
    for name in ("new.png", "kept.png"):
        with pytest.raises(OSError, match="No space left"):
            save_image(rgb, tmp_path / name)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kept.png"]
    assert (tmp_path / "kept.png").read_bytes() == b"previous result"


# --- conversions and the protocol --------------------------------------------------------------


def test_to_uint8_rounds_half_up_clips_and_zeroes_nan():
    values = np.array([0.5 / 255, 0.49 / 255, 254.5 / 255, -0.2, 1.3, np.nan], dtype=np.float64)
    assert to_uint8(values).tolist() == [1, 0, 255, 0, 255, 0]


def test_to_float_and_to_uint8_are_exact_inverses():
    every_value = np.arange(256, dtype=np.uint8)
    assert to_float(every_value).dtype == np.float32
    assert np.array_equal(to_uint8(to_float(every_value)), every_value)


def test_conversions_refuse_the_wrong_dtype():
    with pytest.raises(TypeError):
        to_uint8(np.zeros(3, np.uint8))
    with pytest.raises(TypeError):
        to_float(np.zeros(3, np.float32))


def test_ycbcr_of_white_is_235_128_128_and_inverts_back():
    rgb = np.random.default_rng(3).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    assert rgb_to_ycbcr(np.full((1, 1, 3), 255, np.uint8))[0, 0] == pytest.approx([235.0, 128.0, 128.0])
    assert np.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb)


def test_crop_to_multiple_removes_bottom_rows_and_right_columns():
    image = np.arange(7 * 10).reshape(7, 10)
    assert np.array_equal(crop_to_multiple(image, 4), image[:4, :8])
    with pytest.raises(ValueError, match="smaller than the scale"):
        crop_to_multiple(image[:3], 4)


def test_make_lr_is_pil_bicubic_of_the_cropped_hr():
    hr = np.asarray(_random_rgb_image(30, 21))
    hr_cropped, lr = make_lr(hr, 4)
    expected = Image.fromarray(hr[:20, :28]).resize((7, 5), Image.Resampling.BICUBIC)
    assert hr_cropped.shape == (20, 28, 3) and np.array_equal(lr, np.asarray(expected))


def test_float_bicubic_is_not_rounded_to_eight_bits_and_agrees_with_uint8_where_nothing_overshoots():
    ramp = np.add.outer(np.arange(5) * 20, np.arange(6) * 17)
    lr = np.stack([40 + ramp, 40 + ramp[::-1], 220 - ramp], axis=2).astype(np.uint8)
    float_sr = bicubic_resize(to_float(lr), (24, 20))
    assert float_sr.dtype == np.float32 and float_sr.shape == (20, 24, 3)
    assert not np.allclose(float_sr * 255, np.round(float_sr * 255))
    assert np.abs(float_sr * 255 - bicubic_resize(lr, (24, 20)).astype(np.float32)).max() <= 1.0


def test_bicubic_resize_accepts_single_channel_arrays():
    assert bicubic_resize(np.zeros((5, 6), np.float32), (12, 10)).shape == (10, 12)
    assert bicubic_resize(np.zeros((5, 6, 2), np.uint8), (12, 10)).shape == (10, 12, 2)
