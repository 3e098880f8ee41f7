"""The monitor workflow under act on hazy scenes: drift opens exactly one issue on the GitHub
emulator, and a second run of the same episode updates it instead of opening another."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.actions.conftest import MonitorRuns, skip_inside_act
from tests.actions.declared import undeclared_outputs_in_log
from tests.conftest import REPO_ROOT
from tools.act import outputs_from_log

pytestmark = [skip_inside_act(), pytest.mark.slow]


def test_drift_opens_one_issue_then_updates_it(monitor_runs: MonitorRuns) -> None:
    first, second = monitor_runs.first.check(), monitor_runs.second.check()
    assert outputs_from_log(first.log)["exit_code"] == "3"
    assert outputs_from_log(second.log)["exit_code"] == "3"

    issues = monitor_runs.issues
    assert len(issues) == 1, [issue["title"] for issue in issues]
    issue = issues[0]
    assert issue["state"] == "open" and "drift" in issue["labels"]
    assert "drift-episode" in issue["body"]
    assert len(issue["comments"]) == 1 and "Drift seen again" in issue["comments"][0]["body"]
    assert monitor_runs.dispatches == []  # approval is needed: nothing was dispatched


def test_summary_links_the_plots_without_data_uris(monitor_runs: MonitorRuns) -> None:
    summary = monitor_runs.first.check().summary
    assert "Drift plots" in summary and "`bands.png`" in summary
    assert "data:" not in summary and "base64" not in summary


def test_the_site_is_built_and_checked_instead_of_deployed(monitor_runs: MonitorRuns) -> None:
    """Under act the Pages upload and deploy are skipped; the site step builds (links and budget
    checked) the map and the monitor's run page, and the summary says it was not published."""
    summary = monitor_runs.first.check().summary
    assert "### Site" in summary and "_Not published with GitHub Pages in this run._" in summary
    built = re.search(r"Built: [\d.]+ MB in \d+ files .*; \d+ alerts, .* (\d+) run pages\.", summary)
    assert built and int(built.group(1)) >= 1, summary[-2000:]  # outputs/monitor's drift report
    assert "Deploy to GitHub Pages" not in monitor_runs.first.log  # the deploy job is off without vars.PAGES


def test_monitor_writes_only_declared_outputs(monitor_runs: MonitorRuns) -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/reusable-monitor.yml").read_text())
    assert undeclared_outputs_in_log(monitor_runs.first.check().log, workflow, REPO_ROOT) == []
