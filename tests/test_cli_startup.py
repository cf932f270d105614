"""The command line starts fast: a command loads only its own machinery.

Measured start-up figures live in ``python -m benchmarks.cli_startup``; these tests pin what
makes them possible: which modules each entry point imports, and that every command's parser
still builds once its group is loaded on demand.
"""

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

from sr_core.models.blocks import count_parameters
from sr_core.registry import all_specs
from studio.cli import COMMANDS, build_parser, main

# Machinery no command of the core needs before it runs: the app, torchvision's model zoo (which
# imports torch._dynamo), the GAN lab and the quantization package.
HEAVY = ("gradio", "torchvision.models", "labs.gan", "sr_core.quant")


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    finished = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(finished.stdout.splitlines()[-1]))


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY))


def test_importing_the_cli_loads_neither_torch_nor_any_heavy_machinery():
    loaded = modules_after("import studio.cli")
    assert heavy_among(loaded) == [] and "torch" not in loaded


def test_help_lists_every_command_without_loading_torch():
    loaded = modules_after("from studio.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert heavy_among(loaded) == [] and "torch" not in loaded


def test_a_bicubic_upscale_loads_neither_the_gan_lab_nor_the_app(tmp_path):
    Image.new("RGB", (16, 12), "teal").save(tmp_path / "in.png")
    loaded = modules_after(
        f"from studio.cli import main\n"
        f"assert main(['upscale', {str(tmp_path / 'in.png')!r}, {str(tmp_path / 'out.png')!r}, "
        f"'--model', 'bicubic']) == 0"
    )
    assert heavy_among(loaded) == []
    assert Image.open(tmp_path / "out.png").size == (64, 48)


def test_help_describes_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    listing = capsys.readouterr().out
    assert exited.value.code == 0
    for name, command in COMMANDS.items():
        assert name in listing and command.help.split()[0] in listing


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_its_own_options_once_its_group_is_loaded(name, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser([name]).parse_args([name, "--help"])
    assert exited.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith(f"usage: python -m sr_core {name}") and "-h, --help" in usage


def test_models_counts_each_network_as_building_it_does(capsys):
    assert main(["models"]) == 0
    listed = {
        line.split()[0]: int(line.split()[1].replace(",", "")) for line in capsys.readouterr().out.splitlines()[1:]
    }
    torch.manual_seed(0)
    assert listed == {spec.name: count_parameters(spec.build()) for spec in all_specs()}
