"""``python -m sr_core zscgan``: the ZS-CGAN paper's experiment at MNIST scale from the command line.

    python -m sr_core zscgan --data ../shared/data/mnist --out runs/quant/zscgan --threads 1

It prints the paper's Tables 1-2 (FP32, data-free and data-driven PTQ/QAT at INT8 and INT6) and
saves a grid of samples per class.
"""

from __future__ import annotations

import argparse
import functools

from sr_core.device import set_cpu_threads

EXIT_OK = 0

progress = functools.partial(print, flush=True)


def _bit_widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--bits takes comma-separated integers such as 8,6, not {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _zscgan(args: argparse.Namespace) -> int:
    from labs.zscgan.experiment import ExperimentConfig, format_tables, run_experiment
    from labs.zscgan.qat import QATConfig
    from sr_core.quant.zscgan import GeneratorConfig

    set_cpu_threads(args.threads)
    config = ExperimentConfig(
        data=args.data,
        teacher_epochs=args.teacher_epochs,
        generator=GeneratorConfig(
            steps=args.generator_steps, batch_size=args.batch_size, width=args.width, seed=args.seed
        ),
        qat=QATConfig(steps=args.qat_steps, batch_size=args.batch_size, lr=args.qat_lr, seed=args.seed),
        loss_sets=args.losses,
        bits=args.bits,
        calibration_samples=args.calibration_samples,
        keep_training_generator=args.keep_training_generator,
        seed=args.seed,
    )
    outcome = run_experiment(config, args.out, progress)
    print(format_tables(outcome, config))
    print(f"results.csv, tables.md and samples-*.png (one row per class) in {args.out}")
    return EXIT_OK


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``zscgan`` (its one-line help is in :data:`studio.cli.COMMANDS`)."""
    zscgan = subparsers.add_parser("zscgan")
    zscgan.add_argument("--data", required=True, help="folder with MNIST's IDX files (t10k-* at least)")
    zscgan.add_argument("--out", required=True, help="run folder: networks, results.csv, tables.md, sample grids")
    zscgan.add_argument("--teacher-epochs", type=int, default=3)
    zscgan.add_argument("--generator-steps", type=int, default=500, help="ZS-CGAN steps per loss set")
    zscgan.add_argument("--qat-steps", type=int, default=150)
    zscgan.add_argument("--qat-lr", type=float, default=1e-4, help="Nesterov SGD learning rate (the paper's 1e-4)")
    zscgan.add_argument("--batch-size", type=int, default=64)
    zscgan.add_argument("--width", type=int, default=32, help="generator width (channels after the first upsampling)")
    zscgan.add_argument(
        "--losses",
        type=_names,
        default=("ce+bns", "ce", "bns", "ce+mse"),
        help="loss sets, ZS-CGAN's first: ce+bns, ce, bns, ce+mse (GDFQ's moment MSE)",
    )
    zscgan.add_argument("--bits", type=_bit_widths, default=(8, 6), help="bit widths, e.g. 8,6")
    zscgan.add_argument("--calibration-samples", type=int, default=512, help="PTQ calibration images per source")
    zscgan.add_argument(
        "--keep-training-generator",
        action="store_true",
        help="go on training the generator during data-free QAT, as the paper does",
    )
    zscgan.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    zscgan.add_argument("--seed", type=int, default=0)
    zscgan.set_defaults(handler=_zscgan)
