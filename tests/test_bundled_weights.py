"""The weights the app ships: present, intact, small, and scored as the manifest says."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clear_model_caches

from sr_core.device import cpu_int8_products_saturate
from sr_core.errors import UnsupportedOnThisCPUError
from sr_core.evaluation import evaluate_model
from sr_core.inference import refusal_on_this_cpu
from sr_core.int8 import scores_for_this_cpu
from sr_core.interpolation import interpolation_pairs
from sr_core.models.subpixel import phase_gain_spread
from sr_core.protocol import image_files
from sr_core.registry import build_model, get_spec
from sr_core.weights import load_into, read_manifest, read_state_dict, sha256_file
from studio.services.model_choices import model_choices

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
            assert entry.training["float_sha256"] == MANIFEST[float_model].sha256, (
                f"{name}: calibrated for other weights"
            )
        else:
            assert {"preset", "steps", "data", "features"} <= set(entry.training), name
    assert sum(path.stat().st_size for path in WEIGHTS.iterdir()) < 80 * 2**20


@pytest.mark.skipif(not SET5.is_dir(), reason=f"Set5 not found in {SET5}")
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_manifest_scores_are_what_evaluate_measures_on_set5(name, monkeypatch):
    """Each model scores as the manifest says for this kind of CPU; an int8 model that would lose its quality on
    this CPU's kernels (no VNNI) is refused with a message and left out of the app's lists."""
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(WEIGHTS))
    clear_model_caches()
    entry = MANIFEST[name]
    if refusal_on_this_cpu(name):
        with pytest.raises(UnsupportedOnThisCPUError, match=f"use {get_spec(name).quantized_from}$"):
            evaluate_model(name, image_files(SET5))
        assert name not in [choice for _, choice in model_choices()]
        return
    expected = scores_for_this_cpu(entry.scores) if get_spec(name).quantized_from else entry.scores
    score = evaluate_model(name, image_files(SET5))
    # A compiled int8 graph (Inductor's generated kernels) need not reproduce bit for bit: srresnet-int8's
    # Set5 PSNR moved by 1.3e-3 dB between two runs here. The float networks reproduce to the printed digit.
    psnr_tolerance, ssim_tolerance = (1e-2, 2e-4) if get_spec(name).quantized_from else (1e-3, 1e-4)
    assert score.psnr == pytest.approx(expected["set5_psnr_y"], abs=psnr_tolerance)
    assert score.ssim == pytest.approx(expected["set5_ssim_y"], abs=ssim_tolerance)
    assert score.lpips == pytest.approx(expected["set5_lpips"], abs=10 * ssim_tolerance)
    # The stripe score is a ratio at a spectral peak: a striped model's 40 moves by 0.2 where a clean one's 1.2 holds.
    assert score.stripes == pytest.approx(expected["set5_stripe_score"], rel=0.01, abs=100 * ssim_tolerance)


@pytest.mark.skipif(not SET5.is_dir(), reason=f"Set5 not found in {SET5}")
@pytest.mark.skipif(cpu_int8_products_saturate(), reason="this CPU has no VNNI: the test above runs its int8 kernels")
def test_on_a_cpu_without_vnni_int8_models_score_as_the_manifest_says_or_are_refused(tmp_path):
    """oneDNN capped at AVX2 runs the saturating int8 kernels of a CPU without VNNI, so a VNNI machine checks them too.

    Every bundled int8 model keeps its quality there now (the one that did not, swiftsrgan_psnr-int8, is no longer
    shipped), so the refused one is srgan-int8 in a copy of the weights whose manifest says it would lose 1 dB.
    """
    kept, refused = "srresnet-int8", "srgan-int8"
    refused_float = get_spec(refused).quantized_from
    weights = tmp_path / "weights"
    weights.mkdir()
    for file in WEIGHTS.iterdir():
        if file.name != "manifest.json":
            (weights / file.name).symlink_to(file)
    manifest = json.loads((WEIGHTS / "manifest.json").read_text())
    lossy = manifest["models"][refused]["scores"]
    for data in ("set5", "set14"):
        lossy[f"no_vnni_{data}_psnr_y"] = MANIFEST[refused_float].scores[f"{data}_psnr_y"] - 1.0
    (weights / "manifest.json").write_text(json.dumps(manifest))
    capped = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "SR_STUDIO_WEIGHTS_DIR": str(weights)}
    csv_file = tmp_path / "set5.csv"
    evaluate = subprocess.run(
        [
            sys.executable,
            "-m",
            "sr_core",
            "evaluate",
            "--models",
            f"{kept},{refused}",
            "--data",
            str(SET5),
            "--csv",
            str(csv_file),
        ],
        cwd=REPO,
        env=capped,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    assert f"skipped {refused}: {refused} would lose 1.00 dB" in evaluate.stderr
    assert f"use {refused_float}" in evaluate.stderr
    mean = next(row for row in csv.DictReader(csv_file.open()) if row["model"] == kept and row["image"] == "mean")
    assert float(mean["psnr_y"]) == pytest.approx(MANIFEST[kept].scores["no_vnni_set5_psnr_y"], abs=1e-2)
    assert float(mean["ssim_y"]) == pytest.approx(MANIFEST[kept].scores["no_vnni_set5_ssim_y"], abs=2e-4)
    listing = subprocess.run(
        [sys.executable, "-m", "sr_core", "models"], cwd=REPO, env=capped, capture_output=True, text=True, timeout=300
    )
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert "not on this CPU" in rows[refused] and "not on this CPU" not in rows[kept]


# The weights issue's bound on the median image's stripe score (HR photos score 1.0-1.3).
STRIPE_TARGET = 1.5


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_no_bundled_model_stripes_beyond_the_target(name):
    """The manifest's stripe scores (the test above checks them against ``evaluate`` on Set5)."""
    scores = MANIFEST[name].scores
    assert max(scores["set5_stripe_score"], scores["set14_stripe_score"]) <= STRIPE_TARGET


