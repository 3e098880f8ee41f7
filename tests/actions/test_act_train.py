"""The train workflow (local mode) under act against a real `mlflow server`, started with the
inputs the approval dispatched: the pulled dataset is trained on, registered as
planet-sentinel@challenger over HTTP, evaluated and promoted, and the drift issue gets the
metrics and is closed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.actions.conftest import ActResult, ApproveRuns, skip_inside_act
from tools.act import outputs_from_log

pytestmark = [skip_inside_act(), pytest.mark.slow]


def test_train_registers_a_challenger_and_reports(
    train_run: ActResult, mlflow_server: str, approve_runs: ApproveRuns, github_emulator: Any
) -> None:
    result = train_run.check()
    outputs = outputs_from_log(result.log)
    assert outputs["model_version"] == "1"
    assert outputs["promoted"] == "true" and outputs["champion"] == "1"

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    challenger = client.get_model_version_by_alias("planet-sentinel", "challenger")
    champion = client.get_model_version_by_alias("planet-sentinel", "champion")
    assert challenger.version == champion.version == "1"
    run = client.get_run(challenger.run_id)
    assert run.data.tags.get("trained_on") == "local"
    assert any(key.startswith("val") for key in run.data.metrics)

    issue = next(i for i in github_emulator.issues() if i["number"] == approve_runs.issue)
    assert issue["state"] == "closed"
    report = issue["comments"][-1]["body"]
    assert "Retraining finished" in report and "**yes**" in report
