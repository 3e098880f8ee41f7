"""Issues, their labels and comments, and the repository's labels: the GitHub REST routes the
drift/approval loop uses (https://docs.github.com/en/rest/issues). Issue and comment bodies with a
``data:`` URI are refused with 422 (see :data:`tools.emulators.github.core.DATA_URI`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.emulators.github.core import BOT, Answer, ApiError, Query, now, paginate, refuse_data_uris

if TYPE_CHECKING:
    from tools.emulators.github.emulator import GitHubEmulator


def list_issues(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    full = f"{owner}/{repo}"
    state = query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise ApiError(422, f"Validation Failed: state '{state}' is not open, closed or all")
    wanted = [w.strip().lower() for w in query.get("labels", "").split(",") if w.strip()]
    issues = [
        i
        for i in em.repo(full)["issues"]
        if (state == "all" or i["state"] == state)
        and all(w in i["labels"] for w in wanted)
        and ("creator" not in query or i["user"] == query["creator"])
    ]
    issues.sort(key=lambda i: i["number"], reverse=query.get("direction", "desc") != "asc")
    status, page, headers = paginate(issues, query, f"{em.url}/repos/{full}/issues")
    return status, [em.issue_json(full, i) for i in page], headers


def create_issue(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    full = f"{owner}/{repo}"
    if not isinstance(body, dict) or not str(body.get("title") or "").strip():
        raise ApiError(422, "Validation Failed", [{"resource": "Issue", "field": "title", "code": "missing_field"}])
    if user == BOT:
        em.require_bot(full, "issues")
    refuse_data_uris("Issue", body.get("body"))
    r = em.repo(full)
    labels = [em.ensure_label(full, str(n)) for n in body.get("labels") or []]
    issue = {
        "id": em.next_id("issue_id"),
        "number": max((i["number"] for i in r["issues"]), default=0) + 1,
        "title": body["title"],
        "body": body.get("body"),
        "state": "open",
        "state_reason": None,
        "labels": list(dict.fromkeys(labels)),
        "user": user,
        "comments": [],
        "created_at": now(),
        "updated_at": now(),
        "closed_at": None,
    }
    r["issues"].append(issue)
    return 201, em.issue_json(full, issue), {"Location": f"{em.url}/repos/{full}/issues/{issue['number']}"}


def get_issue(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, number: str) -> Answer:
    full = f"{owner}/{repo}"
    return 200, em.issue_json(full, em.find_issue(full, number)), {}


def edit_issue(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, number: str) -> Answer:
    full = f"{owner}/{repo}"
    issue = em.find_issue(full, number)
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    if user == BOT:
        em.require_bot(full, "issues")
    refuse_data_uris("Issue", body.get("body"))
    if "state" in body:
        if body["state"] not in ("open", "closed"):
            raise ApiError(422, "Validation Failed", [{"resource": "Issue", "field": "state", "code": "invalid"}])
        if body["state"] == "closed" and issue["state"] == "open":
            issue["closed_at"] = now()
            issue["state_reason"] = body.get("state_reason") or "completed"
        elif body["state"] == "open" and issue["state"] == "closed":
            issue["closed_at"], issue["state_reason"] = None, "reopened"
        issue["state"] = body["state"]
    for key in ("title", "body"):
        if key in body:
            issue[key] = body[key]
    if "labels" in body:
        issue["labels"] = list(dict.fromkeys(em.ensure_label(full, str(n)) for n in body["labels"]))
    em.touch(issue)
    return 200, em.issue_json(full, issue), {}


def _label_names(body: Any) -> list[str]:
    names = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(422, "Validation Failed: labels must be a list of names")
    return names


def add_labels(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, number: str) -> Answer:
    full = f"{owner}/{repo}"
    em.require_push(full, user)
    issue = em.find_issue(full, number)
    for name in _label_names(body):
        key = em.ensure_label(full, name)
        if key not in issue["labels"]:
            issue["labels"].append(key)
    em.touch(issue)
    return 200, [em.label_json(full, n) for n in issue["labels"]], {}


def set_labels(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, number: str) -> Answer:
    full = f"{owner}/{repo}"
    em.require_push(full, user)
    issue = em.find_issue(full, number)
    issue["labels"] = list(dict.fromkeys(em.ensure_label(full, n) for n in _label_names(body)))
    em.touch(issue)
    return 200, [em.label_json(full, n) for n in issue["labels"]], {}


def issue_labels(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, number: str) -> Answer:
    full = f"{owner}/{repo}"
    issue = em.find_issue(full, number)
    return paginate(
        [em.label_json(full, n) for n in issue["labels"]], query, f"{em.url}/repos/{full}/issues/{number}/labels"
    )


def remove_label(
    em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, number: str, name: str
) -> Answer:
    full = f"{owner}/{repo}"
    em.require_push(full, user)
    issue = em.find_issue(full, number)
    if name.lower() not in issue["labels"]:
        raise ApiError(404, "Label does not exist")
    issue["labels"].remove(name.lower())
    em.touch(issue)
    return 200, [em.label_json(full, n) for n in issue["labels"]], {}


def list_comments(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, number: str) -> Answer:
    full = f"{owner}/{repo}"
    issue = em.find_issue(full, number)
    status, page, headers = paginate(issue["comments"], query, f"{em.url}/repos/{full}/issues/{number}/comments")
    return status, [em.comment_json(full, issue, c) for c in page], headers


def create_comment(
    em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, number: str
) -> Answer:
    full = f"{owner}/{repo}"
    issue = em.find_issue(full, number)
    if not isinstance(body, dict) or not str(body.get("body") or "").strip():
        raise ApiError(
            422, "Validation Failed", [{"resource": "IssueComment", "field": "body", "code": "missing_field"}]
        )
    if len(body["body"]) > 65536:
        raise ApiError(422, "Validation Failed: body is too long (maximum is 65536 characters)")
    if user == BOT:
        em.require_bot(full, "issues")
    refuse_data_uris("IssueComment", body["body"])
    comment = em.add_comment(issue, user, body["body"])
    return 201, em.comment_json(full, issue, comment), {}


def list_labels(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    full = f"{owner}/{repo}"
    labels = [em.label_json(full, k) for k in em.repo(full)["labels"]]
    return paginate(labels, query, f"{em.url}/repos/{full}/labels")


def create_label(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    full = f"{owner}/{repo}"
    em.require_push(full, user)
    if not isinstance(body, dict) or not body.get("name"):
        raise ApiError(422, "Validation Failed", [{"resource": "Label", "field": "name", "code": "missing_field"}])
    if body["name"].lower() in em.repo(full)["labels"]:
        raise ApiError(422, "Validation Failed", [{"resource": "Label", "field": "name", "code": "already_exists"}])
    key = em.ensure_label(full, body["name"], str(body.get("color", "ededed")).lstrip("#"), body.get("description"))
    return 201, em.label_json(full, key), {}


def get_label(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, name: str) -> Answer:
    full = f"{owner}/{repo}"
    if name.lower() not in em.repo(full)["labels"]:
        raise ApiError(404, "Not Found")
    return 200, em.label_json(full, name), {}
