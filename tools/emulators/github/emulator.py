"""A GitHub REST emulator on 127.0.0.1: the part of the API the drift/approval loop uses.

It speaks the real wire protocol (JSON bodies, ``Authorization: token ...``, ``Link`` pagination
headers, 204/404/422 where GitHub answers them), so PyGithub and ``curl`` work against it unchanged:
``Github(base_url=emulator.url, auth=Auth.Token("..."))``. Every URL it returns (``url``,
``html_url``, a workflow's ``url`` that ``create_dispatch`` posts to) is built from its own base.

Routes: repository; issues (create, edit, get, list with ``state``/``labels`` filters); labels;
issue labels; issue comments; collaborator permission; actions workflows (by id or file name),
workflow dispatches (recorded, each also creates a queued run) and runs; ``GET /user``; branches,
contents and the git data API (:mod:`tools.emulators.github.git`), and the web route that serves a
committed file (``/{owner}/{repo}/blob/{sha}/{path}?raw=true``, as GitHub links pictures). Each
route is declared by its template in GitHub's OpenAPI description (``ROUTES``), and every answer
has the fields that description requires (:mod:`tools.emulators.github.shapes`);
tests/test_github_schemas.py validates them against the pinned description. Issue and comment
bodies with a ``data:`` URI are refused with 422 (GitHub would strip the picture).

State is one JSON document (see :func:`default_state`): users, tokens (token -> login; any other
token acts as ``github-actions[bot]``), repositories with collaborators (login -> role: admin,
maintain, write, triage, read), ``bot_permissions`` (what the workflow's GITHUB_TOKEN may do:
``contents: read`` makes contents writes answer 403), labels, issues, comments, workflows,
dispatches, runs, git objects. With a
state file it is loaded at start and rewritten (atomically) after every change, request log
included, so ``python -m tools github show`` can read it. Extra routes under ``/_emulator/`` serve
the state and request log and act as a user (comment, label) returning the webhook payload a
workflow would receive in ``$GITHUB_EVENT_PATH``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from tools.emulators.github import git, shapes
from tools.emulators.github.core import BOT, ApiError, refuse_data_uris
from tools.emulators.github.core import now as _now

ROLES = ("admin", "maintain", "write", "triage", "read")
#: GitHub's legacy ``permission`` field folds maintain into write and triage into read.
LEGACY_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}
DEFAULT_REPO = "octo-org/planet-sentinel"
DEFAULT_WORKFLOWS = ("ci.yml", "pipeline.yml", "train.yml", "deploy.yml", "monitor.yml", "approve.yml")
PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 100


WORKFLOWS_DIR = Path(__file__).resolve().parents[3] / ".github" / "workflows"


def project_workflows(directory: Path = WORKFLOWS_DIR) -> dict[str, list[str] | bool]:
    """The project's rendered workflows and what a dispatch of each may send: the list of its
    ``workflow_dispatch`` inputs, or False for a workflow without that trigger (GitHub then answers
    422 "Workflow does not have 'workflow_dispatch' trigger"), so a dispatch our code sends is
    checked against the workflow it really reaches. Falls back to DEFAULT_WORKFLOWS (any input)."""
    import yaml

    found: dict[str, list[str] | bool] = {}
    for path in sorted(directory.glob("*.yml")) if directory.is_dir() else []:
        # PyYAML reads the `on:` key as True (YAML 1.1), so look under both
        document = yaml.safe_load(path.read_text()) or {}
        triggers = document.get("on", document.get(True)) or {}
        if isinstance(triggers, str | list):
            triggers = {t: None for t in ([triggers] if isinstance(triggers, str) else triggers)}
        if "workflow_dispatch" in triggers:
            found[path.name] = sorted(((triggers["workflow_dispatch"] or {}).get("inputs") or {}).keys())
        else:
            found[path.name] = False
    return found or {file: True for file in DEFAULT_WORKFLOWS}


def default_state(repo: str = DEFAULT_REPO) -> dict[str, Any]:
    """A repository with one user per role, a non-collaborator, a token per user, and the
    project's workflows (``train.yml`` declares the ``drift_issue`` input the approval sends)."""
    people = {
        "octo-admin": "admin",
        "maya-maintainer": "maintain",
        "wes-writer": "write",
        "tri-triager": "triage",
        "rita-reader": "read",
    }
    users = {BOT: {"type": "Bot"}, **{login: {"type": "User"} for login in people}, "oscar-outsider": {"type": "User"}}
    users[repo.split("/", 1)[0]] = {"type": "Organization"}
    for i, login in enumerate(users, start=1):
        users[login]["id"] = 1000 + i
    workflows = {}
    for i, (file, inputs) in enumerate(project_workflows().items(), start=1):
        workflows[file] = {"id": 5000 + i, "name": file.removesuffix(".yml"), "inputs": inputs}
    return {
        "users": users,
        "tokens": {f"{login}-token": login for login, u in users.items() if u["type"] == "User"},
        "repos": {
            repo: {
                "id": 42,
                "default_branch": "main",
                "private": False,
                "collaborators": people,
                "bot_permissions": {"contents": "write", "issues": "write", "actions": "write"},
                "labels": {},
                "issues": [],
                "workflows": workflows,
                "dispatches": [],
                "runs": [],
            }
        },
        "counters": {"issue_id": 1, "comment_id": 1, "label_id": 1, "run_id": 1},
        "requests": [],
    }


