"""``python -m sr_core``: the command line. Its commands, flags and exit codes are a contract.

Exit codes: 0 success, 1 an unexpected failure (a bug: traceback shown), 2 bad input or
configuration (one line on stderr, no traceback).

Start-up is part of the interface: ``--help`` must not wait for torch, nor ``upscale`` for the
GAN lab. So :data:`COMMANDS` names each command's module, a command group's module is imported
only when one of its commands runs, and the handlers here import their machinery when called.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_core.errors import SRStudioError, UnsupportedOnThisCPUError, WeightsNotFoundError
from sr_core.files import atomic_target
from sr_core.imaging import open_image, pixel_cap_from_env, save_image

if TYPE_CHECKING:
    from sr_core.evaluation import ImageScore, ModelScore
    from sr_core.inference import LoadedModel

EXIT_OK, EXIT_BAD_INPUT = 0, 2
AUTO_MODEL = "auto"
"""The ``--model`` that lets a weights file decide the model (:func:`sr_core.inference.model_for_weights`)."""


@dataclass(frozen=True)
class Command:
    """One ``python -m sr_core`` command: the module whose ``add_commands`` defines it, and its one-line help."""

    module: str
    help: str


CORE = __name__
COMMANDS: dict[str, Command] = {
    "upscale": Command(CORE, "upscale one image x4"),
    "upscale-frames": Command(CORE, "upscale every image of a folder as a stream (video frames)"),
    "figure": Command(CORE, "one crop of an image through every model, side by side (PNG)"),
    "evaluate": Command(CORE, "PSNR/SSIM/LPIPS of models on a folder of HR images"),
    "models": Command(CORE, "list models, parameter counts and bundled weights"),
    "train": Command("studio.train_cli", "train an SR model from a preset (paper hyper-parameters)"),
    "export": Command("studio.train_cli", "write a run's generator as fp16 safetensors with provenance"),
    "publish": Command("studio.train_cli", "bundle a run's generator as the app's weights, scored and in the manifest"),
    "rescore": Command(
        "studio.train_cli", "measure the bundled weights' manifest scores again (after a metric is added)"
    ),
    "bench": Command("sr_core.bench", "latency, MACs and speed-up of every model on this device"),
    "gan-train": Command("labs.gan.cli", "train a GAN: 1-D, sine waves, DCGAN, WGAN(-GP), ACGAN, InfoGAN"),
    "gan-eval": Command("labs.gan.cli", "FD/KID (MNIST-classifier features) and accuracy of GAN runs"),
    "gan-bundle": Command(
        "labs.gan.cli", "bundle GAN runs (fp16 generators, grids, curves, scores) in assets/gan_runs"
    ),
    "mos-prepare": Command("studio.mos.cli", "prepare (or check) a MOS study's stimuli and manifest"),
    "mos-report": Command("studio.mos.cli", "MOS table, tests and rater screening of a ratings CSV"),
    "zscgan": Command("labs.zscgan.cli", "ZS-CGAN data-free quantization of an MNIST ResNet (Tables 1-2)"),
    "quantize": Command("studio.quantize_cli", "int8 PTQ of an SR model, calibrated data-free or on real crops"),
}


class UsageError(SRStudioError):
    """A command-line argument that cannot work (reported like any bad input)."""


def _upscale(args: argparse.Namespace) -> int:
    from sr_core.inference import upscale_with

    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise UsageError(f"OUTPUT must be a .png file (lossless), not {output.name!r}")
    model = _model_to_run(args)
    image = open_image(args.input, pixel_cap=args.pixel_cap)
    result = upscale_with(image, model, tile=args.tile)
    save_image(result.rgb, output, alpha=result.alpha, grayscale=result.grayscale, bit_depth=result.bit_depth)
    for notice in result.notices:
        print(f"note: {notice}", file=sys.stderr)
    width, height = result.size
    print(f"{model.name}: {image.width}x{image.height} -> {width}x{height} in {result.seconds:.2f} s -> {output}")
    return EXIT_OK


def _model_to_run(args: argparse.Namespace) -> LoadedModel:
    """``--model`` with its weights; with ``--model auto`` (or none) and ``--weights``, the model the file holds:
    one of SR Studio's families, else any architecture spandrel recognises, at the file's own scale."""
    if args.weights and args.model in (None, AUTO_MODEL):
        from sr_core.user_models import load_weights_file

        return load_weights_file(args.weights)
    from sr_core.inference import load_model

    return load_model(chosen_model(args.model, args.weights, args.default_model), args.weights)


def chosen_model(model: str | None, weights_file: str | None, default_model: str) -> str:
    """The model a command runs: ``--model``; with ``--model auto`` (or none) the one ``--weights`` holds, else
    the command's ``default_model``.

    A weights file is never ignored: given to a model that takes none (bicubic) it is refused.
    """
    from sr_core.inference import model_for_weights
    from sr_core.registry import get_spec

    if model in (None, AUTO_MODEL):
        return model_for_weights(weights_file) if weights_file else default_model
    if weights_file and not get_spec(model).learned:
        raise UsageError(
            f"--model {model} takes no weights; drop --weights, or use --model auto to run the model "
            f"{Path(weights_file).name} holds"
        )
    get_spec(model)
    return model


def _upscale_frames(args: argparse.Namespace) -> int:
    from studio.frames import upscale_frames

    model = _model_to_run(args)
    report = upscale_frames(args.input_dir, args.output_dir, model, tile=args.tile, pixel_cap=args.pixel_cap)
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(
        f"{model.name}: {len(report.written)} frames -> {args.output_dir} in {report.seconds:.2f} s "
        f"({report.frames_per_second:.2f} frames/s; model {report.model_seconds:.2f} s)"
    )
    return EXIT_OK if report.written else EXIT_BAD_INPUT


def _figure(args: argparse.Namespace) -> int:
    from sr_core.registry import get_spec
    from studio.figures import comparison_strip, save_comparison_strip

    names = [name.strip() for name in args.models.split(",") if name.strip()]
    for name in names:
        get_spec(name)
    center_x, _, center_y = args.center.partition(",")
    try:
        center = (float(center_x), float(center_y))
    except ValueError:
        raise UsageError(f"--center takes X,Y fractions such as 0.5,0.4, not {args.center!r}") from None
    save_comparison_strip(comparison_strip(args.image, names, center, args.size, args.factor), Path(args.output))
    print(f"{', '.join(names)} + HR: {args.size} px crop x{args.factor} -> {args.output}")
    return EXIT_OK


def _parse_weights_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``name=FILE`` pairs of ``--weights`` for evaluate."""
    overrides = {}
    for pair in pairs:
        name, separator, path = pair.partition("=")
        if not separator or not path:
            raise UsageError(f"--weights takes NAME=FILE, got {pair!r}")
        overrides[name] = path
    return overrides


