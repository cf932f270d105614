"""Weights files: released layouts, wrappers, safetensors I/O, refusal of bad files, the manifest."""

import hashlib
import json
import pickle
import re

import pytest
import torch

from sr_core.errors import CorruptWeightsError, WeightsMismatchError, WeightsNotFoundError
from sr_core.models.esrgan import RRDBNet
from sr_core.registry import build_model
from sr_core.weights import (
    WeightsEntry,
    detect_architecture,
    find_weights,
    infer_model_kwargs,
    load_into,
    read_manifest,
    read_metadata,
    read_state_dict,
    save_weights,
    sha256_file,
    to_canonical_keys,
    unwrap_state_dict,
    verify_sha256,
    weights_dir,
    write_manifest,
)

TINY_RRDB = {"num_block": 2, "num_feat": 8, "num_grow_ch": 4}


def _tiny_rrdbnet(num_block=2, seed=0):
    """RRDBNet with nf=8, gc=4: the real module and key set at a size that runs in milliseconds."""
    torch.manual_seed(seed)
    return RRDBNet(**{**TINY_RRDB, "num_block": num_block}).eval()


def _canonical_rrdb(num_block=2):
    return _tiny_rrdbnet(num_block).state_dict()


def _as_xinntao(canonical):
    """The key names of xinntao's RRDB_ESRGAN_x4.pth, written out independently of sr_core."""
    renames = {"conv_body.": "trunk_conv.", "conv_up1.": "upconv1.", "conv_up2.": "upconv2.", "conv_hr.": "HRconv."}
    converted = {}
    for key, tensor in canonical.items():
        if key.startswith("body."):
            _, block, rdb, rest = key.split(".", 3)
            key = f"RRDB_trunk.{block}.RDB{rdb[-1]}.{rest}"
        for new, old in renames.items():
            if key.startswith(new):
                key = old + key[len(new) :]
        converted[key] = tensor
    return converted


def _as_old_arch(canonical):
    """The pre-2019 ``model.N`` Sequential layout; ``conv_body`` is numbered after the last block."""
    num_block = len({key.split(".")[1] for key in canonical if key.startswith("body.")})
    top = {
        "conv_first": "0",
        "conv_body": f"1.sub.{num_block}",
        "conv_up1": "3",
        "conv_up2": "6",
        "conv_hr": "8",
        "conv_last": "10",
    }
    converted = {}
    for key, tensor in canonical.items():
        module, rest = key.split(".", 1)
        if module == "body":
            block, rdb, conv, param = rest.split(".")
            converted[f"model.1.sub.{block}.RDB{rdb[-1]}.{conv}.0.{param}"] = tensor
        else:
            converted[f"model.{top[module]}.{rest}"] = tensor
    return converted


def _as_basicsr(canonical):
    """BasicSR saves both the raw and the EMA weights; the raw ones here are zeros."""
    return {"params": {key: torch.zeros_like(tensor) for key, tensor in canonical.items()}, "params_ema": canonical}


def _assert_same_tensors(converted, canonical):
    assert set(converted) == set(canonical)
    for key, tensor in canonical.items():
        assert torch.equal(converted[key], tensor), key


# --- released layouts --------------------------------------------------------------------

ESRGAN_LAYOUTS = {"xinntao": _as_xinntao, "old_arch": _as_old_arch, "basicsr": _as_basicsr}


@pytest.mark.parametrize("layout", ESRGAN_LAYOUTS)
def test_each_released_esrgan_layout_converts_to_exactly_the_canonical_keys(layout):
    canonical = _canonical_rrdb()
    converted = to_canonical_keys(unwrap_state_dict(ESRGAN_LAYOUTS[layout](canonical)))
    _assert_same_tensors(converted, canonical)


@pytest.mark.parametrize("layout", ["xinntao", "old_arch"])
def test_conversion_renames_keys_without_copying_tensors(layout):
    canonical = _canonical_rrdb()
    converted = to_canonical_keys(ESRGAN_LAYOUTS[layout](canonical))
    assert all(converted[key].data_ptr() == tensor.data_ptr() for key, tensor in canonical.items())


def test_basicsr_checkpoint_with_params_and_params_ema_loads_the_ema_weights():
    canonical = _canonical_rrdb()
    checkpoint = _as_basicsr(canonical)
    assert list(checkpoint) == ["params", "params_ema"]
    assert unwrap_state_dict(checkpoint)["conv_first.weight"] is canonical["conv_first.weight"]


