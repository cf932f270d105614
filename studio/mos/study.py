"""A MOS study: its HR images, its methods and the stimuli raters see, prepared once and traced.

A study is defined by a folder of HR images and a list of methods (:class:`StudyDefinition`).
Preparing it (:func:`prepare_study`) makes the protocol's x4 LR of every image, runs every
method on it, and caches the results as pixels-only PNGs under ``<root>/<study_id>/stimuli``
with a ``manifest.json`` that records what was shown: the images' and the weights' sha256, each
stimulus's sha256 and its PSNR/SSIM against the HR (so the Results tab can print the SRGAN
paper's PSNR / SSIM / MOS table) and its LPIPS (for the correlation of MOS with each metric).
The study id is a digest of exactly those inputs, so new weights or a changed image make a new
study (and a new ratings CSV) instead of silently mixing ratings of different stimuli.

The first ``calibration_count`` images (in name order) are not rated: raters are calibrated on
them (nearest = 1, HR = 5, as in the SRGAN paper) and they carry the gold and trap items.

A method may also be a user's own x4 model file, of any architecture spandrel recognises
(``mos-prepare --weights NAME=FILE``): it is rated as method NAME and the manifest records its
file, architecture and sha256 like the bundled weights'.

A learned method without weights is left out of the study and the reason is recorded in the
manifest (``skipped``), so the app's default study works before any weights are bundled; a
researcher who needs every method passes ``require_weights=True`` (``mos-prepare --strict``) and
gets an error naming the missing weights instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from filelock import FileLock
from PIL import Image

from sr_core import settings, user_models
from sr_core.files import atomic_target
from sr_core.imaging import open_image, save_image, to_float, to_uint8
from sr_core.inference import LoadedModel, load_model, model_has_weights, run_network, tile_for
from sr_core.lpips import lpips_against_or_none, lpips_or_none
from sr_core.protocol import SCALE, check_hr_size, hr_and_lr, image_files, score_pair
from sr_core.registry import all_specs, get_spec
from sr_core.weights import read_manifest, sha256_file
from studio.mos.errors import StudyError
from studio.mos.manifest import (
    DEFAULT_METHODS,
    HR,
    MANIFEST_NAME,
    NEAREST,
    PROTOCOL,
    RATINGS_NAME,
    SESSIONS_DIR,
    STIMULI_DIR,
    TRAP,
    Manifest,
    Stimulus,
)
from studio.services.outputs import placeholder_image

TRAP_TEXT = "Attention check:\nplease select\n2 (Poor)"
_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")

ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True)
class StudyDefinition:
    """What a researcher chooses: the HR folder, the methods (``hr`` for the hidden reference), the calibration images."""

    hr_dir: Path
    methods: tuple[str, ...] = DEFAULT_METHODS
    calibration_count: int = 1
    model_files: dict[str, Path] = field(default_factory=dict, hash=False)
    """Users' x4 model files by method name; a name ``methods`` does not list is rated just before the HR.
    Left out of the hash (a dict has none), still compared: the app keys its rating desks by definition."""

    @property
    def name(self) -> str:
        """The study's readable name: its folder's name as an id."""
        return _as_id(self.hr_dir.name) or "study"

    @property
    def all_methods(self) -> tuple[str, ...]:
        """``methods`` with each user model they do not name inserted before the hidden reference (else last),
        keeping the tables' order of worst to best, HR last."""
        extra = tuple(name for name in self.model_files if name not in self.methods)
        at = self.methods.index(HR) if HR in self.methods else len(self.methods)
        return (*self.methods[:at], *extra, *self.methods[at:])


def default_definition() -> StudyDefinition:
    """The app's study: the images of ``SR_STUDIO_MOS_STUDY`` (default ``assets/``) with every default method."""
    return StudyDefinition(settings.mos_study())


