"""One registry builds every model by name."""

import pytest

from sr_core.errors import UnknownModelError
from sr_core.registry import all_specs, build_model, get_spec, sr_model_names


def test_the_issue_names_every_sr_model_the_app_offers():
    assert {"bicubic", "nearest", "srcnn", "srresnet", "srgan", "esrgan_psnr", "esrgan", "swiftsrgan"} <= set(
        sr_model_names()
    )


def test_discriminators_are_registered_but_not_offered_as_upscalers():
    assert "srgan_discriminator" not in sr_model_names()
    assert get_spec("srgan").discriminator == "srgan_discriminator"
    assert get_spec("esrgan").discriminator == "esrgan_discriminator"
    assert get_spec("swiftsrgan").discriminator == "swiftsrgan_discriminator"


def test_psnr_and_gan_twins_share_an_architecture_for_interpolation():
    assert get_spec("esrgan_psnr").architecture == get_spec("esrgan").architecture
    assert get_spec("srresnet").architecture == get_spec("srgan").architecture
    assert get_spec("swiftsrgan_psnr").architecture == get_spec("swiftsrgan").architecture


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownModelError, match="esrgan"):
        build_model("esrgan_plus_plus")


def test_overrides_reach_the_constructor():
    assert len(build_model("srresnet", num_block=3).body) == 3


def test_every_spec_builds_in_eval_mode():
    for spec in all_specs():
        if spec.name == "esrgan" or spec.name == "esrgan_psnr":
            model = spec.build(num_block=1)
        else:
            model = spec.build()
        assert not model.training
