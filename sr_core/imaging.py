"""Images in and out of SR Studio: opening, validating, converting, colour spaces, the protocol's bicubic.

Every image a user gives us goes through :func:`open_image`, which turns whatever PIL can read
(8/16-bit, palette, float, CMYK, animated, EXIF-rotated ...) into one form the models take: a
float32 RGB array in [0, 1] plus an optional alpha, and records what it changed as human-readable
notices. Anything it cannot read safely becomes a typed error (:class:`InvalidImageError`,
:class:`ImageTooLargeError`) whose message says what to do, never a traceback from PIL. The size
is checked from the header, before a single pixel is decoded, so a decompression bomb costs
nothing.

Every image that leaves goes through :func:`save_image`: a pixels-only PNG, written atomically.

The evaluation protocol of the SR papers lives here too (:func:`make_lr`, :func:`bicubic_resize`,
:func:`rgb_to_y`): HR images are cropped to a multiple of the scale and downscaled with PIL's
BICUBIC, which matches MATLAB's ``imresize`` (Keys cubic with a = -0.5, and the kernel widened by
the scale when downscaling, i.e. antialiased). torch's ``interpolate(mode="bicubic")`` is not
used: it takes a = -0.75 and only widens the kernel with ``antialias=True``, so its LR images
differ from the papers' and every score moves by tenths of a dB.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from sr_core import settings
from sr_core.errors import ImageTooLargeError, InvalidImageError
from sr_core.files import atomic_target
from sr_core.settings import DEFAULT_PIXEL_CAP

PIXEL_CAP_ENV = settings.PIXEL_CAP.name
ACCEPTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
ACCEPTED_FORMATS_TEXT = "PNG, JPEG, BMP, GIF, TIFF or WebP"

# Everything PIL raises for a file whose header parsed but whose data does not decode.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
_SNIFF_BYTES = 512
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_GREY_MODES = ("1", "L", "LA", "La", "F", *_SIXTEEN_BIT_MODES)
# Modes with colour in another space than RGB: converted by PIL, and the user is told.
_CONVERTED_MODES = {"CMYK": "CMYK", "YCbCr": "YCbCr", "LAB": "CIELAB", "HSV": "HSV"}

# ITU-R BT.601 for 8-bit RGB (MATLAB's rgb2ycbcr): rows give Y, Cb, Cr from R, G, B in [0, 255].
YCBCR_MATRIX = (
    np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=np.float64)
    / 255.0
)
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An opened image, ready for a model.

    ``rgb`` is float32 HxWx3 in [0, 1] (grey images repeat their one channel), ``alpha`` float32
    HxW in [0, 1] or None, ``grayscale`` says the source had no colour (so outputs are saved grey
    again), ``bit_depth`` (8 or 16) how precisely to save the result, ``notices`` what was changed
    on the way in, ``source_mode`` PIL's mode of the file. Compared by identity (it holds arrays).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    grayscale: bool
    bit_depth: int
    notices: tuple[str, ...]
    source_mode: str

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3:
            raise ValueError(f"rgb must be an HxWx3 array, not shape {self.rgb.shape}")
        if self.alpha is not None and self.alpha.shape != self.rgb.shape[:2]:
            raise ValueError(f"alpha must be HxW = {self.rgb.shape[:2]}, not shape {self.alpha.shape}")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"bit_depth must be 8 or 16, not {self.bit_depth}")

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def pixel_cap_from_env() -> int:
    """The pixel cap set by ``SR_STUDIO_PIXEL_CAP`` (a positive integer), else :data:`DEFAULT_PIXEL_CAP`.

    A malformed value is a configuration mistake and raises :class:`SettingsError` (a ``ValueError``)
    naming the variable, rather than silently running with a cap nobody chose.
    """
    return settings.pixel_cap()


def check_pixel_cap(width: int, height: int, pixel_cap: int, name: str = "the image") -> None:
    """Raise :class:`ImageTooLargeError` when ``width * height`` exceeds ``pixel_cap``."""
    if width * height <= pixel_cap:
        return
    side = int(pixel_cap**0.5)
    raise ImageTooLargeError(
        f"{name} is {width}x{height} = {width * height:,} pixels, over the cap of {pixel_cap:,} pixels "
        f"(about {side}x{side}). Downscale it first, or raise the cap with {PIXEL_CAP_ENV} / --pixel-cap."
    )


def open_image(source: str | Path | bytes, pixel_cap: int = DEFAULT_PIXEL_CAP) -> LoadedImage:
    """Open a file path or the bytes of a file as a :class:`LoadedImage`.

    Raises :class:`InvalidImageError` for what is not a readable image (empty, truncated, text,
    SVG/HTML, other formats) and :class:`ImageTooLargeError` for more than ``pixel_cap`` pixels
    or a decompression bomb; the size is checked from the header before pixels are decoded.
    Animated images give their first frame, EXIF-rotated photos are turned upright.
    """
    _check_cap_value(pixel_cap)
    name = _source_name(source)
    head = _read_head(source, name)
    with _open_header(source, name, head, pixel_cap) as image:
        check_pixel_cap(image.width, image.height, pixel_cap, name)
        try:
            notices = _header_notices(image)
            image.load()
            upright, orientation_notices = _apply_exif_orientation(image)
        except _DECODE_ERRORS as error:
            raise InvalidImageError(
                f"{name} looks like a {image.format} file but its data is damaged or truncated ({error}). "
                f"Re-export it as {ACCEPTED_FORMATS_TEXT} and try again."
            ) from None
        loaded = pil_to_loaded(upright)
    return replace(loaded, notices=(*notices, *orientation_notices, *loaded.notices))


def pil_to_loaded(image: Image.Image) -> LoadedImage:
    """Convert a decoded PIL image of any mode to a :class:`LoadedImage` (first frame, as oriented).

    Modes: 1/L/LA grey 8-bit; I;16* and I grey 16-bit (divided by 65535, bit_depth 16); F float
    (see :func:`float_to_unit_range`); P/RGB with a transparency entry get an alpha; CMYK, YCbCr,
    LAB and HSV are converted to RGB by PIL, with a notice.
    """
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        grey, notices = _sixteen_bit_to_unit(np.asarray(image))
        return _grey_image(grey, None, 16, notices, mode)
    if mode == "F":
        grey, notices = float_to_unit_range(np.asarray(image, dtype=np.float32))
        return _grey_image(grey, None, 16, notices, mode)
    if mode in _GREY_MODES:
        grey_alpha = np.asarray(image.convert("LA"), dtype=np.float32) / 255.0
        has_alpha = mode in ("LA", "La") or "transparency" in image.info
        return _grey_image(grey_alpha[..., 0], grey_alpha[..., 1] if has_alpha else None, 8, (), mode)
    if mode in ("RGBA", "RGBa", "PA") or ("transparency" in image.info and mode in ("P", "RGB")):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        return LoadedImage(rgba[..., :3].copy(), rgba[..., 3].copy(), False, 8, (), mode)
    notices = (f"{_CONVERTED_MODES[mode]} colours converted to RGB",) if mode in _CONVERTED_MODES else ()
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return LoadedImage(rgb, None, False, 8, notices, mode)


def float_to_unit_range(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map a float image (PIL mode F, any range) to float32 in [0, 1], and say how.

    The rule: data whose maximum is at most 1 is taken as [0, 1] already; a maximum up to 255 is
    taken as 8-bit values and divided by 255; above that, values are divided by their maximum.
    Negative values are clipped to 0 and NaN/infinity become 0. Returns (values, notices).
    """
    notices: list[str] = []
    finite = np.isfinite(values)
    if not finite.all():
        notices.append("non-finite values (NaN or infinity) set to 0")
        values = np.where(finite, values, 0.0)
    peak = float(values.max(initial=0.0))
    if peak > 255.0:
        values = values / peak
        notices.append(f"float image with values up to {peak:g}: scaled by its maximum")
    elif peak > 1.0:
        values = values / 255.0
        notices.append("float image with values above 1: read as 0-255")
    if values.min(initial=0.0) < 0.0:
        notices.append("negative values clipped to 0")
    return np.clip(values, 0.0, 1.0).astype(np.float32), tuple(notices)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] (any shape) -> uint8 in 0..255: clipped, rounded half up, NaN -> 0."""
    if not np.issubdtype(rgb.dtype, np.floating):
        raise TypeError(f"to_uint8 expects a float image in [0, 1], not dtype {rgb.dtype}")
    scaled = np.clip(np.nan_to_num(rgb, nan=0.0), 0.0, 1.0) * 255.0
    return np.floor(scaled + 0.5).astype(np.uint8)


def to_float(arr_uint8: np.ndarray) -> np.ndarray:
    """uint8 image in 0..255 (any shape) -> float32 in [0, 1]; ``to_uint8`` inverts it exactly."""
    if arr_uint8.dtype != np.uint8:
        raise TypeError(f"to_float expects a uint8 image, not dtype {arr_uint8.dtype}")
    return arr_uint8.astype(np.float32) / 255.0


def array_to_pil(
    rgb: np.ndarray, alpha: np.ndarray | None = None, grayscale: bool = False, bit_depth: int = 8
) -> Image.Image:
    """Float RGB HxWx3 in [0, 1] (+ alpha HxW) -> a fresh PIL image without metadata.

    Grey images become L/LA, or I;16 for 16-bit grey without alpha (PIL has no 16-bit grey +
    alpha mode, so that case is 8-bit LA); colour images become RGB/RGBA (PIL writes colour
    in 8 bits only).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an HxWx3 array, not shape {rgb.shape}")
    if alpha is not None and alpha.shape != rgb.shape[:2]:
        raise ValueError(f"alpha must be HxW = {rgb.shape[:2]}, not shape {alpha.shape}")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    if grayscale and bit_depth == 16 and alpha is None:
        grey = np.clip(np.nan_to_num(rgb.mean(axis=2), nan=0.0), 0.0, 1.0) * 65535.0
        return Image.fromarray(np.floor(grey + 0.5).astype(np.uint16))
    channels = to_uint8(rgb.mean(axis=2, keepdims=True) if grayscale else rgb)
    if alpha is not None:
        channels = np.concatenate([channels, to_uint8(alpha)[..., None]], axis=2)
    return Image.fromarray(channels[..., 0] if channels.shape[2] == 1 else channels)


