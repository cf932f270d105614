"""The GAN lab's training images: MNIST, or a folder of RGB images (DCGAN's faces and scenes).

Every image tensor here is float32 NCHW in [-1, 1], the range of the generators' tanh output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from labs.gan.errors import GanDataError
from labs.mnist import LabeledImages, MnistSplit, has_mnist, load_mnist, uint8_to_signed
from sr_core.errors import InvalidImageError

FOLDER_IMAGE_SIZE = 64


def load_image_folder(folder: str | Path, size: int = FOLDER_IMAGE_SIZE) -> LabeledImages:
    """Every image in ``folder`` as RGB, centre-cropped to a square and resized to ``size`` x ``size``.

    DCGAN's data: faces or scenes at 64x64 RGB. The images are kept in memory as one tensor,
    which suits the few thousand images a CPU run can use.
    """
    from sr_core.imaging import open_image
    from sr_core.protocol import image_files

    files = image_files(folder)
    if not files:
        raise GanDataError(f"no images in {folder}: give a folder of PNG/JPEG images or one with MNIST's IDX files")
    crops = []
    for path in files:
        try:
            rgb = open_image(path).rgb
        except InvalidImageError as error:
            raise GanDataError(f"cannot train on {path.name}: {error}") from None
        picture = Image.fromarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8))
        crops.append(np.asarray(ImageOps.fit(picture, (size, size), Image.Resampling.BICUBIC)))
    pixels = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)
    return LabeledImages(uint8_to_signed(pixels))


def load_training_images(folder: str | Path) -> MnistSplit:
    """The image data behind ``--data``: MNIST if the folder holds its IDX files, else a folder of images.

    An image folder has no held-out part (``test`` is empty), so no sample-quality metric is computed for it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GanDataError(f"--data {folder} is not a folder")
    if has_mnist(folder):
        return load_mnist(folder)
    images = load_image_folder(folder)
    return MnistSplit(images, images.subset(slice(0, 0)))
