"""The drift issue / approval / retrain-report loop through `sentinel github`, the real PyGithub and
the GitHub REST emulator (the package tools/emulators/github/), starting from a real `sentinel monitor` report."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planet_sentinel.cli import cli
from tests.test_github_pictures import DATA_URI
from tools.emulators.github import DEFAULT_REPO, GitHubEmulator

REPO = DEFAULT_REPO


@pytest.fixture(scope="module")
def monitor_report(simulated_chips: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real drift report: baseline of the simulated chips vs hazy simulated scenes (~4 s)."""
    root = tmp_path_factory.mktemp("ghmonitor")
    runner = CliRunner()
    baseline = root / "baseline.json"
    result = runner.invoke(
        cli, ["baseline", "--chips-dir", str(simulated_chips), "--out", str(baseline), "--split", "all"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli,
        [
            "monitor",
            "--baseline",
            str(baseline),
            "--new-data",
            str(root / "new"),
            "--simulate",
            "haze",
            "--scenes",
            "4",
            "--scene-size",
            "256",
            "--out-dir",
            str(root / "monitor"),
        ],
    )
    assert result.exit_code == 3, result.output  # drift
    return root / "monitor"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[GitHubEmulator]:
    with GitHubEmulator(state_file=tmp_path / "github-state.json") as em:
        monkeypatch.setenv("GITHUB_API_URL", em.url)
        monkeypatch.setenv("GITHUB_TOKEN", "ci-token")  # not in the token table: acts as github-actions[bot]
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("SENTINEL_GITHUB_SECONDS_BETWEEN_WRITES", "0")
        monkeypatch.setenv("SENTINEL_GITHUB_SECONDS_BETWEEN_REQUESTS", "0")
        for key in ("GITHUB_SERVER_URL", "GITHUB_RUN_ID", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME"):
            monkeypatch.delenv(key, raising=False)
        yield em
        # GitHub strips data: URIs from rendered markdown: nothing we send may carry one
        sent = [json.dumps(r["body"]) for r in em.requests if r["body"] is not None]
        assert not [s for s in sent if DATA_URI.search(s)], "a data: URI was sent to GitHub"


def sentinel(*args: str, code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["github", *args, "--json"])
    assert result.exit_code == code, result.output
    if code:
        return {"output": result.output}
    return json.loads(result.stdout.strip().splitlines()[-1])


def comments(em: GitHubEmulator, number: int) -> list[dict[str, Any]]:
    return next(i for i in em.issues() if i["number"] == number)["comments"]


def labels(em: GitHubEmulator, number: int) -> list[str]:
    return next(i for i in em.issues() if i["number"] == number)["labels"]


def open_drift_issue(em: GitHubEmulator, report: Path) -> int:
    out = sentinel("report-drift", "--report", str(report), "--run-url", "https://ci.example/run/1")
    assert out["action"] == "opened"
    return out["issue"]


def approval(em: GitHubEmulator, tmp_path: Path, number: int, user: str, kind: str = "comment", **kw: Any) -> dict:
    if kind == "comment":
        payload = em.user_comments(REPO, number, user, kw.get("body", "/approve-retrain"))
    else:
        payload = em.user_labels(REPO, number, user, kw.get("label", "retrain-approved"))
    path = tmp_path / f"event-{len(em.requests)}.json"
    path.write_text(json.dumps(payload))
    return sentinel("approve", "--event-path", str(path))


@pytest.mark.slow
def test_drift_opens_one_issue_and_reruns_update_it(emulator: GitHubEmulator, monitor_report: Path) -> None:
    first = sentinel("report-drift", "--report", str(monitor_report), "--run-url", "https://ci.example/run/1")
    assert first["action"] == "opened" and first["dispatched"] is False
    issue = emulator.issues()[0]
    assert issue["labels"] == ["drift"]
    assert f'"fingerprint": "{first["fingerprint"]}"' in issue["body"]
    assert "## Drift monitor: DRIFT DETECTED" in issue["body"]  # drift.md embedded
    assert "https://ci.example/run/1" in issue["body"] and "/approve-retrain" in issue["body"]
    assert "band B" in issue["title"]

    second = sentinel("report-drift", "--report", str(monitor_report), "--run-url", "https://ci.example/run/2")
    assert second["action"] == "updated" and second["issue"] == first["issue"]
    assert second["fingerprint"] == first["fingerprint"]
    assert len(emulator.issues()) == 1
    issue = emulator.issues()[0]
    assert "https://ci.example/run/2" in issue["body"] and '"runs": 2' in issue["body"]
    assert len(issue["comments"]) == 1 and "Drift seen again" in issue["comments"][0]["body"]
    assert emulator.dispatches() == []
    # the labels exist with the project's descriptions
    assert {"drift", "retrain-approved", "retrain-dispatched"} <= set(emulator.repo()["labels"])


def test_drift_on_another_baseline_is_another_episode(
    emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(monitor_report, other)
    data = json.loads((other / "drift.json").read_text())
    data["baseline"]["fingerprint"] = "0123456789abcdef"
    (other / "drift.json").write_text(json.dumps(data))
    a = sentinel("report-drift", "--report", str(monitor_report))
    b = sentinel("report-drift", "--report", str(other))
    assert a["action"] == b["action"] == "opened" and a["issue"] != b["issue"]
    # once an episode's issue is closed, the next drift opens a new one
    emulator.issues()[0]["state"] = "closed"
    c = sentinel("report-drift", "--report", str(monitor_report))
    assert c["action"] == "opened" and c["issue"] not in (a["issue"], b["issue"])


def test_no_drift_touches_nothing_and_needs_no_token(
    emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = tmp_path / "calm"
    shutil.copytree(monitor_report, calm)
    data = json.loads((calm / "drift.json").read_text())
    data["decision"].update(status="no_drift", drift=False, drifted=[])
    (calm / "drift.json").write_text(json.dumps(data))
    monkeypatch.delenv("GITHUB_TOKEN")
    out = sentinel("report-drift", "--report", str(calm))
    assert out["action"] == "no-drift" and out["issue"] is None
    assert emulator.requests == []


def test_auto_retrain_dispatches_once_per_episode(emulator: GitHubEmulator, monitor_report: Path) -> None:
    first = sentinel("report-drift", "--report", str(monitor_report), "--auto-retrain", "--ref", "main")
    assert first["dispatched"] is True
    second = sentinel("report-drift", "--report", str(monitor_report), "--auto-retrain")
    assert second["action"] == "updated" and second["dispatched"] is False
    assert emulator.dispatches() == [
        {**emulator.dispatches()[0], "workflow": "train.yml", "ref": "main", "inputs": {"drift_issue": "1"}}
    ]
    assert len(emulator.dispatches()) == 1
    assert "retrain-dispatched" in labels(emulator, 1)


def test_writer_comment_dispatches_exactly_once(emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path) -> None:
    number = open_drift_issue(emulator, monitor_report)
    out = approval(emulator, tmp_path, number, "wes-writer")
    assert out["action"] == "dispatched" and out["permission"] == "write"
    again = approval(emulator, tmp_path, number, "octo-admin", body="/approve-retrain please")
    assert again["action"] == "already-dispatched"
    assert len(emulator.dispatches()) == 1
    d = emulator.dispatches()[0]
    assert d["workflow"] == "train.yml" and d["ref"] == "main" and d["inputs"] == {"drift_issue": str(number)}
    assert "retrain-dispatched" in labels(emulator, number)
    texts = [c["body"] for c in comments(emulator, number) if c["user"] == "github-actions[bot]"]
    assert any("Retraining dispatched" in t and "@wes-writer" in t for t in texts)
    # the permission came from the collaborator permission API
    assert any(r["path"].endswith("/collaborators/wes-writer/permission") for r in emulator.requests)


@pytest.mark.parametrize("user,permission", [("rita-reader", "read"), ("oscar-outsider", "read")])
def test_reader_comment_is_refused(
    emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path, user: str, permission: str
) -> None:
    number = open_drift_issue(emulator, monitor_report)
    out = approval(emulator, tmp_path, number, user)
    assert out["action"] == "refused" and out["permission"] == permission and out["dispatched"] is False
    assert emulator.dispatches() == []
    refusal = comments(emulator, number)[-1]
    assert refusal["user"] == "github-actions[bot]" and f"Thank you @{user}" in refusal["body"]
    assert "write, maintain or admin" in refusal["body"]
    assert "retrain-dispatched" not in labels(emulator, number)


def test_label_path_maintainer_dispatches_triager_refused(
    emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path
) -> None:
    number = open_drift_issue(emulator, monitor_report)
    refused = approval(emulator, tmp_path, number, "tri-triager", kind="label")
    assert refused["action"] == "refused"
    assert "retrain-approved" not in labels(emulator, number)  # the unauthorised label is taken off
    assert emulator.dispatches() == []
    out = approval(emulator, tmp_path, number, "maya-maintainer", kind="label")
    assert out["action"] == "dispatched" and out["permission"] == "write"  # maintain -> legacy 'write'
    assert len(emulator.dispatches()) == 1
    # an irrelevant label is ignored
    assert approval(emulator, tmp_path, number, "octo-admin", kind="label", label="bug")["action"] == "ignored"
    assert len(emulator.dispatches()) == 1


def test_closed_and_non_drift_issues_do_nothing(emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path) -> None:
    number = open_drift_issue(emulator, monitor_report)
    emulator.issues()[0]["state"] = "closed"
    out = approval(emulator, tmp_path, number, "octo-admin")
    assert out["action"] == "ignored" and "closed" in out["reason"]
    emulator.issues().append({**emulator.issues()[0], "number": 2, "id": 99, "labels": [], "comments": []})
    emulator.issues()[1]["state"] = "open"
    out = approval(emulator, tmp_path, 2, "octo-admin")
    assert out["action"] == "ignored" and "not a drift issue" in out["reason"]
    assert emulator.dispatches() == []
    assert all(c["user"] != "github-actions[bot]" for i in emulator.issues() for c in i["comments"])


def test_irrelevant_and_bad_events(
    emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = open_drift_issue(emulator, monitor_report)
    assert approval(emulator, tmp_path, number, "octo-admin", body="looks fine to me")["action"] == "ignored"
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main", "commits": []}))
    monkeypatch.delenv("GITHUB_TOKEN")  # irrelevant events need no token
    out = sentinel("approve", "--event-path", str(push))
    assert out["action"] == "ignored" and out["reason"].startswith("event")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "cannot read the event payload" in sentinel("approve", "--event-path", str(bad), code=1)["output"]
    missing = sentinel("approve", "--event-path", str(tmp_path / "nope.json"), code=1)["output"]
    assert "no such event file" in missing
    assert emulator.dispatches() == []


def _results(tmp_path: Path, promoted: bool) -> tuple[Path, Path]:
    train = tmp_path / "train.json"
    train.write_text(
        "training: 100%\n"
        + json.dumps(
            {
                "run_dir": "runs/x",
                "best": {"val_f1": 0.8123, "epoch": 3},
                "epochs_run": 4,
                "fingerprint": "b327fd9d04f2cc8b",
                "device": "cpu",
                "seconds": 12.5,
                "run_id": "abc123",
                "model_version": "7",
            }
        )
        + "\n"
    )
    promotion = tmp_path / "promote.json"
    promotion.write_text(
        json.dumps(
            {
                "promoted": promoted,
                "reason": "challenger F1 0.812 > champion F1 0.700" if promoted else "challenger F1 0.6 <= 0.7",
                "challenger": "7",
                "champion_before": "6",
                "champion_after": "7" if promoted else "6",
                "scores": {"challenger_f1": 0.812, "champion_f1": 0.7},
            }
        )
    )
    return train, promotion


def test_report_training_closes_promoted_issue(emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path) -> None:
    number = open_drift_issue(emulator, monitor_report)
    approval(emulator, tmp_path, number, "wes-writer")
    train, promotion = _results(tmp_path, promoted=True)
    out = sentinel("report-training", "--issue", str(number), "--result", str(train), "--promotion", str(promotion))
    assert out["action"] == "closed" and out["promoted"] is True
    issue = emulator.issues()[0]
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    body = issue["comments"][-1]["body"]
    assert "0.8123" in body and "| model version | `7` |" in body and "6 → 7" in body


def test_report_training_not_promoted_keeps_issue_open_for_a_new_approval(
    emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path
) -> None:
    number = open_drift_issue(emulator, monitor_report)
    approval(emulator, tmp_path, number, "wes-writer")
    train, promotion = _results(tmp_path, promoted=False)
    out = sentinel("report-training", "--issue", str(number), "--result", str(train), "--promotion", str(promotion))
    assert out["action"] == "commented" and out["promoted"] is False
    assert emulator.issues()[0]["state"] == "open"
    assert "retrain-dispatched" not in labels(emulator, number)
    assert "not promoted" in comments(emulator, number)[-1]["body"]
    assert approval(emulator, tmp_path, number, "octo-admin")["action"] == "dispatched"
    assert len(emulator.dispatches()) == 2
    # train started by hand (no drift issue): nothing to report
    assert (
        sentinel("report-training", "--issue", "", "--result", str(train), "--promotion", str(promotion))["action"]
        == "ignored"
    )


def test_report_failure_frees_the_issue_for_a_new_approval(
    emulator: GitHubEmulator, monitor_report: Path, tmp_path: Path
) -> None:
    number = open_drift_issue(emulator, monitor_report)
    approval(emulator, tmp_path, number, "wes-writer", kind="label")
    assert approval(emulator, tmp_path, number, "octo-admin")["action"] == "already-dispatched"
    assert {"retrain-dispatched", "retrain-approved"} <= set(labels(emulator, number))

    run = "https://ci.example/octo-org/planet-sentinel/actions/runs/77"
    outcome = "train: failure, evaluate-promote: skipped"
    out = sentinel("report-failure", "--issue", f"#{number}", "--run-url", run, "--outcome", outcome)
    assert out["action"] == "failed" and out["issue"] == number and out["promoted"] is False
    assert "retrain-dispatched" in out["reason"]
    assert not {"retrain-dispatched", "retrain-approved"} & set(labels(emulator, number))
    assert emulator.issues()[0]["state"] == "open"
    note = comments(emulator, number)[-1]
    assert note["user"] == "github-actions[bot]" and "Retraining did not finish" in note["body"]
    assert run in note["body"] and outcome in note["body"]
    # the next approval dispatches again instead of answering "already dispatched"
    assert approval(emulator, tmp_path, number, "octo-admin")["action"] == "dispatched"
    assert len(emulator.dispatches()) == 2

    # nothing to do: train started by hand, or the issue was closed meanwhile
    assert sentinel("report-failure", "--issue", "")["action"] == "ignored"
    emulator.issues()[0]["state"] = "closed"
    closed = sentinel("report-failure", "--issue", str(number))
    assert closed["action"] == "ignored" and "closed" in closed["reason"]
    assert "retrain-dispatched" in labels(emulator, number)
    assert "not an issue number" in sentinel("report-failure", "--issue", "abc", code=1)["output"]


def test_missing_token_and_repo_are_clear_errors(
    emulator: GitHubEmulator, monitor_report: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    out = sentinel("report-drift", "--report", str(monitor_report), code=1)["output"]
    assert "GITHUB_TOKEN is not set" in out
    monkeypatch.setenv("GITHUB_TOKEN", "x")
    monkeypatch.delenv("GITHUB_REPOSITORY")
    assert "no repository" in sentinel("report-drift", "--report", str(monitor_report), code=1)["output"]
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/absent")
    assert "HTTP 404" in sentinel("report-drift", "--report", str(monitor_report), code=1)["output"]
    assert emulator.issues() == []


def test_dispatch_command_dispatches_deploy_and_refuses_unknown_workflows(emulator: GitHubEmulator) -> None:
    """`sentinel github dispatch` is what the train workflow runs after a promotion."""
    out = sentinel("dispatch", "--workflow", "deploy.yml", "--input", "runtime=process")
    assert out == {"action": "dispatched", "workflow": "deploy.yml", "ref": "main", "inputs": {"runtime": "process"}}
    assert [(d["workflow"], d["ref"], d["inputs"]) for d in emulator.dispatches()] == [
        ("deploy.yml", "main", {"runtime": "process"})
    ]
    refused = sentinel("dispatch", "--workflow", "no-such.yml", code=1)["output"]
    assert "no-such.yml" in refused and "Traceback" not in refused
    # the emulator knows the project's rendered workflows: approve.yml has no workflow_dispatch trigger
    refused = sentinel("dispatch", "--workflow", "approve.yml", code=1)["output"]
    assert "workflow_dispatch" in refused
    refused = sentinel("dispatch", "--workflow", "deploy.yml", "--input", "model=x", code=1)["output"]
    assert "Unexpected inputs" in refused
    bad = sentinel("dispatch", "--workflow", "deploy.yml", "--input", "novalue", code=2)["output"]
    assert "KEY=VALUE" in bad
    assert len(emulator.dispatches()) == 1