def format_table(scores: Sequence[ModelScore]) -> str:
    """The papers' table layout (mean PSNR, SSIM, seconds per image) plus mean LPIPS (AlexNet, "-" without its
    package), mean detail ratio, worst colour shift and median stripe score."""
    lines = [
        f"{'model':<18}{'PSNR (dB)':>10}{'SSIM':>9}{'LPIPS':>8}{'detail':>8}{'colour':>8}{'stripes':>8}"
        f"{'s/image':>10}{'params':>12}"
    ]
    for score in scores:
        lpips = "-" if score.lpips is None else f"{score.lpips:.4f}"
        lines.append(
            f"{score.model:<18}{score.psnr:>10.2f}{score.ssim:>9.4f}{lpips:>8}{score.detail:>8.2f}"
            f"{score.colour_shift:>8.2f}{score.stripes:>8.2f}{score.seconds_per_image:>10.3f}{score.parameters:>12,}"
        )
    return "\n".join(lines)


def write_scores_csv(scores: Sequence[ModelScore], path: Path, data: str) -> None:
    """One row per (model, image) plus a ``mean`` row per model; written atomically (a full disk keeps the old file).

    The ``mean`` row's colour shift is the worst image's and its stripe score the median image's, as the table shows;
    ``lpips`` is empty where LPIPS is unavailable.
    """
    with atomic_target(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "data",
                "model",
                "image",
                "psnr_y",
                "ssim_y",
                "seconds",
                "parameters",
                "detail_ratio",
                "colour_shift",
                "lpips",
                "stripe_score",
            ]
        )
        for score in scores:
            rows: list[tuple[str, ImageScore | ModelScore, float]] = [
                (image.image, image, image.seconds) for image in score.images
            ]
            for name, row, seconds in [*rows, ("mean", score, score.seconds_per_image)]:
                writer.writerow(
                    [
                        data,
                        score.model,
                        name,
                        f"{row.psnr:.4f}",
                        f"{row.ssim:.5f}",
                        f"{seconds:.4f}",
                        score.parameters,
                        f"{row.detail:.4f}",
                        f"{row.colour_shift:.3f}",
                        "" if row.lpips is None else f"{row.lpips:.4f}",
                        f"{row.stripes:.3f}",
                    ]
                )


