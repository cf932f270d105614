"""Training data: the validation split, reproducible random crops, the protocol's LR, sharding over processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sr_core.data import RandomCrops, augment, load_hr_images, split_train_val, training_loader, validation_images
from sr_core.errors import TrainingConfigError
from sr_core.imaging import make_lr, to_uint8


def write_images(folder: Path, count: int, size: int = 40) -> list[np.ndarray]:
    """``count`` random uint8 PNGs of ``size`` px named 00.png, 01.png ...; returns their pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{index:02d}.png")
    return images


def solid_images(count: int, size: int = 16) -> list[np.ndarray]:
    """Images of one grey level each (10, 20, 30 ...), so a crop tells which image it came from."""
    return [np.full((size, size, 3), 10 * (index + 1), dtype=np.uint8) for index in range(count)]


def test_validation_split_is_disjoint_deterministic_and_covers_every_file(tmp_path: Path) -> None:
    write_images(tmp_path / "a", 7)
    write_images(tmp_path / "b", 6)
    train, val = split_train_val([tmp_path / "a", tmp_path / "b"], val_every=4)
    assert not set(train) & set(val)
    assert len(train) + len(val) == 13 and len(val) == 3
    assert (train, val) == split_train_val([tmp_path / "a", tmp_path / "b"], val_every=4)


def test_validation_split_can_keep_every_image_for_training(tmp_path: Path) -> None:
    write_images(tmp_path, 3)
    train, val = split_train_val([tmp_path], val_every=0)
    assert len(train) == 3 and val == []


def test_folders_without_images_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(TrainingConfigError, match="no images"):
        split_train_val([tmp_path])
    with pytest.raises(TrainingConfigError, match="not a folder"):
        split_train_val([tmp_path / "missing"])


def test_a_sample_depends_only_on_the_seed_and_its_number() -> None:
    images = [np.random.default_rng(index).integers(0, 256, (24, 24, 3), dtype=np.uint8) for index in range(3)]
    whole = RandomCrops(images, hr_crop=8, seed=5, length=12)
    resumed = RandomCrops(images, hr_crop=8, seed=5, length=12, first_sample=7)
    other_seed = RandomCrops(images, hr_crop=8, seed=6, length=12)
    assert all(torch.equal(a, b) for a, b in zip(whole[7], resumed[0]))
    assert not all(torch.equal(whole[index][1], other_seed[index][1]) for index in range(6))


def test_lr_sample_is_the_protocols_bicubic_downscale_of_the_hr_sample() -> None:
    images = [np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)]
    lr, hr = RandomCrops(images, hr_crop=16, seed=0, length=1)[0]
    hr_uint8 = to_uint8(hr.permute(1, 2, 0).numpy())
    assert lr.shape == (3, 4, 4) and hr.shape == (3, 16, 16)
    assert np.array_equal(to_uint8(lr.permute(1, 2, 0).numpy()), make_lr(hr_uint8, 4)[1])


def test_each_epoch_visits_every_image_once_in_a_new_order() -> None:
    crops = RandomCrops(solid_images(5), hr_crop=8, seed=1, length=10)
    levels = [round(crops[index][1][0, 0, 0].item() * 255) for index in range(10)]
    assert sorted(levels[:5]) == sorted(levels[5:]) == [10, 20, 30, 40, 50]
    assert levels[:5] != levels[5:]


def test_augmentation_covers_the_eight_symmetries_of_the_square() -> None:
    corner = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)
    variants = {augment(corner, flip, turns).tobytes() for flip in (False, True) for turns in range(4)}
    assert len(variants) == 8


def test_images_smaller_than_the_crop_are_skipped_and_none_left_is_an_error() -> None:
    crops = RandomCrops([*solid_images(2, size=16), *solid_images(1, size=8)], hr_crop=12, seed=0, length=4)
    assert len(crops.images) == 2
    with pytest.raises(TrainingConfigError, match="lower hr_crop"):
        RandomCrops(solid_images(2, size=8), hr_crop=12, seed=0, length=4)
    with pytest.raises(TrainingConfigError, match="multiple of 4"):
        RandomCrops(solid_images(2), hr_crop=10, seed=0, length=4)


def test_loader_gives_the_same_batches_with_and_without_worker_processes() -> None:
    crops = RandomCrops(solid_images(4, size=20), hr_crop=8, seed=3, length=8)
    in_process = list(training_loader(crops, batch_size=2, rank=0, world_size=1, workers=0))
    with_workers = list(training_loader(crops, batch_size=2, rank=0, world_size=1, workers=2))
    assert len(in_process) == 4
    assert all(torch.equal(a[1], b[1]) for a, b in zip(in_process, with_workers))


def test_the_shards_of_two_processes_make_up_each_global_batch() -> None:
    crops = RandomCrops(solid_images(6, size=20), hr_crop=8, seed=2, length=12)
    whole = list(training_loader(crops, batch_size=4, rank=0, world_size=1, workers=0))
    shards = [list(training_loader(crops, batch_size=2, rank=rank, world_size=2, workers=0)) for rank in (0, 1)]
    for step, (_, hr_batch) in enumerate(whole):
        step_samples = torch.cat([shards[0][step][1], shards[1][step][1]])
        assert sorted(step_samples.flatten(1).sum(1).tolist()) == sorted(hr_batch.flatten(1).sum(1).tolist())


def test_validation_images_are_centre_cropped_and_sized_for_x4(tmp_path: Path) -> None:
    write_images(tmp_path, 1, size=40)
    [pair] = validation_images(sorted(tmp_path.glob("*.png")), crop=30)
    assert pair.hr.shape == (28, 28, 3) and pair.lr.shape == (7, 7, 3)
    assert np.array_equal(pair.hr, load_hr_images(sorted(tmp_path.glob("*.png")))[0][5:33, 5:33])
