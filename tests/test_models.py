"""The zoo's architectures match the papers and the released code."""

import pytest
import torch

from sr_core.models.baselines import Interpolation
from sr_core.models.blocks import count_parameters, pil_bicubic_resize, rgb_to_ycbcr, ycbcr_to_rgb
from sr_core.registry import build_model, sr_model_names

PAPER_PARAMETER_COUNTS = {
    "srcnn": 57_281,  # 9-5-5, n1=64, n2=32, Y channel (Dong et al.)
    "srcnn_935": 24_513,
    "srresnet": 1_549_462,  # 16 blocks with BN, PReLU, two sub-pixel x2
    "esrgan": 16_697_987,  # RRDBNet 23 blocks, nf=64, gc=32 (xinntao's RRDB_ESRGAN_x4.pth)
    "swiftsrgan": 201_209,  # the authors' released x4 generator
}


@pytest.mark.parametrize(("name", "expected"), PAPER_PARAMETER_COUNTS.items())
def test_parameter_counts_match_the_papers_and_released_checkpoints(name, expected):
    assert count_parameters(build_model(name)) == expected


def test_state_dicts_have_the_released_tensor_counts():
    assert len(build_model("esrgan").state_dict()) == 702
    assert len(build_model("swiftsrgan").state_dict()) == 283


def test_swiftsrgan_generator_is_about_one_eighth_of_srgan():
    ratio = count_parameters(build_model("swiftsrgan")) / count_parameters(build_model("srgan"))
    assert 1 / 9 < ratio < 1 / 7


def test_rrdbnet_block_count_and_widths_are_parameters():
    small = build_model("esrgan", num_block=2, num_feat=16, num_grow_ch=8)
    assert len(small.body) == 2
    assert small.conv_first.out_channels == 16
    assert small.body[0].rdb1.conv1.out_channels == 8


TINY_KWARGS = {
    "srcnn": {"n1": 8, "n2": 4},
    "srcnn_935": {"n1": 8, "n2": 4},
    "srresnet": {"num_block": 1, "num_feat": 8},
    "srgan": {"num_block": 1, "num_feat": 8},
    "esrgan_psnr": {"num_block": 1, "num_feat": 8, "num_grow_ch": 4},
    "esrgan": {"num_block": 1, "num_feat": 8, "num_grow_ch": 4},
    "swiftsrgan_psnr": {"num_blocks": 1, "num_channels": 8},
    "swiftsrgan": {"num_blocks": 1, "num_channels": 8},
}


@pytest.mark.parametrize("name", sr_model_names())
@pytest.mark.parametrize("size", [(1, 1), (7, 13), (16, 9)])
def test_every_model_upscales_odd_sizes_by_four(name, size):
    model = build_model(name, **TINY_KWARGS.get(name, {}))
    with torch.inference_mode():
        out = model(torch.rand(2, 3, *size))
    assert out.shape == (2, 3, size[0] * 4, size[1] * 4)


@pytest.mark.parametrize(
    ("name", "crop", "kwargs"),
    [("srgan_discriminator", 96, {}), ("esrgan_discriminator", 128, {}), ("swiftsrgan_discriminator", 96, {})],
)
def test_discriminators_score_each_image_once(name, crop, kwargs):
    discriminator = build_model(name, **kwargs)
    with torch.inference_mode():
        score = discriminator(torch.rand(3, 3, crop, crop))
    assert score.shape == (3, 1)


@pytest.mark.parametrize("name", ["srgan_discriminator", "swiftsrgan_discriminator", "esrgan_discriminator"])
def test_every_discriminator_outputs_logits_so_either_gan_loss_can_judge_with_it(name):
    # A sigmoid inside D saturates the relativistic loss, which takes differences of logits: D(x) - mean D(G(z))
    # of two probabilities near 1 is 0, and such a run trains no discriminator at all.
    discriminator = build_model(name).eval()
    last_dense = [module for module in discriminator.modules() if isinstance(module, torch.nn.Linear)][-1]
    with torch.inference_mode():
        last_dense.bias.fill_(5.0)
        last_dense.weight.zero_()
        scores = discriminator(torch.rand(2, 3, 96, 96))
    assert torch.allclose(scores, torch.full((2, 1), 5.0))


def test_discriminators_follow_the_paper_feature_map_sizes():
    with torch.inference_mode():
        assert build_model("srgan_discriminator").features(torch.rand(1, 3, 96, 96)).shape == (1, 512, 6, 6)
        assert build_model("esrgan_discriminator").features(torch.rand(1, 3, 128, 128)).shape == (1, 512, 4, 4)


def test_torch_bicubic_reproduces_pil_bicubic():
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    lr = rng.integers(0, 256, (11, 14, 3), dtype=np.uint8)
    pil_up = np.asarray(Image.fromarray(lr).resize((56, 44), Image.BICUBIC)).astype(np.float32)
    ours = pil_bicubic_resize(torch.from_numpy(lr).float().permute(2, 0, 1)[None] / 255, 44, 56)
    ours = (ours[0].permute(1, 2, 0) * 255).round().clamp(0, 255).numpy()
    assert np.abs(ours - pil_up).max() <= 1.0


def test_torch_bicubic_downscale_reproduces_pil_antialiased_bicubic():
    import numpy as np
    from PIL import Image

    hr = np.random.default_rng(1).integers(0, 256, (40, 36, 3), dtype=np.uint8)
    pil_down = np.asarray(Image.fromarray(hr).resize((9, 10), Image.BICUBIC)).astype(np.float32)
    ours = pil_bicubic_resize(torch.from_numpy(hr).float().permute(2, 0, 1)[None] / 255, 10, 9)
    assert np.abs((ours[0].permute(1, 2, 0) * 255).round().clamp(0, 255).numpy() - pil_down).max() <= 1.0


def test_nearest_baseline_repeats_each_pixel_four_times():
    lr = torch.arange(6.0).view(1, 1, 2, 3) / 5
    up = Interpolation("nearest")(lr)
    assert up.shape == (1, 1, 8, 12)
    assert torch.equal(up[0, 0, :4, :4], torch.zeros(4, 4))
    assert torch.equal(up[0, 0, 4:, 8:], torch.full((4, 4), 1.0))


def test_ycbcr_round_trip_and_bt601_white_and_black():
    rgb = torch.rand(2, 3, 5, 5)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-5)
    white_black = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    y = rgb_to_ycbcr(white_black)[0, 0, 0] * 255
    assert torch.allclose(y, torch.tensor([235.0, 16.0]), atol=1e-3)


def test_y_channel_srcnn_leaves_chroma_bicubic():
    model = build_model("srcnn", n1=4, n2=2)
    lr = torch.rand(1, 3, 6, 6)
    with torch.inference_mode():
        sr = model(lr)
        bicubic = Interpolation("bicubic")(lr)
    assert torch.allclose(rgb_to_ycbcr(sr)[:, 1:], rgb_to_ycbcr(bicubic)[:, 1:], atol=1e-5)
