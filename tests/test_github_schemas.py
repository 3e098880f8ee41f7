"""The GitHub emulator answers as GitHub's own OpenAPI description says GitHub answers, on every
route it serves, and its webhook payloads (what `sentinel github approve` reads) are valid events.

The descriptions are the npm packages pinned in tools/schemas/package-lock.json (@octokit/openapi,
@octokit/openapi-webhooks), installed by `npm ci --prefix tools/schemas` (done here if missing)."""

from __future__ import annotations

import base64
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github, GithubException

from planet_sentinel import github as gh
from tools.emulators.github import DEFAULT_REPO, ROUTES, GitHubEmulator
from tools.schemas import install
from tools.schemas.openapi import OpenApiDocument

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@pytest.fixture(scope="module")
def descriptions() -> tuple[OpenApiDocument, OpenApiDocument]:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: it installs GitHub's pinned OpenAPI descriptions (tools/schemas)")
    rest, webhooks = install()
    return OpenApiDocument(rest), OpenApiDocument(webhooks)


@pytest.fixture(scope="module")
def exercised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitHubEmulator, dict[str, Any]]]:
    """One emulator after :func:`exercise`, with its recorded answers and webhook payloads."""
    with GitHubEmulator(record_responses=True) as em:
        yield em, exercise(em, tmp_path_factory.mktemp("schemas"))


