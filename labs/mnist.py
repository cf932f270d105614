"""MNIST, shared by the labs: the digits read from their IDX files, labelled image sets, sample grids.

Every image tensor here is float32 NCHW in [-1, 1], the range of the generators' tanh output,
so real and generated images meet the discriminator (and the metrics) on the same scale.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.utils import make_grid

from sr_core.errors import SRStudioError

# IDX type codes (the third byte of the magic number) -> numpy dtypes, big-endian as stored.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# With only the 10k test set at hand, every fifth digit is held out for metrics and the classifier's test.
# Not the last fifth: t10k holds 5,000 digits of SD-3 writers (Census staff) then 5,000 of SD-1
# writers (students), so a tail cut compares samples with other writers' digits (FD 33.6 between
# real digits in the project's classifier features, against 1.4 for a random split).
HELD_OUT_EVERY = 5

Classifier = TypeVar("Classifier", bound=nn.Module)


class MnistDataError(SRStudioError):
    """MNIST's IDX files cannot be found, downloaded or read."""


@dataclass(frozen=True, eq=False)
class LabeledImages:
    """``images`` float NCHW in [-1, 1]; ``labels`` int64 (N,) class indices, or None for unlabelled data."""

    images: torch.Tensor
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def known_labels(self) -> torch.Tensor:
        """``labels``, for what needs them (training a classifier, class accuracy); unlabelled data is refused."""
        if self.labels is None:
            raise MnistDataError("these images have no labels: use MNIST, not a folder of unlabelled images")
        return self.labels

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        channels, height, width = self.images.shape[1:]
        return int(channels), int(height), int(width)

    def subset(self, indices: torch.Tensor | slice) -> LabeledImages:
        """The images (and labels) at ``indices``: a slice, index tensor or boolean mask."""
        return LabeledImages(self.images[indices], None if self.labels is None else self.labels[indices])


@dataclass(frozen=True, eq=False)
class MnistSplit:
    """Images to train on and held-out images to measure against (never trained on)."""

    train: LabeledImages
    test: LabeledImages


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in one IDX file (gzipped or not), e.g. uint8 (N, 28, 28) images or (N,) labels."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise MnistDataError(f"{path} is not an IDX file (bad magic number); use MNIST's original *-ubyte(.gz) files")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    offset = 4 + 4 * dims
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - offset != expected:
        raise MnistDataError(f"{path} is truncated: its header promises {shape} but holds {len(data) - offset} bytes")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``folder`` or in torchvision's download layout ``folder/MNIST/raw``."""
    for directory in (folder, folder / "MNIST" / "raw"):
        for name in (stem, f"{stem}.gz"):
            if (directory / name).is_file():
                return directory / name
    return None


def has_mnist(folder: str | Path) -> bool:
    """True when ``folder`` holds at least MNIST's test images and labels."""
    return all(_find_idx(Path(folder), stem) for stem in MNIST_FILES["test"])


def _mnist_part(folder: Path, part: str) -> LabeledImages | None:
    images_path, labels_path = (_find_idx(folder, stem) for stem in MNIST_FILES[part])
    if images_path is None or labels_path is None:
        return None
    paths = images_path, labels_path
    pixels, labels = read_idx(images_path), read_idx(labels_path)
    if pixels.ndim != 3 or labels.shape != (len(pixels),):
        raise MnistDataError(f"{paths[0]} and {paths[1]} do not match: {pixels.shape} images, {labels.shape} labels")
    return LabeledImages(
        uint8_to_signed(torch.from_numpy(pixels.copy()).unsqueeze(1)), torch.from_numpy(labels.astype(np.int64))
    )


def load_mnist(folder: str | Path) -> MnistSplit:
    """MNIST from its IDX files: the 60k training set if present, else the first 80% of the 10k test set.

    The held-out part is the 10k test set when the training set is there, else every fifth
    digit of the test set (both writer populations), so generated samples are always compared
    with digits nothing was trained on.
    """
    folder = Path(folder)
    test = _mnist_part(folder, "test")
    if test is None:
        raise MnistDataError(
            f"no MNIST in {folder}: expected t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) "
            "(pass --download to fetch MNIST with torchvision)"
        )
    train = _mnist_part(folder, "train")
    if train is not None:
        return MnistSplit(train, test)
    held_out = torch.arange(len(test)) % HELD_OUT_EVERY == HELD_OUT_EVERY - 1
    return MnistSplit(test.subset(~held_out), test.subset(held_out))


def download_mnist(folder: str | Path) -> None:
    """Fetch MNIST's IDX files into ``folder/MNIST/raw`` with torchvision (needs the internet).

    torchvision checks each file's MD5 and tries its mirrors in turn; when all fail (offline,
    a proxy, a corrupted file) the user gets one line saying how to provide the files instead.
    """
    from torchvision.datasets import MNIST

    try:
        for train in (True, False):
            MNIST(str(folder), train=train, download=True)
    except (RuntimeError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MnistDataError(
            f"could not download MNIST into {folder} ({reason}); copy the IDX files "
            "(train-/t10k- images-idx3-ubyte.gz and labels-idx1-ubyte.gz) into it and run without --download"
        ) from None


def uint8_to_signed(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1]."""
    return pixels.float().div(127.5).sub(1.0)


def signed_to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float images in [-1, 1] -> uint8 in [0, 255] (values outside are clipped)."""
    return images.detach().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def grid_pixels(images: torch.Tensor, per_row: int = 10) -> np.ndarray:
    """One uint8 HxWx3 picture of images (float NCHW in [-1, 1]), ``per_row`` to a row, white between them."""
    grid = make_grid(images.clamp(-1, 1), nrow=per_row, padding=2, pad_value=1.0)
    return signed_to_uint8(grid).permute(1, 2, 0).numpy()


def save_grid(images: torch.Tensor, path: Path, per_row: int = 10) -> None:
    """:func:`grid_pixels` as a PNG at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid_pixels(images, per_row)).save(path)


def fit_classifier(
    model: Classifier,
    data: LabeledImages,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    cosine: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Classifier:
    """Train ``model`` (logits out) on labelled ``data`` with Adam and cross-entropy; the loop both labs share.

    Each epoch visits the images in an order drawn from ``seed``; ``cosine`` anneals the learning rate
    to 0 over the run. Returns ``model`` in train mode; ``progress`` hears each epoch's last loss.
    """
    order_generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(data) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if cosine else None
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(data), generator=order_generator)
        for start in range(0, len(data), batch_size):
            indices = order[start : start + batch_size]
            loss = F.cross_entropy(model(data.images[indices]), data.known_labels[indices])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
        if progress:
            progress(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.4f}")
    return model
