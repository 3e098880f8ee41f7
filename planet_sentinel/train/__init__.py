"""Device-agnostic training of the Siamese U-Net: the same code on two CPU cores and on a
Kaggle GPU (CUDA with mixed precision).

``train`` needs no MLflow: it writes a run directory (best bundle, checkpoint, history, a PNG of
validation predictions) and reports each epoch to optional callbacks. The CLI and the Kaggle
round trip log that to MLflow afterwards (planet_sentinel.registry), so a kernel without
network access trains with exactly this code.

The package follows the cut of torchgeo's trainers (torchgeo/trainers/base.py and change.py,
github.com/microsoft/torchgeo): data apart from the task, the loss apart from the loop.

- ``config``: ``TrainConfig`` (params.yaml ``train``), ``TrainResult``, the callback type
- ``data``: chip stores training accepts, ``ChipDataset`` and its augmentation, batches, normalisation
- ``losses``: the masked BCE + Dice loss and the positive-class weight
- ``task``: model, bundle, optimiser, schedule and AMP scaler, built in a fixed (seeded) order
- ``loop``: training step and epoch, validation, the per-epoch hooks and stopping rules (``fit``)
- ``checkpoint``: the run's progress and the checkpoint ``--resume`` continues from
- ``outputs``: the run directory's files, history.json, the preview PNG, the inference copy
- ``run``: ``train``, the entry that puts these together (the device from planet_sentinel.device)

Importing this package does not import torch (the CLI reads ``TrainConfig`` at start-up).
"""

from planet_sentinel.train.config import EpochCallback, TrainConfig, TrainResult
from planet_sentinel.train.data import ChipDataset, load_normalisation, training_stores
from planet_sentinel.train.losses import masked_loss
from planet_sentinel.train.outputs import INFERENCE_COPY, publish_inference_copy
from planet_sentinel.train.run import train
from planet_sentinel.train.task import seed_everything

__all__ = [
    "INFERENCE_COPY",
    "ChipDataset",
    "EpochCallback",
    "TrainConfig",
    "TrainResult",
    "load_normalisation",
    "masked_loss",
    "publish_inference_copy",
    "seed_everything",
    "train",
    "training_stores",
]
