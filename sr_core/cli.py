"""``python -m sr_core``: the command line. Its commands, flags and exit codes are a contract.

Exit codes: 0 success, 1 an unexpected failure (a bug: traceback shown), 2 bad input or
configuration (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sr_core.errors import SRStudioError, UnsupportedOnThisCPUError, WeightsNotFoundError
from sr_core.evaluation import ModelScore, evaluate_model, image_files
from sr_core.figures import comparison_strip, save_comparison_strip
from sr_core.files import atomic_target
from sr_core.frames import upscale_frames
from sr_core.imaging import open_image, pixel_cap_from_env, save_image
from sr_core.inference import (
    AUTO_MODEL,
    bundled_arch_kwargs,
    model_for_weights,
    model_has_weights,
    refusal_on_this_cpu,
    upscale_image,
)
from sr_core.models.blocks import count_parameters
from sr_core.registry import all_specs, get_spec, sr_model_names

EXIT_OK, EXIT_BAD_INPUT = 0, 2


class UsageError(SRStudioError):
    """A command-line argument that cannot work (reported like any bad input)."""


def _upscale(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise UsageError(f"OUTPUT must be a .png file (lossless), not {output.name!r}")
    model = chosen_model(args.model, args.weights, args.default_model)
    image = open_image(args.input, pixel_cap=args.pixel_cap)
    result = upscale_image(image, model, weights_file=args.weights, tile=args.tile)
    save_image(result.rgb, output, alpha=result.alpha, grayscale=result.grayscale, bit_depth=result.bit_depth)
    for notice in result.notices:
        print(f"note: {notice}", file=sys.stderr)
    width, height = result.size
    print(f"{model}: {image.width}x{image.height} -> {width}x{height} in {result.seconds:.2f} s -> {output}")
    return EXIT_OK


def chosen_model(model: str | None, weights_file: str | None, default_model: str) -> str:
    """The model a command runs: ``--model``; with ``--model auto`` (or none) the one ``--weights`` holds, else
    the command's ``default_model``.

    A weights file is never ignored: given to a model that takes none (bicubic) it is refused.
    """
    if model in (None, AUTO_MODEL):
        return model_for_weights(weights_file) if weights_file else default_model
    if weights_file and not get_spec(model).learned:
        raise UsageError(f"--model {model} takes no weights; drop --weights, or use --model auto to run the model "
                         f"{Path(weights_file).name} holds")
    get_spec(model)
    return model


def _upscale_frames(args: argparse.Namespace) -> int:
    model = chosen_model(args.model, args.weights, args.default_model)
    report = upscale_frames(args.input_dir, args.output_dir, model, args.weights, args.tile, args.pixel_cap)
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(
        f"{model}: {len(report.written)} frames -> {args.output_dir} in {report.seconds:.2f} s "
        f"({report.frames_per_second:.2f} frames/s; model {report.model_seconds:.2f} s)"
    )
    return EXIT_OK if report.written else EXIT_BAD_INPUT


def _figure(args: argparse.Namespace) -> int:
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
    """The papers' table layout (mean PSNR, SSIM, seconds per image) plus mean detail ratio and worst colour shift."""
    lines = [f"{'model':<18}{'PSNR (dB)':>10}{'SSIM':>9}{'detail':>8}{'colour':>8}{'s/image':>10}{'params':>12}"]
    for score in scores:
        lines.append(
            f"{score.model:<18}{score.psnr:>10.2f}{score.ssim:>9.4f}{score.detail:>8.2f}{score.colour_shift:>8.2f}"
            f"{score.seconds_per_image:>10.3f}{score.parameters:>12,}"
        )
    return "\n".join(lines)


def write_scores_csv(scores: Sequence[ModelScore], path: Path, data: str) -> None:
    """One row per (model, image) plus a ``mean`` row per model; written atomically (a full disk keeps the old file)."""
    with atomic_target(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["data", "model", "image", "psnr_y", "ssim_y", "seconds", "parameters", "detail_ratio",
                         "colour_shift"])
        for score in scores:
            for image in score.images:
                writer.writerow([data, score.model, image.image, f"{image.psnr:.4f}", f"{image.ssim:.5f}",
                                 f"{image.seconds:.4f}", score.parameters, f"{image.detail:.4f}",
                                 f"{image.colour_shift:.3f}"])
            writer.writerow([data, score.model, "mean", f"{score.psnr:.4f}", f"{score.ssim:.5f}",
                             f"{score.seconds_per_image:.4f}", score.parameters, f"{score.detail:.4f}",
                             f"{score.colour_shift:.3f}"])


def _evaluate(args: argparse.Namespace) -> int:
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    for name in names:
        get_spec(name)
    weights = _parse_weights_overrides(args.weights)
    files = image_files(args.data)
    if not files:
        raise UsageError(f"no images found in {args.data}")
    scores = []
    for name in names:
        try:
            scores.append(evaluate_model(name, files, weights.get(name)))
        except WeightsNotFoundError:
            print(f"skipped {name}: no weights (bundle them or pass --weights {name}=FILE)", file=sys.stderr)
        except UnsupportedOnThisCPUError as refusal:
            print(f"skipped {name}: {refusal}", file=sys.stderr)
    print(f"{Path(args.data).name}: {len(files)} images, x4, Y channel, border 4")
    print(format_table(scores))
    if args.csv:
        write_scores_csv(scores, Path(args.csv), str(args.data))
    return EXIT_OK


