"""The train stage end to end: a run directory, seeded reproducibility, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from planet_sentinel.config import resolve
from planet_sentinel.errors import SentinelError
from planet_sentinel.model_bundle import load_bundle
from planet_sentinel.train import TrainConfig, train

TINY = dict(epochs=1, base=4, crop=64, batch_size=4, threads=1)


def test_one_epoch_writes_a_usable_bundle(simulated_chips: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, dict[str, float]]] = []
    result = train(simulated_chips, tmp_path / "run", TrainConfig(**TINY), callbacks=[lambda e, m: seen.append((e, m))])
    assert [e for e, _ in seen] == [1]
    assert np.isfinite(seen[0][1]["train_loss"]) and 0 <= seen[0][1]["val_f1"] <= 1
    bundle = load_bundle(result.bundle_path)
    assert bundle.bands == ("B02", "B03", "B04", "B08", "B11", "B12")
    assert bundle.chip_size == 128 and 0 < bundle.threshold < 1
    assert bundle.fingerprint == result.fingerprint and len(result.fingerprint) == 16
    assert bundle.mean[3] > bundle.mean[2]  # NIR brighter than red over forest: real statistics
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["params"]["parameters"] == sum(p.numel() for p in bundle.model.parameters())
    assert result.preview_png is not None and result.preview_png.read_bytes()[:4] == b"\x89PNG"


def test_seeded_runs_are_reproducible(simulated_chips: Path, tmp_path: Path) -> None:
    a = load_bundle(train(simulated_chips, tmp_path / "a", TrainConfig(**TINY)).bundle_path)
    b = load_bundle(train(simulated_chips, tmp_path / "b", TrainConfig(**TINY)).bundle_path)
    for (name, wa), wb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        torch.testing.assert_close(wa, wb, msg=name)


def test_resume_continues_from_the_checkpoint(simulated_chips: Path, tmp_path: Path) -> None:
    config = TrainConfig(**{**TINY, "epochs": 2, "patience": 5})
    full = train(simulated_chips, tmp_path / "full", config)
    first = train(
        simulated_chips, tmp_path / "part", TrainConfig(**{**TINY, "epochs": 2, "patience": 5, "max_minutes": 1e-6})
    )
    assert len(first.history) == 1  # the time budget stopped it after one epoch
    with pytest.raises(SentinelError, match="same config"):
        train(simulated_chips, tmp_path / "part", TrainConfig(**{**TINY, "epochs": 3}), resume=True)
    # Resuming with the original settings reproduces the uninterrupted run exactly.
    state = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=False)
    state["config"] = config.model_dump()
    torch.save(state, tmp_path / "part" / "checkpoint.pt")
    resumed = train(simulated_chips, tmp_path / "part", config, resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[1]["train_loss"] == pytest.approx(full.history[1]["train_loss"], rel=1e-5)


def test_bad_inputs(simulated_chips: Path, tmp_path: Path) -> None:
    with pytest.raises(SentinelError, match="epochs"):
        resolve(TrainConfig, "train", {"epochs": 0}, params_file=tmp_path / "none.yaml")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SentinelError, match="no chips found"):
        train(empty, tmp_path / "run", TrainConfig(**TINY))
    with pytest.raises(SentinelError, match="does not exist"):
        train(simulated_chips, tmp_path / "fresh", TrainConfig(**TINY), resume=True)
    with pytest.raises(SentinelError, match="divisible"):
        train(simulated_chips, tmp_path / "odd", TrainConfig(**{**TINY, "crop": 60}))


def test_an_unknown_device_is_a_clear_error(simulated_chips: Path, tmp_path: Path) -> None:
    # One resolver (planet_sentinel.device) for training and prediction: torch's own RuntimeError
    # for a device name it cannot parse used to escape from train as a traceback.
    with pytest.raises(SentinelError, match="'gpu' is not one of auto, cpu, cuda or cuda:N"):
        train(simulated_chips, tmp_path / "run", TrainConfig(**{**TINY, "device": "gpu"}))
    assert not (tmp_path / "run").exists()
