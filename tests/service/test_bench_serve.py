"""The service benchmark runs end to end at a tiny size (its figures are measured, not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.bench import serve


@pytest.mark.slow
def test_serve_bench_prints_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    serve.run(size=64, workdir=str(tmp_path), requests=8, clients=2, workers=1, rounds=1)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["bench"] == "serve" and line["requests"] == 8 and line["errors"] == 0
    assert 0 < line["p50_ms"] <= line["p99_ms"] and line["req_per_s"] > 0 and line["bare_req_per_s"] > 0
    assert line["ratio_to_bare"] == pytest.approx(line["req_per_s"] / line["bare_req_per_s"], rel=0.05)
    assert len(line["rss_median_each_round_mb"]) == 1 and line["rss_growth_mb"] == 0 and line["server_peak_rss_mb"] > 0
    assert {"queue", "upload", "forward", "service_total"} <= set(line["server_steps_ms"])
