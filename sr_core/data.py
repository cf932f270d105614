"""Training data: random HR crops of image folders and their LR images, made as the protocol makes them.

Each HR image is decoded once and kept in memory as uint8 (the 291 images of T91 + BSDS200 take
about 60 MB). A training sample is a random ``hr_crop`` x ``hr_crop`` crop, flipped and rotated
by a random element of the square's symmetry group, and its LR image is the PIL-bicubic x1/4
downscale of that uint8 crop: the same operator :func:`sr_core.imaging.make_lr` applies in
evaluation, so the model learns to invert exactly the degradation it is scored on.

Everything random about sample number ``n`` (which image, where to crop, which flip) is drawn
from a generator seeded with ``(seed, n)``, and step ``s`` of a run with global batch ``B``
takes samples ``s * B ... s * B + B - 1``. The order is therefore reproducible whatever the
number of loader workers, and a resumed run needs no sampler state: it starts at sample
``step * B``. Images are drawn as in epochs: every ``len(images)`` samples visit each image
once, in an order shuffled per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from sr_core.errors import TrainingConfigError
from sr_core.imaging import open_image, to_uint8
from sr_core.protocol import SCALE, hr_and_lr, image_files

# Keeps the streams of the epoch permutations and of the per-sample draws apart.
_EPOCH_STREAM, _SAMPLE_STREAM = 0, 1


def split_train_val(folders: list[str | Path], val_every: int = 20) -> tuple[list[Path], list[Path]]:
    """Disjoint (train, validation) image lists from HR folders: every ``val_every``-th file validates.

    Files are taken in folder order, then name order, so the split is the same on every machine
    and every run; ``val_every <= 0`` keeps every image for training (no validation).
    """
    files = [path for folder in folders for path in _folder_images(Path(folder))]
    if not files:
        raise TrainingConfigError(f"no images in {', '.join(str(folder) for folder in folders)}; pass HR image folders")
    if val_every <= 0:
        return files, []
    val_files = files[val_every // 2 :: val_every]
    held_out = set(val_files)
    return [path for path in files if path not in held_out], val_files


def _folder_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise TrainingConfigError(f"--data {folder} is not a folder of HR images")
    return image_files(folder)


def load_hr_images(files: list[Path]) -> list[np.ndarray]:
    """Decode each file once: uint8 HxWx3 RGB arrays (grey images repeat their channel)."""
    return [to_uint8(open_image(path).rgb) for path in files]


def augment(hr_crop: np.ndarray, flip: bool, quarter_turns: int) -> np.ndarray:
    """One of the 8 symmetries of the square: an optional horizontal flip, then ``quarter_turns`` x 90 degrees."""
    flipped = hr_crop[:, ::-1] if flip else hr_crop
    return np.ascontiguousarray(np.rot90(flipped, quarter_turns))


def image_to_tensor(image_uint8: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> float CHW tensor in [0, 1]."""
    return torch.tensor(image_uint8).permute(2, 0, 1).float().div_(255.0)


class RandomCrops(Dataset):
    """Sample number ``n`` -> (LR float 3 x hr_crop/4 x hr_crop/4, HR float 3 x hr_crop x hr_crop), both in [0, 1].

    ``length`` is how many samples the run will draw (steps x global batch); ``first_sample``
    skips those a resumed run has already trained on.
    """

    def __init__(self, images: list[np.ndarray], hr_crop: int, seed: int, length: int, first_sample: int = 0) -> None:
        if hr_crop <= 0 or hr_crop % SCALE:
            raise TrainingConfigError(f"hr_crop must be a positive multiple of {SCALE}, not {hr_crop}")
        self.images = [image for image in images if min(image.shape[:2]) >= hr_crop]
        if not self.images:
            raise TrainingConfigError(f"no training image is at least {hr_crop} px on each side; lower hr_crop")
        self.hr_crop = hr_crop
        self.seed = seed
        self.length = length
        self.first_sample = first_sample

    def __len__(self) -> int:
        return self.length - self.first_sample

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.first_sample + index
        epoch, position = divmod(sample, len(self.images))
        order = np.random.default_rng((self.seed, _EPOCH_STREAM, epoch)).permutation(len(self.images))
        image = self.images[order[position]]
        draw = np.random.default_rng((self.seed, _SAMPLE_STREAM, sample))
        top = int(draw.integers(0, image.shape[0] - self.hr_crop + 1))
        left = int(draw.integers(0, image.shape[1] - self.hr_crop + 1))
        crop = image[top : top + self.hr_crop, left : left + self.hr_crop]
        hr = augment(crop, flip=bool(draw.integers(0, 2)), quarter_turns=int(draw.integers(0, 4)))
        _, lr = hr_and_lr(hr)
        return image_to_tensor(lr), image_to_tensor(hr)


def training_loader(dataset: RandomCrops, batch_size: int, rank: int, world_size: int, workers: int) -> DataLoader:
    """Batches of ``batch_size`` (this process's share) in the dataset's order, sharded over processes.

    ``DistributedSampler`` without shuffling deals the samples out round-robin, so the union
    of one step's batches over all processes is that step's global batch, and one process
    (``world_size=1``) sees them all in order. Shuffling is the dataset's own, by sample number.
    """
    sampler: DistributedSampler[tuple[torch.Tensor, torch.Tensor]] = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=False, drop_last=True
    )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        drop_last=True,
        persistent_workers=workers > 0,
    )


@dataclass(frozen=True)
class ValidationImage:
    """One validation pair as the protocol makes it: uint8 HxWx3 HR and its x1/4 LR."""

    name: str
    hr: np.ndarray
    lr: np.ndarray


def validation_images(files: list[Path], crop: int = 0) -> list[ValidationImage]:
    """The protocol's (HR, LR) pairs of ``files``; ``crop > 0`` keeps a centred crop x crop HR window to save time."""
    pairs = []
    for path, hr in zip(files, load_hr_images(files)):
        if crop > 0:
            top, left = max((hr.shape[0] - crop) // 2, 0), max((hr.shape[1] - crop) // 2, 0)
            hr = hr[top : top + crop, left : left + crop]
        hr_cropped, lr = hr_and_lr(hr)
        pairs.append(ValidationImage(path.stem, hr_cropped, lr))
    return pairs
