"""A rater's trial plan: calibration first, every (image, method) once in a random spread order, repeats, gold, trap."""

import itertools

import numpy as np
import pytest
from mos_helpers import CALIBRATION_IMAGE, IMAGES, tiny_manifest

from studio.mos.protocol import ProtocolConfig, choose_images, plan_session

METHODS = ("nearest", "bicubic", "srcnn", "esrgan", "hr")


def _plan(seed=0, config=None, counts=None):
    return plan_session(tiny_manifest(METHODS), config or ProtocolConfig(), counts or {}, np.random.default_rng(seed))


def test_a_plan_starts_with_calibration_on_nearest_as_1_and_hr_as_5():
    plan = _plan()
    assert [(step.image_id, step.method, step.kind, step.expected) for step in plan[:2]] == [
        (CALIBRATION_IMAGE, "nearest", "calibration", 1),
        (CALIBRATION_IMAGE, "hr", "calibration", 5),
    ]
    assert [step.trial for step in plan] == list(range(1, len(plan) + 1))


def test_a_plan_shows_every_image_with_every_method_exactly_once_as_a_trial():
    trials = [(step.image_id, step.method) for step in _plan() if step.kind == "trial"]
    assert sorted(trials) == sorted(itertools.product(IMAGES, METHODS))


def test_repeats_come_later_than_their_first_showing_and_gold_and_trap_are_hidden_among_the_trials():
    plan = _plan(config=ProtocolConfig(repeats=3, gold=1, traps=1, min_repeat_gap=3))
    first_showing = {(step.image_id, step.method): index for index, step in enumerate(plan) if step.kind == "trial"}
    repeats = [(index, step) for index, step in enumerate(plan) if step.kind == "repeat"]
    assert len(repeats) == 3
    for index, step in repeats:
        assert index - first_showing[step.image_id, step.method] > 3
    gold = [step for step in plan if step.kind == "gold"]
    trap = [step for step in plan if step.kind == "trap"]
    assert len(gold) == 1 and gold[0].expected == {"nearest": 1, "hr": 5}[gold[0].method]
    assert len(trap) == 1 and (trap[0].variant, trap[0].method, trap[0].expected) == ("trap", "hr", 2)
    assert plan[2].kind == "trial", "the first rated image is an ordinary trial"


def test_each_rater_gets_another_order_and_no_image_twice_in_a_row():
    orders = []
    for seed in range(5):
        trials = [step for step in _plan(seed, ProtocolConfig(repeats=0, gold=0, traps=0)) if step.kind == "trial"]
        assert all(first.image_id != second.image_id for first, second in itertools.pairwise(trials))
        orders.append(tuple((step.image_id, step.method) for step in trials))
    assert len(set(orders)) == 5


@pytest.mark.parametrize(
    ("counts", "target", "expected"),
    [
        ({"a": 5, "b": 0, "c": 2}, 3, ["b", "c"]),
        ({"a": 2, "b": 4, "c": 0}, 3, ["c", "a"]),
        ({"a": 5, "b": 3, "c": 4}, 3, ["b", "c"]),
    ],
)
def test_new_sessions_get_the_least_rated_images_first_until_each_has_its_target(counts, target, expected):
    config = ProtocolConfig(images_per_session=2, target_raters=target)
    assert choose_images(["a", "b", "c"], counts, config, np.random.default_rng(0)) == expected
