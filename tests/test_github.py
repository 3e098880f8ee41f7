"""planet_sentinel.github pieces (approval parsing, episode fingerprints, input checks) and the
GitHub REST emulator's protocol as PyGithub and plain HTTP see it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github, GithubException

from planet_sentinel import github as gh
from planet_sentinel.errors import SentinelError
from tools.emulators.github import DEFAULT_REPO, GitHubEmulator


def _signal(name: str, group: str) -> dict[str, Any]:
    return {
        "name": name,
        "group": group,
        "test": "psi",
        "n_reference": 100,
        "n_new": 100,
        "statistic": 0.3,
        "p_value": None,
        "effects": {},
        "limits": {},
        "warn_limits": {},
        "description": name,
        "p_adjusted": None,
        "status": "ok",
        "reason": "",
        "min_samples": 10,
    }


def drift_json(tmp_path: Path, drifted: list[str], baseline: str = "aaaa", status: str = "drift") -> Path:
    """A drift.json the monitor could have written (planet_sentinel.drift.types.DriftReport)."""
    names = {"band B04": "bands", "band B08": "bands", "nodata_share": "scene", "encoder_mmd": "model"}
    decision = {"drift": status == "drift", "status": status, "drifted": drifted, "warnings": [], "insufficient": []}
    decision |= {"unavailable": [], "tested": len(names), "correction": "holm", "alpha": 0.01, "summary": "s"}
    identity = {"path": None, "schema": "planet-sentinel/baseline", "schema_version": 1, "generator": None}
    identity |= {"created": None, "fingerprint": baseline, "split": "train", "n_chips": 10, "n_scenes": 1}
    data = {
        "schema": "planet-sentinel/drift-report",
        "schema_version": 1,
        "decision": {**decision, "exit_code": 3 if status == "drift" else 0},
        "thresholds": {},
        "sample_sizes": {},
        "signals": [_signal(name, group) for name, group in names.items()],
        "baseline": {**identity, "bands": ["B04", "B08"], "chip_size": 256},
        "new_data": {},
        "model": {"registry": {"version": "3"}},
        "context": {},
        "files": {"json": "drift.json", "markdown": "drift.md", "bands_png": "bands.png"},
    }
    out = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    (out / "drift.json").write_text(json.dumps(data))
    (out / "drift.md").write_text("## Drift monitor: DRIFT DETECTED\n")
    (out / "bands.png").write_bytes(b"\x89PNG")
    return out


def test_fingerprint_is_the_baseline_and_the_drifted_groups(tmp_path: Path) -> None:
    a = gh.load_drift_report(drift_json(tmp_path, ["band B04"]))
    b = gh.load_drift_report(drift_json(tmp_path, ["band B08", "band B04"]))
    c = gh.load_drift_report(drift_json(tmp_path, ["band B04", "encoder_mmd"]))
    d = gh.load_drift_report(drift_json(tmp_path, ["band B04"], baseline="bbbb"))
    assert a.fingerprint() == b.fingerprint()  # same kind of drift on the same baseline: one episode
    assert len({a.fingerprint(), c.fingerprint(), d.fingerprint()}) == 3
    assert c.drifted_groups() == ["bands", "model"]
    assert a.model_version() == "3" and a.plots == ["bands.png"] and a.markdown.startswith("## Drift")


def test_load_drift_report_rejects_what_is_not_a_report(tmp_path: Path) -> None:
    with pytest.raises(SentinelError, match="no such file"):
        gh.load_drift_report(tmp_path / "absent")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SentinelError, match="not JSON"):
        gh.load_drift_report(bad)
    bad.write_text(json.dumps({"schema": "planet-sentinel/baseline", "schema_version": 1}))
    with pytest.raises(SentinelError, match="not a valid drift-report .*re-run `sentinel monitor`"):
        gh.load_drift_report(bad)
    report = json.loads((drift_json(tmp_path, ["band B04"]) / "drift.json").read_text())
    del report["decision"]["status"]
    bad.write_text(json.dumps(report))
    with pytest.raises(SentinelError, match="decision.status: Field required"):
        gh.load_drift_report(bad)


def test_episode_marker_round_trip() -> None:
    info = {"fingerprint": "f" * 16, "baseline": "b", "runs": 3}
    body = f"text\n{gh.marker(info)}\nmore"
    assert gh.episode_info(body) == info
    assert gh.episode_info("no marker here") is None
    assert gh.episode_info(None) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ("/approve-retrain", True),
        ("  /approve-retrain  ", True),
        ("/approve-retrain because of haze\nthanks", True),
        ("LGTM\n/approve-retrain", False),
        ("/approve-retraining", False),
        ("please /approve-retrain", False),
        ("`/approve-retrain`", False),
        ("", False),
        (None, False),
    ],
)
def test_approve_command(text: str | None, expected: bool) -> None:
    assert gh.is_approve_command(text) is expected


def test_event_kind_from_name_or_shape() -> None:
    assert gh.event_kind({"issue": {}, "comment": {}}) == "issue_comment"
    assert gh.event_kind({"issue": {}, "label": {}}) == "issues"
    assert gh.event_kind({"ref": "x"}) == "unknown"
    assert gh.event_kind({"issue": {}}, "workflow_dispatch") == "workflow_dispatch"


def test_target_needs_token_and_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(SentinelError, match="GITHUB_TOKEN is not set"):
        gh.GitHubTarget.resolve()
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    with pytest.raises(SentinelError, match="no repository"):
        gh.GitHubTarget.resolve()
    with pytest.raises(SentinelError, match="not OWNER/NAME"):
        gh.GitHubTarget.resolve(repo="just-a-name")
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    assert gh.GitHubTarget.resolve() == gh.GitHubTarget("https://api.github.com", "t", "o/r")
    assert gh.GitHubTarget.resolve("http://127.0.0.1:9/", "a/b").api_url == "http://127.0.0.1:9"


def test_run_url_from_actions_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    assert gh.run_url_from_env() is None
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    assert gh.run_url_from_env() == "https://github.com/o/r/actions/runs/42"


def test_result_json_from_a_document_or_command_output(tmp_path: Path) -> None:
    doc = tmp_path / "a.json"
    doc.write_text(json.dumps({"promoted": True}, indent=2))
    assert gh.load_result_json(doc, "promotion") == {"promoted": True}
    out = tmp_path / "b.json"
    out.write_text('progress 50%\n{"x": 1}\ndone\n{"model_version": "4"}\n')
    assert gh.load_result_json(out, "training result") == {"model_version": "4"}
    out.write_text("no json")
    with pytest.raises(SentinelError, match="no JSON object"):
        gh.load_result_json(out, "training result")


def test_training_comment_shows_metrics_and_decision() -> None:
    text = gh.training_comment(
        {"model_version": "5", "best": {"val_f1": 0.91234}},
        {"promoted": False, "reason": "lower F1", "champion_before": "4", "champion_after": "4", "scores": {}},
        "https://ci/run/9",
    )
    assert "| best val_f1 | 0.9123 |" in text and "lower F1" in text and "stays open" in text
    assert "([run](https://ci/run/9))" in text


# ---------------------------------------------------------------------------- the emulator


@pytest.fixture
def emulator() -> Iterator[GitHubEmulator]:
    with GitHubEmulator() as em:
        yield em


def client(em: GitHubEmulator, token: str = "t") -> Github:
    return Github(base_url=em.url, auth=Auth.Token(token), seconds_between_requests=0, seconds_between_writes=0)


def raw(em: GitHubEmulator, method: str, path: str, body: Any = None, token: str | None = "t") -> tuple[int, Any, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(em.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None, response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def test_emulator_paginates_and_filters_like_github(emulator: GitHubEmulator) -> None:
    repo = client(emulator).get_repo(DEFAULT_REPO)
    for n in range(35):
        repo.create_issue(f"issue {n}", labels=["drift"] if n % 5 == 0 else [])
    repo.get_issue(1).edit(state="closed")
    assert len(list(repo.get_issues(state="open"))) == 34
    assert len(list(repo.get_issues(state="all"))) == 35
    assert [i.number for i in repo.get_issues(state="open", labels=["drift"])] == [31, 26, 21, 16, 11, 6]
    status, page, headers = raw(emulator, "GET", f"/repos/{DEFAULT_REPO}/issues?per_page=10&state=all")
    assert status == 200 and len(page) == 10
    assert 'rel="next"' in headers["Link"] and "page=4" in headers["Link"]


def test_emulator_needs_a_token_and_validates(emulator: GitHubEmulator) -> None:
    status, body, _ = raw(emulator, "GET", f"/repos/{DEFAULT_REPO}", token=None)
    assert status == 401 and body["message"] == "Requires authentication"
    status, body, _ = raw(emulator, "POST", f"/repos/{DEFAULT_REPO}/issues", {"body": "no title"})
    assert status == 422
    status, _, _ = raw(emulator, "GET", "/repos/octo-org/absent")
    assert status == 404
    repo = client(emulator).get_repo(DEFAULT_REPO)
    with pytest.raises(GithubException) as info:
        repo.get_workflow("train.yml").create_dispatch("main", {"unknown_input": "1"}, throw=True)
    assert info.value.status == 422 and "Unexpected inputs" in str(info.value)
    # a reader cannot dispatch or label
    reader = client(emulator, "rita-reader-token").get_repo(DEFAULT_REPO)
    with pytest.raises(GithubException) as info:
        reader.get_workflow("train.yml").create_dispatch("main", {}, throw=True)
    assert info.value.status == 403
    assert emulator.dispatches() == []


def test_emulator_permissions_and_workflow_urls(emulator: GitHubEmulator) -> None:
    repo = client(emulator).get_repo(DEFAULT_REPO)
    assert repo.get_collaborator_permission("maya-maintainer") == "write"
    assert repo.get_collaborator_role_name("maya-maintainer") == "maintain"
    assert repo.get_collaborator_permission("tri-triager") == "read"
    assert repo.get_collaborator_permission("octo-admin") == "admin"
    with pytest.raises(GithubException) as info:
        repo.get_collaborator_permission("nobody-at-all")
    assert info.value.status == 404
    workflow = repo.get_workflow("train.yml")
    assert workflow.url.startswith(emulator.url)  # create_dispatch posts there
    assert repo.get_workflow(workflow.id).path == ".github/workflows/train.yml"
    assert workflow.create_dispatch("main", {"drift_issue": "3"}, throw=True) is True
    runs = list(workflow.get_runs())
    assert len(runs) == 1 and runs[0].event == "workflow_dispatch" and runs[0].status == "queued"
    assert emulator.dispatches()[0]["inputs"] == {"drift_issue": "3"}


def test_emulator_state_file_and_webhook_payloads(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with GitHubEmulator(state_file=state) as em:
        issue = client(em).get_repo(DEFAULT_REPO).create_issue("x", labels=["drift"])
        payload = em.user_comments(DEFAULT_REPO, issue.number, "wes-writer", "/approve-retrain")
        assert payload["action"] == "created" and payload["comment"]["user"]["login"] == "wes-writer"
        assert payload["issue"]["labels"][0]["name"] == "drift"
        labeled = em.user_labels(DEFAULT_REPO, issue.number, "octo-admin", "retrain-approved")
        assert labeled["action"] == "labeled" and labeled["sender"]["login"] == "octo-admin"
        status, _, _ = raw(em, "GET", "/_emulator/state", token=None)
        assert status == 200
    saved = json.loads(state.read_text())
    assert [r["method"] for r in saved["requests"]] == ["GET", "POST"]
    assert saved["repos"][DEFAULT_REPO]["issues"][0]["title"] == "x"
    with GitHubEmulator(state_file=state) as again:  # a restart keeps the issues
        assert client(again).get_repo(DEFAULT_REPO).get_issue(1).title == "x"


def test_tools_cli_serves_acts_and_shows(tmp_path: Path) -> None:
    """`python -m tools github serve` in its own process, `event` against it, `show` of its state file."""
    import subprocess
    import sys
    import time

    from click.testing import CliRunner

    from tools.github_cli import github as tools_github

    state, url_file = tmp_path / "state.json", tmp_path / "url"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools", "github", "serve", "--state", str(state), "--url-file", str(url_file)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        url = url_file.read_text().strip()
        repo = Github(base_url=url, auth=Auth.Token("octo-admin-token")).get_repo(DEFAULT_REPO)
        repo.create_issue("Data drift", labels=["drift"])
        event = tmp_path / "event.json"
        runner = CliRunner()
        result = runner.invoke(
            tools_github,
            ["event", "comment", "--url", url, "--issue", "1", "--user", "rita-reader", "--out", str(event)],
        )
        assert result.exit_code == 0, result.output
        payload = json.loads(event.read_text())
        assert payload["comment"]["body"] == "/approve-retrain" and payload["sender"]["login"] == "rita-reader"
        shown = runner.invoke(tools_github, ["show", "--state", str(state)])
        assert shown.exit_code == 0, shown.output
        assert "#1 [open] Data drift  labels: drift" in shown.output
        assert "rita-reader: /approve-retrain" in shown.output
        assert "201 POST   /repos/octo-org/planet-sentinel/issues (octo-admin)" in shown.output
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "GitHub emulator on http://127.0.0.1:" in out and "wes-writer-token" in out


def github_cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from planet_sentinel.cli import cli

    result = CliRunner().invoke(cli, ["github", *args])
    return result.exit_code, result.output


def test_cli_flags_reach_the_api_over_the_environment(
    emulator: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--github-url and --repo (packed into one target by the command module) win over the
    environment; approve falls back to the event's repository when neither says."""
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("GITHUB_REPOSITORY", "nobody/nothing")
    for key in ("SECONDS_BETWEEN_WRITES", "SECONDS_BETWEEN_REQUESTS", "RETRIES"):
        monkeypatch.setenv(f"SENTINEL_GITHUB_{key}", "0")
    code, output = github_cli(
        "dispatch", "--workflow", "deploy.yml", "--input", "runtime=process",
        "--github-url", emulator.url, "--repo", DEFAULT_REPO, "--json",
    )  # fmt: skip
    assert code == 0, output
    assert json.loads(output.splitlines()[-1])["ref"] == "main"
    assert [(d["workflow"], d["inputs"]) for d in emulator.dispatches()] == [("deploy.yml", {"runtime": "process"})]

    monkeypatch.delenv("GITHUB_REPOSITORY")
    event = tmp_path / "event.json"
    comment = {"body": "/approve-retrain", "user": {"login": "wes-writer"}}
    event.write_text(json.dumps({"action": "created", "issue": {"number": 999}, "comment": comment,
                                 "repository": {"full_name": DEFAULT_REPO}}))  # fmt: skip
    code, output = github_cli("approve", "--event-path", str(event), "--github-url", emulator.url)
    assert code == 1 and "approval on issue #999: HTTP 404" in output, output  # reached the event's repository
