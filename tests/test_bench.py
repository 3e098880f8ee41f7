"""The benchmarks run end to end at a tiny size (their figures are measured, not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.bench import chip, predict


def _last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_chip_bench_prints_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chip.run(size=512, workdir=str(tmp_path))
    line = _last_json(capsys)
    assert line["bench"] == "chip" and line["chips"] > 0
    assert line["ratio_to_floor"] > 0 and line["floor_seconds"] > 0 and line["chips_per_s"] > 0
    assert 0 < line["peak_rss_mb"] < 4096
    assert not (tmp_path / "chips").exists()  # outputs are cleaned up, the cached scene stays
    assert (tmp_path / "bench_before.tif").exists()


def test_predict_bench_prints_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predict.run(size=512, workdir=str(tmp_path))
    line = _last_json(capsys)
    assert line["bench"] == "predict" and line["windows"] == 1
    assert line["parameters"] == 199_849 and line["gflops_per_256_pair"] == pytest.approx(2.33, abs=0.01)
    assert line["km2_per_s"] == pytest.approx(line["area_km2"] / line["seconds"], rel=0.1)
    assert line["ratio_to_forward"] > 0
