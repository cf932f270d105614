"""``python -m sr_core gan-train``, ``gan-eval`` and ``gan-bundle``: train GANs, compare their samples, bundle them.

    python -m sr_core gan-train --model gan1d --target normal --steps 10000 --out runs/gan/gan1d-normal
    python -m sr_core gan-train --model dcgan --disc capsule --data ../shared/data/mnist --steps 2000 \\
        --out runs/gan/dcgan-capsule
    python -m sr_core gan-eval runs/gan/dcgan-cnn runs/gan/dcgan-capsule
    python -m sr_core gan-bundle runs/gan/*/    # into assets/gan_runs, which the GAN Lab shows on a fresh clone

Running gan-train again with the same --out resumes from the last checkpoint up to --steps.
User errors raise :class:`sr_core.errors.SRStudioError` subclasses (one line, exit code 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from labs.gan.bundle import bundled_runs_dir, grids_figure, write_bundle
from labs.gan.errors import GanSettingError
from labs.gan.registry import SIZES, gan_names
from labs.gan.runs import comparison_table, find_runs, format_summary, read_run
from labs.gan.toy import TARGETS
from labs.gan.trainer import GanRunConfig, Schedule, evaluate_run, open_run, train
from labs.mnist import download_mnist
from sr_core.device import set_cpu_threads

EXIT_OK = 0


def _builder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that tune the GAN's builder, only where given (each builder has the source's defaults)."""
    given = {
        "generator": args.generator,
        "dropout": args.dropout,
        "k": args.k,
        "lr": args.lr,
        "instance_noise": args.instance_noise,
        "lr_decay": args.lr_decay,
    }
    return {name: value for name, value in given.items() if value is not None}


def _cache_dir(args: argparse.Namespace, run_folder: Path) -> Path:
    """Where the MNIST feature classifier is cached: --cache, else beside the run (shared by sibling runs)."""
    return Path(args.cache) if args.cache else run_folder.resolve().parent


def _gan_train(args: argparse.Namespace) -> int:
    set_cpu_threads(args.threads)
    if args.download:
        if not args.data:
            raise GanSettingError("--download needs --data DIR, the folder to put MNIST in")
        download_mnist(args.data)
    config = GanRunConfig(
        model=args.model,
        discriminator=args.disc,
        size=args.size,
        data=args.data,
        target=args.target,
        batch_size=args.batch_size,
        seed=args.seed,
        options=_builder_options(args),
    )
    schedule = Schedule(
        steps=args.steps,
        sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every,
        print_every=args.print_every,
    )
    run = train(config, args.out, schedule)
    print(f"run saved in {run.folder} (metrics.csv, report.html, checkpoint.pt, generator.safetensors)")
    if not args.no_eval:
        summary = evaluate_run(run, _cache_dir(args, run.folder))
        print(format_summary(summary["metrics"]))
    return EXIT_OK


def _gan_eval(args: argparse.Namespace) -> int:
    set_cpu_threads(args.threads)
    runs = []
    for folder in args.runs:
        summary = evaluate_run(open_run(folder), _cache_dir(args, Path(folder)))
        print(f"{folder}: {format_summary(summary['metrics'])}")
        runs.append(read_run(folder))
    table = comparison_table(runs)
    if table:
        print(table)
        if args.markdown:
            Path(args.markdown).write_text(table + "\n")
    return EXIT_OK


def _gan_bundle(args: argparse.Namespace) -> int:
    set_cpu_threads(args.threads)
    folders = [Path(folder) for folder in args.runs]
    cache = Path(args.cache) if args.cache else folders[0].resolve().parent
    bundle_root = Path(args.out) if args.out else bundled_runs_dir()
    manifest = write_bundle(folders, bundle_root, cache)
    for name, entry in manifest["runs"].items():
        print(f"{name}: step {entry['training']['steps']}, {format_summary(entry['scores'])}")
    runs = find_runs(bundle_root)
    print(comparison_table(runs))
    if args.figure:
        grids_figure([run for run in runs if run.latest_sample()]).save(args.figure)
    return EXIT_OK


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``gan-train``, ``gan-eval`` and ``gan-bundle`` (one-line help in :data:`studio.cli.COMMANDS`)."""
    trainer = subparsers.add_parser("gan-train")
    trainer.add_argument("--model", required=True, choices=gan_names())
    trainer.add_argument(
        "--disc",
        default=None,
        help="discriminator body: cnn (classical) or capsule for the image GANs (default: the first)",
    )
    trainer.add_argument("--data", help="MNIST folder (IDX files) or a folder of RGB images, for the image GANs")
    trainer.add_argument("--download", action="store_true", help="fetch MNIST into --data with torchvision first")
    trainer.add_argument("--steps", type=int, default=2000, help="train up to this step (resumed runs continue)")
    trainer.add_argument("--out", required=True, help="run folder (resumed if it holds a checkpoint)")
    trainer.add_argument("--target", default="normal", choices=sorted(TARGETS), help="gan1d: the 1-D distribution")
    trainer.add_argument("--generator", choices=("linear", "mlp"), help="gan1d: linear a z + b, or the MLP")
    trainer.add_argument("--dropout", type=float, help="gan1d mlp: dropout probability in the generator (thesis 0.75)")
    trainer.add_argument("--k", type=int, help="discriminator (critic) steps per generator step")
    trainer.add_argument(
        "--instance-noise", type=float, help="sine: std of the noise added to D's inputs (default 0.3; 0 as the thesis)"
    )
    trainer.add_argument("--lr", type=float, help="learning rate of both networks (default: the source's)")
    trainer.add_argument(
        "--lr-decay",
        type=float,
        help="gan1d: share of the run, at its end, over which the learning rates fall to 0 "
        "(default 0.5; 0 keeps them constant as the thesis)",
    )
    trainer.add_argument("--batch-size", type=int, help="minibatch size (default: the source's)")
    trainer.add_argument(
        "--size", default="paper", choices=sorted(SIZES), help="network widths: paper, small (CPU runs) or tiny (tests)"
    )
    trainer.add_argument("--seed", type=int, default=0)
    trainer.add_argument("--sample-every", type=int, default=500, help="steps between sample grids")
    trainer.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    trainer.add_argument("--print-every", type=int, default=100, help="steps between progress lines")
    trainer.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    trainer.add_argument("--no-eval", action="store_true", help="skip the final sample-quality evaluation")
    trainer.add_argument("--cache", help="folder for the MNIST feature classifier (default: the run's parent)")
    trainer.set_defaults(handler=_gan_train)

    evaluator = subparsers.add_parser("gan-eval")
    evaluator.add_argument("runs", nargs="+", help="run folders written by gan-train")
    evaluator.add_argument("--markdown", help="also write the comparison table to this file")
    evaluator.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    evaluator.add_argument("--cache", help="folder for the MNIST feature classifier (default: each run's parent)")
    evaluator.set_defaults(handler=_gan_eval)

    bundler = subparsers.add_parser("gan-bundle")
    bundler.add_argument("runs", nargs="+", help="run folders of gan-train (each bundled at its last checkpoint)")
    bundler.add_argument("--out", help="bundle folder (default: assets/gan_runs, what the GAN Lab shows)")
    bundler.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    bundler.add_argument("--cache", help="folder for the MNIST feature classifier (default: the first run's parent)")
    bundler.add_argument("--figure", help="also save the classical-vs-capsule sample grids as this PNG (README)")
    bundler.set_defaults(handler=_gan_bundle)
