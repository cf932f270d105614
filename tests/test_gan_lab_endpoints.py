"""The GAN Lab's endpoints through gradio_client, on a fresh clone: the bundled runs and no runs of the user's own."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from served_app import served_in_this_process

from labs.gan.classifier import CLASSIFIER_FILE, MnistClassifier, predict
from sr_core.weights import read_state_dict

BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "gan_runs"
GRID_CELL = 30  # a 28x28 digit and the grid's 2-pixel gap


@pytest.fixture
def gan_lab(tmp_path, monkeypatch):
    """A gradio_client Client of the app with only the GAN Lab tab, the bundled runs and an empty runs folder."""
    from gradio_client import Client

    import app
    from studio.ui.gan_lab_tab import build_gan_lab_tab

    monkeypatch.setenv("SR_STUDIO_GAN_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    with served_in_this_process(app.build_demo((build_gan_lab_tab,))) as url:
        yield Client(url, download_files=str(tmp_path / "downloads"), verbose=False, analytics_enabled=False)


def digits_of(grid_path: str) -> np.ndarray:
    """The 100 digits of a 10x10 sample grid PNG as float NCHW in [-1, 1]."""
    pixels = np.asarray(Image.open(grid_path).convert("L"), dtype=np.float32) / 127.5 - 1
    cells = [
        pixels[2 + row * GRID_CELL : GRID_CELL * (row + 1), 2 + col * GRID_CELL : GRID_CELL * (col + 1)]
        for row in range(10)
        for col in range(10)
    ]
    return np.stack(cells)[:, None]


def test_the_runs_endpoint_shows_the_ten_bundled_runs_table_grids_and_curves(gan_lab):
    table, gallery, curves, model, sampled = gan_lab.predict("wgan", None, api_name="/gan_runs")
    assert table.count("| bundled |") == 10 and "| wgan | capsule |" in table
    assert len(gallery) == 10 and all(Path(item["image"]).stat().st_size for item in gallery)
    assert gallery[0]["caption"].startswith("acgan / cnn (bundled)")
    assert '"name":"wgan \\u002f capsule (bundled)"' in curves["plot"] and model["value"] == "wgan"
    assert sampled["value"].endswith("acgan_cnn") and len(sampled["choices"]) == 10


def test_sample_now_draws_the_requested_digit_from_the_bundled_acgan(gan_lab):
    import torch

    grid = gan_lab.predict(str(BUNDLE / "acgan_cnn"), "7", "no sweep", 5, api_name="/gan_sample")
    classifier = MnistClassifier()
    classifier.load_state_dict(read_state_dict(BUNDLE / CLASSIFIER_FILE))
    _, predicted = predict(classifier.eval(), torch.from_numpy(digits_of(grid)))
    print(f"sample now, acgan/cnn asked for 7: the classifier reads 7 in {(predicted == 7).mean():.2f} of 100")
    assert (predicted == 7).mean() > 0.5


def test_sample_now_sweeps_an_infogan_code_and_refuses_a_digit_from_dcgan(gan_lab):
    from gradio_client.exceptions import AppError

    sweep = gan_lab.predict(str(BUNDLE / "infogan_capsule"), "one per row", "sweep c1", 0, api_name="/gan_sample")
    assert Image.open(sweep).size == (302, 302)
    with pytest.raises(AppError, match="ACGAN or InfoGAN"):
        gan_lab.predict(str(BUNDLE / "dcgan_cnn"), "3", "no sweep", 0, api_name="/gan_sample")
