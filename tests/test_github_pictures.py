"""Pictures in drift issues and training comments: committed to the reports branch, linked by a URL
GitHub renders, never as a ``data:`` URI; reports are still written when pictures cannot be published."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from github import Auth, Github, GithubException

from planet_sentinel.cli import cli
from tests.test_github import drift_json
from tools.emulators.github import DEFAULT_REPO, GitHubEmulator

#: RFC 2397 ``data:[<mediatype>][;base64],`` written independently of the emulator's own rule.
DATA_URI = re.compile(r"data:[\w.+-]*/?[\w.+-]*(;[\w.+=-]+)*,", re.IGNORECASE)
PNG_A = b"\x89PNG\r\n\x1a\n" + b"A" * 40
PNG_B = b"\x89PNG\r\n\x1a\n" + b"B" * 40


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubEmulator]:
    with GitHubEmulator() as em:
        monkeypatch.setenv("GITHUB_API_URL", em.url)
        monkeypatch.setenv("GITHUB_TOKEN", "ci-token")  # github-actions[bot]
        monkeypatch.setenv("GITHUB_REPOSITORY", DEFAULT_REPO)
        monkeypatch.setenv("SENTINEL_GITHUB_SECONDS_BETWEEN_WRITES", "0")
        monkeypatch.setenv("SENTINEL_GITHUB_SECONDS_BETWEEN_REQUESTS", "0")
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
        monkeypatch.setenv("GITHUB_RUN_ID", "77")
        monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "1")
        monkeypatch.delenv("SENTINEL_PAGES_URL", raising=False)
        yield em
        sent = [json.dumps(r["body"]) for r in em.requests if r["body"] is not None]
        assert not [s for s in sent if DATA_URI.search(s)], "a data: URI was sent to GitHub"


def sentinel(*args: str) -> tuple[dict[str, Any], str]:
    result = CliRunner().invoke(cli, ["github", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def image_urls(markdown: str) -> dict[str, str]:
    return dict(re.findall(r"!\[([^\]]+)\]\(([^)\s]+)\)", markdown))


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # follows blob?raw=true -> raw, as a browser does
        return response.read()


def test_drift_issue_shows_pictures_committed_to_an_orphan_reports_branch(
    emulator: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = drift_json(tmp_path, ["band B04"])
    (report / "bands.png").write_bytes(PNG_A)
    out, stderr = sentinel(
        "report-drift", "--report", str(report), "--image", str(report / "bands.png"), "--image", str(report / "no.png")
    )
    assert out["action"] == "opened"
    assert "no.png does not exist" in stderr  # a missing picture is a warning
    body = emulator.issues()[0]["body"]
    urls = image_urls(body)
    assert list(urls) == ["bands.png"]
    pattern = rf"{emulator.url}/{DEFAULT_REPO}/blob/[0-9a-f]{{40}}/drift/{out['fingerprint']}/77-1/bands.png\?raw=true"
    assert re.fullmatch(pattern, urls["bands.png"])
    assert fetch(urls["bands.png"]) == PNG_A
    git = emulator.repo()["git"]
    head = git["refs"]["refs/heads/sentinel-reports"]
    tree = git["trees"][git["commits"][head]["tree"]]
    assert set(tree) == {"README.md", f"drift/{out['fingerprint']}/77-1/bands.png"}  # no workflows, no code
    root = git["commits"][head]
    while root["parents"]:
        root = git["commits"][root["parents"][0]]
    assert git["commits"][git["refs"]["refs/heads/main"]] is not root  # an orphan, not a copy of main

    # a rerun (new attempt) writes its own folder: the first picture's link still shows the first picture
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    (report / "bands.png").write_bytes(PNG_B)
    again, _ = sentinel("report-drift", "--report", str(report), "--image", str(report / "bands.png"))
    assert again["action"] == "updated"
    second = image_urls(emulator.issues()[0]["body"])["bands.png"]
    assert "/77-2/bands.png" in second and fetch(second) == PNG_B
    assert fetch(urls["bands.png"]) == PNG_A


def test_without_contents_write_the_issue_says_where_the_pictures_are(emulator: GitHubEmulator, tmp_path: Path) -> None:
    emulator.repo()["bot_permissions"]["contents"] = "read"
    report = drift_json(tmp_path, ["band B04"])
    out, stderr = sentinel("report-drift", "--report", str(report), "--image", str(report / "bands.png"))
    assert out["action"] == "opened"
    assert "pictures not published" in stderr and "403" in stderr
    body = emulator.issues()[0]["body"]
    assert image_urls(body) == {}
    assert "could not be published to GitHub (HTTP 403" in body and "contents: write" in body
    assert "[monitor run](https://github.example/octo-org/planet-sentinel/actions/runs/77)'s artifacts" in body
    assert any(r["status"] == 403 for r in emulator.requests)
    assert "refs/heads/sentinel-reports" not in emulator.repo()["git"]["refs"]


def test_training_comment_shows_the_evaluation_pictures(emulator: GitHubEmulator, tmp_path: Path) -> None:
    report = drift_json(tmp_path, ["band B04"])
    number = sentinel("report-drift", "--report", str(report))[0]["issue"]
    train, promotion, picture = tmp_path / "t.json", tmp_path / "p.json", tmp_path / "evaluation.png"
    train.write_text(json.dumps({"model_version": "7", "best": {"val_f1": 0.8}}))
    promotion.write_text(json.dumps({"promoted": False, "reason": "lower F1"}))
    picture.write_bytes(PNG_A)
    out, _ = sentinel(
        "report-training", "--issue", str(number), "--result", str(train), "--promotion", str(promotion),
        "--image", str(picture), "--reports-branch", "reports",
    )  # fmt: skip
    assert out["action"] == "commented"
    comment = emulator.issues()[0]["comments"][-1]["body"]
    url = image_urls(comment)["evaluation.png"]
    assert f"/training/{number}/77-1/evaluation.png?raw=true" in url and fetch(url) == PNG_A
    assert "refs/heads/reports" in emulator.repo()["git"]["refs"]


PAGES = "https://octo-org.github.io/planet-sentinel"


def committed(emulator: GitHubEmulator) -> list[str]:
    """The requests that wrote to the repository's files (contents or git data API)."""
    return [r["path"] for r in emulator.requests if "/contents/" in r["path"] or "/git/" in r["path"]]


