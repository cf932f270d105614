"""Preparing a MOS study: stimuli made once and cached, traced by the manifest, methods without weights handled."""

import struct
from pathlib import Path

import numpy as np
import pytest
from mos_helpers import write_study_images
from PIL import Image

from sr_core.errors import UnknownModelError
from sr_core.imaging import make_lr
from sr_core.metrics import psnr_y
from sr_core.weights import read_manifest
from studio.mos.errors import StudyError
from studio.mos.study import StudyDefinition, default_definition, load_study, prepare_study

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("nearest", "bicubic", "srcnn", "hr")


def png_chunk_types(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    types, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        types.append(kind)
        offset += 12 + length
    return types


@pytest.fixture
def images(tmp_path):
    return write_study_images(tmp_path / "hr")


def test_a_study_runs_every_method_on_every_image_once_and_then_reuses_its_cache(tmp_path, images, tiny_weights):
    tiny_weights("srcnn")
    study = prepare_study(StudyDefinition(images, METHODS), tmp_path / "mos")
    manifest = study.manifest
    assert manifest.methods == METHODS and manifest.skipped == {}
    assert list(manifest.images) == ["b", "c"] and list(manifest.calibration_images) == ["a"]
    assert manifest.weights == {"srcnn": read_manifest()["srcnn"].sha256}
    assert set(manifest.stimuli) == {(image, method) for image in ("b", "c") for method in METHODS} | {
        ("a", "nearest"),
        ("a", "hr"),
        ("a", "trap"),
    }
    assert study.pixels("b", "srcnn").shape == (40, 48, 3)
    written = {path: path.stat().st_mtime_ns for path in study.folder.rglob("*.png")}

    again = prepare_study(StudyDefinition(images, METHODS), tmp_path / "mos")
    assert again.manifest == manifest
    assert {path: path.stat().st_mtime_ns for path in again.folder.rglob("*.png")} == written


def test_stimuli_are_pixels_only_pngs_and_the_manifest_records_their_psnr(tmp_path, images, tiny_weights):
    tiny_weights()
    study = prepare_study(StudyDefinition(images, ("nearest", "bicubic", "hr")), tmp_path / "mos")
    for stimulus in study.manifest.stimuli.values():
        assert png_chunk_types(study.folder / stimulus.file) == [b"IHDR", b"IDAT", b"IEND"]
    hr, _ = make_lr(np.asarray(Image.open(images / "c.png").convert("RGB")))
    bicubic = study.manifest.stimuli["c", "bicubic"]
    assert bicubic.psnr_y == pytest.approx(psnr_y(study.pixels("c", "bicubic"), hr))
    assert study.manifest.stimuli["c", "hr"].psnr_y is None
    assert np.array_equal(study.pixels("c", "hr"), hr)


def test_a_method_without_weights_is_left_out_of_the_study_with_the_reason_recorded(tmp_path, images, tiny_weights):
    tiny_weights()
    study = prepare_study(StudyDefinition(images, METHODS), tmp_path / "mos")
    assert study.manifest.methods == ("nearest", "bicubic", "hr")
    assert "no weights" in study.manifest.skipped["srcnn"]
    assert not any(variant == "srcnn" for _, variant in study.manifest.stimuli)


def test_a_strict_study_fails_naming_the_missing_weights(tmp_path, images, tiny_weights):
    tiny_weights("srcnn")
    with pytest.raises(StudyError, match="no weights for esrgan, swiftsrgan"):
        prepare_study(
            StudyDefinition(images, ("bicubic", "esrgan", "swiftsrgan", "srcnn", "hr")),
            tmp_path / "mos",
            require_weights=True,
        )
    assert not (tmp_path / "mos").exists()


def test_new_weights_make_a_new_study_so_ratings_of_other_stimuli_never_mix(tmp_path, images, tiny_weights):
    tiny_weights("srcnn")
    first = prepare_study(StudyDefinition(images, METHODS), tmp_path / "mos")
    tiny_weights("esrgan", "srcnn")  # srcnn gets other random weights
    second = prepare_study(StudyDefinition(images, METHODS), tmp_path / "mos")
    assert first.manifest.study_id != second.manifest.study_id
    assert first.manifest.weights["srcnn"] != second.manifest.weights["srcnn"]


def test_a_changed_stimulus_is_refused_because_its_ratings_could_not_be_traced(tmp_path, images, tiny_weights):
    tiny_weights()
    study = prepare_study(StudyDefinition(images, ("nearest", "hr")), tmp_path / "mos")
    Image.new("RGB", (48, 40)).save(study.folder / study.manifest.stimuli["b", "hr"].file)
    with pytest.raises(StudyError, match="missing or changed"):
        load_study(study.folder)


@pytest.mark.parametrize(
    ("methods", "error", "message"),
    [
        (("bicubic", "bicubc", "hr"), UnknownModelError, "unknown model 'bicubc'"),
        (("bicubic", "bicubic", "hr"), StudyError, "name one method twice"),
        (("srcnn", "hr"), StudyError, "at least two methods"),
    ],
)
def test_a_study_of_unusable_methods_fails_with_a_message(tmp_path, images, tiny_weights, methods, error, message):
    tiny_weights()
    with pytest.raises(error, match=message):
        prepare_study(StudyDefinition(images, methods), tmp_path / "mos")


def test_a_folder_with_too_few_images_or_no_calibration_image_fails_with_a_message(tmp_path, tiny_weights):
    with pytest.raises(StudyError, match="more than the 1 used for calibration"):
        prepare_study(StudyDefinition(write_study_images(tmp_path / "one", count=1)), tmp_path / "mos")
    with pytest.raises(StudyError, match="does not exist"):
        prepare_study(StudyDefinition(tmp_path / "missing"), tmp_path / "mos")
    with pytest.raises(StudyError, match="at least one calibration image"):
        prepare_study(StudyDefinition(write_study_images(tmp_path / "three"), calibration_count=0), tmp_path / "mos")


def test_the_default_study_is_the_bundled_assets_and_works_before_any_weights_exist(
    tmp_path, monkeypatch, tiny_weights
):
    tiny_weights()
    monkeypatch.delenv("SR_STUDIO_MOS_STUDY", raising=False)
    definition = default_definition()
    assert definition.hr_dir == ROOT / "assets"
    study = prepare_study(definition, tmp_path / "mos")
    assert study.manifest.methods == ("nearest", "bicubic", "hr")
    assert set(study.manifest.skipped) == {"srcnn", "srgan", "esrgan", "swiftsrgan"}
    assert len(study.manifest.images) == 3


def test_the_manifest_records_each_stimulus_lpips_against_its_hr_and_old_studies_get_it_from_their_files(
    tmp_path, images, tiny_weights
):
    from dataclasses import replace

    from sr_core.imaging import to_float
    from sr_core.lpips import lpips_distance
    from studio.mos.study import PreparedStudy, stimulus_metrics

    tiny_weights()
    study = prepare_study(StudyDefinition(images, ("nearest", "bicubic", "hr")), tmp_path / "mos")
    hr, _ = make_lr(np.asarray(Image.open(images / "c.png").convert("RGB")))
    stimuli = study.manifest.stimuli
    assert stimuli["c", "bicubic"].lpips == pytest.approx(
        lpips_distance(to_float(study.pixels("c", "bicubic")), to_float(hr)), abs=1e-6
    )
    assert stimuli["c", "nearest"].lpips > 0 and stimuli["c", "nearest"].lpips != stimuli["c", "bicubic"].lpips
    assert stimuli["c", "hr"].lpips == 0.0 and stimuli["a", "trap"].lpips is None
    assert load_study(study.folder).manifest == study.manifest

    metrics = stimulus_metrics(study)
    assert list(metrics.columns) == ["image_id", "method", "PSNR", "SSIM", "LPIPS"] and len(metrics) == 2 * 3
    unrecorded = replace(
        study.manifest, stimuli={key: replace(stimulus, lpips=None) for key, stimulus in stimuli.items()}
    )
    measured_now = stimulus_metrics(PreparedStudy(study.folder, unrecorded))
    assert measured_now["LPIPS"].tolist() == pytest.approx(metrics["LPIPS"].tolist(), abs=1e-6)
    without_files = stimulus_metrics(PreparedStudy(tmp_path / "elsewhere", unrecorded))
    assert without_files["LPIPS"].isna().all() and without_files["PSNR"].equals(metrics["PSNR"])


# --- users' own model files as methods ---------------------------------------------------------------------


def test_a_users_model_file_is_rated_before_the_hr_and_the_manifest_records_its_file_and_sha256(
    tmp_path, images, tiny_weights
):
    from spandrel_models import save_tiny_model

    from sr_core.weights import sha256_file

    tiny_weights()
    mine = save_tiny_model("compact", tmp_path / "models")
    study = prepare_study(
        StudyDefinition(images, ("nearest", "bicubic", "hr"), model_files={"mine": mine}), tmp_path / "mos"
    )
    manifest = study.manifest
    assert manifest.methods == ("nearest", "bicubic", "mine", "hr")
    assert manifest.weights == {"mine": sha256_file(mine)}
    assert manifest.model_files == {"mine": "compact_x4.safetensors (RealESRGAN Compact)"}
    assert study.pixels("b", "mine").shape == (40, 48, 3) and manifest.stimuli["b", "mine"].psnr_y > 0
    assert load_study(study.folder).manifest == manifest
    placed = StudyDefinition(images, ("nearest", "mine", "bicubic", "hr"), model_files={"mine": mine})
    assert placed.all_methods == ("nearest", "mine", "bicubic", "hr")
    other = save_tiny_model("compact", tmp_path / "other", seed=1)
    again = prepare_study(StudyDefinition(images, ("nearest", "hr"), model_files={"mine": other}), tmp_path / "mos")
    assert (
        again.manifest.study_id
        != prepare_study(
            StudyDefinition(images, ("nearest", "hr"), model_files={"mine": mine}), tmp_path / "mos"
        ).manifest.study_id
    ), "another file is another study"


def test_a_users_model_of_another_scale_or_with_a_taken_name_is_refused_before_any_stimulus(
    tmp_path, images, tiny_weights
):
    from spandrel_models import save_tiny_model

    from sr_core.errors import UnsupportedScaleError

    tiny_weights()
    x2 = save_tiny_model("compact", tmp_path / "models", scale=2)
    with pytest.raises(UnsupportedScaleError, match=r"upscales x2; a MOS study scores x4 models only"):
        prepare_study(StudyDefinition(images, ("nearest", "hr"), model_files={"mine": x2}), tmp_path / "mos")
    x4 = save_tiny_model("compact", tmp_path / "models")
    for name in ("esrgan", "hr", "my model"):
        with pytest.raises(StudyError, match=f"'{name}' cannot name a model file"):
            prepare_study(StudyDefinition(images, ("nearest", "hr"), model_files={name: x4}), tmp_path / "mos")
    assert not (tmp_path / "mos").exists()


def test_a_study_with_own_model_files_can_key_the_apps_rating_desks(tmp_path):
    with_files = StudyDefinition(tmp_path, model_files={"mine": tmp_path / "mine.pth"})
    desks = {with_files: "desk"}
    assert desks[StudyDefinition(tmp_path, model_files={"mine": tmp_path / "mine.pth"})] == "desk"
    assert StudyDefinition(tmp_path) not in desks
