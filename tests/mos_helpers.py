"""Small MOS studies for the tests: a manifest without stimuli, HR images, and valid rating fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from studio.mos.manifest import Manifest

STUDY_ID = "tiny-000000000000"
METHODS = ("nearest", "bicubic", "hr")
IMAGES = ("alpha", "beta")
CALIBRATION_IMAGE = "calib"


def tiny_manifest(methods: tuple[str, ...] = METHODS) -> Manifest:
    """A manifest of two rated images and one calibration image; no stimulus files (storage does not need them)."""
    return Manifest(
        study_id=STUDY_ID,
        name="tiny",
        methods=methods,
        images={image: "0" * 64 for image in IMAGES},
        calibration_images={CALIBRATION_IMAGE: "0" * 64},
        weights={},
        skipped={},
        stimuli={},
    )


def rating_fields(session: int = 0, trial: int = 1, **changes: object) -> dict[str, object]:
    """The fields of a valid trial rating of session number ``session``; ``changes`` override any."""
    fields = {
        "timestamp": "2025-01-01T00:00:00.000Z",
        "study_id": STUDY_ID,
        "session_id": f"{session:032x}",
        "rater_id": f"rater{session}",
        "trial": trial,
        "image_id": IMAGES[trial % 2],
        "method": METHODS[trial % 3],
        "score": 1 + trial % 5,
        "response_ms": 1000 + trial,
        "kind": "trial",
    }
    return {**fields, **changes}


def write_study_images(folder: Path, count: int = 3, size: tuple[int, int] = (48, 40)) -> Path:
    """``count`` small random-texture PNG images named a.png, b.png, ... (the first becomes the calibration image)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for index in range(count):
        pixels = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{chr(ord('a') + index)}.png")
    return folder
