"""Zero-shot training of the conditional generator against a frozen teacher, and its ablations."""

import pytest
import torch
from quant_helpers import tiny_teacher

from labs.zscgan.samples import class_rows, synthetic_set
from sr_core.errors import QuantSettingError
from sr_core.quant.zscgan import LOSS_SETS, GeneratorConfig, ZeroShotTrainer

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _trainer(losses: str, steps: int = 25) -> ZeroShotTrainer:
    return ZeroShotTrainer(
        tiny_teacher(), GeneratorConfig(losses=losses, steps=steps, batch_size=16, width=8, latent_dim=8)
    )


@pytest.mark.parametrize(
    "losses, term", [("ce", "cross_entropy"), ("bns", "bns"), ("ce+bns", "total"), ("ce+mse", "total")]
)
def test_each_loss_set_lowers_the_terms_it_trains(losses, term):
    history = _trainer(losses).train()
    first, last = getattr(history[0], term), getattr(history[-1], term)
    assert last < first


def test_loss_sets_switch_the_terms_of_eq_2():
    ce_only, bns_only = _trainer("ce").step(), _trainer("bns").step()
    assert ce_only.total == pytest.approx(ce_only.cross_entropy)
    assert bns_only.total == pytest.approx(bns_only.bns)
    assert LOSS_SETS["ce+mse"].form == "mse" and LOSS_SETS["ce+bns"].form == "kl"


def test_an_unknown_loss_set_is_a_typed_error():
    with pytest.raises(QuantSettingError, match="ce\\+bns"):
        _trainer("kl-only")


def test_synthetic_sets_cycle_through_the_classes_and_grid_rows_group_them():
    generator = _trainer("ce", steps=0).generator
    samples = synthetic_set(generator, 25)
    assert samples.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert samples.images.shape == (25, 1, 28, 28)
    rows = class_rows(samples, per_class=2)
    expected = torch.cat([samples.images[samples.labels == label][:2] for label in range(10)])
    assert torch.equal(rows, expected)


def test_the_teacher_is_never_updated():
    trainer = _trainer("ce+bns", steps=3)
    before = {name: value.clone() for name, value in trainer.teacher.state_dict().items()}
    trainer.train()
    assert all(torch.equal(before[name], value) for name, value in trainer.teacher.state_dict().items())
