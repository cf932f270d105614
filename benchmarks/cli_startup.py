"""Start-up of the command line: whole-process wall time of a few commands against ``import torch``.

Each round runs ``python -c "import torch"`` and then every command once, in turn, so a drift in
the machine's speed hits all of them alike; the table gives each command's median wall time and
the median of its per-round ratio to ``import torch`` (the issue's aims: ``--help`` within 1.5x,
``models`` within 2.5x).

    python -m benchmarks.cli_startup              # 5 rounds after one warm-up round
    python -m benchmarks.cli_startup --rounds 9
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

BASELINE = ("import torch", [sys.executable, "-c", "import torch"])


def commands(workdir: Path) -> list[tuple[str, list[str]]]:
    """(label, argv) of each command timed: ``--help``, ``models``, a 128x128 bicubic and a 192x192 swiftsrgan upscale."""
    cli = [sys.executable, "-m", "sr_core"]
    timed = [("--help", [*cli, "--help"]), ("models", [*cli, "models"])]
    for side, model in ((128, "bicubic"), (192, "swiftsrgan")):
        image = workdir / f"in{side}.png"
        pixels = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(image)
        timed.append(
            (f"upscale {side}px {model}", [*cli, "upscale", str(image), str(workdir / "out.png"), "--model", model])
        )
    return timed


def wall_seconds(argv: list[str]) -> float:
    """Wall time of one run of ``argv`` (output discarded); a failing command stops the benchmark."""
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(timed: list[tuple[str, list[str]]], rounds: int) -> dict[str, tuple[float, float]]:
    """Per label: (median wall seconds, median ratio to the baseline of the same round), after a warm-up round."""
    walls: dict[str, list[float]] = {label: [] for label, _ in [BASELINE, *timed]}
    ratios: dict[str, list[float]] = {label: [] for label, _ in timed}
    for round_index in range(rounds + 1):
        baseline = wall_seconds(BASELINE[1])
        measured = {label: wall_seconds(argv) for label, argv in timed}
        if round_index == 0:
            continue
        walls[BASELINE[0]].append(baseline)
        for label, seconds in measured.items():
            walls[label].append(seconds)
            ratios[label].append(seconds / baseline)
    table = {BASELINE[0]: (statistics.median(walls[BASELINE[0]]), 1.0)}
    table.update({label: (statistics.median(walls[label]), statistics.median(ratios[label])) for label in ratios})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        table = measure(commands(Path(folder)), args.rounds)
    print(f"{'command':<24}{'wall s (median)':>16}{'x import torch':>16}")
    for label, (seconds, ratio) in table.items():
        print(f"{label:<24}{seconds:>16.2f}{ratio:>16.2f}")


if __name__ == "__main__":
    main()