def assert_shown_from_pages(markdown: str, emulator: GitHubEmulator, page: str, picture: str) -> None:
    """The picture by its address on the run page, a row linking that page and the map, nothing committed."""
    assert image_urls(markdown) == {picture: f"{PAGES}/runs/{page}/{picture}"}
    assert f"| site | [run page]({PAGES}/runs/{page}/) · [map]({PAGES}/) |" in markdown
    assert not committed(emulator)


def _workspace_report(root: Path) -> Path:
    """A monitor output folder inside a workspace (``outputs/r0``), as the site build names it."""
    (root / "outputs").mkdir()
    report = drift_json(root / "outputs", ["band B04"])
    (report / "bands.png").write_bytes(PNG_A)
    return report.relative_to(root)


def test_with_pages_the_issue_links_the_run_page_and_shows_pictures_from_the_site(
    emulator: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENTINEL_PAGES_URL", PAGES)  # no trailing slash: one is added
    report = _workspace_report(tmp_path)
    out, _ = sentinel("report-drift", "--report", str(report), "--image", str(report / "bands.png"))
    assert out["action"] == "opened"
    assert_shown_from_pages(emulator.issues()[0]["body"], emulator, "outputs-r0", "bands.png")


def test_with_pages_the_training_comment_links_the_evaluation_page(
    emulator: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    number = sentinel("report-drift", "--report", str(_workspace_report(tmp_path)))[0]["issue"]
    monkeypatch.setenv("SENTINEL_PAGES_URL", PAGES + "/")
    evaluation = Path("outputs/evaluation")
    evaluation.mkdir()
    (evaluation / "evaluation.png").write_bytes(PNG_B)
    (tmp_path / "t.json").write_text(json.dumps({"model_version": "7"}))
    (tmp_path / "p.json").write_text(json.dumps({"promoted": True, "reason": "higher F1"}))
    out, _ = sentinel(
        "report-training", "--issue", str(number), "--result", "t.json", "--promotion", "p.json",
        "--image", str(evaluation / "evaluation.png"),
    )  # fmt: skip
    assert out["action"] == "closed"
    comment = emulator.issues()[0]["comments"][-1]["body"]
    assert_shown_from_pages(comment, emulator, "outputs-evaluation", "evaluation.png")


def test_a_pages_url_that_is_not_a_url_falls_back_to_the_reports_branch(
    emulator: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_PAGES_URL", "octo-org.github.io/planet-sentinel")
    report = drift_json(tmp_path, ["band B04"])
    _, stderr = sentinel("report-drift", "--report", str(report), "--image", str(report / "bands.png"))
    assert "is not an http(s) URL" in stderr and committed(emulator)
    assert "?raw=true" in image_urls(emulator.issues()[0]["body"])["bands.png"]


def test_emulator_refuses_data_uris_in_issues_and_comments(emulator: GitHubEmulator) -> None:
    client = Github(base_url=emulator.url, auth=Auth.Token("t"), seconds_between_requests=0, seconds_between_writes=0)
    repo = client.get_repo(DEFAULT_REPO)
    inline = "![bands](data:image/png;base64,iVBORw0KGgo=)"
    with pytest.raises(GithubException) as info:
        repo.create_issue("x", body=inline)
    assert info.value.status == 422 and "data: URI" in info.value.data["message"]
    issue = repo.create_issue("x", body="metadata: fine, and the word data: alone too")
    html = '<img src="DATA:image/png;base64,iVBORw0KGgo=">'
    for call in (lambda: issue.create_comment(f"see {inline}"), lambda: issue.edit(body=html)):
        with pytest.raises(GithubException) as info:
            call()
        assert info.value.status == 422
    assert emulator.issues()[0]["comments"] == [] and emulator.issues()[0]["body"].startswith("metadata")
    emulator.requests.clear()  # the refused bodies above were sent on purpose
