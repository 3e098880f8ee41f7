"""The model stages through the `sentinel` CLI: train -> promote -> predict -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import rasterio
from click.testing import CliRunner

from planet_sentinel.cli import cli


def _ok(args: list[str]) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_train_promote_predict_evaluate(simulated_chips: Path, mlflow_home: Path) -> None:
    trained = _ok(
        [
            "train",
            "--data-dir",
            str(simulated_chips),
            "--epochs",
            "1",
            "--base",
            "4",
            "--crop",
            "64",
            "--batch-size",
            "4",
            "--run-dir",
            "runs/cli",
        ]
    )
    assert trained["model_version"] == "1" and trained["model_uri"] == "models:/planet-sentinel@challenger"
    assert Path("runs/model_inference.pth").exists()
    promoted = _ok(["promote", "--chips-dir", str(simulated_chips)])
    assert promoted["promoted"] is True

    raw = simulated_chips.parent / "raw"
    predicted = _ok(
        [
            "predict",
            "--before",
            str(raw / "tiny_before.tif"),
            "--after",
            str(raw / "tiny_after.tif"),
            "--out-dir",
            "outputs/tiny",
            "--window",
            "256",
        ]
    )
    with rasterio.open(predicted["loss"]) as ds:
        assert ds.count == 1 and ds.width == 512 and set(ds.read(1).ravel().tolist()) <= {0, 1, 255}
    assert predicted["summary"]["model"]["version"] == "1"
    geojson = json.loads(Path(predicted["geojson"]).read_text())
    assert geojson["type"] == "FeatureCollection"

    evaluated = _ok(
        [
            "evaluate",
            "--model",
            "runs/model_inference.pth",
            "--chips-dir",
            str(simulated_chips),
            "--out-dir",
            "outputs/eval",
        ]
    )
    assert 0 <= evaluated["f1"] <= 1
    assert "| Siamese U-Net |" in Path("outputs/eval/evaluation.md").read_text()


def test_model_stage_errors(simulated_chips: Path, mlflow_home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--data-dir", str(simulated_chips), "--epochs", "0"])
    assert result.exit_code == 1 and "epochs" in result.output
    raw = simulated_chips.parent / "raw"
    result = runner.invoke(
        cli,
        [
            "predict",
            "--model",
            "models:/planet-sentinel@champion",
            "--before",
            str(raw / "tiny_before.tif"),
            "--after",
            str(raw / "tiny_after.tif"),
            "--out-dir",
            "o",
        ],
    )
    assert result.exit_code == 1 and "does not resolve" in result.output
    assert not Path("o").exists()
    result = runner.invoke(cli, ["evaluate", "--model", "x.pt", "--out-dir", "e"])
    assert result.exit_code == 2 and "--chips-dir" in result.output