@dataclass(frozen=True)
class PreparedStudy:
    """A study whose stimuli are on disk in ``folder``: what sessions show and where ratings go."""

    folder: Path
    manifest: Manifest

    @property
    def ratings_path(self) -> Path:
        return self.folder / RATINGS_NAME

    @property
    def sessions_dir(self) -> Path:
        return self.folder / SESSIONS_DIR

    def pixels(self, image_id: str, variant: str) -> np.ndarray:
        """The stimulus as uint8 HxWx3 pixels: what the browser gets (never the file or its name)."""
        with Image.open(self.folder / self.manifest.stimuli[image_id, variant].file) as image:
            return np.asarray(image.convert("RGB"))


def study_images(definition: StudyDefinition) -> list[tuple[str, Path]]:
    """(image id, path) of the study's HR images in name order; ids are file stems made safe and unique."""
    if definition.calibration_count < 1:
        raise StudyError("a study needs at least one calibration image (for the calibration, gold and trap items)")
    if not definition.hr_dir.is_dir():
        raise StudyError(
            f"the study's image folder {definition.hr_dir} does not exist; "
            f"set {settings.MOS_STUDY.name} or pass --images DIR"
        )
    images = [(_as_id(path.stem) or "image", path) for path in image_files(definition.hr_dir)]
    ids = [image_id for image_id, _ in images]
    duplicates = sorted({image_id for image_id in ids if ids.count(image_id) > 1})
    if duplicates:
        raise StudyError(
            f"images in {definition.hr_dir} share the ids {', '.join(duplicates)} "
            "(ids are file names without suffix): rename them"
        )
    if len(images) <= definition.calibration_count:
        raise StudyError(
            f"{definition.hr_dir} has {len(images)} images; a study needs more than the "
            f"{definition.calibration_count} used for calibration"
        )
    return images


def own_study_models(model_files: Mapping[str, Path]) -> dict[str, LoadedModel]:
    """Users' model files of a study by method name, each loaded in float32 and checked before any stimulus is made.

    A name must be an id (it names stimulus files and CSV rows) and no bundled model's or protocol variant's, so
    every rating stays traceable to one model; a model of another scale than the protocol's x4 is refused naming
    its scale.
    """
    taken = {HR, NEAREST, TRAP} | {spec.name for spec in all_specs()}
    loaded = {}
    for name, path in model_files.items():
        if _as_id(name) != name or name in taken:
            raise StudyError(
                f"{name!r} cannot name a model file in a study: use letters, digits, - and _ and no "
                "bundled model's name (see `python -m sr_core models`) nor hr, nearest or trap"
            )
        loaded[name] = user_models.load_user_model(path, dtype=torch.float32)
        user_models.require_scale(loaded[name], "a MOS study")
    return loaded


def usable_methods(
    methods: Sequence[str], require_weights: bool = False, own: Collection[str] = ()
) -> tuple[tuple[str, ...], dict[str, str]]:
    """(methods in the study, skipped method -> reason): learned methods without weights are skipped or fatal.

    ``own`` are the names of users' model files (:func:`own_study_models`), which always run.
    Unknown names always fail: a typo must not quietly shrink a study.
    """
    if len(set(methods)) != len(methods):
        raise StudyError(f"the methods {', '.join(methods)} name one method twice")
    for method in methods:
        if method != HR and method not in own:
            get_spec(method)
    missing = [method for method in methods if method != HR and method not in own and not model_has_weights(method)]
    if missing and require_weights:
        raise StudyError(
            f"no weights for {', '.join(missing)}: bundle them in {settings.weights_dir()} "
            "(see `python -m sr_core models`) or leave those methods out of the study"
        )
    kept = tuple(method for method in methods if method not in missing)
    if len(kept) < 2:
        raise StudyError(
            f"a study needs at least two methods with weights; only {', '.join(kept) or 'none'} of "
            f"{', '.join(methods)} can run"
        )
    skipped = {method: "no weights bundled (or on the Hub) when the study was prepared" for method in missing}
    return kept, skipped


