"""Weights from the Hugging Face Hub: downloaded and sha256-checked, offline from the cache or the bundled file.

Nothing here touches the network: an autouse fixture makes any connection outside the
loopback fail the test, the Hub cache is a folder laid out as huggingface_hub lays it out
(``models--owner--name/{blobs,snapshots/COMMIT,refs/main}``), and "online" downloads are a
stand-in for ``hf_hub_download`` that fills that cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_ARCH_KWARGS, clear_model_caches
from huggingface_hub import constants
from PIL import Image

from sr_core import hub
from sr_core.errors import CorruptWeightsError, WeightsNotFoundError
from sr_core.imaging import open_image, to_uint8
from sr_core.inference import load_model, model_has_weights, upscale_image
from sr_core.registry import build_model
from sr_core.weights import WeightsEntry, read_manifest, save_weights, write_manifest

ROOT = Path(__file__).resolve().parents[1]
REPO_ID, FILENAME, COMMIT = "sr-studio/srcnn-tiny", "srcnn.safetensors", "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test on any connection or name lookup beyond this machine."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def loopback_only(host: object) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"the test tried to reach {host!r}")

    def connect(self: socket.socket, address: object) -> None:
        loopback_only(address[0] if isinstance(address, tuple) else address)
        return real_connect(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        loopback_only(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def weights_bytes(tmp_path: Path) -> bytes:
    """A tiny SRCNN's safetensors file, as published."""
    torch.manual_seed(0)
    save_weights(build_model("srcnn", **TINY_ARCH_KWARGS["srcnn"]), tmp_path / "published.safetensors")
    return (tmp_path / "published.safetensors").read_bytes()


