"""The train workflow (local mode) under act against a real `mlflow server`, started with the
inputs the approval dispatched: the pulled dataset is trained on, registered as
planet-sentinel@challenger over HTTP, evaluated and promoted, and the drift issue gets the
metrics and is closed."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from tests.actions.conftest import ActEnv, ActResult, ApproveRuns, skip_inside_act
from tests.actions.declared import undeclared_outputs_in_log
from tests.conftest import REPO_ROOT
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


def test_promotion_dispatches_deploy(train_run: ActResult, github_emulator: Any) -> None:
    """The loop closes itself: after the promotion the train workflow dispatches deploy at once."""
    train_run.check()
    deploys = [d for d in github_emulator.dispatches() if d["workflow"] == "deploy.yml"]
    assert len(deploys) == 1 and deploys[0]["ref"] and deploys[0]["inputs"] == {}
    assert "dispatched deploy.yml" in train_run.log


def test_train_summaries_link_pictures_without_data_uris(train_run: ActResult) -> None:
    summary = train_run.check().summary
    assert "### Training (local)" in summary and "### Promotion" in summary
    assert "Validation predictions" in summary and "`evaluation.png`" in summary
    assert "data:" not in summary and "base64" not in summary
    # the evaluation page is built and checked (links, budget); under act it is not deployed
    assert "### Site" in summary and "_Not published with GitHub Pages in this run._" in summary
    assert re.search(r"Built: [\d.]+ MB in \d+ files .* [1-9]\d* run pages\.", summary), summary[-2000:]


def test_train_writes_only_declared_outputs(train_run: ActResult) -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/reusable-train.yml").read_text())
    assert undeclared_outputs_in_log(train_run.check().log, workflow, REPO_ROOT) == []


def test_failed_train_frees_the_drift_issue(
    act_env: ActEnv, train_run: ActResult, approve_runs: ApproveRuns, github_emulator: Any
) -> None:
    """A train run that fails (here: a dataset the DVC remote does not have) says so on its drift
    issue and takes `retrain-dispatched` off, so a new approval can dispatch again."""
    train_run.check()  # after the successful run: they share the MLflow server and the emulator
    issues = github_emulator.issues()
    template = next(i for i in issues if i["number"] == approve_runs.issue)
    number = max(i["number"] for i in issues) + 1
    with github_emulator.lock:
        issues.append(
            {
                **copy.deepcopy(template),
                "number": number,
                "id": 90_000 + number,
                "state": "open",
                "state_reason": None,
                "labels": ["drift", "retrain-dispatched"],
                "comments": [],
            }
        )
    result = act_env.run(
        "train", inputs={"drift_issue": str(number), "dataset": "absent", "epochs": "1"}, github_url=github_emulator.url
    )
    assert result.returncode != 0, result.log[-3000:]
    issue = next(i for i in github_emulator.issues() if i["number"] == number)
    assert issue["state"] == "open" and "retrain-dispatched" not in issue["labels"], result.log[-3000:]
    note = issue["comments"][-1]["body"]
    assert "Retraining did not finish" in note and "train: failure" in note
