"""The manifest of a MOS study: what raters were shown, so every rating can be traced.

The contract between stimulus preparation (:mod:`studio.mos.study`), sessions, the ratings
CSV and the analysis; kept free of torch so reading and checking ratings stays light.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from sr_core import __version__

HR = "hr"
"""The hidden reference's method name in the CSV (ACR-HR)."""
NEAREST = "nearest"
TRAP = "trap"
"""The stimulus variant of the trap item ("please select 2" drawn in the pixels); not a method."""
DEFAULT_METHODS: tuple[str, ...] = ("nearest", "bicubic", "srcnn", "srgan", "esrgan", "swiftsrgan", HR)
"""The methods of the app's study and the order tables list them in: the SRGAN paper's, worst to best, HR last."""
PROTOCOL = "sr-studio-acr-hr/1"
"""Version of the stimulus preparation and session protocol; part of the study id and every CSV row."""
MANIFEST_NAME, RATINGS_NAME, STIMULI_DIR, SESSIONS_DIR = "manifest.json", "ratings.csv", "stimuli", "sessions"
"""A study folder's layout: its manifest, its ratings CSV, its stimuli and its sessions' plans."""


@dataclass(frozen=True)
class Stimulus:
    """One prepared image: ``variant`` is the method (or :data:`TRAP`), ``file`` relative to the study folder.

    ``psnr_y`` is None for the HR itself (infinite); both are None for the trap. ``lpips``
    (AlexNet, against the HR) is None where it was not measured: the trap, images under 31 px,
    a machine without the LPIPS package, and studies prepared before it was recorded.
    """

    image_id: str
    variant: str
    file: str
    sha256: str
    psnr_y: float | None
    ssim_y: float | None
    lpips: float | None = None


@dataclass(frozen=True)
class Manifest:
    """What a study showed, so every rating can be traced: the contract between preparation, sessions and analysis.

    ``methods`` are the rated methods (with :data:`HR`); ``images`` the rated image ids and
    ``calibration_images`` the ones used for calibration, gold and trap items (id -> sha256 of
    the file); ``weights`` the sha256 of each learned method's weights (users' model files
    included); ``skipped`` the methods left out, with the reason; ``model_files`` the methods that
    are users' own model files, with the file's name and architecture ("mine.pth (ESRGAN)").
    """

    study_id: str
    name: str
    methods: tuple[str, ...]
    images: dict[str, str]
    calibration_images: dict[str, str]
    weights: dict[str, str]
    skipped: dict[str, str]
    stimuli: dict[tuple[str, str], Stimulus] = field(repr=False)
    scale: int = 4
    protocol: str = PROTOCOL
    app_version: str = __version__
    created: str = ""
    model_files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        fields = {
            "study_id": self.study_id,
            "name": self.name,
            "protocol": self.protocol,
            "scale": self.scale,
            "app_version": self.app_version,
            "created": self.created,
            "methods": list(self.methods),
            "skipped": self.skipped,
            "weights": self.weights,
            "model_files": self.model_files,
            "images": self.images,
            "calibration_images": self.calibration_images,
            "stimuli": [vars(stimulus) for stimulus in self.stimuli.values()],
        }
        return json.dumps(fields, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        fields = json.loads(text)
        stimuli = [Stimulus(**entry) for entry in fields.pop("stimuli")]
        fields["methods"] = tuple(fields["methods"])
        return cls(**fields, stimuli={(stimulus.image_id, stimulus.variant): stimulus for stimulus in stimuli})

    def mean_metrics(self) -> dict[str, tuple[float | None, float | None]]:
        """Method -> (mean PSNR-Y, mean SSIM-Y) over the rated images; PSNR of the HR is None (infinite)."""
        means = {}
        for method in self.methods:
            shown = [self.stimuli[image_id, method] for image_id in self.images]
            psnrs = [stimulus.psnr_y for stimulus in shown if stimulus.psnr_y is not None]
            ssims = [stimulus.ssim_y for stimulus in shown if stimulus.ssim_y is not None]
            means[method] = (float(np.mean(psnrs)) if psnrs else None, float(np.mean(ssims)) if ssims else None)
        return means