def _models(_args: argparse.Namespace) -> int:
    """Every model at its paper's size; bundled weights of another size say so (``yes (num_block=6)``)."""
    print(f"{'name':<26}{'params':>12}  {'weights':<20} description")
    for spec in all_specs():
        is_generator = spec.name in sr_model_names()
        weights = _weights_note(spec.name) if spec.learned and is_generator else "-"
        print(f"{spec.name:<26}{count_parameters(spec.build()):>12,}  {weights:<20} {spec.description}")
    return EXIT_OK


def _weights_note(name: str) -> str:
    if not model_has_weights(name):
        return "no"
    if refusal_on_this_cpu(name):
        return "not on this CPU"
    arch_kwargs = bundled_arch_kwargs(get_spec(name).quantized_from or name)
    return "yes" + (f" ({', '.join(f'{key}={value}' for key, value in arch_kwargs.items())})" if arch_kwargs else "")


def _add_model_options(command: argparse.ArgumentParser, default_model: str, over_cap: str) -> None:
    """The options of every command that upscales: model, weights, tile size and pixel cap."""
    command.add_argument("--model", default=None,
                         help=f"a name from `python -m sr_core models`, or {AUTO_MODEL}: the model --weights holds "
                              f"(default: {AUTO_MODEL} with --weights, else {default_model})")
    command.add_argument("--weights", help="a .safetensors or .pth file instead of the bundled weights")
    command.set_defaults(default_model=default_model)
    command.add_argument("--tile", type=int, default=0, help="LR tile side in pixels (0: automatic)")
    command.add_argument("--pixel-cap", type=int, default=pixel_cap_from_env(),
                         help=f"{over_cap} with more pixels (env SR_STUDIO_PIXEL_CAP)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``python -m sr_core`` command."""
    parser = argparse.ArgumentParser(prog="python -m sr_core", description="SR Studio: x4 super-resolution tools")
    commands = parser.add_subparsers(dest="command", required=True)

    upscale = commands.add_parser("upscale", help="upscale one image x4")
    upscale.add_argument("input")
    upscale.add_argument("output", help="a .png path")
    _add_model_options(upscale, default_model="bicubic", over_cap="refuse inputs")
    upscale.set_defaults(handler=_upscale)

    frames = commands.add_parser("upscale-frames", help="upscale every image of a folder as a stream (video frames)")
    frames.add_argument("input_dir", help="folder of frames, taken in name order")
    frames.add_argument("output_dir", help="folder for the x4 PNG frames (same names)")
    _add_model_options(frames, default_model="swiftsrgan", over_cap="skip frames")
    frames.set_defaults(handler=_upscale_frames)

    figure = commands.add_parser("figure", help="one crop of an image through every model, side by side (PNG)")
    figure.add_argument("image", help="an HR image, treated as ground truth")
    figure.add_argument("output", help="a .png path")
    figure.add_argument("--models", default="bicubic,srcnn,srresnet,srgan,esrgan_psnr,esrgan,swiftsrgan")
    figure.add_argument("--center", default="0.5,0.5", help="crop centre as fractions of width,height")
    figure.add_argument("--size", type=int, default=64, help="crop side in output pixels")
    figure.add_argument("--factor", type=int, default=3, help="nearest-neighbour enlargement of the crop")
    figure.set_defaults(handler=_figure)

    evaluate = commands.add_parser("evaluate", help="PSNR/SSIM of models on a folder of HR images")
    evaluate.add_argument("--models", default="bicubic", help="comma-separated model names")
    evaluate.add_argument("--data", required=True, help="folder of HR images (e.g. Set5)")
    evaluate.add_argument("--csv", help="write per-image scores to this CSV")
    evaluate.add_argument("--weights", action="append", default=[], metavar="NAME=FILE",
                          help="evaluate NAME with FILE instead of its bundled weights (repeatable)")
    evaluate.set_defaults(handler=_evaluate)

    models = commands.add_parser("models", help="list models, parameter counts and bundled weights")
    models.set_defaults(handler=_models)

    for add_commands in _plugin_commands():
        add_commands(commands)
    return parser


def _plugin_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Command groups that live beside their subsystems (training, MOS, GAN lab, ...)."""
    from sr_core.bench import add_commands as add_bench_commands
    from sr_core.gan.cli import add_commands as add_gan_commands
    from sr_core.mos.cli import add_commands as add_mos_commands
    from sr_core.quant.cli import add_commands as add_quant_commands
    from sr_core.train.cli import add_commands as add_train_commands

    return [add_train_commands, add_bench_commands, add_gan_commands, add_mos_commands, add_quant_commands]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors become one line on stderr and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SRStudioError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        print(f"error: {error.strerror or error} ({getattr(error, 'filename', '') or ''})", file=sys.stderr)
        return EXIT_BAD_INPUT
