"""Sizing each training to the time budget: measured step costs, thread choice, epochs per training.

The epochs of each training are sized from the measured cost of a bare training step and of the
earlier folds (how much a real step costs over a bare one, how long the rest of a fold takes),
with ``max_minutes`` as a cap."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from planet_sentinel.train import TrainConfig


def step_seconds(train_cfg: TrainConfig, n_bands: int, threads: int | None) -> float:
    """Measured seconds of one bare training step (forward, backward, AdamW) at the configured size."""
    import torch

    from planet_sentinel.model import ModelConfig, SiameseUNet

    if threads:
        torch.set_num_threads(threads)
    side = train_cfg.crop or 128
    model = SiameseUNet(
        ModelConfig(
            in_channels=n_bands,
            base=train_cfg.base,
            depth=train_cfg.depth,
            variant=train_cfg.variant,
            dropout=train_cfg.dropout,
        )
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(train_cfg.batch_size, n_bands, side, side)
    times = []
    for _ in range(4):
        start = time.perf_counter()
        optimizer.zero_grad()
        model(x, x).float().mean().backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def pick_threads(train_cfg: TrainConfig, n_bands: int) -> tuple[int | None, dict[int | None, float]]:
    """The configured thread count if, measured now, it is clearly (1.5x) faster than one thread; else one.

    On a shared machine where another process holds a core, two torch threads wait on each other at
    every parallel region and a step takes ~10x longer than with one thread (measured on the 2-core
    development machine: 2-4 s against 0.2-0.5 s); with both cores free two threads are 1.5-1.7x
    faster. Such contention also comes and goes within a training (single epochs 7-13x slower were
    seen), so two threads are used only when they win clearly.
    """
    configured = train_cfg.threads
    if configured == 1:
        return 1, {1: step_seconds(train_cfg, n_bands, 1)}
    timings = {configured: step_seconds(train_cfg, n_bands, configured), 1: step_seconds(train_cfg, n_bands, 1)}
    return (configured if timings[configured] * 1.5 <= timings[1] else 1), timings


def epoch_units(train_chips: int, val_chips: int, cfg: TrainConfig, chip_size: int) -> float:
    """An epoch's cost in training steps: its steps plus the validation pass (forward only, whole chips)."""
    steps = math.ceil((cfg.samples_per_epoch or train_chips) / cfg.batch_size)
    side = cfg.crop or chip_size
    return steps + 0.4 * math.ceil(val_chips / cfg.batch_size) * (chip_size / side) ** 2


@dataclass(frozen=True)
class TrainingPlan:
    """One training's share of the budget: epochs, the time cap, torch threads and the step costs behind them."""

    epochs: int
    minutes: float
    threads: int | None
    timings: dict[int | None, float]
    units: float

    @property
    def bare_step_s(self) -> float:
        return self.timings[self.threads]


@dataclass
class Budget:
    """The time left shared out over the trainings still to run, corrected by what the earlier ones cost."""

    deadline: float
    trainings: int
    #: TrainConfig fields of every training, without ``epochs``.
    fixed: dict[str, Any]
    #: ``epochs`` if the settings fix it, else None (sized from the budget).
    fixed_epochs: int | None
    max_epochs: int
    chip_size: int
    n_bands: int
    #: Baseline, preview and evaluation per training; replaced by measurements.
    overhead_s: float = 20.0
    #: A real step (data, loss) over a bare one; replaced by measurements.
    step_factor: float = 1.3
    probe: TrainConfig = field(init=False)

    def __post_init__(self) -> None:
        from planet_sentinel.train import TrainConfig

        self.probe = TrainConfig(**self.fixed)

    def plan(self, k: int, n_train: int, n_val: int) -> TrainingPlan:
        """Plan training ``k`` (0-based) on ``n_train`` / ``n_val`` chips, measuring the bare step now."""
        from planet_sentinel.train import TrainConfig

        share_s = (self.deadline - time.perf_counter()) / (self.trainings - k) - self.overhead_s
        minutes = max(share_s, 30.0) / 60
        threads, timings = pick_threads(self.probe, self.n_bands)
        cfg = TrainConfig(**{**self.fixed, "threads": threads}, epochs=1)
        units = epoch_units(n_train, n_val, cfg, self.chip_size)
        epoch_cost = units * timings[threads] * self.step_factor
        epochs = self.fixed_epochs or int(min(self.max_epochs, max(1, share_s * 0.92 // epoch_cost)))
        return TrainingPlan(epochs, minutes, threads, timings, units)

    def learn(self, plan: TrainingPlan, epoch_seconds: list[float], fold_s: float, train_s: float) -> None:
        """What a real step cost over the bare one, and the fold's time outside training, for the next plan."""
        if epoch_seconds:
            self.step_factor = float(np.clip(np.median(epoch_seconds) / (plan.units * plan.bare_step_s), 1.0, 3.0))
        self.overhead_s = fold_s - train_s + 5.0
