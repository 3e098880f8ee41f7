"""The pieces around the epoch loop: progress and stopping rules, what a callback can rely on,
and a package that the CLI can import without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from planet_sentinel.train import TrainConfig, train
from planet_sentinel.train.checkpoint import MIN_IMPROVEMENT, Progress
from planet_sentinel.train.loop import stop_reason


def metrics(val_f1: float) -> dict[str, float]:
    return {"train_loss": 1.0, "val_f1": val_f1, "val_threshold": 0.4, "lr": 1e-3, "epoch_seconds": 1.0}


def test_progress_counts_epochs_without_real_improvement() -> None:
    progress = Progress()
    assert progress.record(0, metrics(0.5)) and progress.best == {"epoch": 1, "val_f1": 0.5, "val_threshold": 0.4}
    assert not progress.record(1, metrics(0.5 + MIN_IMPROVEMENT / 2))  # noise is no improvement
    assert progress.stale == 1 and progress.best["epoch"] == 1
    assert progress.record(2, metrics(0.6)) and progress.stale == 0
    assert [h["epoch"] for h in progress.history] == [1, 2, 3]


def test_stop_rules() -> None:
    config = TrainConfig(patience=2, max_minutes=1.0)
    assert stop_reason(config, Progress(stale=1), start_time=1e18) is None
    assert stop_reason(config, Progress(stale=2), start_time=1e18) == "early stop: no improvement for 2 epochs"
    assert stop_reason(config, Progress(), start_time=-1e9) == "time budget of 1.0 min reached"


def test_callbacks_see_each_epoch_after_its_bundle_is_saved(simulated_chips: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    seen: list[tuple[int, bool]] = []
    config = TrainConfig(epochs=2, base=4, crop=64, batch_size=4, threads=1, samples_per_epoch=4)
    train(simulated_chips, run_dir, config, callbacks=[lambda e, m: seen.append((e, (run_dir / "model.pt").exists()))])
    assert seen == [(1, True), (2, True)]


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, planet_sentinel.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
