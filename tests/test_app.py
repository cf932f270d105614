"""The Gradio layer: how it is wired, its error handling, and the Upscale endpoint through gradio_client."""

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import app
from studio.services import compare, interpolate, uploads, upscale
from studio.ui import compare_tab, components, upscale_tab


@pytest.fixture(autouse=True)
def no_analytics(monkeypatch):
    """Gradio reports usage online unless told not to; tests stay offline."""
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture
def upload(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray((np.random.default_rng(0).random((16, 20, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _components(demo, kind):
    return [block for block in demo.blocks.values() if type(block) is kind]


def test_every_image_output_is_png_and_every_upload_is_the_original_file(tiny_weights):
    demo = app.build_demo()
    images = _components(demo, gr.Image) + _components(demo, gr.Gallery) + _components(demo, gr.ImageSlider)
    assert images and all(image.format == "png" for image in images)
    uploads = [image for image in _components(demo, gr.Image) if image.interactive is not False]
    assert len(uploads) == 3
    assert all(image.type == "filepath" and image.image_mode is None for image in uploads)


def test_the_app_queues_model_runs_under_one_concurrency_limit(tiny_weights):
    demo = app.build_demo()
    named = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}
    for endpoint in ("upscale", "compare", "interpolate", "curve"):
        assert named[endpoint].concurrency_id == components.MODEL_QUEUE
        assert named[endpoint].concurrency_limit == components.CONCURRENCY


def test_a_tab_is_added_by_one_builder_function(tiny_weights):
    demo = app.build_demo(tabs=(upscale_tab.build_upscale_tab,))
    assert [tab.label for tab in _components(demo, gr.Tab)] == ["Upscale"]


def test_the_bundled_examples_are_small_pngs():
    examples = components.example_images()
    assert len(examples) >= 3
    for path in examples:
        with Image.open(path) as image:
            assert image.format == "PNG" and max(image.size) <= 512


def test_library_errors_become_gradio_error_messages(upload, tiny_weights):
    with pytest.raises(gr.Error, match="no bundled weights"):
        upscale_tab.upscale_upload(str(upload), "esrgan")
    with pytest.raises(gr.Error, match="Upload an image"):
        upscale_tab.upscale_upload(None, "bicubic")


def test_streamed_comparison_errors_become_gradio_error_messages(upload, tiny_weights):
    with pytest.raises(gr.Error, match="at least one model"):
        list(compare_tab.run_comparison(str(upload), uploads.GROUND_TRUTH, []))


def test_upscale_endpoint_returns_the_lossless_png_through_gradio_client(upload, tmp_path, tiny_weights, running_app):
    from gradio_client import Client, handle_file

    url = running_app()
    client = Client(url, download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    image_path, file_path, summary = client.predict(handle_file(str(upload)), "bicubic", False, api_name="/upscale")
    expected = upscale.upscale_file(upload, "bicubic", tmp_path)
    with Image.open(image_path) as served, Image.open(expected.path) as library:
        assert served.format == "PNG" and served.size == (80, 64)
        assert np.array_equal(np.asarray(served), np.asarray(library))
    assert file_path.endswith(".png") and "20x16 -> 80x64" in summary

    sixteen_bit = tmp_path / "grey16.png"
    Image.fromarray(np.linspace(0, 65535, 16 * 20).reshape(16, 20).astype(np.uint16)).save(sixteen_bit)
    _, file_path, _ = client.predict(handle_file(str(sixteen_bit)), "bicubic", False, api_name="/upscale")
    with Image.open(file_path) as served:
        assert served.mode.startswith("I;16") and served.size == (80, 64)


def test_compare_endpoint_gives_lpips_beside_psnr_and_ssim_through_gradio_client(tmp_path, tiny_weights, running_app):
    from gradio_client import Client, handle_file

    upload = tmp_path / "lpips sized.png"
    Image.fromarray((np.random.default_rng(3).random((40, 48, 3)) * 255).astype(np.uint8)).save(upload)
    client = Client(running_app(), download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    gallery, table, chart, _, downloads, *_ = client.predict(
        handle_file(str(upload)), uploads.GROUND_TRUTH, ["bicubic"], api_name="/compare"
    )
    expected = list(compare.compare_stream(upload, uploads.GROUND_TRUTH, ["bicubic"], tmp_path))[-1].outputs[1]
    assert table["headers"] == compare.METRIC_COLUMNS
    row = dict(zip(table["headers"], table["data"][0]))
    assert row["LPIPS"] == pytest.approx(expected.lpips, abs=1e-4)
    assert row["PSNR (dB)"] == pytest.approx(expected.psnr, abs=0.01)
    assert compare.LPIPS_PANEL in chart["plot"] and f"LPIPS {expected.lpips:.3f}" in gallery[1]["caption"]
    assert "LPIPS" in open(downloads[1]).readline()


def test_curve_endpoint_gives_the_perception_distortion_plane_and_lpips_per_alpha_through_gradio_client(
    tmp_path, tiny_weights, running_app
):
    from gradio_client import Client, handle_file

    tiny_weights("swiftsrgan_psnr", "swiftsrgan")
    upload = tmp_path / "lpips sized.png"
    Image.fromarray((np.random.default_rng(3).random((40, 48, 3)) * 255).astype(np.uint8)).save(upload)
    client = Client(running_app(), download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)
    table, plot = client.predict(handle_file(str(upload)), uploads.GROUND_TRUTH, "swiftsrgan", api_name="/curve")
    expected = interpolate.curve_for_upload(upload, uploads.GROUND_TRUTH, "swiftsrgan")
    assert table["headers"] == ["alpha", "interpolation", "psnr", "ssim", "lpips"]
    assert [row[4] for row in table["data"]] == pytest.approx(expected["lpips"].round(4).tolist())
    assert "Perception-distortion plane" in plot["plot"]
    assert '"text":["0.0","0.2","0.4","0.6","0.8","1.0"]' in plot["plot"]