class GitHubEmulator:
    """The emulator: state, route handlers and an HTTP server on an ephemeral port."""

    def __init__(
        self,
        state: dict[str, Any] | None = None,
        state_file: str | Path | None = None,
        record_responses: bool = False,
    ) -> None:
        self.state_file = Path(state_file) if state_file else None
        if state is None and self.state_file and self.state_file.exists():
            state = json.loads(self.state_file.read_text())
        self.state = state if state is not None else default_state()
        for key, value in default_state().items():
            if key not in ("repos",):
                self.state.setdefault(key, copy.deepcopy(value))
        self.lock = threading.RLock()
        #: With ``record_responses``: every API answer as {method, template, status, body}, in memory
        #: only (not in the state file), for checking against GitHub's OpenAPI description.
        self.responses: list[dict[str, Any]] | None = [] if record_responses else None
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        handler = type("Handler", (_Handler,), {"emulator": self})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name="github-emulator", daemon=True
        )
        self.thread.start()
        self.save()
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> GitHubEmulator:
        if not self.url:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def save(self) -> None:
        if self.state_file is None:
            return
        with self.lock:
            text = json.dumps(self.state, indent=1)
        tmp = self.state_file.with_name(f".{self.state_file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, self.state_file)

    # ------------------------------------------------------------------ accessors used by tests and tools

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.state["requests"]

    def repo(self, full_name: str = DEFAULT_REPO) -> dict[str, Any]:
        try:
            return self.state["repos"][full_name]
        except KeyError:
            raise ApiError(404, "Not Found") from None

    def dispatches(self, full_name: str = DEFAULT_REPO) -> list[dict[str, Any]]:
        return self.repo(full_name)["dispatches"]

    def issues(self, full_name: str = DEFAULT_REPO) -> list[dict[str, Any]]:
        return self.repo(full_name)["issues"]

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, path: str, query: dict[str, str], body: Any, token: str | None) -> tuple:
        """Route one request; returns (status, payload, extra headers). Raises ApiError."""
        with self.lock:
            if path.startswith("/_emulator/"):
                return self._emulator_route(method, path, body)
            for template, pattern, methods in ROUTES:
                match = pattern.fullmatch(path)
                if match is None:
                    continue
                params = {PARAM_NAMES.get(k, k): unquote(v) for k, v in match.groupdict().items()}
                try:
                    user = self._authenticate(token)
                    if method not in methods:
                        raise ApiError(404, "Not Found")
                    result = methods[method](self, user, query, body, **params)
                except ApiError as exc:
                    self._remember(method, template, exc.status, error_payload(exc))
                    raise
                self._remember(method, template, result[0], result[1])
                return result
            for pattern, handler in WEB_ROUTES:
                match = pattern.fullmatch(path)
                if match and method == "GET":
                    return handler(self, query, **{k: unquote(v) for k, v in match.groupdict().items()})
            raise ApiError(404, "Not Found")

    def _remember(self, method: str, template: str, status: int, body: Any) -> None:
        if self.responses is not None:
            self.responses.append({"method": method, "template": template, "status": status, "body": body})

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.state["requests"].append(entry)
        if entry["method"] != "GET" or entry["status"] >= 400:
            self.save()

    def _authenticate(self, token: str | None) -> str:
        if not token:
            raise ApiError(401, "Requires authentication")
        return self.state["tokens"].get(token, BOT)

    def _next(self, counter: str) -> int:
        value = self.state["counters"][counter]
        self.state["counters"][counter] = value + 1
        return value

    # ------------------------------------------------------------------ JSON shapes

    def user_json(self, login: str) -> dict[str, Any]:
        return shapes.user(self.url, login, self.state["users"].get(login, {"id": 0, "type": "User"}))

    def repo_json(self, full_name: str) -> dict[str, Any]:
        owner = full_name.split("/", 1)[0]
        info = self.state["users"].get(owner, {"id": 0, "type": "Organization"})
        owner_json = shapes.user(self.url, owner, {**info, "type": "Organization"})
        return shapes.repository(self.url, full_name, self.repo(full_name), owner_json)

    def label_json(self, full_name: str, name: str) -> dict[str, Any]:
        return shapes.label(self.url, full_name, self.repo(full_name)["labels"][name.lower()])

    def issue_json(self, full_name: str, issue: dict[str, Any]) -> dict[str, Any]:
        labels = [self.label_json(full_name, n) for n in issue["labels"]]
        association = self._association(full_name, issue["user"])
        return shapes.issue(self.url, full_name, issue, self.user_json(issue["user"]), labels, association)

    def comment_json(self, full_name: str, issue: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
        author, association = self.user_json(comment["user"]), self._association(full_name, comment["user"])
        return shapes.comment(self.url, full_name, issue["number"], comment, author, association)

    def workflow_json(self, full_name: str, file: str) -> dict[str, Any]:
        return shapes.workflow(self.url, full_name, file, self.repo(full_name)["workflows"][file])

    def run_json(self, full_name: str, run: dict[str, Any]) -> dict[str, Any]:
        return shapes.workflow_run(self.url, full_name, run, self.repo_json(full_name))

    def _association(self, full_name: str, login: str) -> str:
        role = self.repo(full_name)["collaborators"].get(login)
        return "NONE" if role is None else ("OWNER" if role == "admin" else "COLLABORATOR")

    # ------------------------------------------------------------------ lookups

    def _issue(self, full_name: str, number: str | int) -> dict[str, Any]:
        for issue in self.repo(full_name)["issues"]:
            if issue["number"] == int(number):
                return issue
        raise ApiError(404, "Not Found")

    def _workflow_file(self, full_name: str, workflow_id: str) -> str:
        workflows = self.repo(full_name)["workflows"]
        if workflow_id in workflows:
            return workflow_id
        for file, wf in workflows.items():
            if str(wf["id"]) == workflow_id:
                return file
        raise ApiError(404, "Not Found")

    def _ensure_label(self, full_name: str, name: str, color: str = "ededed", description: str | None = None) -> str:
        labels = self.repo(full_name)["labels"]
        key = name.lower()
        if key not in labels:
            labels[key] = {"id": self._next("label_id"), "name": name, "color": color, "description": description}
        return key

    def _require_push(self, full_name: str, user: str) -> None:
        """Labels need triage or more; GITHUB_TOKEN needs ``issues: write``."""
        role = self.repo(full_name)["collaborators"].get(user)
        if user == BOT:
            self._require_bot(full_name, "issues")
        elif role not in ("admin", "maintain", "write", "triage"):
            raise ApiError(403, "Resource not accessible by integration")

    def _require_bot(self, full_name: str, scope: str) -> None:
        if self.repo(full_name).get("bot_permissions", {}).get(scope, "write") != "write":
            raise ApiError(403, "Resource not accessible by integration")

    def _touch(self, issue: dict[str, Any]) -> None:
        issue["updated_at"] = _now()

    # ------------------------------------------------------------------ emulator-only routes

    def _emulator_route(self, method: str, path: str, body: Any) -> tuple:
        if method == "GET" and path == "/_emulator/state":
            return 200, self.state, {}
        if method == "GET" and path == "/_emulator/requests":
            return 200, self.state["requests"], {}
        match = re.fullmatch(r"/_emulator/events/(issue_comment|issues)", path)
        if method == "POST" and match and isinstance(body, dict):
            event = match.group(1)
            if event == "issue_comment":
                payload = self.user_comments(body.get("repo", DEFAULT_REPO), body["issue"], body["user"], body["body"])
            else:
                payload = self.user_labels(body.get("repo", DEFAULT_REPO), body["issue"], body["user"], body["label"])
            return 200, payload, {}
        raise ApiError(404, "Not Found")

    def user_comments(self, full_name: str, number: int, user: str, text: str) -> dict[str, Any]:
        """``user`` comments on an issue; returns the ``issue_comment`` webhook payload."""
        with self.lock:
            issue = self._issue(full_name, number)
            comment = self._add_comment(issue, user, text)
            self.save()
            return {
                "action": "created",
                "issue": self.issue_json(full_name, issue),
                "comment": self.comment_json(full_name, issue, comment),
                "repository": self.repo_json(full_name),
                "sender": self.user_json(user),
            }

    def user_labels(self, full_name: str, number: int, user: str, label: str) -> dict[str, Any]:
        """``user`` adds a label to an issue; returns the ``issues`` (action ``labeled``) payload."""
        with self.lock:
            issue = self._issue(full_name, number)
            key = self._ensure_label(full_name, label)
            if key not in issue["labels"]:
                issue["labels"].append(key)
                self._touch(issue)
            self.save()
            return {
                "action": "labeled",
                "issue": self.issue_json(full_name, issue),
                "label": self.label_json(full_name, key),
                "repository": self.repo_json(full_name),
                "sender": self.user_json(user),
            }

    def _add_comment(self, issue: dict[str, Any], user: str, text: str) -> dict[str, Any]:
        comment = {"id": self._next("comment_id"), "user": user, "body": text, "created_at": _now()}
        issue["comments"].append(comment)
        self._touch(issue)
        return comment


# ---------------------------------------------------------------------- route handlers


def _paginate(items: list[Any], query: dict[str, str], url: str) -> tuple[int, list[Any], dict[str, str]]:
    """A page of ``items`` with GitHub's ``Link`` header (next/last/first/prev), which PyGithub follows."""
    try:
        per_page = max(1, min(PER_PAGE_MAX, int(query.get("per_page", PER_PAGE_DEFAULT))))
        page = max(1, int(query.get("page", 1)))
    except ValueError:
        raise ApiError(422, "Validation Failed: page and per_page must be integers") from None
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]

    def link(p: int, rel: str) -> str:
        return f'<{url}?{urlencode({**query, "page": p, "per_page": per_page})}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return 200, chunk, ({"Link": ", ".join(links)} if links else {})


