"""What the OSCD benchmark compares against and how it splits, chips and trains."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "oscd-dev"
#: FC-Siam-diff on the official OSCD test cities, RGB bands (Daudt, Le Saux, Boulch, ICIP 2018).
REFERENCE_F1 = 0.4886
REFERENCE = {
    "method": "FC-Siam-diff (Daudt et al. 2018)",
    "f1": 48.86,
    "precision": 49.81,
    "recall": 47.94,
    "split": "official OSCD test cities, RGB bands; this benchmark holds out other cities (leave-cities-out over "
    "the development cities) and uses six bands: the split differs, the ratio is indicative only",
}
BASELINES = ("cva_otsu", "ndvi_otsu", "ndvi_tuned")


class OscdSettings(BaseModel):
    """How the benchmark splits, chips and trains (its ``settings`` in the results JSON)."""

    model_config = ConfigDict(extra="forbid")

    folds: int = Field(default=4, description="groups of cities; fold i holds out group i")
    val_cities: int = Field(default=2, description="validation cities per fold, from the next groups")
    chip_size: int = Field(default=128, description="chip side in pixels")
    train_overlap: int = Field(default=64, description="overlap of the training chips")
    val_overlap: int = Field(default=0, description="overlap of the validation chips (0: each pixel once)")
    budget_minutes: float = Field(default=28.0, description="the whole run's time, shared out over the trainings")
    train: dict[str, Any] = Field(
        default_factory=lambda: {"base": 16, "crop": 96, "batch_size": 8, "threads": 2, "patience": 8},
        description="TrainConfig fields of every training; without epochs, they are sized from the budget",
    )
    max_epochs: int = Field(default=60, description="cap on the epochs sized from the budget")
    max_folds: int | None = Field(default=None, description="run only the first folds (None: all)")
    eval_batch_size: int = Field(default=4, description="batch of the whole-city scoring")


def bands() -> tuple[str, ...]:
    """The bands every city is imported with (the library's defaults)."""
    from planet_sentinel.bands import DEFAULT_BANDS

    return DEFAULT_BANDS


def rounded(value: float | None, digits: int = 4) -> float | None:
    """``value`` rounded for the JSON, None where it is missing or not finite."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)
