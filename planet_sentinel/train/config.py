"""The settings of a training run (the ``train`` section of params.yaml) and what a run gives back.

Kept apart from the loop so the CLI, params.yaml resolution and the Kaggle bundle can read and
validate the settings without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

#: A value of a run's params or extra: what MLflow params and JSON hold.
Scalar = str | int | float | bool | None

#: Called after every epoch with the epoch number (from 1) and its metrics: MLflow logging, the
#: Kaggle watchdog's ``epoch_done``.
EpochCallback = Callable[[int, dict[str, float]], None]


class TrainConfig(BaseModel):
    """Training settings (the ``train`` section of params.yaml)."""

    epochs: int = Field(default=40, ge=1, description="maximum epochs")
    batch_size: int = Field(default=8, ge=1)
    crop: int | None = Field(default=128, ge=32, description="random training crop side (None: whole chips)")
    samples_per_epoch: int | None = Field(default=None, ge=1, description="crops per epoch (default: one per chip)")
    lr: float = Field(default=3e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    base: int = Field(default=16, ge=4, description="channels of the first encoder level")
    depth: int = Field(default=4, ge=2, le=6)
    variant: str = Field(default="diff", pattern="^(diff|conc)$")
    dropout: float = Field(default=0.1, ge=0, lt=1)
    dice_weight: float = Field(default=0.5, ge=0, description="weight of the soft Dice term next to weighted BCE")
    max_pos_weight: float = Field(default=10.0, ge=1, description="cap on the BCE positive-class weight")
    patience: int = Field(default=8, ge=1, description="epochs without validation improvement before stopping")
    seed: int = 0
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N")
    amp: bool = Field(default=True, description="mixed precision on CUDA (ignored on CPU)")
    max_minutes: float | None = Field(default=None, gt=0, description="stop after this wall time")
    threads: int | None = Field(default=None, ge=1, description="CPU threads for torch (default: torch's choice)")


@dataclass
class TrainResult:
    """What a training run produced."""

    run_dir: Path
    bundle_path: Path
    checkpoint_path: Path
    history: list[dict[str, float]]
    best: dict[str, float]
    params: dict[str, Scalar]
    fingerprint: str
    preview_png: Path | None
    device: str
    seconds: float
    extra: dict[str, Scalar] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "run_dir": str(self.run_dir),
            "bundle": str(self.bundle_path),
            "best": self.best,
            "epochs_run": len(self.history),
            "fingerprint": self.fingerprint,
            "device": self.device,
            "seconds": round(self.seconds, 1),
        }
