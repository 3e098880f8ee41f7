"""`sentinel monitor` end to end on small simulated scenes: exit 0 on the baseline's own
distribution, exit 3 with a report that shows the drift on hazy scenes, exit 1 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planet_sentinel.cli import cli


def _run(args: list[str]) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["monitor", *args, "--json"])
    lines = result.stdout.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        return result.exit_code, json.loads(lines[-1])
    return result.exit_code, {"output": result.output}


def _simulated(baseline: Path, tmp_path: Path, preset: str) -> list[str]:
    """Monitor arguments for 3 simulated scene pairs drifted by ``preset``, reported under tmp_path."""
    new, report = str(tmp_path / "new"), str(tmp_path / "report")
    return ["--baseline", str(baseline), "--new-data", new, "--simulate", preset, "--scenes", "3", "--out-dir", report]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitor")
    runner = CliRunner()
    for seed in range(1, 5):
        raw = root / "raw"
        assert (
            runner.invoke(
                cli, ["simulate", "--name", f"b{seed}", "--size", "512", "--seed", str(seed), "--out-dir", str(raw)]
            ).exit_code
            == 0
        )
        result = runner.invoke(
            cli,
            [
                "chip",
                "--before",
                str(raw / f"b{seed}_before.tif"),
                "--after",
                str(raw / f"b{seed}_after.tif"),
                "--mask",
                str(raw / f"b{seed}_mask.tif"),
                "--out-dir",
                str(root / "chips" / f"b{seed}"),
                "--size",
                "128",
                "--split-block",
                "128",
            ],
        )
        assert result.exit_code == 0, result.output
    out = root / "baseline.json"
    result = runner.invoke(cli, ["baseline", "--chips-dir", str(root / "chips"), "--out", str(out), "--split", "all"])
    assert result.exit_code == 0, result.output
    return out


def test_same_distribution_exits_0(baseline: Path, tmp_path: Path) -> None:
    code, out = _run(_simulated(baseline, tmp_path, "none"))
    assert code == 0, out
    assert out["decision"] == "no_drift" and out["exit_code"] == 0 and out["new_chips"] > 30
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    assert report["decision"]["status"] == "no_drift"
    assert "## Drift monitor: no drift" in (tmp_path / "report" / "drift.md").read_text()


def test_hazy_scenes_exit_3_with_a_report_that_shows_the_drift(baseline: Path, tmp_path: Path) -> None:
    code, out = _run(_simulated(baseline, tmp_path, "haze"))
    assert code == 3, out
    assert out["decision"] == "drift" and "band B02" in out["drifted"]
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    assert report["decision"]["drift"] and report["decision"]["exit_code"] == 3
    blue = next(s for s in report["signals"] if s["name"] == "band B02")
    assert blue["status"] == "drift" and blue["effects"]["change_after"] > 0.1
    md = (tmp_path / "report" / "drift.md").read_text()
    assert "DRIFT DETECTED" in md and "| band B02 | **DRIFT** |" in md
    assert (tmp_path / "report" / "bands.png").stat().st_size > 10_000


def test_bad_input_exits_1_and_usage_exits_2(baseline: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out = _run(["--baseline", str(baseline), "--new-data", str(tmp_path / "empty")])
    assert code == 1 and "no new data" in out["output"]
    code, out = _run(["--baseline", str(tmp_path / "absent.json"), "--new-data", str(tmp_path / "empty")])
    assert code == 1 and "no such baseline" in out["output"]
    code, _ = _run(["--baseline", str(baseline), "--new-data", str(tmp_path), "--simulate", "fog"])
    assert code == 2
