"""The deploy workflow under act (self-hosted label, process runtime): the first run deploys the
champion the train workflow promoted, the next run finds it running and does nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest
import yaml

from tests.actions.conftest import ActEnv, ActResult, _free_port, skip_inside_act
from tests.actions.declared import undeclared_outputs_in_log
from tests.conftest import REPO_ROOT
from tools.act import outputs_from_log

pytestmark = [skip_inside_act(), pytest.mark.slow]


@pytest.fixture
def deploy_vars(tmp_path: Path, mlflow_server: str) -> Iterator[dict[str, str]]:
    variables = {"DEPLOY_PORT": str(_free_port()), "DEPLOY_STATE_DIR": str(tmp_path / "deploy-state")}
    yield variables
    # Stop what the workflow started, the way an operator would.
    subprocess.run(
        [str(Path(sys.executable).parent / "sentinel"), "deploy", "--stop", "--runtime", "process"]
        + ["--state-dir", variables["DEPLOY_STATE_DIR"]],
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server},
        capture_output=True,
        check=False,
        timeout=120,
    )


def test_deploy_only_when_the_champion_changed(
    act_env: ActEnv, train_run: ActResult, deploy_vars: dict[str, str]
) -> None:
    train_run.check()
    first = act_env.run("deploy", inputs={"runtime": "process"}, variables=deploy_vars).check()
    outputs = outputs_from_log(first.log)
    assert outputs["action"] == "deployed" and outputs["version"] == "1"
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/reusable-deploy.yml").read_text())
    assert undeclared_outputs_in_log(first.log, workflow, REPO_ROOT) == []
    with urlopen(f"http://127.0.0.1:{deploy_vars['DEPLOY_PORT']}/model", timeout=10) as response:
        assert json.load(response)["version"] in ("1", 1)

    second = act_env.run("deploy", inputs={"runtime": "process"}, variables=deploy_vars).check()
    assert outputs_from_log(second.log)["action"] == "unchanged"
