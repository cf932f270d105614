"""What LPIPS costs: one 512x512 pair, and the Compare tab's run of a 256x256 upload with and without it.

Issue 17's budget: the Compare tab with LPIPS must stay within its time without LPIPS plus 25%
for a 256x256 upload (ground truth, the tab's default models with the bundled weights). Rounds
alternate without / with LPIPS, so a drift in the machine's speed hits both alike; the table
gives medians after one warm-up round (which loads the models and AlexNet).

    python -m benchmarks.lpips_speed                # 2 CPU threads, 5 rounds
    python -m benchmarks.lpips_speed --threads 4 --rounds 9
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sr_core import lpips
from studio.services import compare, model_choices, uploads

BUDGET = 1.25


def seconds_of(run: Callable[[], object]) -> float:
    """Wall time of one call of ``run``."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


@contextmanager
def lpips_switched_off() -> Iterator[None]:
    """The library as on a machine without the LPIPS package, so the Compare tab runs exactly as before LPIPS."""
    available = lpips.lpips_or_none
    lpips.lpips_or_none = lambda network=lpips.DEFAULT_NETWORK: None
    try:
        yield
    finally:
        lpips.lpips_or_none = available


def lpips_pair_seconds(side: int, rounds: int) -> float:
    """Median seconds of AlexNet LPIPS on one ``side`` x ``side`` pair (the network already loaded)."""
    rng = np.random.default_rng(side)
    first, second = (rng.random((side, side, 3), dtype=np.float32) for _ in range(2))
    lpips.lpips_distance(first, second)
    return statistics.median(seconds_of(lambda: lpips.lpips_distance(first, second)) for _ in range(rounds))


def compare_seconds(upload: Path, rounds: int) -> tuple[float, float]:
    """Median seconds of the Compare tab's whole run on ``upload`` (without LPIPS, with LPIPS)."""

    def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            for _ in compare.compare_stream(upload, uploads.GROUND_TRUTH, model_choices.COMPARE_MODELS, Path(folder)):
                pass

    without, with_lpips = [], []
    for round_index in range(rounds + 1):
        with lpips_switched_off():
            off = seconds_of(run)
        on = seconds_of(run)
        if round_index:
            without.append(off)
            with_lpips.append(on)
    return statistics.median(without), statistics.median(with_lpips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if lpips.lpips_or_none() is None:
        raise SystemExit(f"LPIPS is unavailable here: {lpips.lpips_unavailable_reason()}")
    loading = seconds_of(lambda: lpips.lpips_network.cache_clear() or lpips.lpips_network())
    pair = lpips_pair_seconds(512, args.rounds)
    with tempfile.TemporaryDirectory() as folder:
        upload = Path(folder) / "upload256.png"
        Image.fromarray(np.random.default_rng(256).integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(upload)
        without, with_lpips = compare_seconds(upload, args.rounds)
    ratio = with_lpips / without
    print(f"{torch.get_num_threads()} CPU threads, medians of {args.rounds} rounds")
    print(f"AlexNet LPIPS: loading {loading:.2f} s; one 512x512 pair {1000 * pair:.0f} ms")
    print(
        f"Compare tab, 256x256 upload, models {', '.join(model_choices.COMPARE_MODELS)}: without LPIPS {without:.2f} s, "
        f"with LPIPS {with_lpips:.2f} s ({ratio:.2f}x; budget {BUDGET:.2f}x: {'met' if ratio <= BUDGET else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
