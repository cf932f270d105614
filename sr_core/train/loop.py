"""The training loop of every SR model: fetch a batch, generator step, discriminator step, log, validate, checkpoint.

One loop trains them all; a run's :class:`~sr_core.train.presets.TrainConfig` decides which
losses, optimiser and schedule it uses. Generator and discriminator are updated alternately,
one step each (k = 1, as in the papers), and the discriminator judges the very SR batch the
generator just produced. Everything a resumed run needs is in its checkpoint, and the data
order follows from the step number, so N steps in one go and N/2 + resume + N/2 train the
same weights.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sr_core.data import (
    RandomCrops,
    ValidationImage,
    load_hr_images,
    split_train_val,
    training_loader,
    validation_images,
)
from sr_core.device import cpu_has_native_bf16, half_precision_dtype, set_cpu_threads
from sr_core.errors import TrainingConfigError
from sr_core.imaging import to_float, to_uint8
from sr_core.inference import batch_to_image, image_to_batch
from sr_core.losses import GANLoss, RelativisticAverageGANLoss
from sr_core.models.subpixel import tie_subpixel_phases_
from sr_core.protocol import score_pair
from sr_core.registry import build_model
from sr_core.train.checkpoint import (
    CHECKPOINT_NAME,
    EMA_KEY,
    checkpoint_file,
    is_run_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from sr_core.train.distributed import ProcessGroup, broadcast_from_main, mean_over_processes, unwrap, wrap
from sr_core.train.objective import GeneratorObjective, adversarial_loss, shifted_crops
from sr_core.train.presets import TrainConfig, to_record
from sr_core.train.report import DISCRIMINATOR_COLUMNS, METRICS_NAME, VALIDATION_COLUMNS, VALIDATION_NAME, write_report
from sr_core.train.run_log import RunLog
from sr_core.weights import load_into, parent_stages, read_state_dict

AdversarialLoss = GANLoss | RelativisticAverageGANLoss
Scheduler = torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau


def train(
    config: TrainConfig,
    run_dir: Path,
    group: ProcessGroup,
    checkpoint: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Train ``config`` into ``run_dir`` (checkpoint, CSV logs, report) and return the last validation scores.

    With ``checkpoint`` (``run_dir``'s own, see :func:`sr_core.train.checkpoint.load_checkpoint`)
    the run continues where it stopped, with the configuration stored in it; without,
    ``run_dir`` must not hold a run yet.
    """
    checkpoint_path = run_dir / CHECKPOINT_NAME
    if checkpoint is None and checkpoint_path.exists():
        raise TrainingConfigError(
            f"{run_dir} already holds a run; pass --resume to continue it or choose another --out"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    start_step = checkpoint["step"] if checkpoint else 0
    device = group.device
    set_cpu_threads(config.threads)
    torch.manual_seed(config.seed)  # the same initial weights in every process

    # Data: random crops in an order fixed by (seed, step), and the held-out validation images.
    train_files, val_files = split_train_val(list(config.data), config.val_every)
    crops = RandomCrops(
        load_hr_images(train_files),
        config.hr_crop,
        config.seed,
        length=config.steps * config.batch_size,
        first_sample=start_step * config.batch_size,
    )
    loader = training_loader(
        crops, process_batch_size(config.batch_size, group.world_size), group.rank, group.world_size, config.workers
    )
    validation = validation_images(val_files, config.val_crop) if group.is_main else []

    # Models, losses, optimisers and schedules: fresh, from a checkpoint, or the generator from an earlier stage.
    parts = build_parts(config, device)
    history = starting_history(config, checkpoint)
    if checkpoint:
        restore_parts(parts, checkpoint)
    elif config.init_from:
        load_into(parts.generator, read_state_dict(checkpoint_file(config.init_from)))
    elif config.adversarial != "none" and group.is_main:
        print(
            f"note: {config.model} starts from random weights; its paper starts from a trained "
            "PSNR-oriented model (--init-from RUN_DIR or FILE)",
            file=sys.stderr,
        )
    if config.tie_subpixel_phases:
        tie_subpixel_phases_(parts.generator)
    if config.ema_decay and parts.ema is None:  # a resumed run's average came with its checkpoint
        parts.ema = averaged_copy(parts.generator, None)
    gan_columns = list(DISCRIMINATOR_COLUMNS) if parts.discriminator is not None else []
    parts.generator = wrap(parts.generator, group)
    parts.discriminator = wrap(parts.discriminator, group) if parts.discriminator is not None else None

    # Records: CSV logs, the bicubic baseline on the validation images, a progress bar.
    columns = ["step", "lr", "seconds", "loss", *parts.objective.weights, *gan_columns]
    log = RunLog(run_dir / METRICS_NAME, start_step, columns) if group.is_main else None
    validation_log = RunLog(run_dir / VALIDATION_NAME, start_step, VALIDATION_COLUMNS) if group.is_main else None
    bicubic_scores = validate(build_model("bicubic"), validation, torch.device("cpu")) if validation else {}
    scores = checkpoint["validation"] if checkpoint else {}
    bar = tqdm(
        total=config.steps,
        initial=start_step,
        unit="step",
        disable=not (group.is_main and progress),
        mininterval=1.0 if sys.stderr.isatty() else 30.0,
        dynamic_ncols=True,
    )
    for step, (lr_batch, hr_batch) in enumerate(loader, start=start_step + 1):
        started = time.perf_counter()
        row = mean_over_processes(train_step(parts, lr_batch, hr_batch), group)
        row |= {
            "step": step,
            "lr": parts.generator_optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - started,
        }
        if log is not None:
            log.append(row)
        bar.update(1)
        bar.set_postfix(_postfix(row, scores, config.batch_size), refresh=False)

        if step % config.validate_every == 0 or step == config.steps:
            if validation and validation_log is not None:
                scores = validate(parts.shipped_generator, validation, device)
                validation_log.append(
                    {"step": step, **scores, **{f"bicubic_{k}": v for k, v in bicubic_scores.items()}}
                )
                write_report(run_dir, f"{config.preset}: {config.model} on {', '.join(config.data)}")
            if config.scheduler == "plateau":
                psnr = broadcast_from_main(scores.get("psnr_y", float("nan")), group)
                for scheduler in parts.schedulers:
                    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                        scheduler.step(psnr)
        if (step % config.checkpoint_every == 0 or step == config.steps) and group.is_main:
            record = {
                "step": step,
                "config": to_record(config),
                "features": parts.objective.features,
                "validation": scores,
                "bicubic": bicubic_scores,
                "images": {"train": len(train_files), "validation": len(val_files)},
                **history,
            }
            save_checkpoint(record | parts_state(parts), checkpoint_path)
    bar.close()
    for opened in (log, validation_log):
        if opened is not None:
            opened.close()
    return scores


def starting_history(config: TrainConfig, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    """``{"parent_stages": [...]}`` for a run that starts from a weights file, read now, else ``{}``.

    The file's manifest entry is read when the run starts, not when it is published: publishing
    the run replaces that very file (and its entry) with the run's own generator.
    """
    if checkpoint is not None:
        return {"parent_stages": checkpoint["parent_stages"]} if "parent_stages" in checkpoint else {}
    source = checkpoint_file(config.init_from) if config.init_from else None
    if source is None or is_run_checkpoint(source):
        return {}
    return {"parent_stages": parent_stages(source)}


@dataclass
class TrainingParts:
    """Everything a training step touches. ``generator`` and ``discriminator`` may be DDP-wrapped."""

    config: TrainConfig
    generator: nn.Module
    discriminator: nn.Module | None
    objective: GeneratorObjective
    adversarial: AdversarialLoss | None
    generator_optimizer: torch.optim.Optimizer
    discriminator_optimizer: torch.optim.Optimizer | None
    schedulers: list[Scheduler]
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    memory_format: torch.memory_format
    ema: nn.Module | None = None  # the generator's moving average (unwrapped, frozen) when config.ema_decay > 0

    @property
    def shipped_generator(self) -> nn.Module:
        """What validation measures and a run ships: the moving average when the run keeps one."""
        return self.ema if self.ema is not None else unwrap(self.generator)

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The generator's optimiser, then the discriminator's if there is one (the checkpoint's order)."""
        return [self.generator_optimizer, *([self.discriminator_optimizer] if self.discriminator_optimizer else [])]


def build_parts(config: TrainConfig, device: torch.device) -> TrainingParts:
    """Fresh models (in training mode, on ``device``), losses, optimisers, schedules and grad scaler for ``config``."""
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    amp_dtype = autocast_dtype(config.amp, device)
    try:
        generator = build_model(config.model, **config.model_kwargs).train().to(device).to(memory_format=memory_format)
    except (TypeError, ValueError) as error:
        raise TrainingConfigError(f"model_kwargs {config.model_kwargs} do not fit {config.model}: {error}") from None
    discriminator = None
    if config.discriminator:
        discriminator = build_model(config.discriminator).train().to(device).to(memory_format=memory_format)
    generator_optimizer = make_optimizer(generator, config, config.lr_scales)
    discriminator_optimizer = make_optimizer(discriminator, config, {}) if discriminator is not None else None
    optimizers = [generator_optimizer, *([discriminator_optimizer] if discriminator_optimizer else [])]
    return TrainingParts(
        config=config,
        generator=generator,
        discriminator=discriminator,
        objective=GeneratorObjective(config).to(device).to(memory_format=memory_format),
        adversarial=adversarial_loss(config),
        generator_optimizer=generator_optimizer,
        discriminator_optimizer=discriminator_optimizer,
        schedulers=[make_scheduler(optimizer, config) for optimizer in optimizers if config.scheduler != "none"],
        scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16),
        amp_dtype=amp_dtype,
        memory_format=memory_format,
    )


def parts_state(parts: TrainingParts) -> dict[str, Any]:
    """The trainable state of ``parts`` for a checkpoint, with RNG states (frozen feature networks excluded)."""
    return {
        "generator": unwrap(parts.generator).state_dict(),
        EMA_KEY: parts.ema.state_dict() if parts.ema is not None else None,
        "discriminator": unwrap(parts.discriminator).state_dict() if parts.discriminator is not None else None,
        "optimizers": [optimizer.state_dict() for optimizer in parts.optimizers],
        "schedulers": [scheduler.state_dict() for scheduler in parts.schedulers],
        "scaler": parts.scaler.state_dict(),
        "rng": rng_state(),
    }


def restore_parts(parts: TrainingParts, checkpoint: dict[str, Any]) -> None:
    """Inverse of :func:`parts_state`, on unwrapped parts."""
    parts.generator.load_state_dict(checkpoint["generator"])
    if checkpoint.get(EMA_KEY) is not None:
        parts.ema = averaged_copy(parts.generator, checkpoint[EMA_KEY])
    if parts.discriminator is not None:
        parts.discriminator.load_state_dict(checkpoint["discriminator"])
    for optimizer, state in zip(parts.optimizers, checkpoint["optimizers"]):
        optimizer.load_state_dict(state)
    for scheduler, state in zip(parts.schedulers, checkpoint["schedulers"]):
        scheduler.load_state_dict(state)
    parts.scaler.load_state_dict(checkpoint["scaler"])
    restore_rng_state(checkpoint["rng"])


def train_step(parts: TrainingParts, lr_batch: torch.Tensor, hr_batch: torch.Tensor) -> dict[str, float]:
    """One generator update, then one discriminator update on the same SR batch; returns the step's losses.

    ``lr_batch`` and ``hr_batch`` are float NCHW in [0, 1], on any device.
    """
    device = next(parts.generator.parameters()).device
    lr_batch = lr_batch.to(device, memory_format=parts.memory_format, non_blocking=True)
    hr_batch = hr_batch.to(device, memory_format=parts.memory_format, non_blocking=True)
    sr_batch, row = generator_step(parts, lr_batch, hr_batch)
    if parts.discriminator is not None:
        row |= discriminator_step(parts, sr_batch, hr_batch)
    parts.scaler.update()
    if parts.config.scheduler == "multistep":
        for scheduler in parts.schedulers:
            if isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
                scheduler.step()
    return row


def generator_step(
    parts: TrainingParts, lr_batch: torch.Tensor, hr_batch: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """One update of the generator; returns its SR batch (detached, for the discriminator) and its losses.

    The discriminator is frozen and called outside its DDP wrapper: this step only needs its
    gradient with respect to the SR images.
    """
    shift = parts.config.discriminator_shift
    parts.generator_optimizer.zero_grad(set_to_none=True)
    with _autocast(lr_batch.device, parts.amp_dtype):
        sr_batch = parts.generator(lr_batch)
        losses = parts.objective(sr_batch, hr_batch)
        if parts.discriminator is not None and parts.adversarial is not None:
            critic = unwrap(parts.discriminator).requires_grad_(False)
            real_out = None
            if parts.adversarial.relativistic:
                with torch.no_grad():
                    real_out = critic(shifted_crops(hr_batch, shift))
            losses["adversarial"] = parts.adversarial.generator(critic(shifted_crops(sr_batch, shift)), real_out)
        total = parts.objective.total(losses)
    parts.scaler.scale(total).backward()
    parts.scaler.step(parts.generator_optimizer)
    if parts.config.tie_subpixel_phases:
        tie_subpixel_phases_(unwrap(parts.generator))
    if parts.ema is not None:
        update_average_(parts.ema, unwrap(parts.generator), parts.config.ema_decay)
    return sr_batch.detach(), {
        "loss": float(total.detach()),
        **{name: float(value.detach()) for name, value in losses.items()},
    }


def discriminator_step(parts: TrainingParts, sr_batch: torch.Tensor, hr_batch: torch.Tensor) -> dict[str, float]:
    """One update of the discriminator on HR images (real) and the generator's SR batch (fake)."""
    discriminator, adversarial, optimizer = parts.discriminator, parts.adversarial, parts.discriminator_optimizer
    assert discriminator is not None and adversarial is not None and optimizer is not None, "a GAN run's parts"
    shift = parts.config.discriminator_shift
    unwrap(discriminator).requires_grad_(True)
    optimizer.zero_grad(set_to_none=True)
    with _autocast(hr_batch.device, parts.amp_dtype):
        real_out = discriminator(shifted_crops(hr_batch, shift))
        fake_out = discriminator(shifted_crops(sr_batch, shift))
        loss = adversarial.discriminator(real_out, fake_out)
    parts.scaler.scale(loss).backward()
    parts.scaler.step(optimizer)
    d_real, d_fake = adversarial.probabilities(real_out.detach(), fake_out.detach())
    return {"d_loss": float(loss.detach()), "d_real": d_real, "d_fake": d_fake}


def averaged_copy(generator: nn.Module, saved: dict[str, torch.Tensor] | None) -> nn.Module:
    """A frozen copy of ``generator`` to hold its moving average: the checkpoint's ``saved`` average, else its weights now.

    A fresh average starts at the weights the run starts from (a PSNR twin, for a GAN stage),
    so it is never an average with random weights.
    """
    average = copy.deepcopy(generator).requires_grad_(False)
    if saved is not None:
        average.load_state_dict(saved)
    return average


@torch.no_grad()
def update_average_(average: nn.Module, generator: nn.Module, decay: float) -> None:
    """``average <- decay * average + (1 - decay) * generator`` for every parameter; buffers follow the generator.

    The average of phase-tied weights stays tied: tying is a linear projection.
    """
    for averaged_parameter, parameter in zip(average.parameters(), generator.parameters(), strict=True):
        averaged_parameter.lerp_(parameter, 1.0 - decay)
    for averaged_buffer, buffer in zip(average.buffers(), generator.buffers(), strict=True):
        averaged_buffer.copy_(buffer)


def validate(model: nn.Module, images: list[ValidationImage], device: torch.device) -> dict[str, float]:
    """Mean PSNR/SSIM (Y channel, border 4) of ``model`` on ``images``, measured as the evaluation protocol does."""
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        pairs = [
            score_pair(to_uint8(batch_to_image(model(image_to_batch(to_float(image.lr), device)).float())), image.hr)
            for image in images
        ]
    model.train(was_training)
    return {
        "psnr_y": float(np.mean([pair.psnr for pair in pairs])),
        "ssim_y": float(np.mean([pair.ssim for pair in pairs])),
    }


def make_optimizer(model: nn.Module, config: TrainConfig, lr_scales: dict[str, float]) -> torch.optim.Optimizer:
    """The configured optimiser over ``model``'s parameters; a name starting with a key of ``lr_scales`` gets lr x its value."""
    groups: dict[float, list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        scale = next((value for prefix, value in lr_scales.items() if name.startswith(prefix)), 1.0)
        groups.setdefault(scale, []).append(parameter)
    param_groups = [{"params": params, "lr": config.lr * scale} for scale, params in groups.items()]
    if config.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return optimizer_class(param_groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> Scheduler:
    """Multistep (stepped every training step) or ReduceLROnPlateau on validation PSNR (stepped every validation)."""
    if config.scheduler == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.milestones), gamma=config.gamma)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=config.plateau_factor, patience=config.plateau_patience
    )


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype of a run (None: full precision).

    CUDA: ``auto`` is bf16 where supported, else fp16. CPU: ``auto`` and ``bf16`` mean bfloat16
    autocast only where oneDNN runs it in hardware (AMX / AVX512-BF16: a srgan step at batch 16
    runs 2.4x faster on a 2-core Xeon with AMX); elsewhere bf16 is emulated and slower, so the run
    stays in float32. fp16 autocast is never used on the CPU.
    """
    if amp == "off":
        return None
    if device.type == "cpu":
        return torch.bfloat16 if amp in ("auto", "bf16") and cpu_has_native_bf16() else None
    if device.type != "cuda":
        return None
    return {"auto": half_precision_dtype(device), "bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def process_batch_size(batch_size: int, world_size: int) -> int:
    """Each process's share of the global batch."""
    if batch_size % world_size:
        raise TrainingConfigError(f"batch_size {batch_size} must divide evenly over {world_size} processes")
    return batch_size // world_size


def _postfix(row: dict[str, float], scores: dict[str, float], batch_size: int) -> dict[str, str]:
    shown = {"loss": f"{row['loss']:.4g}", "img/s": f"{batch_size / row['seconds']:.1f}"}
    if "d_loss" in row:
        shown |= {"D(real)": f"{row['d_real']:.2f}", "D(fake)": f"{row['d_fake']:.2f}"}
    if scores:
        shown["val_psnr"] = f"{scores['psnr_y']:.2f}"
    return shown
