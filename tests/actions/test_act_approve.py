"""The approve workflow under act: a reader's `/approve-retrain` on the drift issue dispatches
nothing (and gets a polite refusal), a writer's dispatches train exactly once with the issue
number, and a maintainer's second approval does not dispatch again."""

from __future__ import annotations

import pytest

from tests.actions.conftest import ApproveRuns, skip_inside_act

pytestmark = [skip_inside_act(), pytest.mark.slow]


def test_approval_by_writer_dispatches_once_reader_nothing(approve_runs: ApproveRuns) -> None:
    for result in approve_runs.results.values():
        result.check()
    assert approve_runs.dispatches["rita-reader"] == []
    bot = [c["body"] for c in approve_runs.comments if c["user"] == "github-actions[bot]"]
    assert any("rita-reader" in body and "nothing was dispatched" in body for body in bot)

    (dispatch,) = approve_runs.dispatches["wes-writer"]
    assert dispatch["workflow"] == "train.yml" and dispatch["inputs"]["drift_issue"] == str(approve_runs.issue)
    assert approve_runs.dispatches["maya-maintainer"] == [dispatch]
