"""`sentinel promote --version`: the train workflow promotes the version its train job registered,
even when a concurrent registration has moved the `challenger` alias meanwhile."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner

from planet_sentinel import registry
from planet_sentinel.cli import cli
from planet_sentinel.train import TrainConfig, train


@pytest.mark.slow
def test_promote_an_exact_version_after_the_challenger_moved(simulated_chips: Path, mlflow_home: Path) -> None:
    result = train(simulated_chips, mlflow_home / "runs" / "a", TrainConfig(epochs=1, base=4, crop=64, threads=1))
    for name in ("ours", "concurrent"):  # two registrations: the second moves @challenger to v2
        with registry.training_run(run_name=name):
            registry.log_and_register(result)
    assert registry.alias_version("challenger") == "2"

    runner = CliRunner()
    args = ["promote", "--chips-dir", str(simulated_chips), "--json"]
    out = runner.invoke(cli, [*args, "--version", "1"])
    assert out.exit_code == 0, out.output
    decision = json.loads(out.stdout.strip().splitlines()[-1])
    assert decision["promoted"] is True and decision["challenger"] == "1" and decision["champion_after"] == "1"
    assert registry.alias_version("champion") == "1"
    assert registry.alias_version("challenger") == "2"  # the other registration is left alone
    tags = mlflow.MlflowClient().get_model_version("planet-sentinel", "1").tags
    assert tags["promotion"] == "no champion yet"
    assert "promotion" not in mlflow.MlflowClient().get_model_version("planet-sentinel", "2").tags

    missing = runner.invoke(cli, [*args, "--version", "9"])
    assert missing.exit_code == 1 and "no version 9 of planet-sentinel" in missing.output
    assert registry.alias_version("champion") == "1"