def _evaluate(args: argparse.Namespace) -> int:
    from sr_core.evaluation import ModelScore, evaluate_model, score_network
    from sr_core.protocol import image_files
    from sr_core.registry import all_specs, get_spec

    names = [name.strip() for name in args.models.split(",") if name.strip()]
    for name in names:
        get_spec(name)
    weights = _parse_weights_overrides(args.weights)
    registered = {spec.name for spec in all_specs()}
    files = image_files(args.data)
    if not files:
        raise UsageError(f"no images found in {args.data}")
    own_models = _own_models({name: path for name, path in weights.items() if name not in registered})
    scores = []
    for name in names:
        try:
            scores.append(evaluate_model(name, files, weights.get(name)))
        except WeightsNotFoundError:
            print(f"skipped {name}: no weights (bundle them or pass --weights {name}=FILE)", file=sys.stderr)
        except UnsupportedOnThisCPUError as refusal:
            print(f"skipped {name}: {refusal}", file=sys.stderr)
    for name, model in own_models.items():
        scores.append(ModelScore(name, score_network(model.network, files, model.device), model.parameters))
    print(f"{Path(args.data).name}: {len(files)} images, x4, Y channel, border 4")
    print(format_table(scores))
    if args.csv:
        write_scores_csv(scores, Path(args.csv), str(args.data))
    return EXIT_OK


def _own_models(files: dict[str, str]) -> dict[str, LoadedModel]:
    """``evaluate --weights NAME=FILE`` pairs naming no registered model: each file's model in float32, every one
    read and checked to be x4 before anything is scored (another scale is refused, naming it)."""
    if not files:
        return {}
    import torch

    from sr_core.user_models import load_weights_file, require_scale

    models = {name: load_weights_file(path, dtype=torch.float32) for name, path in files.items()}
    for model in models.values():
        require_scale(model, "evaluate")
    return models


def _models(args: argparse.Namespace) -> int:
    """Every model at its paper's size; bundled weights of another size say so (``yes (num_block=6)``).
    With ``--weights FILE``, what that file holds instead (architecture, scale, parameters ...).

    Networks are built on the meta device: counting 24 M discriminator parameters needs their shapes, not memory.
    """
    if args.weights:
        from sr_core.user_models import describe_weights_file

        print("\n".join(describe_weights_file(args.weights)))
        return EXIT_OK
    import torch

    from sr_core.models.blocks import count_parameters
    from sr_core.registry import all_specs

    print(f"{'name':<26}{'params':>12}  {'weights':<20} description")
    for spec in all_specs():
        weights = _weights_note(spec.name) if spec.learned and spec.upscales else "-"
        with torch.device("meta"):
            parameters = count_parameters(spec.build())
        print(f"{spec.name:<26}{parameters:>12,}  {weights:<20} {spec.description}")
    return EXIT_OK


def _weights_note(name: str) -> str:
    from sr_core.inference import bundled_arch_kwargs, model_has_weights, refusal_on_this_cpu
    from sr_core.registry import get_spec

    if not model_has_weights(name):
        return "no"
    if refusal_on_this_cpu(name):
        return "not on this CPU"
    arch_kwargs = bundled_arch_kwargs(get_spec(name).quantized_from or name)
    return "yes" + (f" ({', '.join(f'{key}={value}' for key, value in arch_kwargs.items())})" if arch_kwargs else "")


