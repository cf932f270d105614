"""Fresh samples from a trained image generator: random digits, one requested digit (ACGAN), or a code sweep (InfoGAN).

What the GAN Lab's "sample now" draws. The generator is rebuilt from a run folder's config.json and
generator.safetensors (fp16 in the bundled runs), so sampling needs neither a checkpoint nor MNIST.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from labs.gan.errors import GanSettingError
from labs.gan.model import GAN
from labs.gan.registry import build_gan, get_gan_spec
from labs.gan.runs import find_runs
from labs.gan.trainer import CONFIG_FILE, GENERATOR_FILE
from labs.mnist import grid_pixels
from sr_core.weights import load_into, read_state_dict

GRID_SIDE = 10  # samples per row and rows per grid
SWEEP_LIMIT = 2.0  # the InfoGAN paper sweeps each continuous code over [-2, 2], past the U(-1, 1) it trained on


def sampler_choices(sources: Mapping[str, Path]) -> list[tuple[str, str]]:
    """(label, folder) of every image-GAN run with a saved generator under ``sources`` (source name -> runs folder)."""
    return [
        (run.label, str(run.folder))
        for source, root in sources.items()
        for run in find_runs(root, source)
        if get_gan_spec(run.model).data == "images" and (run.folder / GENERATOR_FILE).is_file()
    ]


def load_generator(folder: str | Path) -> GAN:
    """The GAN of a run folder with its saved generator; the discriminator stays as built (sampling never uses it)."""
    folder = Path(folder)
    if not (folder / GENERATOR_FILE).is_file():
        raise GanSettingError(f"{folder} has no {GENERATOR_FILE}: train it to the end with gan-train, or bundle it")
    config = json.loads((folder / CONFIG_FILE).read_text())
    gan = build_gan(config["model"], discriminator=config["discriminator"], size=config["size"], **config["options"])
    load_into(gan.generator, read_state_dict(folder / GENERATOR_FILE))
    return gan


def draw_samples(gan: GAN, digit: int | None = None, sweep_code: int | None = None, seed: int = 0) -> torch.Tensor:
    """GRID_SIDE x GRID_SIDE samples (float NCHW in [-1, 1]) in row-major order.

    ``digit``: the class an ACGAN (or the categorical code an InfoGAN) is asked for in every cell;
    None: one class per row for conditional GANs, unconditioned samples otherwise.
    ``sweep_code``: index of the InfoGAN continuous code swept from -2 to 2 along each row, the other
    codes at 0; row r asks for categorical code r with one noise vector, so a row shows only what
    the swept code changes (Chen et al., figure 2). ``seed`` fixes the noise.
    """
    if digit is not None and not 0 <= digit < gan.num_classes:
        raise GanSettingError(
            f"this GAN draws classes 0-{gan.num_classes - 1}, not {digit}"
            if gan.num_classes
            else "this GAN is not conditional: pick an ACGAN or InfoGAN run to request a digit"
        )
    if sweep_code is not None:
        return _code_sweep(gan, sweep_code, seed)
    count = GRID_SIDE * GRID_SIDE
    classes: torch.Tensor | None
    if digit is not None:
        classes = torch.full((count,), digit)
    else:
        classes = (torch.arange(count) // GRID_SIDE) % gan.num_classes if gan.num_classes else None
    return gan.generate(count, classes, torch.Generator().manual_seed(seed))


def _code_sweep(gan: GAN, code: int, seed: int) -> torch.Tensor:
    if not 0 <= code < gan.num_continuous:
        raise GanSettingError(
            f"this GAN has {gan.num_continuous} continuous codes: it cannot sweep code {code}"
            if gan.num_continuous
            else "only InfoGAN has continuous codes to sweep"
        )
    rows = torch.arange(GRID_SIDE) % gan.num_classes
    columns = []
    for value in torch.linspace(-SWEEP_LIMIT, SWEEP_LIMIT, GRID_SIDE):
        continuous = torch.zeros(GRID_SIDE, gan.num_continuous)
        continuous[:, code] = value
        columns.append(gan.generate(GRID_SIDE, rows, torch.Generator().manual_seed(seed), continuous))
    return torch.stack(columns, dim=1).flatten(0, 1)


def sample_grid(
    folder: str | Path, digit: int | None = None, sweep_code: int | None = None, seed: int = 0
) -> np.ndarray:
    """:func:`draw_samples` of the run in ``folder`` as one uint8 HxWx3 picture."""
    return grid_pixels(draw_samples(load_generator(folder), digit, sweep_code, seed), GRID_SIDE)