def _get_repo(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str) -> tuple:
    return 200, em.repo_json(f"{owner}/{repo}"), {}


def _get_user(em: GitHubEmulator, user: str, query: dict, body: Any) -> tuple:
    """The token's user (``public-user``). A workflow's GITHUB_TOKEN is an app installation token,
    which has no user: GitHub answers 403 "Resource not accessible by integration"."""
    if user == BOT:
        raise ApiError(403, "Resource not accessible by integration")
    return 200, shapes.public_user(em.user_json(user)), {}


def _list_issues(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str) -> tuple:
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
    status, page, headers = _paginate(issues, query, f"{em.url}/repos/{full}/issues")
    return status, [em.issue_json(full, i) for i in page], headers


def _create_issue(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str) -> tuple:
    full = f"{owner}/{repo}"
    if not isinstance(body, dict) or not str(body.get("title") or "").strip():
        raise ApiError(422, "Validation Failed", [{"resource": "Issue", "field": "title", "code": "missing_field"}])
    if user == BOT:
        em._require_bot(full, "issues")
    refuse_data_uris("Issue", body.get("body"))
    r = em.repo(full)
    labels = [em._ensure_label(full, str(n)) for n in body.get("labels") or []]
    issue = {
        "id": em._next("issue_id"),
        "number": max((i["number"] for i in r["issues"]), default=0) + 1,
        "title": body["title"],
        "body": body.get("body"),
        "state": "open",
        "state_reason": None,
        "labels": list(dict.fromkeys(labels)),
        "user": user,
        "comments": [],
        "created_at": _now(),
        "updated_at": _now(),
        "closed_at": None,
    }
    r["issues"].append(issue)
    return 201, em.issue_json(full, issue), {"Location": f"{em.url}/repos/{full}/issues/{issue['number']}"}