def raw(em: GitHubEmulator, method: str, path: str, body: Any = None, token: str | None = "t") -> int:
    headers = {"Content-Type": "application/json", **({"Authorization": f"token {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(em.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def exercise(em: GitHubEmulator, tmp_path: Path) -> dict[str, Any]:
    """Every route of the emulator, through PyGithub and the library, with some refusals; returns
    the webhook payloads produced on the way."""
    client = Github(base_url=em.url, auth=Auth.Token("t"), seconds_between_requests=0, seconds_between_writes=0)
    repo = client.get_repo(DEFAULT_REPO)
    user = Github(base_url=em.url, auth=Auth.Token("wes-writer-token"), seconds_between_requests=0, retry=0)
    assert user.get_user().login == "wes-writer"  # GET /user; 403 for the GITHUB_TOKEN below
    assert raw(em, "GET", "/user") == 403
    gh.ensure_labels(repo)
    repo.get_label("drift")
    issue = repo.create_issue("Data drift", body="b", labels=["drift"])
    issue.create_comment("first")
    list(issue.get_comments())
    list(repo.get_issues(state="open", labels=["drift"]))
    repo.get_issue(issue.number).edit(title="Data drift: B04")
    issue.add_to_labels("retrain-dispatched")
    issue.set_labels("drift", "retrain-dispatched")
    list(issue.get_labels())
    issue.remove_from_labels("retrain-dispatched")
    repo.get_collaborator_permission("wes-writer")
    workflow = repo.get_workflow("train.yml")
    list(repo.get_workflows())
    workflow.create_dispatch("main", {"drift_issue": str(issue.number)}, throw=True)
    run = list(workflow.get_runs())[0]
    repo.get_workflow_run(run.id)
    list(repo.get_workflow_runs())
    image = tmp_path / "bands.png"
    image.write_bytes(PNG)
    published = gh.publish(repo, [image], "drift/x/1")  # branch, trees, commits, refs, contents PUT
    assert published.urls and not published.error
    repo.get_contents("drift/x/1/bands.png", ref="sentinel-reports")
    repo.get_contents("drift", ref="sentinel-reports")  # a directory listing
    repo.get_git_ref("heads/sentinel-reports")
    # the same path again: 422 without the blob sha, then an update (200)
    assert gh.publish(repo, [image], "drift/x/1").urls
    issue.edit(state="closed", state_reason="completed")
    # refusals: documented ones and GitHub's basic-error for the rest
    path = f"/repos/{DEFAULT_REPO}"
    assert raw(em, "GET", f"{path}/issues/999") == 404
    assert raw(em, "POST", f"{path}/issues", {"body": "no title"}) == 422
    assert raw(em, "POST", f"{path}/issues/1/comments", {"body": "![x](data:image/png;base64,AAAA)"}) == 422
    assert raw(em, "GET", path, token=None) == 401
    assert raw(em, "POST", f"{path}/labels", {"name": "drift"}) == 422
    assert raw(em, "GET", f"{path}/collaborators/nobody/permission") == 404
    assert raw(em, "GET", f"{path}/branches/absent") == 404
    assert raw(em, "PUT", f"{path}/contents/a.png", {"message": "m", "content": "!!", "branch": "main"}) == 422
    content = base64.b64encode(PNG).decode()
    assert raw(em, "PUT", f"{path}/contents/a.png", {"message": "m", "content": content, "branch": "nope"}) == 404
    assert raw(em, "POST", f"{path}/git/refs", {"ref": "refs/heads/main", "sha": run.head_sha}) == 422
    assert (
        raw(em, "POST", f"{path}/actions/workflows/train.yml/dispatches", {"ref": "main", "inputs": {"x": "1"}}) == 422
    )
    assert raw(em, "GET", f"{path}/labels/absent") == 404
    assert raw(em, "DELETE", f"{path}/issues/1/labels/absent") == 404
    assert raw(em, "GET", f"{path}/actions/runs/1") == 404
    assert raw(em, "POST", f"{path}/git/trees", {"tree": "x"}) == 422
    assert raw(em, "POST", f"{path}/git/commits", {"message": "m", "tree": "0" * 40}) == 422
    assert raw(em, "GET", f"{path}/git/ref/heads/absent") == 404
    assert raw(em, "PUT", f"{path}/issues/1/labels", {"labels": [1]}) == 422
    reader = Github(base_url=em.url, auth=Auth.Token("rita-reader-token"), seconds_between_requests=0, retry=0)
    reader = reader.get_repo(DEFAULT_REPO)
    with pytest.raises(GithubException):
        reader.get_workflow("train.yml").create_dispatch("main", {}, throw=True)
    issue.edit(state="open")
    return {
        "issue-comment-created": em.user_comments(DEFAULT_REPO, issue.number, "wes-writer", "/approve-retrain"),
        "issues-labeled": em.user_labels(DEFAULT_REPO, issue.number, "octo-admin", "retrain-approved"),
    }


def test_every_emulator_answer_is_allowed_by_githubs_openapi_description(
    descriptions: tuple[OpenApiDocument, OpenApiDocument], exercised: tuple[GitHubEmulator, dict[str, Any]]
) -> None:
    rest, _ = descriptions
    emulator = exercised[0]
    assert emulator.responses
    problems = []
    for answer in emulator.responses:
        errors = rest.response_errors(answer["template"], answer["method"], answer["status"], answer["body"])
        problems += [f"{answer['method']} {answer['template']} {answer['status']}: {e}" for e in errors[:5]]
    assert problems == []
    # every route the emulator serves is one GitHub documents, and this test exercised it
    served = {(template, method) for template, _, methods in ROUTES for method in methods}
    for template, method in served:
        rest.operation(template, method)  # KeyError names a route GitHub does not have
    exercised = {(a["template"], a["method"]) for a in emulator.responses if a["status"] < 300}
    assert served - exercised == set()
    statuses = {a["status"] for a in emulator.responses}
    assert {200, 201, 204, 401, 403, 404, 422} <= statuses


def test_webhook_payloads_fed_to_approve_are_valid_github_events(
    descriptions: tuple[OpenApiDocument, OpenApiDocument], exercised: tuple[GitHubEmulator, dict[str, Any]]
) -> None:
    _, webhooks = descriptions
    payloads = exercised[1]
    for name, payload in payloads.items():
        assert webhooks.webhook_errors(name, payload) == [], name
    # and what approve reads from them is there
    assert payloads["issue-comment-created"]["comment"]["user"]["login"] == "wes-writer"
    assert payloads["issues-labeled"]["label"]["name"] == "retrain-approved"


def test_the_validator_catches_what_github_would_not_send(
    descriptions: tuple[OpenApiDocument, OpenApiDocument],
) -> None:
    """The check itself can fail: a missing required field, a wrong type, an undocumented 2xx."""
    rest, webhooks = descriptions
    label = {"id": 1, "node_id": "x", "url": "https://h/l", "name": "drift", "color": "ededed", "default": False}
    assert rest.response_errors("/repos/{owner}/{repo}/labels/{name}", "get", 200, label)  # description missing
    assert rest.response_errors("/repos/{owner}/{repo}/labels/{name}", "get", 200, {**label, "description": None}) == []
    assert rest.response_errors("/repos/{owner}/{repo}/labels/{name}", "get", 200, {**label, "description": 3})
    assert rest.response_errors("/repos/{owner}/{repo}/labels/{name}", "get", 201, {**label, "description": None})
    assert webhooks.webhook_errors("issues-labeled", {"action": "labeled"})
