"""The library behind the app's Upscale, Compare and Interpolate tabs, tested without the UI."""

import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sr_core.errors import ImageTooLargeError, InvalidImageError, WeightsNotFoundError
from sr_core.imaging import make_lr
from sr_core.protocol import MIN_HR_SIDE
from studio.services import compare, interpolate, model_choices, outputs, uploads, upscale
from studio.services.compare import DONE, REFERENCE, WAITING, CompareOutput, crop_box, zoom_crop
from studio.services.model_choices import NO_WEIGHTS
from studio.services.uploads import GROUND_TRUTH, LOW_RESOLUTION, ServiceSettingsError


@pytest.fixture
def upload(tmp_path):
    """A 32x24 RGB PNG upload with some texture."""
    rng = np.random.default_rng(0)
    pixels = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    path = tmp_path / "upload photo.png"
    Image.fromarray(pixels).save(path)
    return path


def _pixels(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


# --- Upscale ------------------------------------------------------------------------------


def test_upscale_file_writes_a_lossless_x4_png_and_says_what_it_did(upload, tmp_path):
    outcome = upscale.upscale_file(upload, "bicubic", tmp_path)
    assert outcome.path.suffix == ".png" and outcome.path.parent == tmp_path
    assert _pixels(outcome.path).shape == (96, 128, 3)
    assert "32x24 -> 128x96" in outcome.summary and "bicubic" in outcome.summary


def test_upscale_file_refuses_an_image_over_the_pixel_cap_and_offers_to_shrink_it(upload, tmp_path):
    with pytest.raises(ImageTooLargeError, match="Shrink"):
        upscale.upscale_file(upload, "bicubic", tmp_path, pixel_cap=100)


def test_the_pixel_cap_comes_from_the_environment(upload, tmp_path, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_PIXEL_CAP", "100")
    with pytest.raises(ImageTooLargeError):
        upscale.upscale_file(upload, "bicubic", tmp_path)


def test_shrinking_fits_an_image_over_the_cap_and_says_so(upload, tmp_path):
    outcome = upscale.upscale_file(upload, "bicubic", tmp_path, pixel_cap=32 * 24 // 4, shrink=True)
    assert _pixels(outcome.path).shape == (48, 64, 3)
    assert any("shrunk from 32x24 to 16x12" in notice for notice in outcome.notices)


def test_shrinking_still_refuses_images_far_over_the_cap(upload):
    with pytest.raises(ImageTooLargeError):
        uploads.open_upload(upload, pixel_cap=32 * 24 // (uploads.SHRINK_HEADROOM + 1), shrink=True)


def test_shrinking_keeps_alpha_and_leaves_small_images_alone(tmp_path):
    path = tmp_path / "rgba.png"
    Image.new("RGBA", (40, 20), (10, 200, 30, 128)).save(path)
    image = uploads.open_upload(path)
    assert uploads.shrink_to_pixel_cap(image, 10_000) is image
    shrunk = uploads.shrink_to_pixel_cap(image, 200)
    assert shrunk.rgb.shape == (10, 20, 3) and shrunk.alpha.shape == (10, 20)
    assert np.allclose(shrunk.alpha, 128 / 255, atol=1e-3)


def test_upscale_file_of_a_model_without_weights_says_it_has_none(upload, tmp_path, tiny_weights):
    with pytest.raises(WeightsNotFoundError, match="esrgan"):
        upscale.upscale_file(upload, "esrgan", tmp_path)


def test_models_without_weights_are_listed_as_unavailable(tiny_weights):
    tiny_weights("srcnn")
    choices = dict((name, label) for label, name in model_choices.model_choices())
    assert choices["bicubic"] == "bicubic" and choices["srcnn"] == "srcnn"
    assert choices["esrgan"] == f"esrgan ({NO_WEIGHTS})"
    assert model_choices.default_upscale_model() == "srcnn"


def test_the_default_upscale_model_is_bicubic_without_any_weights(tiny_weights):
    assert model_choices.default_upscale_model() == "bicubic"


def test_output_folders_are_fresh_and_old_ones_are_pruned(tmp_path):
    first = outputs.new_output_dir(tmp_path)
    second = outputs.new_output_dir(tmp_path, max_age_s=-1)
    assert second.exists() and not first.exists()


# --- Compare: input -------------------------------------------------------------------------


def test_ground_truth_mode_makes_the_protocols_lr_from_the_upload(upload):
    source = uploads.prepare_input(upload, GROUND_TRUTH)
    hr, lr = make_lr(_pixels(upload), 4)
    assert np.array_equal(source.hr_uint8, hr)
    assert np.allclose(source.lr_rgb * 255, lr, atol=1e-3)


def test_low_resolution_mode_keeps_the_upload_and_says_there_is_no_reference(upload):
    source = uploads.prepare_input(upload, LOW_RESOLUTION)
    assert source.hr_uint8 is None and source.lr_rgb.shape == (24, 32, 3)
    assert any("no reference" in notice for notice in source.notices)


def test_an_image_under_the_protocols_minimum_cannot_be_ground_truth(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("RGB", (MIN_HR_SIDE - 1, MIN_HR_SIDE - 1)).save(path)
    with pytest.raises(InvalidImageError, match="low resolution"):
        uploads.prepare_input(path, GROUND_TRUTH)


# --- Compare: running and reporting ---------------------------------------------------------


def test_comparison_streams_a_view_per_model_and_ends_with_downloads(upload, tmp_path, tiny_weights):
    tiny_weights("srcnn")
    fractions = []
    views = list(
        compare.compare_stream(
            upload,
            GROUND_TRUTH,
            ["bicubic", "srcnn", "esrgan"],
            tmp_path,
            progress=lambda fraction, text: fractions.append(fraction),
        )
    )
    assert len(views) == 4 and fractions == [0, 1 / 3, 2 / 3]
    assert [output.status for output in views[0].outputs] == [REFERENCE, WAITING, WAITING, WAITING]
    assert [output.status for output in views[1].outputs] == [REFERENCE, DONE, WAITING, WAITING]
    final = views[-1]
    assert final.finished and [o.status for o in final.outputs] == [REFERENCE, DONE, DONE, NO_WEIGHTS]
    assert [output.name for output in final.outputs] == [REFERENCE, "bicubic", "srcnn", "esrgan"]
    assert len(final.gallery) == 4 and "esrgan" in final.gallery[-1][1] and NO_WEIGHTS in final.gallery[-1][1]
    assert final.viewable == [REFERENCE, "bicubic", "srcnn"]
    assert [path.name for path in final.downloads] == ["sr_studio_comparison.zip", "metrics.csv"]


def test_every_output_has_the_size_of_the_reference(upload, tmp_path, tiny_weights):
    final = list(compare.compare_stream(upload, GROUND_TRUTH, ["bicubic", "esrgan"], tmp_path))[-1]
    shapes = {_pixels(output.path).shape for output in final.outputs}
    assert shapes == {(24, 32, 3)}


def test_bicubic_scores_match_the_protocol(upload, tmp_path):
    from sr_core.metrics import psnr_y

    source = uploads.prepare_input(upload, GROUND_TRUTH)
    output = compare.run_compare_model("bicubic", source, tmp_path)
    assert output.status == DONE and output.parameters == 0 and output.seconds >= 0
    assert output.psnr == pytest.approx(psnr_y(_pixels(output.path), source.hr_uint8))


def test_low_resolution_comparison_has_no_metrics_but_times(upload, tmp_path):
    final = list(compare.compare_stream(upload, LOW_RESOLUTION, ["bicubic", "nearest"], tmp_path))[-1]
    table = final.table
    assert table["PSNR (dB)"].isna().all() and table["SSIM"].isna().all()
    assert table["seconds"].notna().all() and REFERENCE not in final.viewable


def test_choosing_no_model_is_refused(upload, tmp_path):
    with pytest.raises(ServiceSettingsError, match="at least one model"):
        list(compare.compare_stream(upload, GROUND_TRUTH, [], tmp_path))


def test_metrics_table_lists_every_model_with_its_status():
    outputs = [
        CompareOutput(REFERENCE, None, REFERENCE),
        CompareOutput("bicubic", None, DONE, 0.0123, 0, 28.123456, 0.812345, 0.3412345),
        CompareOutput("esrgan", None, NO_WEIGHTS),
    ]
    table = compare.metrics_table(outputs)
    assert list(table.columns) == compare.METRIC_COLUMNS
    assert table["model"].tolist() == ["bicubic", "esrgan"]
    assert table.loc[0, "PSNR (dB)"] == 28.12 and table.loc[0, "SSIM"] == 0.8123
    assert table.loc[0, "LPIPS"] == 0.3412 and pd.isna(table.loc[1, "LPIPS"])
    assert pd.isna(table.loc[1, "PSNR (dB)"]) and table.loc[1, "status"] == NO_WEIGHTS
    assert compare.metrics_table(outputs, digits=False).loc[0, "LPIPS"] == 0.3412345


def test_metrics_chart_has_psnr_ssim_and_seconds_panels_with_a_reference():
    outputs = [
        CompareOutput("bicubic", None, DONE, 0.01, 0, 28.1, 0.81, 0.34),
        CompareOutput("esrgan", None, NO_WEIGHTS),
    ]
    figure = compare.metrics_chart(outputs)
    assert [trace.name for trace in figure.data] == ["PSNR (dB)", "SSIM", compare.LPIPS_PANEL, "seconds"]
    assert list(figure.data[0].x) == ["bicubic", "esrgan"] and figure.data[0].text[1] == "n/a"
    assert list(figure.data[2].y) == [0.34, None] and figure.data[2].text[1] == "n/a"
    no_reference = compare.metrics_chart([CompareOutput("bicubic", None, DONE, 0.01, 0)])
    assert [trace.name for trace in no_reference.data] == ["seconds"]


def test_downloads_hold_every_real_output_and_the_full_precision_csv(upload, tmp_path, tiny_weights):
    final = list(compare.compare_stream(upload, GROUND_TRUTH, ["bicubic", "esrgan"], tmp_path))[-1]
    zip_path, csv_path = final.downloads
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == ["HR_ground_truth.png", "bicubic.png", "metrics.csv"]
    csv = pd.read_csv(csv_path)
    assert csv["model"].tolist() == ["bicubic", "esrgan"]
    assert csv.loc[0, "PSNR (dB)"] == pytest.approx(final.outputs[1].psnr)


@pytest.fixture
def lpips_sized_upload(tmp_path):
    """A 48x40 RGB PNG: large enough for AlexNet LPIPS (31 px a side), with texture."""
    path = tmp_path / "lpips sized.png"
    Image.fromarray((np.random.default_rng(3).random((40, 48, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_a_comparison_scores_lpips_of_every_model_on_the_whole_image_as_evaluate_does(lpips_sized_upload, tmp_path):
    from sr_core.lpips import lpips_distance

    final = list(compare.compare_stream(lpips_sized_upload, GROUND_TRUTH, ["bicubic", "nearest"], tmp_path))[-1]
    hr = uploads.prepare_input(lpips_sized_upload, GROUND_TRUTH).hr_uint8
    for output in final.outputs[1:]:
        expected = lpips_distance(_pixels(output.path) / 255.0, hr / 255.0)
        assert output.lpips == pytest.approx(expected, abs=1e-6) and output.lpips > 0
        assert f"LPIPS {output.lpips:.3f}" in output.caption
    assert final.table["LPIPS"].notna().all() and not any("LPIPS" in notice for notice in final.notices)
    csv = pd.read_csv(final.downloads[1])
    assert list(csv.columns) == compare.METRIC_COLUMNS
    assert csv["LPIPS"].tolist() == pytest.approx([output.lpips for output in final.outputs[1:]])
    assert list(final.chart.data[2].y) == pytest.approx([output.lpips for output in final.outputs[1:]])


def test_an_image_under_alexnets_smallest_side_has_empty_lpips_and_the_notes_say_why(upload, tmp_path):
    final = list(compare.compare_stream(upload, GROUND_TRUTH, ["bicubic"], tmp_path))[-1]
    assert final.outputs[1].psnr is not None and final.outputs[1].lpips is None
    assert final.table["LPIPS"].isna().all()
    assert any("at least 31x31 px (this one is 32x24)" in notice for notice in final.notices)


def test_without_the_lpips_package_the_comparison_shows_lpips_as_unavailable_and_logs_it_once(
    lpips_missing, lpips_sized_upload, tmp_path, caplog
):
    for _ in range(2):
        final = list(compare.compare_stream(lpips_sized_upload, GROUND_TRUTH, ["bicubic"], tmp_path))[-1]
        assert final.outputs[1].psnr is not None and final.outputs[1].lpips is None
        assert final.table["LPIPS"].isna().all() and pd.read_csv(final.downloads[1])["LPIPS"].isna().all()
        assert any(lpips_missing in notice for notice in final.notices)
    logged = [record for record in caplog.records if "LPIPS unavailable" in record.getMessage()]
    assert len(logged) == 1 and lpips_missing in logged[0].getMessage()


def test_low_resolution_mode_says_nothing_about_lpips(upload, tmp_path):
    final = list(compare.compare_stream(upload, LOW_RESOLUTION, ["bicubic"], tmp_path))[-1]
    assert final.table["LPIPS"].isna().all() and not any("LPIPS" in notice for notice in final.notices)


# --- Compare: zoom and slider ---------------------------------------------------------------


def test_crop_box_is_centred_and_kept_inside_the_image():
    assert crop_box(100, 80, 0.5, 0.5, 20) == (40, 30, 60, 50)
    assert crop_box(100, 80, 0.0, 1.0, 20) == (0, 60, 20, 80)
    assert crop_box(10, 8, 0.5, 0.5, 64) == (0, 0, 10, 8)


def test_zoom_crop_enlarges_with_nearest_neighbour():
    image = np.arange(16 * 3, dtype=np.uint8).reshape(4, 4, 3)
    zoomed = zoom_crop(image, (1, 1, 3, 3), 3)
    assert zoomed.shape == (6, 6, 3)
    assert np.array_equal(zoomed[:3, :3], np.broadcast_to(image[1, 1], (3, 3, 3)))
    assert np.array_equal(zoomed[::3, ::3], image[1:3, 1:3])


def test_zoom_takes_the_same_crop_of_every_real_output(upload, tmp_path, tiny_weights):
    final = list(compare.compare_stream(upload, GROUND_TRUTH, ["bicubic", "nearest", "esrgan"], tmp_path))[-1]
    zoomed = compare.zoom_outputs(final.outputs, 0.5, 0.5, 8, 4, tmp_path)
    assert [caption.split(" ")[0] for _, caption in zoomed] == ["HR", "bicubic", "nearest"]
    assert {_pixels(path).shape for path, _ in zoomed} == {(32, 32, 3)}
    hr_crop = _pixels(final.outputs[0].path)[8:16, 12:20]
    assert np.array_equal(_pixels(zoomed[0][0])[::4, ::4], hr_crop)


def test_slider_pair_gives_two_outputs_by_name_and_refuses_others(upload, tmp_path, tiny_weights):
    final = list(compare.compare_stream(upload, GROUND_TRUTH, ["bicubic", "esrgan"], tmp_path))[-1]
    before, after = compare.slider_pair(final.outputs, REFERENCE, "bicubic")
    assert before.endswith("hr.png") and after.endswith("bicubic.png")
    assert final.slider_defaults == (REFERENCE, "bicubic")
    with pytest.raises(ServiceSettingsError, match="esrgan"):
        compare.slider_pair(final.outputs, REFERENCE, "esrgan")


def test_zoom_and_slider_on_cleaned_up_results_ask_to_run_again(upload, tmp_path):
    final = list(compare.compare_stream(upload, GROUND_TRUTH, ["bicubic"], tmp_path))[-1]
    final.outputs[1].path.unlink()
    with pytest.raises(ServiceSettingsError, match="run the comparison again"):
        compare.zoom_outputs(final.outputs, 0.5, 0.5, 8, 2, tmp_path)
    with pytest.raises(ServiceSettingsError, match="run the comparison again"):
        compare.slider_pair(final.outputs, REFERENCE, "bicubic")


# --- Interpolate ----------------------------------------------------------------------------


def test_pair_choices_name_the_models_without_weights(tiny_weights):
    tiny_weights("esrgan_psnr", "esrgan")
    labels = dict((gan, label) for label, gan in interpolate.pair_choices())
    assert labels["esrgan"] == "esrgan_psnr -> esrgan"
    assert NO_WEIGHTS in labels["srgan"] and "srresnet" in labels["srgan"]
    assert interpolate.pair_of("esrgan") == ("esrgan_psnr", "esrgan")
    with pytest.raises(ServiceSettingsError):
        interpolate.pair_of("bicubic")


def test_interpolation_view_saves_both_blends_and_reports_their_psnr(upload, tmp_path, tiny_weights):
    tiny_weights("esrgan_psnr", "esrgan")
    shown = interpolate.interpolation_view(upload, GROUND_TRUTH, "esrgan", 0.42, tmp_path)
    assert _pixels(shown.network_path).shape == _pixels(shown.image_path).shape == (24, 32, 3)
    assert "alpha = 0.40" in shown.caption and "PSNR network" in shown.caption


def test_curve_for_upload_needs_a_reference_and_plots_both_methods(upload, tiny_weights):
    tiny_weights("swiftsrgan_psnr", "swiftsrgan")
    with pytest.raises(ServiceSettingsError, match="ground truth"):
        interpolate.curve_for_upload(upload, LOW_RESOLUTION, "swiftsrgan")
    told = []
    curve = interpolate.curve_for_upload(upload, GROUND_TRUTH, "swiftsrgan", progress=lambda f, text: told.append(text))
    assert len(curve) == 12 and told[0] == "alpha = 0.00 (1/6)" and len(told) == 6
    assert curve["lpips"].isna().all()  # 32x24 is under AlexNet's 31 px: distortion against alpha instead
    figure = interpolate.curve_chart(curve)
    assert {trace.name for trace in figure.data} == {"network interpolation", "image interpolation"}
    assert len(figure.data) == 4 and "No LPIPS" in figure.layout.title.text


def test_the_curve_is_the_perception_distortion_plane_one_point_per_alpha_labelled(lpips_sized_upload, tiny_weights):
    from sr_core.metrics import rmse_from_psnr

    tiny_weights("swiftsrgan_psnr", "swiftsrgan")
    curve = interpolate.curve_for_upload(lpips_sized_upload, GROUND_TRUTH, "swiftsrgan")
    assert curve["lpips"].notna().all() and len(curve) == 12
    figure = interpolate.curve_chart(curve)
    assert [trace.name for trace in figure.data] == ["network interpolation", "image interpolation"]
    for trace, (method, points) in zip(figure.data, curve.groupby("interpolation", sort=False)):
        assert f"{method} interpolation" == trace.name
        assert list(trace.x) == pytest.approx([rmse_from_psnr(psnr) for psnr in points["psnr"]])
        assert list(trace.y) == pytest.approx(points["lpips"].tolist())
        assert list(trace.text) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert "LPIPS" in figure.layout.yaxis.title.text and "RMSE" in figure.layout.xaxis.title.text