def prepare_study(
    definition: StudyDefinition,
    root: Path | None = None,
    require_weights: bool = False,
    progress: ProgressCallback | None = None,
) -> PreparedStudy:
    """The study's stimuli on disk under ``root`` (default ``SR_STUDIO_MOS_DIR``): made once, then reused.

    Several processes may call this at once: a file lock lets one prepare while the others wait
    and then load its result. The manifest is written last, so an interrupted preparation is
    redone rather than used half-finished.
    """
    root = settings.mos_dir() if root is None else root
    images = study_images(definition)
    own = own_study_models(definition.model_files)
    methods, skipped = usable_methods(definition.all_methods, require_weights, own)
    calibration = images[: definition.calibration_count]
    rated = images[definition.calibration_count :]
    image_sha = {image_id: sha256_file(path) for image_id, path in images}
    bundled = read_manifest()
    weights = {
        method: bundled[method].sha256
        for method in methods
        if method != HR and method not in own and get_spec(method).learned
    }
    weights |= {name: model.weights_sha256 or "" for name, model in own.items()}
    study_id = _study_id(definition.name, methods, weights, image_sha, [image_id for image_id, _ in calibration])
    folder = root / study_id
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".prepare.lock")):
        if (folder / MANIFEST_NAME).is_file():
            return load_study(folder)
        stimuli = _make_stimuli(folder, rated, calibration, methods, own, progress or (lambda _fraction, _text: None))
        manifest = Manifest(
            study_id=study_id,
            name=definition.name,
            methods=methods,
            images={image_id: image_sha[image_id] for image_id, _ in rated},
            calibration_images={image_id: image_sha[image_id] for image_id, _ in calibration},
            weights=weights,
            skipped=skipped,
            stimuli=stimuli,
            scale=SCALE,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            model_files={name: model.name for name, model in own.items()},
        )
        with atomic_target(folder / MANIFEST_NAME) as temporary:
            Path(temporary).write_text(manifest.to_json())
    return PreparedStudy(folder, manifest)


def load_study(folder: Path) -> PreparedStudy:
    """A prepared study from its folder; every stimulus must still have the sha256 it was shown with."""
    path = folder / MANIFEST_NAME
    try:
        manifest = Manifest.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StudyError(
            f"{path} is not a readable study manifest ({error}); delete {folder} to prepare it again"
        ) from None
    for stimulus in manifest.stimuli.values():
        file = folder / stimulus.file
        if not file.is_file() or sha256_file(file) != stimulus.sha256:
            raise StudyError(
                f"stimulus {stimulus.file} of study {manifest.study_id} is missing or changed since it "
                f"was prepared; ratings could no longer be traced: delete {folder} to prepare it again"
            )
    return PreparedStudy(folder, manifest)


def stimulus_metrics(study: PreparedStudy) -> pd.DataFrame:
    """One row per rated (image, method) stimulus: ``image_id``, ``method``, ``PSNR``, ``SSIM``, ``LPIPS`` (or NaN).

    What the correlation of MOS with each metric is computed over. A study prepared before LPIPS
    was recorded has it measured here from its stimulus files against the HR stimulus (once per
    pair of files), so its ratings need not be thrown away; without the files it stays NaN.
    """
    manifest = study.manifest
    rows = []
    for image_id in manifest.images:
        for method in manifest.methods:
            stimulus = manifest.stimuli[image_id, method]
            perceptual = stimulus.lpips if stimulus.lpips is not None else _lpips_from_files(study, image_id, method)
            rows.append([image_id, method, stimulus.psnr_y, stimulus.ssim_y, perceptual])
    frame = pd.DataFrame(rows, columns=["image_id", "method", "PSNR", "SSIM", "LPIPS"])
    return frame.astype({"PSNR": float, "SSIM": float, "LPIPS": float})


def _lpips_from_files(study: PreparedStudy, image_id: str, method: str) -> float | None:
    """LPIPS of a stimulus against its image's HR stimulus, from the files; None without LPIPS, an HR or the files."""
    stimuli = study.manifest.stimuli
    if (image_id, HR) not in stimuli or lpips_or_none() is None:
        return None
    shown, reference = stimuli[image_id, method], stimuli[image_id, HR]
    if not all((study.folder / stimulus.file).is_file() for stimulus in (shown, reference)):
        return None
    return _cached_file_lpips(
        str(study.folder / shown.file), shown.sha256, str(study.folder / reference.file), reference.sha256
    )