@pytest.mark.parametrize("layout", ESRGAN_LAYOUTS)
def test_each_released_esrgan_layout_loads_strictly_into_rrdbnet_and_gives_the_same_output(layout):
    source = _tiny_rrdbnet(seed=1)
    target = _tiny_rrdbnet(seed=2)
    load_into(target, ESRGAN_LAYOUTS[layout](source.state_dict()))
    lr = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        assert torch.equal(target(lr), source(lr))


def test_converting_canonical_keys_again_changes_nothing():
    canonical = _canonical_rrdb()
    _assert_same_tensors(to_canonical_keys(to_canonical_keys(_as_xinntao(canonical))), canonical)


def test_an_unknown_layout_passes_through_unchanged():
    unknown = {"encoder.layer1.weight": torch.ones(2), "decoder.bias": torch.zeros(1)}
    assert to_canonical_keys(unknown) == unknown
    assert detect_architecture(unknown) is None


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {f"module.{key}": value for key, value in sd.items()},
        lambda sd: {f"_orig_mod.{key}": value for key, value in sd.items()},
        lambda sd: {f"module._orig_mod.{key}": value for key, value in sd.items()},
        lambda sd: {"state_dict": sd, "epoch": 12, "optimizer": {"lr": 1e-4}},
        lambda sd: {"model": sd},
        lambda sd: {"generator": sd, "discriminator": {"x": torch.zeros(1)}},
        lambda sd: {"netG": sd},
        lambda sd: {"state_dict": {f"module.{key}": value for key, value in sd.items()}},
        lambda sd: {"model": {f"model.{key}": value for key, value in sd.items()}},
    ],
    ids=[
        "module",
        "orig_mod",
        "module_orig_mod",
        "state_dict",
        "model",
        "generator",
        "netG",
        "nested_state_dict_module",
        "model_prefixed_inside_model_wrapper",
    ],
)
def test_wrappers_and_prefixes_are_removed(wrap):
    canonical = build_model("srresnet", num_block=1, num_feat=8).state_dict()
    _assert_same_tensors(unwrap_state_dict(wrap(canonical)), canonical)


def test_old_arch_model_prefix_is_kept_because_it_is_part_of_the_layout():
    old_arch = _as_old_arch(_canonical_rrdb())
    assert unwrap_state_dict(old_arch).keys() == old_arch.keys()
    assert unwrap_state_dict({"model": old_arch}).keys() == old_arch.keys()


def test_a_model_prefix_that_hides_no_known_layout_is_kept():
    prefixed = {"model.encoder.weight": torch.ones(1)}
    assert unwrap_state_dict(prefixed).keys() == prefixed.keys()


def test_official_swiftsrgan_release_reads_from_its_model_wrapper(tmp_path):
    generator = build_model("swiftsrgan", num_blocks=2, num_channels=8)
    path = tmp_path / "swift_srgan_4x.pth.tar"
    torch.save({"model": generator.state_dict()}, path)
    state_dict = read_state_dict(path)
    _assert_same_tensors(state_dict, generator.state_dict())
    assert infer_model_kwargs(state_dict) == {"in_channels": 3, "num_channels": 8, "num_blocks": 2, "scale": 4}


# --- hyper-parameters from a state dict ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "architecture", "kwargs"),
    [
        ("esrgan", "rrdbnet", TINY_RRDB),
        ("srresnet", "srresnet", {"num_block": 3, "num_feat": 8}),
        ("swiftsrgan", "swiftsrgan", {"num_blocks": 2, "num_channels": 8}),
        ("srcnn", "srcnn", {"num_channels": 3, "n1": 16, "n2": 8, "f2": 3}),
        ("srgan_discriminator", "srgan_discriminator", {}),
        ("esrgan_discriminator", "esrgan_discriminator", {}),
        ("swiftsrgan_discriminator", "swiftsrgan_discriminator", {}),
    ],
)
def test_constructor_arguments_are_recovered_from_a_models_weights(name, architecture, kwargs):
    state_dict = build_model(name, **kwargs).state_dict()
    inferred = infer_model_kwargs(state_dict, architecture=architecture)
    assert inferred.items() >= kwargs.items()
    assert build_model(name, **inferred).state_dict().keys() == state_dict.keys()


