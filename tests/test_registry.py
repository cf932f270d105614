"""One registry builds every model by name."""

import sys

import pytest

from sr_core.errors import UnknownModelError
from sr_core.registry import INT8_SUFFIX, all_families, all_specs, build_model, get_spec, sr_model_names


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


def test_each_entry_has_one_kind_that_says_what_it_is():
    kinds = {spec.name: spec.kind for spec in all_specs()}
    assert kinds["bicubic"] == "baseline" and not get_spec("bicubic").learned
    assert kinds["esrgan"] == "float" and get_spec("esrgan").learned and get_spec("esrgan").upscales
    assert kinds["swiftsrgan-int8"] == "int8" and get_spec("swiftsrgan-int8").quantized_from == "swiftsrgan"
    assert kinds["srgan_discriminator"] == "discriminator" and not get_spec("srgan_discriminator").upscales
    assert set(kinds.values()) == {"baseline", "float", "int8", "discriminator"}


def test_the_registry_is_the_union_of_what_the_model_files_declare():
    declared = {spec.name for family in all_families() for spec in family.specs}
    int8 = {spec.name + INT8_SUFFIX for family in all_families() for spec in family.specs if spec.int8_variant}
    assert declared | int8 == {spec.name for spec in all_specs()}
    assert len({family.architecture for family in all_families()}) == len(all_families())


def test_a_family_declares_its_weights_signature_and_fold_hints_in_its_own_file():
    families = {family.architecture: family for family in all_families()}
    assert families["rrdbnet"].key_layouts, "ESRGAN's released layouts live with RRDBNet"
    assert families["srresnet"].subpixel_tail is not None and families["swiftsrgan"].bn_convs == {"bn": "cnn"}
    for family in all_families():
        module = sys.modules[family.specs[0].builder.__module__]
        assert family in module.FAMILIES, f"{family.architecture} is declared beside its network"
