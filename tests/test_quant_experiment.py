"""The MNIST experiment's bookkeeping: which runs it does, how it tabulates them, when it may reuse a network."""

import pytest
import torch

from labs.mnist import LabeledImages
from labs.zscgan.experiment import (
    REAL,
    ExperimentConfig,
    ExperimentResult,
    Result,
    data_fingerprint,
    format_tables,
    qat_jobs,
)

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

CONFIG = ExperimentConfig(data="unused", loss_sets=("ce+bns", "ce", "bns"), bits=(8, 6))


def test_qat_runs_every_width_for_zs_cgan_and_real_data_and_the_narrowest_for_ablations():
    assert qat_jobs(CONFIG) == [("ce+bns", 8), ("ce+bns", 6), (REAL, 8), (REAL, 6), ("ce", 6), ("bns", 6)]


def test_tables_put_each_accuracy_in_its_papers_column():
    results = (
        Result("ce+bns", "PTQ", 8, 97.0),
        Result("ce+bns", "QAT", 8, 98.0),
        Result(REAL, "PTQ", 8, 98.5),
        Result(REAL, "QAT", 6, 96.5),
        Result("ce", "QAT", 6, 91.25),
    )

    outcome = ExperimentResult(99.0, results, {"ce+bns": 80.0, "ce": 99.0, "bns": 12.5})
    tables = format_tables(outcome, CONFIG)
    assert "| INT8 | 99.00 | 97.00 | 98.00 | 98.50 | - |" in tables
    assert "| INT6 | 99.00 | - | - | - | 96.50 |" in tables
    assert "Table 2: which data trains the student (W/A INT6)" in tables
    assert "| synthetic, ZS-CGAN (CE) | 99.0 | - | 91.25 |" in tables
    assert "| synthetic, ZS-CGAN (BNS) | 12.5 | - | - |" in tables


def test_the_data_fingerprint_changes_with_any_image_or_label():
    images, labels = torch.zeros(4, 1, 28, 28), torch.arange(4)
    base = data_fingerprint(LabeledImages(images, labels))
    assert base == data_fingerprint(LabeledImages(images.clone(), labels.clone()))
    assert base != data_fingerprint(LabeledImages(images, torch.tensor([0, 1, 2, 2])))
    changed = images.clone()
    changed[3, 0, 5, 5] = 1.0
    assert base != data_fingerprint(LabeledImages(changed, labels))