def _get_issue(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, number: str) -> tuple:
    full = f"{owner}/{repo}"
    return 200, em.issue_json(full, em._issue(full, number)), {}


def _edit_issue(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, number: str) -> tuple:
    full = f"{owner}/{repo}"
    issue = em._issue(full, number)
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    if user == BOT:
        em._require_bot(full, "issues")
    refuse_data_uris("Issue", body.get("body"))
    if "state" in body:
        if body["state"] not in ("open", "closed"):
            raise ApiError(422, "Validation Failed", [{"resource": "Issue", "field": "state", "code": "invalid"}])
        if body["state"] == "closed" and issue["state"] == "open":
            issue["closed_at"] = _now()
            issue["state_reason"] = body.get("state_reason") or "completed"
        elif body["state"] == "open" and issue["state"] == "closed":
            issue["closed_at"], issue["state_reason"] = None, "reopened"
        issue["state"] = body["state"]
    for key in ("title", "body"):
        if key in body:
            issue[key] = body[key]
    if "labels" in body:
        issue["labels"] = list(dict.fromkeys(em._ensure_label(full, str(n)) for n in body["labels"]))
    em._touch(issue)
    return 200, em.issue_json(full, issue), {}


def _label_names(body: Any) -> list[str]:
    names = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(422, "Validation Failed: labels must be a list of names")
    return names


