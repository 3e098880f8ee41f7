"""Stage orchestration written once: train -> register -> publish, and monitor with its drill.

Why here: `sentinel train`, `sentinel demo` and the Kaggle round trip all end a training run the
same way (the run logged in MLflow, the best bundle registered as ``challenger``, the plain-PyTorch
copy at ``runs/model_inference.pth``); each surface calls :func:`train_and_register` (local
training) or :func:`register_trained` (a run trained elsewhere, e.g. in a Kaggle kernel) instead
of repeating the steps. :func:`monitor` is the monitor stage, with the demo/CI drill of simulating
drifted scenes into the new data first. The CLI only parses options and prints the result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from planet_sentinel.baseline import Baseline
    from planet_sentinel.drift.monitor import MonitorConfig, MonitorResult
    from planet_sentinel.train import TrainConfig, TrainResult


@dataclass(frozen=True)
class Registration:
    """Where a registered training run landed in MLflow."""

    run_id: str
    model_version: str
    model_uri: str

    def to_dict(self) -> dict[str, str]:
        return {"run_id": self.run_id, "model_version": self.model_version, "model_uri": self.model_uri}


@dataclass(frozen=True)
class TrainRequest:
    """One local training run: the chips, where it writes, its settings and whether it registers."""

    chips_dir: Path
    run_dir: Path
    config: TrainConfig
    baseline: Baseline | None = None
    resume: bool = False
    register: bool = True
    tags: dict[str, str] = field(default_factory=lambda: {"trained_on": "local"})


@dataclass(frozen=True)
class TrainOutcome:
    """What the training stage produced: the run, its registration (if any) and the inference copy."""

    result: TrainResult
    registration: Registration | None
    inference: Path

    def to_dict(self) -> dict[str, Any]:
        registered = self.registration.to_dict() if self.registration else {}
        return {**self.result.to_dict(), **registered, "model_inference": str(self.inference)}


def default_run_dir(prefix: str = "") -> Path:
    """``runs/<prefix><time>``: a fresh run directory when the user names none."""
    return Path(f"runs/{prefix}{time.strftime('%Y%m%d-%H%M%S')}")


def optional_baseline(path: str | Path) -> Baseline | None:
    """The baseline at ``path`` if there is one: training takes its normalisation statistics from it,
    and computes them from the chips without it."""
    if not Path(path).exists():
        return None
    from planet_sentinel.baseline import load_baseline

    return load_baseline(path)


def train_and_register(request: TrainRequest) -> TrainOutcome:
    """Train locally (each epoch logged to MLflow when registering), register the best bundle as
    ``challenger`` and publish ``runs/model_inference.pth``."""
    from planet_sentinel.train import publish_inference_copy, train

    registration = None
    if request.register:
        from planet_sentinel import registry

        with registry.training_run(run_name=request.run_dir.name) as run:
            result = train(
                request.chips_dir,
                request.run_dir,
                request.config,
                request.baseline,
                request.resume,
                callbacks=[registry.log_epoch],
            )
            version = registry.log_and_register(result, tags=request.tags)
        registration = Registration(run.info.run_id, version.version, version.uri)
    else:
        result = train(request.chips_dir, request.run_dir, request.config, request.baseline, request.resume)
    return TrainOutcome(result, registration, publish_inference_copy(result))


def register_trained(
    result: TrainResult, run_name: str, tags: dict[str, str], artifacts: Sequence[Path] = (), artifact_path: str = ""
) -> Registration:
    """Register a run trained elsewhere (a Kaggle kernel) like :func:`train_and_register` does:
    its per-epoch metrics replayed into a new MLflow run, params, artifacts, ``challenger``."""
    from planet_sentinel import registry

    with registry.training_run(run_name=run_name) as run:
        for entry in result.history:
            registry.log_epoch(int(entry["epoch"]), {k: v for k, v in entry.items() if k != "epoch"})
        version = registry.log_and_register(result, tags=tags)
        import mlflow

        for artifact in artifacts:
            mlflow.log_artifact(str(artifact), artifact_path=artifact_path or None)
    return Registration(run.info.run_id, version.version, version.uri)


@dataclass(frozen=True)
class DriftDrill:
    """Drifted scenes simulated into the new data before monitoring (`sentinel monitor --simulate`):
    ``preset`` is a drift preset (gain, haze, season, region; none = the baseline's settings)."""

    preset: str
    scenes: int = 16
    size: int = 512
    seed: int = 1000


def monitor(
    baseline_path: str | Path,
    new_data: str | Path,
    out_dir: str | Path,
    model: str | Path | None = None,
    config: MonitorConfig | None = None,
    drill: DriftDrill | None = None,
) -> MonitorResult:
    """The monitor stage: optionally simulate drifted scenes into ``new_data`` (added to what it
    holds), then compare it with the baseline and write the drift report."""
    from planet_sentinel.drift.monitor import run_monitor
    from planet_sentinel.sources.synthetic import simulate_new_data

    if drill is not None:
        log.info(
            f"simulating {drill.scenes} scene pairs of {drill.size} px with drift '{drill.preset}' into {new_data}"
        )
        simulate_new_data(drill.preset, new_data, scenes=drill.scenes, size=drill.size, seed=drill.seed)
    return run_monitor(baseline_path, new_data, out_dir, model=model, config=config)