@pytest.mark.parametrize("layout", ["xinntao", "old_arch"])
def test_full_size_released_esrgan_is_read_as_the_papers_23_block_network(layout):
    with torch.device("meta"):
        canonical = RRDBNet().state_dict()
    released = ESRGAN_LAYOUTS[layout](canonical)
    converted = to_canonical_keys(released)
    assert len(converted) == 702
    assert sum(tensor.numel() for tensor in converted.values()) == 16_697_987
    assert converted.keys() == canonical.keys()
    assert infer_model_kwargs(released, architecture="rrdbnet") == {
        "num_in_ch": 3,
        "num_out_ch": 3,
        "num_feat": 64,
        "num_block": 23,
        "num_grow_ch": 32,
    }


def test_official_srcnn_checkpoint_is_read_as_a_y_channel_9_5_5_network():
    official = {
        "conv1.weight": torch.zeros(64, 1, 9, 9),
        "conv1.bias": torch.zeros(64),
        "conv2.weight": torch.zeros(32, 64, 5, 5),
        "conv2.bias": torch.zeros(32),
        "conv3.weight": torch.zeros(1, 32, 5, 5),
        "conv3.bias": torch.zeros(1),
    }
    assert infer_model_kwargs(official) == {"num_channels": 1, "n1": 64, "n2": 32, "f1": 9, "f2": 5, "f3": 5}


def test_esrgan_hyperparameters_are_read_from_the_xinntao_layout():
    inferred = infer_model_kwargs(_as_xinntao(_canonical_rrdb(num_block=3)))
    assert inferred == {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 3, "num_grow_ch": 4}


def test_weights_of_another_architecture_are_refused_before_building_the_model():
    swift = build_model("swiftsrgan", num_blocks=1, num_channels=8).state_dict()
    with pytest.raises(WeightsMismatchError, match="architecture 'swiftsrgan' but the model is 'rrdbnet'"):
        infer_model_kwargs(swift, architecture="rrdbnet")


def test_weights_of_no_known_architecture_are_refused_with_their_keys():
    with pytest.raises(WeightsMismatchError, match="encoder.weight"):
        infer_model_kwargs({"encoder.weight": torch.ones(1)})


# --- loading into a model -----------------------------------------------------------------


def test_mismatch_error_names_keys_counts_and_the_files_hyperparameters():
    with pytest.raises(WeightsMismatchError) as raised:
        load_into(_tiny_rrdbnet(num_block=2), _as_xinntao(_canonical_rrdb(num_block=3)))
    message = str(raised.value)
    assert "30 unexpected keys" in message
    assert "body.2.rdb1.conv1.weight" in message
    assert "'rrdbnet' with num_block=3; the model has num_block=2" in message


def test_mismatch_error_names_mis_shaped_keys_with_both_shapes():
    wide = RRDBNet(num_block=2, num_feat=16, num_grow_ch=4).state_dict()
    shapes = "conv_first.weight (file (16, 3, 3, 3), model (8, 3, 3, 3))"
    with pytest.raises(WeightsMismatchError, match=re.escape(shapes)):
        load_into(_tiny_rrdbnet(), wide)


def test_mismatch_error_says_when_the_file_is_another_architecture():
    swift = build_model("swiftsrgan", num_blocks=1, num_channels=8).state_dict()
    with pytest.raises(WeightsMismatchError, match="file holds architecture 'swiftsrgan'; the model is 'rrdbnet'"):
        load_into(_tiny_rrdbnet(), swift)


def test_fp16_weights_load_into_an_fp32_model_as_fp32(tmp_path):
    source = _tiny_rrdbnet(seed=1)
    path = tmp_path / "esrgan.safetensors"
    save_weights(source, path)
    target = _tiny_rrdbnet(seed=2)
    load_into(target, read_state_dict(path))
    assert target.conv_first.weight.dtype == torch.float32
    assert torch.equal(target.conv_first.weight, source.conv_first.weight.half().float())


def test_weights_without_batch_norm_counters_still_load_strictly():
    source = build_model("srresnet", num_block=1, num_feat=8)
    without_counters = {key: value for key, value in source.state_dict().items() if "num_batches_tracked" not in key}
    target = build_model("srresnet", num_block=1, num_feat=8)
    load_into(target, without_counters)
    assert torch.equal(target.bn_body.running_var, source.bn_body.running_var)