@functools.lru_cache(maxsize=1024)
def _cached_file_lpips(path: str, sha256: str, hr_path: str, hr_sha256: str) -> float | None:
    """LPIPS of two stimulus PNGs; the sha256s key the cache, so the Results tab measures each pair once."""
    distance = lpips_or_none()
    with Image.open(path) as shown, Image.open(hr_path) as reference:
        pixels = [to_float(np.asarray(image.convert("RGB"))) for image in (shown, reference)]
    return None if distance is None else distance(*pixels)


def _as_id(text: str) -> str:
    return _ID_CHARACTERS.sub("_", text).strip("_")[:64]


def _study_id(
    name: str, methods: Sequence[str], weights: dict[str, str], image_sha: dict[str, str], calibration: Sequence[str]
) -> str:
    """``<name>-<digest>``: the digest covers everything that decides what raters see."""
    inputs = {
        "protocol": PROTOCOL,
        "scale": SCALE,
        "methods": list(methods),
        "weights": weights,
        "images": image_sha,
        "calibration": list(calibration),
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"{name}-{digest[:12]}"


def _make_stimuli(
    folder: Path,
    rated: Sequence[tuple[str, Path]],
    calibration: Sequence[tuple[str, Path]],
    methods: Sequence[str],
    own: Mapping[str, LoadedModel],
    progress: ProgressCallback,
) -> dict[tuple[str, str], Stimulus]:
    """Every method on every rated image (``own``: users' models by method name), and nearest / HR / trap of each
    calibration image."""
    jobs = [(image_id, path, tuple(methods)) for image_id, path in rated]
    jobs += [(image_id, path, (NEAREST, HR, TRAP)) for image_id, path in calibration]
    stimuli = {}
    for done, (image_id, path, variants) in enumerate(jobs):
        progress(done / len(jobs), f"Preparing stimuli of {image_id}")
        hr_uint8, lr_uint8 = _hr_and_lr(path)
        perceptual_distance = lpips_against_or_none(to_float(hr_uint8))
        for variant in variants:
            pixels = _render(variant, hr_uint8, lr_uint8, own)
            file = Path(STIMULI_DIR) / image_id / f"{variant}.png"
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            save_image(to_float(pixels), folder / file)
            pair = None if variant == TRAP else score_pair(pixels, hr_uint8, perceptual_distance)
            stimuli[image_id, variant] = Stimulus(
                image_id,
                variant,
                file.as_posix(),
                sha256_file(folder / file),
                pair.psnr if pair and variant != HR else None,
                pair.ssim if pair else None,
                pair.lpips if pair else None,
            )
    progress(1.0, "Stimuli ready")
    return stimuli


def _hr_and_lr(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The protocol's pair: HR cropped to a multiple of 4 and its PIL-bicubic x4 LR (uint8 HxWx3 both)."""
    image = open_image(path, settings.pixel_cap())
    check_hr_size(image.width, image.height, path.name, "remove it from the study's images")
    return hr_and_lr(to_uint8(image.rgb))


def _render(variant: str, hr_uint8: np.ndarray, lr_uint8: np.ndarray, own: Mapping[str, LoadedModel]) -> np.ndarray:
    """The uint8 pixels of one stimulus: the HR, the trap card, or a method's (or a user model's) x4 of the LR
    (in float32)."""
    if variant == HR:
        return hr_uint8
    if variant == TRAP:
        height, width = hr_uint8.shape[:2]
        return to_uint8(placeholder_image(width, height, TRAP_TEXT))
    model = own[variant] if variant in own else load_model(variant, dtype=torch.float32)
    return to_uint8(run_network(model.network, to_float(lr_uint8), tile=tile_for(model, 0)))
