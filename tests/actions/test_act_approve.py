"""The approve workflow under act: a writer's `/approve-retrain` on the drift issue dispatches
train exactly once (a second approval does not), a reader's comment dispatches nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.actions.conftest import ActEnv, ActResult, MonitorRuns, skip_inside_act
from tools.act import event_payload

pytestmark = [skip_inside_act(), pytest.mark.slow]
REPO = "octo-org/planet-sentinel"


def _comment(act_env: ActEnv, emulator: Any, tmp_path: Path, user: str, number: int, name: str) -> ActResult:
    payload = emulator.user_comments(REPO, number, user, "/approve-retrain")
    event = event_payload(tmp_path / f"{name}.json", payload)
    return act_env.run("approve", event="issue_comment", event_file=event, github_url=emulator.url).check()


def test_approval_by_writer_dispatches_once_reader_nothing(
    act_env: ActEnv, monitor_runs: MonitorRuns, github_emulator: Any, tmp_path: Path
) -> None:
    monitor_runs.second.check()
    (issue,) = monitor_runs.issues
    number = issue["number"]

    _comment(act_env, github_emulator, tmp_path, "rita-reader", number, "reader")
    assert github_emulator.dispatches() == []
    refusal = github_emulator.issues()[0]["comments"][-1]
    assert "rita-reader" in refusal["body"] and "nothing was dispatched" in refusal["body"]

    _comment(act_env, github_emulator, tmp_path, "wes-writer", number, "writer")
    dispatches = github_emulator.dispatches()
    assert len(dispatches) == 1
    assert dispatches[0]["inputs"]["drift_issue"] == str(number)

    _comment(act_env, github_emulator, tmp_path, "maya-maintainer", number, "again")
    assert len(github_emulator.dispatches()) == 1