# --- safetensors files --------------------------------------------------------------------


def test_fp16_safetensors_round_trip_keeps_values_buffers_and_metadata(tmp_path):
    model = build_model("srresnet", num_block=1, num_feat=8)
    path = tmp_path / "srresnet.safetensors"
    digest = save_weights(model, path, metadata={"model": "srresnet", "training": {"steps": 10, "data": "DIV2K"}})
    state_dict = read_state_dict(path)
    assert state_dict.keys() == model.state_dict().keys()
    assert state_dict["conv_first.weight"].dtype == torch.float16
    assert state_dict["bn_body.running_mean"].dtype == torch.float16
    assert state_dict["bn_body.num_batches_tracked"].dtype == torch.int64
    assert torch.equal(state_dict["conv_first.weight"], model.conv_first.weight.detach().half())
    metadata = read_metadata(path)
    assert metadata["model"] == "srresnet"
    assert json.loads(metadata["training"]) == {"steps": 10, "data": "DIV2K"}
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_file(path)


def test_saved_weights_are_readable_by_everyone_not_only_their_owner(tmp_path):
    path = tmp_path / "srcnn.safetensors"
    save_weights(build_model("srcnn", n1=8, n2=4), path)
    assert path.stat().st_mode & 0o777 == 0o644


def test_full_precision_save_keeps_float32(tmp_path):
    path = tmp_path / "srcnn.safetensors"
    save_weights(build_model("srcnn"), path, half=False)
    assert read_state_dict(path)["conv1.weight"].dtype == torch.float32


def test_a_value_beyond_the_fp16_range_keeps_its_precision_instead_of_becoming_inf(tmp_path):
    path = tmp_path / "big.safetensors"
    save_weights({"bn.running_var": torch.tensor([1e6, 1.0]), "small": torch.tensor([0.5])}, path)
    state_dict = read_state_dict(path)
    assert state_dict["bn.running_var"].dtype == torch.float32
    assert state_dict["small"].dtype == torch.float16


def test_saving_over_a_file_replaces_it_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights({"a": torch.zeros(2)}, path)
    save_weights({"a": torch.ones(2)}, path)
    assert torch.equal(read_state_dict(path)["a"], torch.ones(2, dtype=torch.float16))
    assert [entry.name for entry in tmp_path.iterdir()] == ["w.safetensors"]


# --- files we refuse ----------------------------------------------------------------------


