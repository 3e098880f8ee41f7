from __future__ import annotations

from pathlib import Path

import pytest

from planet_sentinel.chips import ChipConfig
from planet_sentinel.config import resolve
from planet_sentinel.errors import SentinelError


def test_precedence_flag_env_file_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("chip:\n  size: 128\n  overlap: 16\n  seed: 3\n")
    assert resolve(ChipConfig, "chip", params_file=params).size == 128  # file beats default
    assert resolve(ChipConfig, "chip", params_file=params).max_invalid == 0.5  # default
    monkeypatch.setenv("SENTINEL_CHIP_SIZE", "64")
    monkeypatch.setenv("SENTINEL_CHIP_SPLIT_BLOCK", "64")
    assert resolve(ChipConfig, "chip", params_file=params).size == 64  # env beats file
    config = resolve(ChipConfig, "chip", {"size": 32, "overlap": None, "split_block": None}, params_file=params)
    assert config.size == 32  # flag beats env
    assert config.overlap == 16  # an unset flag does not hide the file
    monkeypatch.setenv("SENTINEL_CHIP_SPLIT_RATIOS", "[0.6, 0.2, 0.2]")
    assert resolve(ChipConfig, "chip", params_file=params).split_ratios == (0.6, 0.2, 0.2)


def test_params_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("chip:\n  size: 96\n  split_block: 96\n")
    monkeypatch.setenv("SENTINEL_PARAMS", str(params))
    assert resolve(ChipConfig, "chip").size == 96


def test_errors_name_the_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("chip:\n  sise: 128\n")
    with pytest.raises(SentinelError, match="unknown keys \\['sise'\\]"):
        resolve(ChipConfig, "chip", params_file=params)
    params.write_text("chip: [1, 2\n")
    with pytest.raises(SentinelError, match="not valid YAML"):
        resolve(ChipConfig, "chip", params_file=params)
    params.write_text("chip:\n  size: 8\n")
    with pytest.raises(SentinelError, match="invalid chip settings: size"):
        resolve(ChipConfig, "chip", params_file=params)
    monkeypatch.setenv("SENTINEL_CHIP_OVERLAP", "lots")
    with pytest.raises(SentinelError, match="overlap"):
        resolve(ChipConfig, "chip", params_file=tmp_path / "absent.yaml")