def _add_labels(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, number: str) -> tuple:
    full = f"{owner}/{repo}"
    em._require_push(full, user)
    issue = em._issue(full, number)
    for name in _label_names(body):
        key = em._ensure_label(full, name)
        if key not in issue["labels"]:
            issue["labels"].append(key)
    em._touch(issue)
    return 200, [em.label_json(full, n) for n in issue["labels"]], {}


def _set_labels(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, number: str) -> tuple:
    full = f"{owner}/{repo}"
    em._require_push(full, user)
    issue = em._issue(full, number)
    issue["labels"] = list(dict.fromkeys(em._ensure_label(full, n) for n in _label_names(body)))
    em._touch(issue)
    return 200, [em.label_json(full, n) for n in issue["labels"]], {}


def _issue_labels(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, number: str) -> tuple:
    full = f"{owner}/{repo}"
    issue = em._issue(full, number)
    return _paginate(
        [em.label_json(full, n) for n in issue["labels"]], query, f"{em.url}/repos/{full}/issues/{number}/labels"
    )


def _remove_label(
    em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, number: str, name: str
) -> tuple:
    full = f"{owner}/{repo}"
    em._require_push(full, user)
    issue = em._issue(full, number)
    if name.lower() not in issue["labels"]:
        raise ApiError(404, "Label does not exist")
    issue["labels"].remove(name.lower())
    em._touch(issue)
    return 200, [em.label_json(full, n) for n in issue["labels"]], {}