def _valid_file(folder, suffix):
    folder.mkdir(exist_ok=True)
    path = folder / f"weights{suffix}"
    state_dict = {"conv1.weight": torch.rand(16, 1, 9, 9), "conv1.bias": torch.rand(16)}
    if suffix == ".safetensors":
        save_weights(state_dict, path)
    else:
        torch.save(state_dict, path)
    return path


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize("damage", ["zero_bytes", "truncated", "garbage", "damaged_header"])
def test_damaged_weights_files_raise_corrupt_weights_error(tmp_path, suffix, damage):
    path = _valid_file(tmp_path, suffix)
    data = path.read_bytes()
    damaged = {
        "zero_bytes": b"",
        "truncated": data[: len(data) // 2],
        "garbage": bytes(range(256)) * 8,
        "damaged_header": data[:8] + b"\xff" * 40 + data[48:],
    }[damage]
    path.write_bytes(damaged)
    with pytest.raises(CorruptWeightsError, match=f"{path.name}.*(empty|not a readable)"):
        read_state_dict(path)


@pytest.mark.parametrize(("written_as", "named"), [(".safetensors", ".pth"), (".pth", ".safetensors")])
def test_a_file_named_with_the_other_formats_extension_still_reads(tmp_path, written_as, named):
    path = _valid_file(tmp_path, written_as)
    renamed = path.rename(tmp_path / f"renamed{named}")
    assert read_state_dict(renamed)["conv1.weight"].shape == (16, 1, 9, 9)


def test_a_missing_weights_file_raises_weights_not_found(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        read_state_dict(tmp_path / "nope.safetensors")


def test_an_unknown_extension_is_refused_with_the_supported_ones(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"\x89HDF")
    with pytest.raises(CorruptWeightsError, match=r"\.safetensors"):
        read_state_dict(path)


def test_a_checkpoint_without_tensors_is_refused(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "lr": 1e-4}, path)
    with pytest.raises(CorruptWeightsError, match="no state dict"):
        read_state_dict(path)


class _CreatesMarker:
    """Unpickling this object would call ``open(marker, "w")``: the classic pickle exploit."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch_save", "raw_pickle"])
def test_a_malicious_pickle_is_refused_and_never_executed(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"conv1.weight": torch.zeros(1), "exploit": _CreatesMarker(marker)}
    if writer == "torch_save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CorruptWeightsError):
        read_state_dict(path)
    assert not marker.exists()


def test_a_malicious_pickle_error_says_it_was_not_run_and_what_to_do(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"exploit": _CreatesMarker(tmp_path / "pwned")}, path)
    with pytest.raises(CorruptWeightsError, match="never runs.*safetensors"):
        read_state_dict(path)


# --- the manifest -------------------------------------------------------------------------


def _entry(tmp_path, model="srcnn"):
    path = tmp_path / f"{model}.safetensors"
    digest = save_weights(build_model("srcnn"), path)
    return WeightsEntry(
        model=model,
        file=path.name,
        sha256=digest,
        arch_kwargs={"f2": 5},
        training={"data": "T91", "steps": 100},
        scores={"set5_psnr": 30.1},
    )


def test_manifest_round_trips_its_entries(tmp_path):
    entries = {"srcnn": _entry(tmp_path), "srcnn_935": _entry(tmp_path, "srcnn_935")}
    write_manifest(entries, tmp_path)
    assert read_manifest(tmp_path) == entries
    assert find_weights("srcnn", tmp_path) == entries["srcnn"]


def test_a_missing_manifest_means_no_bundled_weights(tmp_path):
    assert read_manifest(tmp_path) == {}
    assert find_weights("srcnn", tmp_path) is None


def test_an_entry_whose_file_is_missing_is_not_found(tmp_path):
    entry = _entry(tmp_path)
    write_manifest([entry], tmp_path)
    (tmp_path / entry.file).unlink()
    assert find_weights("srcnn", tmp_path) is None


def test_the_weights_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(tmp_path))
    write_manifest([_entry(tmp_path)])
    assert weights_dir() == tmp_path
    assert find_weights("srcnn") is not None


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '["srcnn"]',
        '{"models": {"srcnn": {"file": "srcnn.safetensors"}}}',
        '{"models": {"srcnn": {"file": "../../etc/passwd", "sha256": "' + "0" * 64 + '"}}}',
        '{"models": {"srcnn": {"file": "a.safetensors", "sha256": "' + "0" * 64 + '", "score": {}}}}',
    ],
    ids=["bad_json", "not_an_object", "no_sha256", "path_outside", "unknown_field"],
)
def test_a_malformed_manifest_raises_corrupt_weights_error(tmp_path, content):
    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(CorruptWeightsError, match="manifest.json"):
        read_manifest(tmp_path)


def test_verify_sha256_accepts_the_recorded_file_and_refuses_a_changed_one(tmp_path):
    entry = _entry(tmp_path)
    verify_sha256(entry, tmp_path)
    save_weights(build_model("srcnn_935"), tmp_path / entry.file)
    with pytest.raises(CorruptWeightsError, match="sha256"):
        verify_sha256(entry, tmp_path)


def test_writing_the_same_weights_again_keeps_the_file_and_other_weights_replace_it(tmp_path):
    # safetensors orders the header's metadata differently in each process: rewriting unchanged
    # weights would give them new bytes, a new sha256 and a new copy in git.
    path = tmp_path / "model.safetensors"
    model = build_model("swiftsrgan", num_blocks=1, num_channels=8)
    first = save_weights(model, path, metadata={"step": 3, "model": "swiftsrgan"})
    inode, content = path.stat().st_ino, path.read_bytes()
    assert save_weights(model, path, metadata={"model": "swiftsrgan", "step": 3}) == first
    assert (path.stat().st_ino, path.read_bytes()) == (inode, content)
    relabelled = save_weights(model, path, metadata={"model": "swiftsrgan", "step": 4})
    assert relabelled != first
    with torch.no_grad():
        model.initial.cnn.depthwise.bias.add_(1)
    retrained = save_weights(model, path, metadata={"model": "swiftsrgan", "step": 4})
    assert torch.equal(read_state_dict(path)["initial.cnn.depthwise.bias"], model.initial.cnn.depthwise.bias.half())
    assert retrained != relabelled
