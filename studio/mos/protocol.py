"""One rater's trial plan: calibration, then every (image, method) once in a balanced random order.

The plan follows the SRGAN paper's MOS test and ITU-T P.808's quality controls:

- calibration first: the nearest-neighbour and HR versions of the calibration images, shown
  with their expected scores (1 and 5) and rated like the others (a rater far off is flagged);
- then each chosen image with every method once, shuffled per rater so that no image is shown
  twice in a row (whenever the counts allow it); the method never shows;
- a few of those trials again later (``repeat`` = 1), at least ``min_repeat_gap`` trials after
  the first showing, to measure retest consistency;
- gold items (a calibration image's HR or nearest version, known answer 5 or 1, unlabelled)
  and trap items (an image that says "please select 2"), placed at random, never first.

A session rates ``images_per_session`` images (default: all); the least-rated images come
first until each has ``target_raters`` raters, so a large study fills up evenly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from studio.mos.manifest import HR, NEAREST, TRAP, Manifest

CALIBRATION, TRIAL, REPEAT, GOLD, TRAP_KIND = "calibration", "trial", "repeat", "gold", "trap"
KINDS: tuple[str, ...] = (CALIBRATION, TRIAL, REPEAT, GOLD, TRAP_KIND)
RATED_KINDS: tuple[str, ...] = (TRIAL, REPEAT)
"""Kinds whose image is a rated image of the study (the others use calibration images)."""
ANCHOR_SCORES: dict[str, int] = {NEAREST: 1, HR: 5}
"""The calibration anchors of the SRGAN paper: nearest neighbour is 1 (bad), the HR is 5 (excellent)."""
TRAP_SCORE = 2
SCORE_LABELS: dict[int, str] = {1: "Bad", 2: "Poor", 3: "Fair", 4: "Good", 5: "Excellent"}


@dataclass(frozen=True)
class ProtocolConfig:
    """How many repeats, gold and trap items a session has, and how images are spread over sessions."""

    repeats: int = 2
    gold: int = 1
    traps: int = 1
    images_per_session: int | None = None
    target_raters: int = 15
    min_repeat_gap: int = 3


@dataclass(frozen=True)
class PlannedTrial:
    """One step of a session: ``trial`` numbers steps from 1 in showing order (calibration included).

    ``method`` is what the CSV records, ``variant`` which stimulus file is shown (the method, or
    the trap card, whose method is ``hr``), ``expected`` the known answer of calibration, gold
    and trap items.
    """

    trial: int
    image_id: str
    method: str
    variant: str
    kind: str
    expected: int | None = None


def choose_images(
    images: Sequence[str], raters_per_image: Mapping[str, int], config: ProtocolConfig, rng: np.random.Generator
) -> list[str]:
    """The images of a new session: those below their target rater count first, least-rated first, ties at random."""
    count = len(images) if config.images_per_session is None else min(config.images_per_session, len(images))
    tiebreak = rng.permutation(len(images))
    order = sorted(
        range(len(images)),
        key=lambda index: (
            raters_per_image.get(images[index], 0) >= config.target_raters,
            raters_per_image.get(images[index], 0),
            tiebreak[index],
        ),
    )
    return [images[index] for index in order[:count]]


Step = tuple[str, str, str, str, "int | None"]
"""(image id, method, variant shown, kind, expected score) of a :class:`PlannedTrial` before it is numbered."""


def plan_session(
    manifest: Manifest, config: ProtocolConfig, raters_per_image: Mapping[str, int], rng: np.random.Generator
) -> tuple[PlannedTrial, ...]:
    """The whole plan of one new session, numbered; depends only on its inputs and ``rng``."""
    calibration: list[Step] = [
        (image_id, method, method, CALIBRATION, score)
        for image_id in manifest.calibration_images
        for method, score in ANCHOR_SCORES.items()
    ]
    images = choose_images(list(manifest.images), raters_per_image, config, rng)
    main = _spread_images([(image_id, method) for image_id in images for method in manifest.methods], rng)
    steps: list[Step] = [(image_id, method, method, TRIAL, None) for image_id, method in main]
    steps = _with_repeats(steps, config, rng)
    calibration_ids = list(manifest.calibration_images)
    specials: list[Step] = []
    for _ in range(config.gold):
        anchor = str(rng.choice(list(ANCHOR_SCORES)))
        specials.append((str(rng.choice(calibration_ids)), anchor, anchor, GOLD, ANCHOR_SCORES[anchor]))
    for _ in range(config.traps):
        specials.append((str(rng.choice(calibration_ids)), HR, TRAP, TRAP_KIND, TRAP_SCORE))
    for special in specials:
        steps.insert(int(rng.integers(1, len(steps) + 1)), special)
    return tuple(PlannedTrial(number, *step) for number, step in enumerate(calibration + steps, start=1))


def _spread_images(items: list[tuple[str, str]], rng: np.random.Generator) -> list[tuple[str, str]]:
    """A random order of (image, method) items in which no image follows itself, whenever such an order exists.

    Built item by item: the next image is drawn among those other than the last one, in
    proportion to how many of its items are left, except that an image holding more than half
    of what is left must come now (else it could only end up next to itself).
    """
    left: dict[str, list[str]] = {}
    for image_id, method in items:
        left.setdefault(image_id, []).append(method)
    for methods in left.values():
        rng.shuffle(methods)
    order: list[tuple[str, str]] = []
    while len(order) < len(items):
        remaining = len(items) - len(order)
        previous = order[-1][0] if order else None
        candidates = [image_id for image_id, methods in left.items() if methods and image_id != previous]
        candidates = candidates or ([previous] if previous is not None else [])
        crowded = [image_id for image_id in candidates if 2 * len(left[image_id]) > remaining]
        counts = np.array([len(left[image_id]) for image_id in candidates], dtype=np.float64)
        image_id = crowded[0] if crowded else candidates[int(rng.choice(len(candidates), p=counts / counts.sum()))]
        order.append((image_id, left[image_id].pop()))
    return order


def _with_repeats(steps: list[Step], config: ProtocolConfig, rng: np.random.Generator) -> list[Step]:
    """``steps`` with ``config.repeats`` of them shown again, each with ``min_repeat_gap`` other steps or more between."""
    eligible = max(0, len(steps) - config.min_repeat_gap - 1)
    count = min(config.repeats, eligible)
    chosen = sorted(rng.choice(eligible, size=count, replace=False).tolist()) if count else []
    result = list(steps)
    for original in chosen:
        image_id, method, variant, _, _ = steps[original]
        first_position = result.index(steps[original])
        earliest = first_position + config.min_repeat_gap + 1
        result.insert(int(rng.integers(earliest, len(result) + 1)), (image_id, method, variant, REPEAT, None))
    return result