def _list_comments(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, number: str) -> tuple:
    full = f"{owner}/{repo}"
    issue = em._issue(full, number)
    status, page, headers = _paginate(issue["comments"], query, f"{em.url}/repos/{full}/issues/{number}/comments")
    return status, [em.comment_json(full, issue, c) for c in page], headers


def _create_comment(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, number: str) -> tuple:
    full = f"{owner}/{repo}"
    issue = em._issue(full, number)
    if not isinstance(body, dict) or not str(body.get("body") or "").strip():
        raise ApiError(
            422, "Validation Failed", [{"resource": "IssueComment", "field": "body", "code": "missing_field"}]
        )
    if len(body["body"]) > 65536:
        raise ApiError(422, "Validation Failed: body is too long (maximum is 65536 characters)")
    if user == BOT:
        em._require_bot(full, "issues")
    refuse_data_uris("IssueComment", body["body"])
    comment = em._add_comment(issue, user, body["body"])
    return 201, em.comment_json(full, issue, comment), {}


def _list_labels(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str) -> tuple:
    full = f"{owner}/{repo}"
    labels = [em.label_json(full, k) for k in em.repo(full)["labels"]]
    return _paginate(labels, query, f"{em.url}/repos/{full}/labels")


def _create_label(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str) -> tuple:
    full = f"{owner}/{repo}"
    em._require_push(full, user)
    if not isinstance(body, dict) or not body.get("name"):
        raise ApiError(422, "Validation Failed", [{"resource": "Label", "field": "name", "code": "missing_field"}])
    if body["name"].lower() in em.repo(full)["labels"]:
        raise ApiError(422, "Validation Failed", [{"resource": "Label", "field": "name", "code": "already_exists"}])
    key = em._ensure_label(full, body["name"], str(body.get("color", "ededed")).lstrip("#"), body.get("description"))
    return 201, em.label_json(full, key), {}


def _get_label(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, name: str) -> tuple:
    full = f"{owner}/{repo}"
    if name.lower() not in em.repo(full)["labels"]:
        raise ApiError(404, "Not Found")
    return 200, em.label_json(full, name), {}


def _permission(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, login: str) -> tuple:
    full = f"{owner}/{repo}"
    if login not in em.state["users"]:
        raise ApiError(404, f"{login} is not a user")
    role = em.repo(full)["collaborators"].get(login)
    if role is None:  # outside collaborators: read on a public repository, nothing on a private one
        permission = role_name = "none" if em.repo(full)["private"] else "read"
    else:
        permission, role_name = LEGACY_PERMISSION[role], role
    collaborator = {**em.user_json(login), "role_name": role_name}
    if role is not None:
        collaborator["permissions"] = dict.fromkeys(("pull", "triage", "push", "maintain", "admin"), False)
        collaborator["permissions"].update(dict.fromkeys(shapes.ROLE_FLAGS[role], True))
    return 200, {"permission": permission, "role_name": role_name, "user": collaborator}, {}


def _list_workflows(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str) -> tuple:
    full = f"{owner}/{repo}"
    items = [em.workflow_json(full, f) for f in em.repo(full)["workflows"]]
    return 200, {"total_count": len(items), "workflows": items}, {}


def _get_workflow(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, wf: str) -> tuple:
    full = f"{owner}/{repo}"
    return 200, em.workflow_json(full, em._workflow_file(full, wf)), {}


