"""The service benchmark runs end to end at a tiny size (its figures are measured, not asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tools.bench import serve


@pytest.mark.slow
def test_serve_bench_prints_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    serve.run(size=64, workdir=str(tmp_path), requests=8, clients=2, workers=1, rounds=2)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["bench"] == "serve" and line["requests"] == 8 and line["rounds"] == 2 and line["errors"] == 0
    assert 0 < line["p50_ms"] <= line["p99_ms"] < 60_000 and 0 < line["bare_req_per_s"] < 10_000
    assert 0 < line["req_per_s"] < 10_000 and 0 < line["ratio_to_bare"] < 100
    assert len(line["ratio_per_round"]) == 2 and all(0 < r < 100 for r in line["ratio_per_round"])
    rounds = line["rss_median_each_round_mb"]
    assert len(rounds) == 2 and all(100 < mb < 16_000 for mb in rounds)  # a torch process, read from /proc
    assert math.isfinite(line["rss_growth_mb"]) and abs(line["rss_growth_mb"]) < 1_000
    assert line["rss_growth_mb"] == pytest.approx(rounds[1] - rounds[0], abs=0.11)  # later half minus earlier half
    assert line["rss_after_warmup_mb"] <= line["server_peak_rss_mb"] < 16_000
    assert line["server_cpu_ms_per_request"] > 0 and line["bare_cpu_ms_per_request"] > 0
    assert {"queue", "upload", "forward", "service_total"} <= set(line["server_steps_ms"])
    assert 0 < line["server_steps_ms"]["forward"] <= line["server_steps_ms"]["service_total"]