def save_image(
    rgb: np.ndarray, path: str | Path, alpha: np.ndarray | None = None, grayscale: bool = False, bit_depth: int = 8
) -> None:
    """Write float RGB HxWx3 in [0, 1] (+ alpha HxW) to ``path`` as a PNG holding pixels only.

    No metadata is copied (no EXIF, text chunks, ICC profile), so outputs leak nothing about the
    source. The file is written next to ``path`` under a temporary name and moved into place, so
    a failed write (disk full) raises its ``OSError`` and leaves no partial file; an existing
    file at ``path`` stays intact.
    """
    image = array_to_pil(rgb, alpha, grayscale, bit_depth)
    with atomic_target(path) as partial, open(partial, "wb") as handle:
        image.save(handle, format="PNG")


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """RGB HxWx3 (uint8, or float in [0, 255]) -> float64 YCbCr HxWx3, BT.601 as MATLAB's rgb2ycbcr.

    Y is in [16, 235] and Cb, Cr in [16, 240]; nothing is rounded, as the metrics require.
    """
    return rgb.astype(np.float64) @ YCBCR_MATRIX.T + YCBCR_OFFSET


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """RGB HxWx3 (uint8, or float in [0, 255]) -> float64 luma Y HxW in [16, 235], unrounded.

    Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255: the channel SR papers measure PSNR/SSIM on.
    """
    return rgb.astype(np.float64) @ YCBCR_MATRIX[0] + YCBCR_OFFSET[0]


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`: float64 RGB HxWx3 in [0, 255], not clipped (out of gamut stays)."""
    return (ycbcr.astype(np.float64) - YCBCR_OFFSET) @ np.linalg.inv(YCBCR_MATRIX).T


def crop_to_multiple(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom rows and right columns of an HxW[xC] image so H and W divide by ``scale``.

    This is the protocol's first step: the LR image is then exactly H/scale x W/scale.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, not {scale}")
    height, width = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    if height == 0 or width == 0:
        raise ValueError(f"an image of {img.shape[1]}x{img.shape[0]} px is smaller than the scale {scale}")
    return img[:height, :width]


def bicubic_resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize HxWxC (or HxW) to ``size = (width, height)`` with PIL's BICUBIC; same dtype out.

    uint8 RGB goes through PIL's RGB mode (8-bit, as the protocol does); float input in [0, 1]
    is resized channel by channel in PIL's float mode "F", so nothing is rounded to 8 bits on
    the way. Float results are not clipped: bicubic overshoot stays for the caller to decide.
    """
    if arr.ndim == 2:
        return bicubic_resize(arr[..., None], size)[..., 0]
    if arr.dtype == np.uint8 and arr.shape[2] == 3:
        return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC))
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"bicubic_resize expects uint8 or float images, not dtype {arr.dtype}")
    plane_dtype = np.uint8 if arr.dtype == np.uint8 else np.float32  # PIL modes L and F
    planes = [Image.fromarray(arr[..., c].astype(plane_dtype)) for c in range(arr.shape[2])]
    resized = [np.asarray(plane.resize(size, Image.Resampling.BICUBIC)) for plane in planes]
    return np.stack(resized, axis=2).astype(arr.dtype)


def make_lr(hr_uint8: np.ndarray, scale: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The protocol's LR image: (HR cropped to a multiple of ``scale``, its PIL-bicubic downscale).

    ``hr_uint8`` is uint8 HxWx3; both results are uint8 HxWx3, the LR one (H/scale)x(W/scale).
    """
    if hr_uint8.dtype != np.uint8 or hr_uint8.ndim != 3 or hr_uint8.shape[2] != 3:
        raise ValueError(f"make_lr expects a uint8 HxWx3 image, not {hr_uint8.dtype} of shape {hr_uint8.shape}")
    hr_cropped = crop_to_multiple(hr_uint8, scale)
    height, width = hr_cropped.shape[:2]
    return hr_cropped, bicubic_resize(hr_cropped, (width // scale, height // scale))


def _check_cap_value(pixel_cap: int) -> None:
    if pixel_cap < 1:
        raise ValueError(f"the pixel cap must be a positive number of pixels, not {pixel_cap}")


def _source_name(source: str | Path | bytes) -> str:
    """How messages call the input: the file's name, or "the uploaded data" for bytes."""
    return "the uploaded data" if isinstance(source, bytes) else f"'{Path(source).name}'"


def _read_head(source: str | Path | bytes, name: str) -> bytes:
    """The first bytes of the input (to name what a non-image is); refuses missing and empty files."""
    if isinstance(source, bytes):
        head = source[:_SNIFF_BYTES]
    else:
        try:
            with open(source, "rb") as handle:
                head = handle.read(_SNIFF_BYTES)
        except OSError as error:
            raise InvalidImageError(f"cannot read {name}: {error.strerror or error}") from None
    if not head:
        raise InvalidImageError(f"{name} is empty (0 bytes). Upload a {ACCEPTED_FORMATS_TEXT} image.")
    return head


@contextmanager
def _open_header(source: str | Path | bytes, name: str, head: bytes, pixel_cap: int) -> Iterator[Image.Image]:
    """PIL's lazily opened image (header parsed, no pixels decoded), with PIL's errors made typed."""
    try:
        with warnings.catch_warnings():
            # Our own cap, checked next, decides; PIL's warning threshold (89 MP) is not ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(source) if isinstance(source, bytes) else source, formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(
            f"{name} is too large to open safely ({error}); our cap is {pixel_cap:,} pixels. Downscale it first."
        ) from None
    except (UnidentifiedImageError, *_DECODE_ERRORS):
        raise InvalidImageError(
            f"{name} is {describe_non_image(head)}, not an image we can read. "
            f"Accepted formats: {ACCEPTED_FORMATS_TEXT}."
        ) from None
    with image:
        yield image


def describe_non_image(head: bytes) -> str:
    """What the first bytes of a file that PIL refused look like, for the error message."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") and b"<svg" in text:
        return "an SVG drawing (vector graphics; export it as PNG first)"
    if text.startswith(b"<") and (b"<html" in text or b"<!doctype html" in text):
        return "an HTML page (perhaps a web page saved instead of its image)"
    if text.startswith(b"<"):
        return "an XML text file"
    if b"\x00" not in head and _decodes_as_text(head):
        return "a text file"
    return "a file in an unknown or unsupported format"


def _decodes_as_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _header_notices(image: Image.Image) -> tuple[str, ...]:
    """Notices knowable from the header: several frames, 16-bit colour that PIL reads as 8-bit."""
    notices = []
    if getattr(image, "is_animated", False):
        notices.append(f"animated image ({getattr(image, 'n_frames', 'several')} frames): using the first frame")
    tile = getattr(image, "tile", None)  # the decoder's tiles of a file still open, absent once loaded
    rawmode = tile[0].args if tile and isinstance(tile[0].args, str) else ""
    if image.mode in ("RGB", "RGBA") and ";16" in rawmode:
        notices.append("16-bit colour image: read with 8 bits per channel (PIL decodes colour in 8 bits)")
    return tuple(notices)


def _apply_exif_orientation(image: Image.Image) -> tuple[Image.Image, tuple[str, ...]]:
    """The image turned upright as its EXIF orientation tag asks (2-8), and a notice if it was."""
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    if orientation not in range(2, 9):
        return image, ()
    notice = f"EXIF orientation applied (tag {orientation}): the image was turned upright"
    return ImageOps.exif_transpose(image), (notice,)


def _sixteen_bit_to_unit(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """16-bit grey values (I;16*, or I holding 0..65535) -> float32 in [0, 1], exact (divided by 65535)."""
    notices: tuple[str, ...] = ()
    if values.dtype.kind == "i" and (values.min(initial=0) < 0 or values.max(initial=0) > 65535):
        notices = ("32-bit integer image: values outside 0-65535 clipped",)
    return np.clip(values.astype(np.float32), 0.0, 65535.0) / 65535.0, notices


def _grey_image(
    grey: np.ndarray, alpha: np.ndarray | None, bit_depth: int, notices: tuple[str, ...], mode: str
) -> LoadedImage:
    """A grey HxW float32 in [0, 1] as a :class:`LoadedImage` whose three channels are equal."""
    rgb = np.repeat(grey.astype(np.float32)[..., None], 3, axis=2)
    return LoadedImage(rgb, None if alpha is None else alpha.copy(), True, bit_depth, notices, mode)
