"""The epoch loop: one training epoch, one validation pass, then the per-epoch hooks (best bundle,
callbacks, checkpoint, stopping rules).

The pieces mirror torchgeo's ``training_step`` / ``validation_step`` (torchgeo/trainers/change.py
and base.py, github.com/microsoft/torchgeo) with the Lightning trainer's loop written out, so the
same code runs on two CPU cores and on a Kaggle GPU. After each epoch :func:`fit` records the
metrics, saves the bundle when the epoch is the best so far, calls the callbacks (MLflow's
``log_epoch``; the Kaggle watchdog's ``epoch_done``, which keeps the history for a timed-out run
record), writes the checkpoint and checks the stopping rules, in that order.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

import numpy as np

from planet_sentinel.progress import bar
from planet_sentinel.train.checkpoint import Progress, save_checkpoint
from planet_sentinel.train.config import EpochCallback, TrainConfig
from planet_sentinel.train.data import ChipDataset, TrainingData, batches
from planet_sentinel.train.losses import masked_loss
from planet_sentinel.train.outputs import RunFiles
from planet_sentinel.train.task import Task

log = logging.getLogger(__name__)

#: Pixel precision on the validation chips at which an alert is ``high`` confidence (GLAD-S2/RADD's
#: two levels; the issue's rule: precision >= 0.9).
HIGH_CONFIDENCE_PRECISION = 0.9


def training_step(task: Task, before: np.ndarray, after: np.ndarray, mask: np.ndarray, dice_weight: float) -> float:
    """One optimiser step on one batch (mixed precision on CUDA); the batch's loss."""
    import torch

    b = task.bundle.normalise(torch.from_numpy(before).to(task.device))
    a = task.bundle.normalise(torch.from_numpy(after).to(task.device))
    y = torch.from_numpy(mask).to(task.device)
    task.optimizer.zero_grad(set_to_none=True)
    with torch.autocast(task.device.type, enabled=task.amp):
        logits = task.model(b, a)
    loss = masked_loss(logits, y, task.pos_weight, dice_weight)
    task.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]  # torch: Tensor.backward is unannotated
    task.scaler.step(task.optimizer)
    task.scaler.update()
    task.scheduler.step()
    return float(loss.detach())


def train_epoch(task: Task, train_set: ChipDataset, config: TrainConfig, epoch: int) -> float:
    """One pass over ``task.samples_per_epoch`` random crops; the mean loss per sample."""
    task.model.train()
    samples = task.samples_per_epoch
    order = train_set.rng.choice(len(train_set), size=samples, replace=samples > len(train_set))
    total, count = 0.0, 0
    with bar(task.steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", unit="step", leave=False) as progress:
        for before, after, mask in batches(train_set, order, config.batch_size):
            total += training_step(task, before, after, mask, config.dice_weight) * len(mask)
            count += len(mask)
            progress.update(1)
    return total / max(count, 1)


def predict_probabilities(task: Task, dataset: ChipDataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Change probabilities for every chip of ``dataset`` (in order) and the matching masks."""
    import torch

    probs, truths = [], []
    task.model.eval()
    with torch.inference_mode():
        for before, after, mask in batches(dataset, np.arange(len(dataset)), batch_size):
            b = task.bundle.normalise(torch.from_numpy(before).to(task.device))
            a = task.bundle.normalise(torch.from_numpy(after).to(task.device))
            with torch.autocast(task.device.type, enabled=task.amp):
                logits = task.model(b, a)
            probs.append(torch.sigmoid(logits.float()).squeeze(1).cpu().numpy())
            truths.append(mask)
    return np.concatenate(probs), np.concatenate(truths)


def validate(task: Task, val_set: ChipDataset, batch_size: int) -> tuple[float, float, float | None]:
    """On the validation chips: the threshold with the best F1, that F1, and the stricter threshold
    with precision >= 0.9 (alerts' ``high`` confidence; None when no threshold reaches it)."""
    from planet_sentinel.scores import threshold_by_f1, threshold_for_precision

    probs, truth = predict_probabilities(task, val_set, batch_size)
    threshold, f1 = threshold_by_f1(probs, truth)
    return threshold, f1, threshold_for_precision(probs, truth, HIGH_CONFIDENCE_PRECISION, floor=threshold)


def run_epoch(task: Task, data: TrainingData, config: TrainConfig, epoch: int) -> dict[str, float]:
    """Train one epoch, validate; the epoch's metrics as logged to MLflow and history.json."""
    epoch_start = time.perf_counter()
    train_loss = train_epoch(task, data.train_set, config, epoch)
    threshold, val_f1, high = validate(task, data.val_set, config.batch_size)
    return {
        "train_loss": train_loss,
        "val_f1": val_f1,
        "val_threshold": threshold,
        "val_high_threshold": float("nan") if high is None else high,
        "lr": float(task.scheduler.get_last_lr()[0]),
        "epoch_seconds": time.perf_counter() - epoch_start,
    }


def stop_reason(config: TrainConfig, progress: Progress, start_time: float) -> str | None:
    """Why training should stop after this epoch (patience or time budget), or None."""
    if progress.stale >= config.patience:
        return f"early stop: no improvement for {config.patience} epochs"
    if config.max_minutes and time.perf_counter() - start_time > 60 * config.max_minutes:
        return f"time budget of {config.max_minutes} min reached"
    return None


def fit(
    task: Task,
    data: TrainingData,
    config: TrainConfig,
    progress: Progress,
    files: RunFiles,
    callbacks: Sequence[EpochCallback],
    start_time: float,
) -> str:
    """Epochs from ``progress.first_epoch`` until a stopping rule or ``config.epochs``; the reason."""
    for epoch in range(progress.first_epoch, config.epochs):
        metrics = run_epoch(task, data, config, epoch)
        improved = progress.record(epoch, metrics)
        if improved:
            task.bundle.threshold = metrics["val_threshold"]
            high = metrics["val_high_threshold"]
            task.bundle.high_threshold = None if math.isnan(high) else high
            task.bundle.metrics = {"val_f1": metrics["val_f1"]}
            task.bundle.save(files.bundle)
        log.info(
            f"epoch {epoch + 1}: loss {metrics['train_loss']:.4f}, val F1 {metrics['val_f1']:.3f} "
            f"@ {metrics['val_threshold']:.2f}{' (best)' if improved else ''}, {metrics['epoch_seconds']:.1f} s"
        )
        for callback in callbacks:
            callback(epoch + 1, metrics)
        save_checkpoint(files.checkpoint, epoch, task, progress, config, data.train_set)
        reason = stop_reason(config, progress, start_time)
        if reason:
            return reason
    return "max epochs"
