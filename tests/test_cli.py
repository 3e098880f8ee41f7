from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner, Result

from planet_sentinel.cli import cli
from tests.conftest import FakeScene

SENTINEL = str(Path(sys.executable).parent / "sentinel")
STAGES = [
    "simulate",
    "import",
    "ingest",
    "label",
    "chip",
    "baseline",
    "train",
    "promote",
    "predict",
    "evaluate",
    "serve",
    "deploy",
    "monitor",
    "demo",
]


def _chip(runner: CliRunner, scene: FakeScene, out_dir: Path, *extra: str) -> Result:
    """`sentinel chip` of the fake scene pair into out_dir with extra options."""
    return runner.invoke(
        cli, ["chip", "--before", str(scene.before), "--after", str(scene.after), "--out-dir", str(out_dir), *extra]
    )


def test_help_lists_every_stage_quickly() -> None:
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        proc = subprocess.run([SENTINEL, "--help"], capture_output=True, text=True, check=True)
        timings.append(time.perf_counter() - start)
    for stage in STAGES:
        assert f"  {stage} " in proc.stdout, stage
    assert min(timings) < 0.5, timings


def test_help_imports_no_heavy_library() -> None:
    heavy = "('numpy', 'rasterio', 'torch', 'mlflow', 'pydantic')"
    code = f"import sys; from planet_sentinel.cli import cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_chip_and_baseline_through_the_cli(fake_scene: FakeScene, tmp_path: Path) -> None:
    runner = CliRunner()
    chips = tmp_path / "chips" / "fake"
    result = runner.invoke(
        cli,
        [
            "chip",
            "--before",
            str(fake_scene.before),
            "--after",
            str(fake_scene.after),
            "--mask",
            str(fake_scene.mask),
            "--out-dir",
            str(chips),
            "--size",
            "128",
            "--split-block",
            "128",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout.strip().splitlines()[-1])["counts"]
    assert counts["kept"] == 16
    result = runner.invoke(
        cli,
        ["baseline", "--chips-dir", str(chips.parent), "--out", str(tmp_path / "b.json"), "--split", "all", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["n_chips"] == 16
    result = runner.invoke(
        cli, ["chip", "export", "--chips-dir", str(chips), "--index", "3", "--out-dir", str(tmp_path / "x")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x" / "fake_chip00003_before.tif").exists()


def test_errors_exit_non_zero_with_a_message(fake_scene: FakeScene, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "chip",
            "--before",
            str(tmp_path / "missing.tif"),
            "--after",
            str(fake_scene.after),
            "--out-dir",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 1
    assert "missing.tif: no such file" in result.output
    result = runner.invoke(cli, ["chip", "--before", str(fake_scene.before)])
    assert result.exit_code == 2
    assert "missing option(s) --after, --out-dir" in result.output
    result = _chip(runner, fake_scene, tmp_path / "c", "--size", "4096", "--split-block", "4096")
    assert result.exit_code == 1 and "larger than the scene" in result.output
    result = _chip(runner, fake_scene, tmp_path / "c", "--size", "128", "--overlap", "200")
    assert result.exit_code == 1 and "overlap (200) must be smaller than size (128)" in result.output
    assert not (tmp_path / "c").exists()
