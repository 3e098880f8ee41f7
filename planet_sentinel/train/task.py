"""What one run optimises: the model, its bundle (normalisation, fingerprint), the optimiser, the
learning-rate schedule and the AMP scaler, built in one place in a fixed order.

The cut follows torchgeo's ``BaseTask`` (``configure_models`` / ``configure_optimizers`` in
torchgeo/trainers/base.py, github.com/microsoft/torchgeo) without Lightning. The order of the
steps below is part of the contract: the model's initial weights come from the torch RNG seeded
just before, so a seeded run gives the same weights (tests/train/test_reproducible.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from planet_sentinel.train.config import TrainConfig
from planet_sentinel.train.data import TrainingData, load_normalisation
from planet_sentinel.train.losses import positive_weight

if TYPE_CHECKING:
    import torch

    from planet_sentinel.baseline import Baseline
    from planet_sentinel.model import SiameseUNet
    from planet_sentinel.model_bundle import ModelBundle


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's global and torch's RNGs (the datasets carry their own)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Task:
    """The model and everything that updates it during a run."""

    model: SiameseUNet
    bundle: ModelBundle
    optimizer: torch.optim.AdamW
    scheduler: torch.optim.lr_scheduler.OneCycleLR
    scaler: torch.amp.GradScaler
    device: torch.device
    amp: bool
    pos_weight: float
    samples_per_epoch: int
    steps_per_epoch: int

    @property
    def fingerprint(self) -> str:
        return self.bundle.fingerprint


def build_task(
    data: TrainingData, config: TrainConfig, device: torch.device, baseline: Baseline | Mapping[str, object] | None
) -> Task:
    """Normalisation from ``baseline`` (computed on the train split when None; a dict is read as
    baseline.json's content), a freshly initialised model, AdamW under a one-cycle schedule over
    every step of the run."""
    import torch

    from planet_sentinel.baseline import Baseline, BaselineConfig, compute_baseline, data_fingerprint
    from planet_sentinel.model import ModelConfig, SiameseUNet
    from planet_sentinel.model_bundle import ModelBundle

    amp = config.amp and device.type == "cuda"
    if baseline is None:
        baseline = compute_baseline(data.chips_dir, BaselineConfig(split="train", pixel_sample=100))
    elif not isinstance(baseline, Baseline):
        baseline = Baseline.from_dict(dict(baseline), "the baseline given to train")
    mean, std = load_normalisation(baseline, data.bands)
    fingerprint = data_fingerprint(data.stores)
    model_config = ModelConfig(
        in_channels=len(data.bands),
        base=config.base,
        depth=config.depth,
        variant=config.variant,
        dropout=config.dropout,
    )
    model = SiameseUNet(model_config).to(device)
    bundle = ModelBundle(
        model=model,
        bands=data.bands,
        mean=mean,
        std=std,
        chip_size=data.chip_size,
        threshold=0.5,
        fingerprint=fingerprint,
    )
    samples = config.samples_per_epoch or len(data.train_set)
    steps_per_epoch = math.ceil(samples / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    pos_weight = positive_weight(data.stores, config.max_pos_weight)
    return Task(model, bundle, optimizer, scheduler, scaler, device, amp, pos_weight, samples, steps_per_epoch)
