"""Where a run stands (history, best epoch, epochs without improvement) and the checkpoint that
lets ``--resume`` continue it exactly: model, optimiser, schedule, scaler and both RNG states.

torchgeo leaves this to Lightning's ``ModelCheckpoint``; here it is one file written atomically
after every epoch, so an interrupted run (a Kaggle session ending) loses at most one epoch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import atomic_path
from planet_sentinel.train.config import TrainConfig
from planet_sentinel.train.data import ChipDataset
from planet_sentinel.train.task import Task

log = logging.getLogger(__name__)

#: An improvement in validation F1 smaller than this does not count (noise, not learning).
MIN_IMPROVEMENT = 1e-4


def _no_best() -> dict[str, float]:
    return {"val_f1": -1.0}


@dataclass
class Progress:
    """The state of a run between epochs; ``first_epoch`` is 0-based, history epochs 1-based."""

    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=_no_best)
    stale: int = 0
    first_epoch: int = 0

    def record(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Add epoch ``epoch`` (0-based) to the history; True when it is the best so far."""
        self.history.append({"epoch": epoch + 1, **metrics})
        improved = metrics["val_f1"] > self.best["val_f1"] + MIN_IMPROVEMENT
        if improved:
            self.best = {"epoch": epoch + 1, "val_f1": metrics["val_f1"], "val_threshold": metrics["val_threshold"]}
            self.stale = 0
        else:
            self.stale += 1
        return improved


def save_checkpoint(
    path: Path, epoch: int, task: Task, progress: Progress, config: TrainConfig, train_set: ChipDataset
) -> None:
    """Everything needed to continue after epoch ``epoch`` (0-based), written atomically."""
    import torch

    state = {
        "epoch": epoch,
        "model": task.model.state_dict(),
        "optimizer": task.optimizer.state_dict(),
        "scheduler": task.scheduler.state_dict(),
        "scaler": task.scaler.state_dict(),
        "history": progress.history,
        "best": progress.best,
        "stale": progress.stale,
        "config": config.model_dump(),
        "data_rng": train_set.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def restore_checkpoint(path: Path, task: Task, config: TrainConfig, train_set: ChipDataset) -> Progress:
    """Load ``path`` into ``task`` and ``train_set``; refused when it was saved with other settings."""
    import torch

    if not path.exists():
        raise SentinelError(f"--resume given but {path} does not exist")
    # weights_only=False: our own file, holding more than tensors (history, numpy's RNG state).
    state: dict[str, Any] = torch.load(path, map_location=task.device, weights_only=False)
    if state["config"] != config.model_dump():
        raise SentinelError(f"{path}: saved with other settings; resume needs the same config")
    task.model.load_state_dict(state["model"])
    task.optimizer.load_state_dict(state["optimizer"])
    task.scheduler.load_state_dict(state["scheduler"])
    task.scaler.load_state_dict(state["scaler"])
    progress = Progress(state["history"], state["best"], state["stale"], state["epoch"] + 1)
    train_set.rng.bit_generator.state = state["data_rng"]
    torch.set_rng_state(state["torch_rng"])
    log.info(f"resumed from {path} at epoch {progress.first_epoch + 1}")
    return progress