@pytest.fixture
def hub_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights_bytes: bytes) -> Path:
    """SR_STUDIO_WEIGHTS_SOURCE=hub, an empty Hub cache, and a manifest whose srcnn entry names the Hub file.

    Returns the weights folder; its srcnn file is not bundled (tests add it where they need it).
    """
    folder = tmp_path / "weights"
    entry = WeightsEntry(
        model="srcnn",
        file=FILENAME,
        sha256=hashlib.sha256(weights_bytes).hexdigest(),
        arch_kwargs=TINY_ARCH_KWARGS["srcnn"],
        repo_id=REPO_ID,
        filename=FILENAME,
        revision="main",
    )
    write_manifest([entry], folder)
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_SOURCE", "hub")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    clear_model_caches()
    yield folder
    clear_model_caches()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE=1 as huggingface_hub sees it (it reads the variable once, at import)."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def cache_hub_file(cache: Path, repo_id: str, filename: str, data: bytes, commit: str = COMMIT) -> Path:
    """Put ``data`` in a Hub cache as huggingface_hub does: a blob, a snapshot symlink to it, refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    snapshot = repo / "snapshots" / commit / filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def _hub_cache() -> Path:
    return Path(constants.HF_HUB_CACHE)


def _refuse_downloads(*args: object, **kwargs: object) -> str:
    raise AssertionError("hf_hub_download was called")


def test_offline_weights_come_from_the_hub_cache_with_a_warning(hub_setup, offline, weights_bytes, caplog):
    snapshot = cache_hub_file(_hub_cache(), REPO_ID, FILENAME, weights_bytes)
    with caplog.at_level(logging.WARNING, logger="sr_core.hub"):
        located = hub.locate_weights("srcnn")
    assert (located.path, located.origin) == (snapshot, hub.CACHE)
    assert "offline: using the cached copy of sr-studio/srcnn-tiny/srcnn.safetensors" in caplog.text
    assert model_has_weights("srcnn")


def test_a_model_runs_on_cached_hub_weights_exactly_as_on_the_published_file(
    hub_setup, offline, weights_bytes, tmp_path
):
    cache_hub_file(_hub_cache(), REPO_ID, FILENAME, weights_bytes)
    (tmp_path / "reference.safetensors").write_bytes(weights_bytes)
    image = open_image(_small_png(tmp_path / "in.png"))
    from_cache = upscale_image(image, "srcnn", tile=None).rgb
    clear_model_caches()
    from_file = upscale_image(image, "srcnn", weights_file=tmp_path / "reference.safetensors", tile=None).rgb
    assert np.array_equal(from_cache, from_file)


def test_offline_without_a_cached_copy_the_bundled_file_is_used_with_a_warning(
    hub_setup, offline, weights_bytes, caplog
):
    (hub_setup / FILENAME).write_bytes(weights_bytes)
    with caplog.at_level(logging.WARNING, logger="sr_core.hub"):
        located = hub.locate_weights("srcnn")
    assert (located.path, located.origin) == (hub_setup / FILENAME, hub.BUNDLED)
    assert "HF_HUB_OFFLINE=1" in located.note and "bundled copy" in caplog.text


def test_offline_with_neither_copy_the_error_says_what_to_do(hub_setup, offline):
    assert not model_has_weights("srcnn")
    with pytest.raises(WeightsNotFoundError, match="HF_HUB_OFFLINE=1 forbids downloading.*weights folder as srcnn"):
        load_model("srcnn")


def test_a_cached_file_with_another_sha256_is_refused(hub_setup, offline, weights_bytes):
    cache_hub_file(_hub_cache(), REPO_ID, FILENAME, weights_bytes[:-1] + b" ")
    with pytest.raises(CorruptWeightsError, match="sha256.*the manifest expects"):
        hub.locate_weights("srcnn")


def test_online_the_file_is_downloaded_into_the_cache_and_checked(hub_setup, weights_bytes, monkeypatch):
    calls = []

    def download(repo_id: str, filename: str, **options: object) -> str:
        calls.append((repo_id, filename, options["revision"], options["local_files_only"]))
        return str(cache_hub_file(_hub_cache(), repo_id, filename, weights_bytes))

    monkeypatch.setattr(hub, "hf_hub_download", download)
    assert model_has_weights("srcnn"), "online, a Hub entry counts before its first download"
    located = hub.locate_weights("srcnn")
    assert calls == [(REPO_ID, FILENAME, "main", False)]
    assert located.origin == hub.HUB and located.note is None
    assert located.path.resolve().parent.name == "blobs"


def test_online_a_download_that_fails_falls_back_to_the_bundled_file(hub_setup, weights_bytes, monkeypatch):
    def unreachable(*args: object, **kwargs: object) -> str:
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(hub, "hf_hub_download", unreachable)
    with pytest.raises(WeightsNotFoundError, match="could not be downloaded .*ConnectionError"):
        hub.locate_weights("srcnn")
    (hub_setup / FILENAME).write_bytes(weights_bytes)
    assert hub.locate_weights("srcnn").origin == hub.BUNDLED


def test_online_a_download_with_another_sha256_is_refused(hub_setup, weights_bytes, monkeypatch):
    monkeypatch.setattr(
        hub,
        "hf_hub_download",
        lambda repo_id, filename, **_: str(cache_hub_file(_hub_cache(), repo_id, filename, b"changed")),
    )
    with pytest.raises(CorruptWeightsError, match="published file changed"):
        hub.locate_weights("srcnn")


def test_the_bundled_source_never_asks_the_hub(hub_setup, weights_bytes, monkeypatch):
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_SOURCE", "bundled")
    monkeypatch.setattr(hub, "hf_hub_download", _refuse_downloads)
    assert hub.locate_weights("srcnn") is None and not model_has_weights("srcnn")
    (hub_setup / FILENAME).write_bytes(weights_bytes)
    assert hub.locate_weights("srcnn").origin == hub.BUNDLED


def test_hub_fields_round_trip_through_the_manifest_and_are_omitted_when_empty(hub_setup):
    entry = read_manifest(hub_setup)["srcnn"]
    assert (entry.repo_id, entry.filename, entry.revision) == (REPO_ID, FILENAME, "main")
    write_manifest([WeightsEntry(model="srcnn", file="a.safetensors", sha256="0" * 64)], hub_setup)
    assert "repo_id" not in (hub_setup / "manifest.json").read_text()


def test_a_hub_entry_needs_both_repo_and_filename(tmp_path):
    (tmp_path / "manifest.json").write_text(
        '{"models": {"srcnn": {"file": "a.safetensors", "sha256": "' + "0" * 64 + '", "repo_id": "a/b"}}}'
    )
    with pytest.raises(CorruptWeightsError, match="both 'repo_id' and 'filename'"):
        read_manifest(tmp_path)


def _small_png(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(path)
    return path


def test_the_cli_upscales_with_hub_weights_under_a_real_hf_hub_offline_environment(hub_setup, weights_bytes, tmp_path):
    cache = tmp_path / "real-cache"
    cache_hub_file(cache, REPO_ID, FILENAME, weights_bytes)
    (tmp_path / "reference.safetensors").write_bytes(weights_bytes)
    source = _small_png(tmp_path / "in.png")
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(cache),
        "SR_STUDIO_CPU_BF16": "0",
        "SR_STUDIO_WEIGHTS_SOURCE": "hub",
        "SR_STUDIO_WEIGHTS_DIR": str(hub_setup),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "sr_core", "upscale", str(source), str(tmp_path / "out.png"), "--model", "srcnn"],
        cwd=ROOT,
        env=environment,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "offline: using the cached copy" in completed.stderr
    expected = upscale_image(open_image(source), "srcnn", weights_file=tmp_path / "reference.safetensors").rgb
    with Image.open(tmp_path / "out.png") as written:
        assert np.array_equal(np.asarray(written), to_uint8(expected))
