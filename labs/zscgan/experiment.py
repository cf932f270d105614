"""The paper's experiment at MNIST scale: Tables 1-2 (FP32, DF-PTQ, DF-QAT, DD-PTQ, DD-QAT; INT8 and INT6).

One run trains the teacher, one generator per loss set (``ce+bns`` is ZS-CGAN itself), then
quantizes the teacher with each data source: PTQ at every bit width for every source; QAT at
every bit width for ZS-CGAN (CE+BNS) and real data (Table 1), and at the narrowest width for
the other loss sets (Table 2). Trained networks are kept in the run folder and reused when a
run is repeated with the same settings, so a long run can be resumed or re-tabulated.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from labs.mnist import LabeledImages, load_mnist, save_grid
from labs.zscgan.qat import QATConfig, quantization_aware_training, real_batches, synthetic_batches
from labs.zscgan.samples import class_rows, synthetic_set
from labs.zscgan.teacher import MnistResNet, accuracy, freeze, train_teacher
from sr_core.errors import QuantSettingError
from sr_core.ptq import quantize_static
from sr_core.quant.generator import Generator
from sr_core.quant.zscgan import LOSS_LABELS, GeneratorConfig, ZeroShotTrainer, loss_set
from sr_core.weights import read_metadata, read_state_dict, save_weights

REAL = "real"  # the data-dependent source, beside the loss-set names of the generators
GRID_COLUMNS = 10  # samples per class in the saved grids
Progress = Callable[[str], None]
Network = TypeVar("Network", bound=nn.Module)


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a run depends on; the defaults take ~15 minutes on one busy CPU thread."""

    data: str
    teacher_epochs: int = 3
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    qat: QATConfig = field(default_factory=QATConfig)
    loss_sets: tuple[str, ...] = ("ce+bns", "ce", "bns", "ce+mse")
    bits: tuple[int, ...] = (8, 6)
    calibration_samples: int = 512
    keep_training_generator: bool = False
    seed: int = 0


@dataclass(frozen=True)
class Result:
    """Top-1 test accuracy (%) of the teacher quantized by ``method`` (PTQ/QAT) at ``bits`` with data ``source``."""

    source: str
    method: str
    bits: int
    accuracy: float


@dataclass(frozen=True)
class ExperimentResult:
    fp32_accuracy: float
    results: tuple[Result, ...]
    agreement: dict[str, float]  # loss set -> % of samples the teacher labels as the class asked for

    def lookup(self, source: str, method: str, bits: int) -> float | None:
        return next((r.accuracy for r in self.results if (r.source, r.method, r.bits) == (source, method, bits)), None)


def _cached(
    path: Path, settings: dict, build: Callable[[], Network], train: Callable[[], Network], progress: Progress
) -> Network:
    """``train()``'s network, or the copy saved at ``path`` by an earlier run with the same ``settings``."""
    key = json.dumps(settings, sort_keys=True)
    if path.exists() and read_metadata(path).get("settings") == key:
        network = build()
        network.load_state_dict(read_state_dict(path))
        progress(f"reusing {path.name} (same settings)")
        return network
    network = train()
    save_weights(network, path, metadata={"settings": key}, half=False)
    return network


def data_fingerprint(data: LabeledImages) -> str:
    """A short hash of the images and labels: a teacher trained on other digits (another split) is not reused."""
    digest = hashlib.sha256(data.images.numpy().tobytes())
    digest.update(data.known_labels.numpy().tobytes())
    return digest.hexdigest()[:16]


def _teacher(
    config: ExperimentConfig, train_data: LabeledImages, fingerprint: str, folder: Path, progress: Progress
) -> nn.Module:
    settings = {"epochs": config.teacher_epochs, "seed": config.seed, "train_data": fingerprint}
    teacher = _cached(
        folder / "teacher.safetensors",
        settings,
        MnistResNet,
        lambda: train_teacher(train_data, config.teacher_epochs, seed=config.seed, progress=progress),
        progress,
    )
    return freeze(teacher)


def _trainer(
    teacher: nn.Module, config: ExperimentConfig, losses: str, folder: Path, teacher_data: str, progress: Progress
) -> ZeroShotTrainer:
    """The ZS-CGAN trainer of one loss set, its generator trained (or reloaded) for ``config.generator.steps``."""
    generator_config = GeneratorConfig(**{**asdict(config.generator), "losses": losses})
    trainer = ZeroShotTrainer(teacher, generator_config)

    def train() -> Generator:
        trainer.train(progress)
        return trainer.generator

    settings = {**asdict(generator_config), "teacher_epochs": config.teacher_epochs, "teacher_data": teacher_data}
    trainer.generator = _cached(
        folder / f"generator-{losses}.safetensors", settings, lambda: trainer.generator, train, progress
    )
    return trainer


def _agreement(teacher: nn.Module, samples: LabeledImages) -> float:
    """% of generated samples the teacher assigns to the class they were generated for."""
    with torch.no_grad():
        return 100.0 * float((teacher(samples.images).argmax(dim=1) == samples.labels).float().mean())


