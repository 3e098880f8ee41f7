"""The drift monitor's data types, shared by :mod:`.monitor` (which computes them) and
:mod:`.report` (which writes them), so neither imports the other: the monitor's settings, a
summarised chip set, the result of one run and the ``drift.json`` artefact."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.artefacts import Artefact
from planet_sentinel.baseline import Baseline, ChipSetStatistics
from planet_sentinel.drift.statistics import Decision, Signal, Thresholds

#: Exit codes of ``sentinel monitor``.
EXIT_NO_DRIFT, EXIT_DRIFT, EXIT_INCONCLUSIVE = 0, 3, 4
REPORT_SCHEMA: Final = "planet-sentinel/drift-report"
REPORT_VERSION = 1


class MonitorConfig(BaseModel):
    """Settings of ``sentinel monitor`` (the ``monitor`` section of params.yaml)."""

    bands: list[str] | None = Field(default=None, description="bands to compare (default: all of the baseline's)")
    split: str = Field(default="all", description="new chips of this split only (all: every chip outside the buffer)")
    use_masks: bool = Field(default=True, description="use new chips' masks for unknown pixels when they have them")
    max_invalid: float = Field(default=0.5, ge=0, le=1, description="new scenes: drop chips with more nodata than this")
    batch_size: int = Field(default=32, ge=1)
    seed: int = 0
    max_model_chips: int = Field(default=256, ge=4, description="chips per side the model runs on (seeded sample)")
    device: str | None = Field(default=None, description="torch device for the model signals")
    thresholds: Thresholds = Field(default_factory=Thresholds)


@dataclass
class ModelOutputs:
    """The model's view of a chip set: pooled encoder features and predicted change share per chip."""

    features: np.ndarray
    change_share: np.ndarray


@dataclass
class DataSummary:
    """Statistics of one chip set, in the baseline's layout (``per_band``, ``ndvi``, ...)."""

    stats: ChipSetStatistics
    n_chips: int
    bands: list[str]
    chip_size: int
    pixel_rule: str
    source: dict[str, Any]
    n_groups: int = 1
    model: ModelOutputs | None = None


@dataclass
class MonitorResult:
    """Everything the report shows: the decision, the signals and where they came from."""

    decision: Decision
    signals: list[Signal]
    thresholds: Thresholds
    baseline: Baseline
    new: DataSummary
    model: dict[str, Any] | None
    context: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    model_reference: ModelOutputs | None = None

    @property
    def exit_code(self) -> int:
        if self.decision.drift:
            return EXIT_DRIFT
        return EXIT_INCONCLUSIVE if self.decision.status == "inconclusive" else EXIT_NO_DRIFT


# --------------------------------------------------------------------------------------------
# drift.json
# --------------------------------------------------------------------------------------------


class _Record(BaseModel):
    """A part of the report: unknown keys refused, like the report's own."""

    model_config = ConfigDict(extra="forbid")


class DecisionRecord(Decision):
    """The verdict (:class:`~planet_sentinel.drift.statistics.Decision`) and the exit code it gives."""

    exit_code: int


class SignalRecord(_Record):
    """One compared quantity (:class:`~planet_sentinel.drift.statistics.Signal`); None: not finite."""

    name: str
    group: str
    test: str
    n_reference: int
    n_new: int
    statistic: float | None
    p_value: float | None
    effects: dict[str, float | None]
    limits: dict[str, float]
    warn_limits: dict[str, float]
    description: str
    p_adjusted: float | None
    status: str
    reason: str
    min_samples: int


class BaselineIdentity(_Record):
    """Which baseline the new data was compared with."""

    path: str | None
    schema_id: str | None = Field(alias="schema")
    schema_version: int | None
    generator: str | None
    created: str | None
    fingerprint: str | None
    split: str | None
    n_chips: int
    n_scenes: int
    bands: list[str]
    chip_size: int | None


class DriftReport(Artefact):
    """The drift monitor's report (``drift.json``), written by ``sentinel monitor``.

    ``new_data``, ``model`` and ``context`` are provenance (paths, fingerprints, registry version,
    timings) whose keys depend on what was compared; the decision and signals are fixed."""

    KIND: ClassVar[str] = "drift-report"
    SCHEMA_VERSION: ClassVar[int] = REPORT_VERSION
    PRODUCED_BY: ClassVar[str] = "sentinel monitor"
    # Version 1 is the first report layout; every drift.json ever written carries it.

    schema_id: Literal["planet-sentinel/drift-report"] = Field(default=REPORT_SCHEMA, alias="schema")
    decision: DecisionRecord
    thresholds: Thresholds
    sample_sizes: dict[str, int]
    signals: list[SignalRecord]
    baseline: BaselineIdentity
    new_data: dict[str, Any]
    model: dict[str, Any] | None
    context: dict[str, Any]
    files: dict[str, str] = Field(default_factory=dict, description="kind -> file name of each report file")