def _add_model_options(command: argparse.ArgumentParser, default_model: str, over_cap: str) -> None:
    """The options of every command that upscales: model, weights, tile size and pixel cap."""
    command.add_argument(
        "--model",
        default=None,
        help=f"a name from `python -m sr_core models`, or {AUTO_MODEL}: the model --weights holds "
        f"(default: {AUTO_MODEL} with --weights, else {default_model})",
    )
    command.add_argument("--weights", help="a .safetensors or .pth file instead of the bundled weights")
    command.set_defaults(default_model=default_model)
    command.add_argument("--tile", type=int, default=0, help="LR tile side in pixels (0: automatic)")
    command.add_argument(
        "--pixel-cap",
        type=int,
        default=pixel_cap_from_env(),
        help=f"{over_cap} with more pixels (env SR_STUDIO_PIXEL_CAP)",
    )


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser of every ``python -m sr_core`` command, able to parse ``argv``.

    Every command is listed in ``--help``; a command group's module is imported (and its
    commands given their options) only when ``argv`` runs one of its commands.
    """
    parser = argparse.ArgumentParser(prog="python -m sr_core", description="SR Studio: x4 super-resolution tools")
    commands = _DescribedCommands(parser.add_subparsers(dest="command", required=True))
    _add_core_commands(commands)
    chosen = COMMANDS.get(_command_in(argv))
    for module in dict.fromkeys(command.module for command in COMMANDS.values() if command.module != CORE):
        if chosen is not None and chosen.module == module:
            importlib.import_module(module).add_commands(commands)
        else:
            for name in _commands_of(module):
                commands.add_parser(name, add_help=False)
    return parser


class _DescribedCommands:
    """The parser's subcommands, each given the one-line help :data:`COMMANDS` has for it."""

    def __init__(self, subparsers: argparse._SubParsersAction) -> None:
        self._subparsers = subparsers

    def add_parser(self, name: str, **options: Any) -> argparse.ArgumentParser:
        return self._subparsers.add_parser(name, help=COMMANDS[name].help, **options)


def _command_in(argv: Sequence[str]) -> str:
    """The command ``argv`` runs: its first word that is not an option (the top level takes only -h)."""
    return next((word for word in argv if not word.startswith("-")), "")


def _commands_of(module: str) -> list[str]:
    return [name for name, command in COMMANDS.items() if command.module == module]


def _add_core_commands(commands: _DescribedCommands) -> None:
    """The commands defined here: upscaling, figures, evaluation and the model list."""
    upscale = commands.add_parser("upscale")
    upscale.add_argument("input")
    upscale.add_argument("output", help="a .png path")
    _add_model_options(upscale, default_model="bicubic", over_cap="refuse inputs")
    upscale.set_defaults(handler=_upscale)

    frames = commands.add_parser("upscale-frames")
    frames.add_argument("input_dir", help="folder of frames, taken in name order")
    frames.add_argument(
        "output_dir", help="folder for the PNG frames (same names; x4, or the scale of the model --weights holds)"
    )
    _add_model_options(frames, default_model="swiftsrgan", over_cap="skip frames")
    frames.set_defaults(handler=_upscale_frames)

    figure = commands.add_parser("figure")
    figure.add_argument("image", help="an HR image, treated as ground truth")
    figure.add_argument("output", help="a .png path")
    figure.add_argument("--models", default="bicubic,srcnn,srresnet,srgan,esrgan_psnr,esrgan,swiftsrgan")
    figure.add_argument("--center", default="0.5,0.5", help="crop centre as fractions of width,height")
    figure.add_argument("--size", type=int, default=64, help="crop side in output pixels")
    figure.add_argument("--factor", type=int, default=3, help="nearest-neighbour enlargement of the crop")
    figure.set_defaults(handler=_figure)

    evaluate = commands.add_parser("evaluate")
    evaluate.add_argument("--models", default="bicubic", help="comma-separated model names")
    evaluate.add_argument("--data", required=True, help="folder of HR images (e.g. Set5)")
    evaluate.add_argument("--csv", help="write per-image scores to this CSV")
    evaluate.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="evaluate NAME with FILE instead of its bundled weights; a NAME that is no model's "
        "adds FILE's model (any x4 architecture spandrel recognises) under that name (repeatable)",
    )
    evaluate.set_defaults(handler=_evaluate)

    models = commands.add_parser("models")
    models.add_argument(
        "--weights",
        metavar="FILE",
        help="print what a .safetensors or .pth file holds (architecture, scale, parameters) instead",
    )
    models.set_defaults(handler=_models)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors become one line on stderr and exit code 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return args.handler(args)
    except SRStudioError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        print(f"error: {error.strerror or error} ({getattr(error, 'filename', '') or ''})", file=sys.stderr)
        return EXIT_BAD_INPUT
