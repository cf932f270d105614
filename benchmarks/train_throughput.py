"""Training throughput per preset: steps/s and images/s of the real training step, with and without channels_last.

Runs :func:`sr_core.train.loop.train_step` (generator update, discriminator update, loss
terms, optimiser steps) on random batches, so the figures measure the models and losses, not
data loading. Content losses use the packaged ImageNet networks the GAN presets train with
offline (VGG16, EfficientNet-Lite0); ``--features random`` times torchvision's VGG19 /
MobileNetV2 instead (untrained, same cost as trained). On a machine with CUDA the GPU rows are
added, in the preset's precision.

    python -m benchmarks.train_throughput                       # every preset, batch 4, 64 px crops
    python -m benchmarks.train_throughput --presets srresnet --batch-size 16 --hr-crop 96 --threads 1
    python -m benchmarks.train_throughput --presets srgan --batch-size 16 --hr-crop 96 --threads 2  # VGG16 loss
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from sr_core.protocol import SCALE
from sr_core.train.loop import build_parts, train_step
from sr_core.train.presets import PRESETS, TrainConfig, preset


def measure(config: TrainConfig, device: torch.device, steps: int, warmup: int) -> float:
    """Seconds per training step of ``config`` on ``device``, the median of ``steps`` after ``warmup``."""
    torch.manual_seed(0)
    parts = build_parts(config, device)
    lr_side = config.hr_crop // SCALE
    lr_batch = torch.rand(config.batch_size, 3, lr_side, lr_side, device=device)
    hr_batch = torch.rand(config.batch_size, 3, config.hr_crop, config.hr_crop, device=device)
    durations = []
    for index in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        train_step(parts, lr_batch, hr_batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if index >= warmup:
            durations.append(time.perf_counter() - started)
    return sorted(durations)[len(durations) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated preset names")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--hr-crop", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row (median reported)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--features", default="packaged", help="content-loss networks: packaged or random")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(
        f"batch {args.batch_size}, HR crop {args.hr_crop} px, CPU threads {torch.get_num_threads()}, "
        f"features {args.features}"
    )
    print(f"{'preset':<22}{'device':<8}{'layout':<16}{'steps/s':>9}{'images/s':>10}")
    for name in args.presets.split(","):
        for device in devices:
            for channels_last in (False, True):
                config = replace(
                    preset(name),
                    batch_size=args.batch_size,
                    hr_crop=args.hr_crop,
                    features=args.features,
                    channels_last=channels_last,
                )
                seconds = measure(config, device, args.steps, args.warmup)
                layout = "channels_last" if channels_last else "contiguous"
                print(f"{name:<22}{device.type:<8}{layout:<16}{1 / seconds:>9.2f}{args.batch_size / seconds:>10.1f}")


if __name__ == "__main__":
    main()
