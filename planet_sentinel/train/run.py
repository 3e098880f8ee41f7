"""``train``: the library entry of the train stage, called by the CLI, the demo, the pipeline and
the Kaggle kernel alike. It reads the chips, builds the task, runs the epochs and writes the run
directory; each step is a function of its own module in this package."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from planet_sentinel.device import resolve_device
from planet_sentinel.errors import SentinelError
from planet_sentinel.train.checkpoint import Progress, restore_checkpoint
from planet_sentinel.train.config import EpochCallback, Scalar, TrainConfig, TrainResult
from planet_sentinel.train.data import TrainingData
from planet_sentinel.train.loop import fit
from planet_sentinel.train.outputs import RunFiles, keep_parity_windows, validation_preview, write_history
from planet_sentinel.train.task import Task, build_task, seed_everything

if TYPE_CHECKING:
    from planet_sentinel.baseline import Baseline

log = logging.getLogger(__name__)


def run_params(config: TrainConfig, task: Task, data: TrainingData) -> dict[str, Scalar]:
    """The settings and facts of a run, as logged to MLflow and history.json."""
    from planet_sentinel.model import parameter_count

    return {
        **config.model_dump(),
        "parameters": parameter_count(task.model),
        "bands": ",".join(data.bands),
        "chip_size": data.chip_size,
        "pos_weight": round(task.pos_weight, 3),
        "train_chips": len(data.train_set),
        "val_chips": len(data.val_set),
        "device": str(task.device),
        "fingerprint": task.fingerprint,
    }


def train(
    chips_dir: str | Path,
    run_dir: str | Path,
    config: TrainConfig | None = None,
    baseline: Baseline | Mapping[str, object] | None = None,
    resume: bool = False,
    callbacks: Sequence[EpochCallback] = (),
) -> TrainResult:
    """Train on the ``train`` split of every chip directory under ``chips_dir``, validate on
    ``val`` each epoch, keep the best bundle (by validation F1 at its best threshold).

    ``baseline`` gives the normalisation (computed on the train split when None; a dict is read as
    baseline.json's content); ``resume``
    continues from the run directory's checkpoint; ``callbacks`` see every epoch's metrics.
    """
    import torch

    config = config or TrainConfig()
    start_time = time.perf_counter()
    data = TrainingData.prepare(chips_dir, config.crop, config.depth, config.seed)
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    task = build_task(data, config, resolve_device(config.device), baseline)
    files = RunFiles(Path(run_dir))
    files.run_dir.mkdir(parents=True, exist_ok=True)
    progress = restore_checkpoint(files.checkpoint, task, config, data.train_set) if resume else Progress()
    params = run_params(config, task, data)
    log.info(
        f"training {params['parameters']:,}-parameter FC-Siam-{config.variant} on {task.device}: "
        f"{len(data.train_set)} train / {len(data.val_set)} val chips, {task.steps_per_epoch} steps per epoch"
    )
    stop_reason = fit(task, data, config, progress, files, callbacks, start_time)
    if not files.bundle.exists():
        raise SentinelError("training produced no model (no epoch completed)")
    log.info(f"stopped: {stop_reason}; best val F1 {progress.best['val_f1']:.3f} at epoch {progress.best.get('epoch')}")
    write_history(files, progress.history, progress.best, params, stop_reason)
    keep_parity_windows(data.val_set, files.run_dir)
    return TrainResult(
        run_dir=files.run_dir,
        bundle_path=files.bundle,
        checkpoint_path=files.checkpoint,
        history=progress.history,
        best=progress.best,
        params=params,
        fingerprint=task.fingerprint,
        preview_png=validation_preview(files.bundle, data.val_set, files.preview),
        device=str(task.device),
        seconds=time.perf_counter() - start_time,
        extra={"stop_reason": stop_reason},
    )