def _dispatch(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, wf: str) -> tuple:
    full = f"{owner}/{repo}"
    file = em._workflow_file(full, wf)
    if user == BOT:
        em._require_bot(full, "actions")
    elif em.repo(full)["collaborators"].get(user) not in ("admin", "maintain", "write"):
        raise ApiError(403, "Must have admin rights to Repository.")
    if not isinstance(body, dict) or not body.get("ref"):
        raise ApiError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(isinstance(v, str | bool | int | float) for v in inputs.values()):
        raise ApiError(422, "Invalid request.\n\nFor 'properties/inputs', it is not an object of scalars.")
    declared = em.repo(full)["workflows"][file].get("inputs")
    if declared is False:
        raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
    unexpected = sorted(set(inputs) - set(declared)) if isinstance(declared, list) else []
    if unexpected:
        raise ApiError(422, f"Unexpected inputs provided: {unexpected}")
    r = em.repo(full)
    dispatch = {"workflow": file, "ref": body["ref"], "inputs": inputs, "actor": user, "created_at": _now()}
    r["dispatches"].append(dispatch)
    run = {
        "id": 90000 + em._next("run_id"),
        "name": r["workflows"][file]["name"],
        "workflow_id": r["workflows"][file]["id"],
        "path": f".github/workflows/{file}",
        "event": "workflow_dispatch",
        "status": "queued",
        "conclusion": None,
        "head_branch": body["ref"],
        "head_sha": "0" * 40,
        "run_number": len([x for x in r["runs"] if x["workflow_id"] == r["workflows"][file]["id"]]) + 1,
        "run_attempt": 1,
        "actor": em.user_json(user),
        "triggering_actor": em.user_json(user),
        "created_at": _now(),
        "updated_at": _now(),
        "inputs": inputs,
    }
    r["runs"].append(run)
    if body.get("return_run_details"):
        details = {
            "workflow_run_id": run["id"],
            "run_url": f"{em.url}/repos/{full}/actions/runs/{run['id']}",
            "html_url": f"{em.url}/{full}/actions/runs/{run['id']}",
        }
        return 200, details, {}
    return 204, None, {}


def _runs(items: list[dict[str, Any]], em: GitHubEmulator, full: str, query: dict, url: str) -> tuple:
    items = [r for r in items if all(str(r.get(k)) == query[k] for k in ("status", "event") if k in query)]
    items = sorted(items, key=lambda r: r["id"], reverse=True)
    status, page, headers = _paginate(items, query, url)
    return status, {"total_count": len(items), "workflow_runs": [em.run_json(full, r) for r in page]}, headers


def _list_runs(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str) -> tuple:
    full = f"{owner}/{repo}"
    return _runs(em.repo(full)["runs"], em, full, query, f"{em.url}/repos/{full}/actions/runs")


def _workflow_runs(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, wf: str) -> tuple:
    full = f"{owner}/{repo}"
    wf_id = em.repo(full)["workflows"][em._workflow_file(full, wf)]["id"]
    items = [r for r in em.repo(full)["runs"] if r["workflow_id"] == wf_id]
    return _runs(items, em, full, query, f"{em.url}/repos/{full}/actions/workflows/{wf}/runs")


def _get_run(em: GitHubEmulator, user: str, query: dict, body: Any, owner: str, repo: str, run_id: str) -> tuple:
    full = f"{owner}/{repo}"
    for run in em.repo(full)["runs"]:
        if str(run["id"]) == run_id:
            return 200, em.run_json(full, run), {}
    raise ApiError(404, "Not Found")