@pytest.mark.parametrize("name", ["srresnet", "srgan", "swiftsrgan_psnr", "swiftsrgan"])
def test_the_bundled_sub_pixel_upsamplers_are_checkerboard_free(name):
    """Their last stage kept every sub-pixel phase at the same DC gain (``tie_subpixel_phases``); fp16 storage adds
    rounding only. Untied, srgan's phases differed by 0.52 and srresnet's by up to 3.7, and srresnet-int8's
    activation rounding in front of them came out as stripes (scores 2.70 / 4.22 on Set5 / Set14, now 1.17 / 1.26);
    swiftsrgan_psnr scored 1.42 / 1.51 untied and 1.21 / 1.31 tied."""
    entry = MANIFEST[name]
    assert entry.training["stages"][-1]["changed_from_preset"]["tie_subpixel_phases"] is True
    model = build_model(name, **entry.arch_kwargs)
    load_into(model, read_state_dict(WEIGHTS / entry.file))
    assert phase_gain_spread(model) < 2e-3


# The weights issue's LPIPS target: a GAN model at least 0.05 below its PSNR twin.
LPIPS_MARGIN_TARGET = 0.05


@pytest.mark.parametrize(("twin", "gan"), interpolation_pairs())
@pytest.mark.parametrize("data", ["set5", "set14"])
def test_each_bundled_gan_model_meets_the_weights_targets_against_its_psnr_twin(twin, gan, data):
    """The manifest's scores (checked against ``evaluate`` above): LPIPS at least 0.05 below the twin's,
    PSNR at most 3 dB below it, the worst mean-colour shift at most 2 levels."""
    ours, theirs = MANIFEST[gan].scores, MANIFEST[twin].scores
    assert ours[f"{data}_lpips"] <= theirs[f"{data}_lpips"] - LPIPS_MARGIN_TARGET
    assert ours[f"{data}_psnr_y"] >= theirs[f"{data}_psnr_y"] - 3.0
    assert ours[f"{data}_colour_shift_max"] <= 2.0


# The weights issue's PSNR targets on Set5 (x4, Y channel), in dB.
PSNR_TARGETS_SET5 = {"srcnn": 30.07, "srresnet": 31.0, "esrgan_psnr": 31.5, "swiftsrgan_psnr": 30.8}
# Still short after the CPU runs the README's "Bundled weights" section records. Strict: a model that
# reaches its target fails here until it leaves this set.
PSNR_NOT_YET_AT_TARGET = {"esrgan_psnr"}


@pytest.mark.parametrize("name", sorted(PSNR_TARGETS_SET5))
def test_each_bundled_psnr_model_reaches_its_target_on_set5(name, request):
    """The manifest's Set5 PSNR (checked against ``evaluate`` above) against the issue's target."""
    if name in PSNR_NOT_YET_AT_TARGET:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{name} is still short of its Set5 target"))
    assert MANIFEST[name].scores["set5_psnr_y"] >= PSNR_TARGETS_SET5[name]