def run_experiment(config: ExperimentConfig, folder: str | Path, progress: Progress = print) -> ExperimentResult:
    """Run (or resume) the whole experiment in ``folder``; writes results.csv, tables.md and samples-*.png."""
    for losses in config.loss_sets:
        loss_set(losses)
    if not config.bits or not config.loss_sets:
        raise QuantSettingError("give at least one bit width and one loss set")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    split = load_mnist(config.data)
    fingerprint = data_fingerprint(split.train)
    teacher = _teacher(config, split.train, fingerprint, folder, progress)
    fp32 = accuracy(teacher, split.test)
    progress(f"teacher FP32 accuracy {fp32:.2f}% on {len(split.test)} held-out digits")

    trainers = {losses: _trainer(teacher, config, losses, folder, fingerprint, progress) for losses in config.loss_sets}
    calibration = {REAL: split.train.images[: config.calibration_samples]}
    agreement = {}
    for losses, trainer in trainers.items():
        samples = synthetic_set(trainer.generator, config.calibration_samples, config.seed)
        calibration[losses] = samples.images
        agreement[losses] = _agreement(teacher, samples)
        save_grid(class_rows(samples, GRID_COLUMNS), folder / f"samples-{losses}.png", per_row=GRID_COLUMNS)

    results = _ptq_results(teacher, calibration, split.test, config, progress)
    results += _qat_results(teacher, trainers, split.train, split.test, config, progress)
    outcome = ExperimentResult(fp32, tuple(results), agreement)
    write_results(outcome, folder / "results.csv")
    (folder / "tables.md").write_text(format_tables(outcome, config) + "\n")
    return outcome


def _ptq_results(
    teacher: nn.Module,
    calibration: dict[str, torch.Tensor],
    test: LabeledImages,
    config: ExperimentConfig,
    progress: Progress,
) -> list[Result]:
    """PTQ of the teacher at every bit width, calibrated on each source's images."""
    results = []
    for source, images in calibration.items():
        for bits in config.bits:
            quantized = quantize_static(teacher, images.split(config.qat.batch_size), bits)
            results.append(Result(source, "PTQ", bits, accuracy(quantized, test)))
            progress(f"PTQ int{bits} calibrated on {source}: {results[-1].accuracy:.2f}%")
    return results


def _qat_results(
    teacher: nn.Module,
    trainers: dict[str, ZeroShotTrainer],
    train: LabeledImages,
    test: LabeledImages,
    config: ExperimentConfig,
    progress: Progress,
) -> list[Result]:
    """QAT of the teacher for each of :func:`qat_jobs`, from real batches or a copy of a loss set's generator."""
    results = []
    for source, bits in qat_jobs(config):
        qat_config = QATConfig(**{**asdict(config.qat), "bits": bits})
        if source == REAL:
            batches = real_batches(train, qat_config.batch_size, config.seed)
        else:
            batches = synthetic_batches(
                copy.deepcopy(trainers[source]), qat_config.batch_size, config.keep_training_generator
            )
        quantized = quantization_aware_training(teacher, batches, qat_config, progress)
        results.append(Result(source, "QAT", bits, accuracy(quantized, test)))
        progress(f"QAT int{bits} on {source}: {results[-1].accuracy:.2f}%")
    return results


def ablation_bits(config: ExperimentConfig) -> int:
    """Table 2's width: the narrowest asked for. The paper's is INT8, but on MNIST every data source
    gives the same INT8 QAT accuracy (97.75% for all five, measured), so only a narrower width tells them apart."""
    return min(config.bits)


def qat_jobs(config: ExperimentConfig) -> list[tuple[str, int]]:
    """(source, bits) of every QAT run: all widths for ZS-CGAN and real data, Table 2's width for the ablations."""
    main = [config.loss_sets[0], REAL]
    jobs = [(source, bits) for source in main for bits in config.bits]
    return jobs + [(losses, ablation_bits(config)) for losses in config.loss_sets[1:]]


def write_results(outcome: ExperimentResult, path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "method", "bits", "accuracy"])
        writer.writerow(["fp32", "none", 32, f"{outcome.fp32_accuracy:.2f}"])
        for result in outcome.results:
            writer.writerow([result.source, result.method, result.bits, f"{result.accuracy:.2f}"])


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_tables(outcome: ExperimentResult, config: ExperimentConfig) -> str:
    """Table 1 (one block per bit width) and Table 2 (loss-set ablation) as Markdown, accuracies in %."""
    zs = config.loss_sets[0]
    lines = [f"Table 1: data-free (ZS-CGAN, {zs}) vs data-dependent quantization, MNIST ResNet, top-1 %", ""]
    lines += ["| bits | FP32 | DF-PTQ | DF-QAT | DD-PTQ | DD-QAT |", "|---|---|---|---|---|---|"]
    for bits in config.bits:
        cells = [
            outcome.lookup(zs, "PTQ", bits),
            outcome.lookup(zs, "QAT", bits),
            outcome.lookup(REAL, "PTQ", bits),
            outcome.lookup(REAL, "QAT", bits),
        ]
        lines.append(f"| INT{bits} | {outcome.fp32_accuracy:.2f} | " + " | ".join(_cell(c) for c in cells) + " |")
    first = ablation_bits(config)
    lines += ["", f"Table 2: which data trains the student (W/A INT{first}), top-1 %", ""]
    header = f"| data | teacher agrees with label | PTQ INT{first} | QAT INT{first} |"
    lines += [
        header,
        "|---|---|---|---|",
        f"| original data, FP32 (no quantization) | - | {outcome.fp32_accuracy:.2f} | - |",
    ]
    for losses in config.loss_sets:
        lines.append(
            f"| synthetic, {LOSS_LABELS[losses]} | {outcome.agreement[losses]:.1f} | "
            f"{_cell(outcome.lookup(losses, 'PTQ', first))} | {_cell(outcome.lookup(losses, 'QAT', first))} |"
        )
    lines.append(
        f"| original data | - | {_cell(outcome.lookup(REAL, 'PTQ', first))} | "
        f"{_cell(outcome.lookup(REAL, 'QAT', first))} |"
    )
    return "\n".join(lines)
