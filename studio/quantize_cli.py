"""``python -m sr_core quantize``: int8 PTQ of an SR model, calibrated data-free or on real crops.

    python -m sr_core quantize --model swiftsrgan --calib data-free --calib ../shared/data/train/t91 \\
        --data ../shared/data/set5 --data ../shared/data/set14 --latency 270p

It prints FP32 against int8 PTQ calibrated on each ``--calib`` source, and whether an int8 model
meets the bar to ship (at most 0.3 dB lost, faster on CPU); with ``--publish`` it ships one that
does as ``MODEL-int8``, which the app and every command can then select.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import sys
from pathlib import Path

import torch

from sr_core.bench import SIZES
from sr_core.device import set_cpu_threads
from sr_core.errors import QuantSettingError
from sr_core.quant.sr import LR_CROP, LR_GENERATOR

EXIT_OK = 0
EXIT_NOT_PUBLISHED = 3  # --publish, but no calibration met the bar: nothing was written
DATA_FREE = "data-free"

progress = functools.partial(print, flush=True)


def _calibration_sets(args: argparse.Namespace, network: torch.nn.Module) -> dict[str, list[torch.Tensor]]:
    """Label -> LR calibration batches for each ``--calib`` source (data-free by default)."""
    from labs.mnist import save_grid
    from sr_core.quant import sr

    calibration = {}
    for source in args.calib or [DATA_FREE]:
        if source == DATA_FREE:
            config = dataclasses.replace(
                sr.LR_GENERATOR, steps=args.generator_steps, batch_size=args.batch_size, seed=args.seed
            )
            generator = sr.train_lr_generator(network, config, args.crop, progress)
            batches = sr.synthetic_calibration(generator, args.batches, args.batch_size, args.seed)
            calibration["int8 data-free (BNS gen.)"] = batches
            if args.out:
                save_grid(batches[0] * 2 - 1, Path(args.out) / f"{args.model}-lr-samples.png", per_row=8)
        else:
            calibration[f"int8 real crops ({Path(source).name})"] = sr.real_calibration(
                source, args.batches, args.batch_size, args.crop, args.seed
            )
    return calibration


def _probe(args: argparse.Namespace, calibration: dict[str, list[torch.Tensor]]) -> torch.Tensor:
    """The LR input on which int8 is compared with FP32: the first ``--data`` image, else a calibration batch."""
    from sr_core.protocol import image_files
    from sr_core.quant.sr import protocol_lr

    first_images = [files[0] for files in map(image_files, args.data) if files]
    return protocol_lr(first_images[0]) if first_images else next(iter(calibration.values()))[0]


def _quantize(args: argparse.Namespace) -> int:
    from sr_core.optimize import fold_batch_norms
    from sr_core.ptq import calibrate, convert
    from sr_core.quant import sr
    from sr_core.registry import get_spec

    set_cpu_threads(args.threads)
    get_spec(args.model)
    if args.publish and (args.weights or not args.data or args.latency == "none"):
        raise QuantSettingError(
            "--publish ships the bundled model's int8 variant once it is measured: give --data "
            "(Set5, Set14 ...) and --latency, and no --weights"
        )
    network = sr.float_sr_network(args.model, args.weights)
    calibration = _calibration_sets(args, network)
    variants: dict[str, torch.nn.Module] = {"fp32": fold_batch_norms(network)}
    prepared = {}
    for label, batches in calibration.items():
        progress(f"{label}: calibrating on {sum(len(batch) for batch in batches)} LR crops of {args.crop} px")
        prepared[label] = calibrate(network, batches, bits=8)
        variants[label] = convert(copy.deepcopy(prepared[label]))
    probe = _probe(args, calibration)
    with torch.no_grad():
        reference = variants["fp32"](probe)
        max_abs_diff = {label: float((variant(probe) - reference).abs().max()) for label, variant in variants.items()}
    rows = sr.score_variants(variants, [Path(folder) for folder in args.data])
    print(f"{args.model}: FP32 vs int8 PTQ (PT2E, x86; PReLU stays float)")
    print(sr.format_quality_table(rows, max_abs_diff))
    if args.latency == "none":
        return EXIT_OK
    frame = sr.latency_frame(probe, SIZES[args.latency])
    report = sr.measure_latency(network, variants[next(iter(calibration))], frame, args.repeats, progress)
    print(sr.format_latency(report))
    fp32_rows = [row for row in rows if row.variant == "fp32"]
    passing = []
    for label in calibration:
        ships = sr.meets_bar(
            fp32_rows,
            [row for row in rows if row.variant == label],
            report.milliseconds[sr.FP32_APP],
            report.milliseconds[sr.INT8_COMPILED],
        )
        print(
            f"{label}: {'meets' if ships else 'misses'} the bar (<= {sr.MAX_PSNR_LOSS_DB} dB lost on every "
            "--data set, faster than the app's FP32)"
        )
        passing += [label] if ships else []
    if args.publish:
        return _publish(args, prepared, passing, report)
    return EXIT_OK


def _publish(args: argparse.Namespace, prepared: dict, passing: list[str], report) -> int:
    """Write the int8 variant of the first calibration that meets the bar (data-free first when given)."""
    from sr_core.quant.publish import publish_int8

    if not passing:
        print(f"not published: no calibration of {args.model} meets the bar", file=sys.stderr)
        return EXIT_NOT_PUBLISHED
    label = passing[0]
    progress(f"publishing {args.model}-int8 ({label}); scoring it as `evaluate` does (compiles first)")
    entry = publish_int8(
        args.model, prepared[label], label, [Path(folder) for folder in args.data], report.milliseconds
    )
    print(f"published {entry.model}: {entry.file} with scores {entry.scores}")
    return EXIT_OK


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``quantize`` (its one-line help is in :data:`studio.cli.COMMANDS`)."""
    quantize = subparsers.add_parser("quantize")
    quantize.add_argument("--model", required=True, help="an SR model with batch norm: srresnet, srgan, swiftsrgan ...")
    quantize.add_argument("--weights", help="a .safetensors or .pth file instead of the bundled weights")
    quantize.add_argument(
        "--calib",
        action="append",
        metavar="data-free|DIR",
        help="calibration source, repeatable: 'data-free' (a generator matching the model's BN "
        "statistics) or a folder of HR images whose x4-downscaled crops are used",
    )
    quantize.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="DIR",
        help="HR test images (Set5, Set14 ...) for PSNR/SSIM, repeatable",
    )
    quantize.add_argument(
        "--latency",
        choices=["none", *SIZES],
        default="none",
        help="LR size of the CPU latency test (270p: 270x480 -> 1080x1920)",
    )
    quantize.add_argument("--repeats", type=int, default=5, help="timed runs per variant")
    quantize.add_argument(
        "--generator-steps", type=int, default=LR_GENERATOR.steps, help="BNS steps of the data-free generator"
    )
    quantize.add_argument("--batches", type=int, default=8, help="calibration batches")
    quantize.add_argument("--batch-size", type=int, default=LR_GENERATOR.batch_size)
    quantize.add_argument("--crop", type=int, default=LR_CROP, help="LR crop side in pixels (a multiple of 4)")
    quantize.add_argument("--out", help="folder for a PNG of the data-free generator's LR samples")
    quantize.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    quantize.add_argument("--seed", type=int, default=0)
    quantize.add_argument(
        "--publish",
        action="store_true",
        help=f"when a calibration meets the bar, ship MODEL-int8 in the weights folder (exit "
        f"{EXIT_NOT_PUBLISHED} when none does); needs --data and --latency",
    )
    quantize.set_defaults(handler=_quantize)
