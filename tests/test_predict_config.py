"""PredictConfig: the prediction defaults written once, resolved like every stage's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from planet_sentinel.config import resolve
from planet_sentinel.errors import SentinelError
from planet_sentinel.predict import PredictConfig
from planet_sentinel.predict.config import SECTION


def test_defaults_are_those_of_sentinel_predict() -> None:
    cfg = PredictConfig()
    assert (cfg.window, cfg.overlap, cfg.batch_size, cfg.threshold, cfg.min_area_ha, cfg.device) == (
        None,
        64,
        8,
        None,
        0.5,
        None,
    )


def test_params_env_and_flags_in_precedence_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(f"{SECTION}:\n  overlap: 32\n  batch_size: 2\n  min_area_ha: 1.0\n")
    monkeypatch.setenv("SENTINEL_PREDICT_BATCH_SIZE", "4")
    cfg = resolve(PredictConfig, SECTION, {"min_area_ha": 2.0, "window": None}, params_file=params)
    assert (cfg.overlap, cfg.batch_size, cfg.min_area_ha, cfg.window) == (32, 4, 2.0, None)


def test_overrides_are_validated_with_the_field_named() -> None:
    cfg = PredictConfig(window=256)
    assert cfg.with_overrides({"overlap": 32, "threshold": None}).overlap == 32
    assert cfg.with_overrides({"threshold": None}).threshold is None
    with pytest.raises(SentinelError, match="threshold"):
        cfg.with_overrides({"threshold": 1.5})
    with pytest.raises(SentinelError, match="min_area_ha"):
        cfg.with_overrides({"min_area_ha": -1})
    with pytest.raises(SentinelError, match=r"overlap \(256\) must be smaller than the window \(256\)"):
        cfg.with_overrides({"overlap": 256})
    with pytest.raises(SentinelError, match="bogus"):
        cfg.with_overrides({"bogus": 1})
