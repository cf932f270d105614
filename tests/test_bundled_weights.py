"""The weights the app ships: present, intact, small, and scored as the manifest says."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import clear_model_caches

from sr_core.evaluation import evaluate_model, image_files
from sr_core.registry import get_spec
from sr_core.weights import read_manifest, sha256_file

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "weights"
SET5 = REPO.parent / "shared" / "data" / "set5"
MANIFEST = read_manifest(WEIGHTS)


def test_every_bundled_file_matches_its_manifest_entry_and_the_folder_stays_under_80_mb():
    assert MANIFEST, "weights/manifest.json lists no model"
    for name, entry in MANIFEST.items():
        assert get_spec(name).learned
        assert sha256_file(WEIGHTS / entry.file) == entry.sha256, name
        float_model = get_spec(name).quantized_from
        if float_model:
            assert entry.training["float_sha256"] == MANIFEST[float_model].sha256, f"{name}: calibrated for other weights"
        else:
            assert {"preset", "steps", "data", "features"} <= set(entry.training), name
    assert sum(path.stat().st_size for path in WEIGHTS.iterdir()) < 80 * 2**20


@pytest.mark.skipif(not SET5.is_dir(), reason=f"Set5 not found in {SET5}")
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_manifest_scores_are_what_evaluate_measures_on_set5(name, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(WEIGHTS))
    clear_model_caches()
    entry = MANIFEST[name]
    score = evaluate_model(name, image_files(SET5))
    # A compiled int8 graph (Inductor's generated kernels) need not reproduce bit for bit: srresnet-int8's
    # Set5 PSNR moved by 1.3e-3 dB between two runs here. The float networks reproduce to the printed digit.
    psnr_tolerance, ssim_tolerance = (1e-2, 2e-4) if get_spec(name).quantized_from else (1e-3, 1e-4)
    assert score.psnr == pytest.approx(entry.scores["set5_psnr_y"], abs=psnr_tolerance)
    assert score.ssim == pytest.approx(entry.scores["set5_ssim_y"], abs=ssim_tolerance)