def _compile(template: str) -> re.Pattern[str]:
    """An OpenAPI path template as a regex; ``{path}`` and ``{ref}`` may hold slashes."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>{'.+' if part in ('path', 'ref') else '[^/]+'})"
        for i, part in enumerate(parts)
    )
    return re.compile(regex)


#: The handlers' names for the description's path parameters.
PARAM_NAMES = {"issue_number": "number", "username": "login", "workflow_id": "wf"}

_ROUTE_TABLE: list[tuple[str, dict[str, Callable[..., tuple]]]] = [
    ("/user", {"GET": _get_user}),
    ("/repos/{owner}/{repo}", {"GET": _get_repo}),
    ("/repos/{owner}/{repo}/issues", {"GET": _list_issues, "POST": _create_issue}),
    ("/repos/{owner}/{repo}/issues/{issue_number}", {"GET": _get_issue, "PATCH": _edit_issue}),
    ("/repos/{owner}/{repo}/issues/{issue_number}/comments", {"GET": _list_comments, "POST": _create_comment}),
    (
        "/repos/{owner}/{repo}/issues/{issue_number}/labels",
        {"GET": _issue_labels, "POST": _add_labels, "PUT": _set_labels},
    ),
    ("/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", {"DELETE": _remove_label}),
    ("/repos/{owner}/{repo}/labels", {"GET": _list_labels, "POST": _create_label}),
    ("/repos/{owner}/{repo}/labels/{name}", {"GET": _get_label}),
    ("/repos/{owner}/{repo}/collaborators/{username}/permission", {"GET": _permission}),
    ("/repos/{owner}/{repo}/actions/workflows", {"GET": _list_workflows}),
    ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}", {"GET": _get_workflow}),
    ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {"POST": _dispatch}),
    ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", {"GET": _workflow_runs}),
    ("/repos/{owner}/{repo}/actions/runs", {"GET": _list_runs}),
    ("/repos/{owner}/{repo}/actions/runs/{run_id}", {"GET": _get_run}),
    ("/repos/{owner}/{repo}/branches/{branch}", {"GET": git.get_branch}),
    ("/repos/{owner}/{repo}/contents/{path}", {"GET": git.get_contents, "PUT": git.put_contents}),
    ("/repos/{owner}/{repo}/git/trees", {"POST": git.create_tree}),
    ("/repos/{owner}/{repo}/git/commits", {"POST": git.create_commit}),
    ("/repos/{owner}/{repo}/git/refs", {"POST": git.create_ref}),
    ("/repos/{owner}/{repo}/git/ref/{ref}", {"GET": git.get_ref}),
]
#: (OpenAPI template, compiled pattern, {method: handler}), tried in order.
ROUTES: list[tuple[str, re.Pattern[str], dict[str, Callable[..., tuple]]]] = [
    (template, _compile(template), methods) for template, methods in _ROUTE_TABLE
]
#: github.com pages (no token needed): a committed file as GitHub links it in markdown.
WEB_ROUTES: list[tuple[re.Pattern[str], Callable[..., tuple]]] = [
    (_compile("/{owner}/{repo}/blob/{sha}/{path}"), git.web_blob),
    (_compile("/{owner}/{repo}/raw/{sha}/{path}"), git.web_raw),
]


def error_payload(exc: ApiError) -> dict[str, Any]:
    """GitHub's error body (``basic-error`` / ``validation-error``)."""
    payload: dict[str, Any] = {
        "message": exc.message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(exc.status),
    }
    if exc.errors:
        payload["errors"] = exc.errors
    return payload


class _Handler(BaseHTTPRequestHandler):
    """Parses the request, calls the emulator, writes JSON with GitHub's headers, logs the exchange."""

    emulator: GitHubEmulator
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com-emulator"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization") or ""
        token = auth.split(None, 1)[1] if auth.lower().startswith(("token ", "bearer ")) else None
        body: Any = None
        status: int
        payload: Any
        headers: dict[str, str] = {}
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    raise ApiError(400, "Problems parsing JSON") from None
            status, payload, headers = self.emulator.handle(
                self.command, parts.path.rstrip("/") or "/", query, body, token
            )
        except ApiError as exc:
            status, payload = exc.status, error_payload(exc)
        except (KeyError, TypeError, ValueError) as exc:
            status, payload = 400, {"message": f"Bad request: {exc}"}
        if isinstance(payload, bytes):  # a web route serving a file
            data = payload
        else:
            data = b"" if payload is None else json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Request-Id", f"EMU-{len(self.emulator.requests) + 1}")
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("X-RateLimit-Reset", str(int(time.time()) + 3600))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)
        if not parts.path.startswith("/_emulator/"):
            self.emulator.record(
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": query,
                    "body": body,
                    "status": status,
                    "user": self.emulator.state["tokens"].get(token, BOT) if token else None,
                    "time": _now(),
                }
            )

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming
