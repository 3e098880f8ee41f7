"""A GitHub REST emulator on 127.0.0.1: the part of the API the drift/approval loop uses.

It speaks the real wire protocol (JSON bodies, ``Authorization: token ...``, ``Link`` pagination
headers, 204/404/422 where GitHub answers them), so PyGithub and ``curl`` work against it unchanged:
``Github(base_url=emulator.url, auth=Auth.Token("..."))``. Every URL it returns (``url``,
``html_url``, a workflow's ``url`` that ``create_dispatch`` posts to) is built from its own base.

Routes (:mod:`tools.emulators.github.routes`): repository; issues (create, edit, get, list with
``state``/``labels`` filters), labels, issue labels, issue comments (:mod:`.issues`); collaborator
permission; actions workflows (by id or file name), workflow dispatches (recorded, each also creates a
queued run) and runs (:mod:`.actions`); ``GET /user``; branches, contents and the git data API
(:mod:`.git`), and the web route that serves a committed file
(``/{owner}/{repo}/blob/{sha}/{path}?raw=true``, as GitHub links pictures). Each route is declared by
its template in GitHub's OpenAPI description (``ROUTES``), and every answer has the fields that
description requires (:mod:`.shapes`); tests/test_github_schemas.py validates them against the pinned
description. Issue and comment bodies with a ``data:`` URI are refused with 422 (GitHub would strip
the picture).

State is one JSON document (see :func:`~tools.emulators.github.state.default_state`): users, tokens
(token -> login; any other token acts as ``github-actions[bot]``), repositories with collaborators
(login -> role: admin, maintain, write, triage, read), ``bot_permissions`` (what the workflow's
GITHUB_TOKEN may do: ``contents: read`` makes contents writes answer 403), labels, issues, comments,
workflows, dispatches, runs, git objects. With a state file it is loaded at start and rewritten
(atomically) after every change, request log included, so ``python -m tools github show`` can read it.
Extra routes under ``/_emulator/`` serve the state and request log and act as a user (comment, label)
returning the webhook payload a workflow would receive in ``$GITHUB_EVENT_PATH``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote

from tools.emulators.github import shapes
from tools.emulators.github.core import BOT, Answer, ApiError, now
from tools.emulators.github.routes import PARAM_NAMES, ROUTES, WEB_ROUTES
from tools.emulators.github.state import DEFAULT_REPO, default_state
from tools.emulators.routing import Request, Response
from tools.emulators.server import EmulatorServer


class GitHubEmulator(EmulatorServer):
    """The emulator: state, route handlers and an HTTP server on an ephemeral port (``start``)."""

    METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
    SERVER_VERSION = "GitHub.com-emulator"
    POLL_INTERVAL_S = 0.05

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

    # ------------------------------------------------------------------ life cycle

    def start(self, port: int = 0, host: str = "127.0.0.1") -> Self:
        """Listen (once, on ``port``: 0 picks a free one) and serve; writes the state file."""
        if not self.listening:
            self.listen(host, port)
        super().start()
        self.save()
        return self

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
        requests: list[dict[str, Any]] = self.state["requests"]
        return requests

    def repo(self, full_name: str = DEFAULT_REPO) -> dict[str, Any]:
        try:
            repo: dict[str, Any] = self.state["repos"][full_name]
            return repo
        except KeyError:
            raise ApiError(404, "Not Found") from None

    def dispatches(self, full_name: str = DEFAULT_REPO) -> list[dict[str, Any]]:
        dispatches: list[dict[str, Any]] = self.repo(full_name)["dispatches"]
        return dispatches

    def issues(self, full_name: str = DEFAULT_REPO) -> list[dict[str, Any]]:
        issues: list[dict[str, Any]] = self.repo(full_name)["issues"]
        return issues

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, path: str, query: dict[str, str], body: Any, token: str | None) -> Answer:
        """Route one request; returns (status, payload, extra headers). Raises ApiError."""
        with self.lock:
            if path.startswith("/_emulator/"):
                return self._emulator_route(method, path, body)
            match = ROUTES.resolve(method, path)
            if match is not None:
                params = {PARAM_NAMES.get(k, k): unquote(v) for k, v in match.params.items()}
                template = match.route.template
                try:
                    user = self._authenticate(token)
                    if match.handler is None:
                        raise ApiError(404, "Not Found")
                    result = match.handler(self, user, query, body, **params)
                except ApiError as exc:
                    self._remember(method, template, exc.status, exc.payload())
                    raise
                self._remember(method, template, result[0], result[1])
                return result
            web = WEB_ROUTES.resolve(method, path)
            if web is not None and web.handler is not None:
                return web.handler(self, query, **{k: unquote(v) for k, v in web.params.items()})
            raise ApiError(404, "Not Found")

    def _remember(self, method: str, template: str, status: int, body: Any) -> None:
        if self.responses is not None:
            self.responses.append({"method": method, "template": template, "status": status, "body": body})

    # ------------------------------------------------------------------ HTTP

    def respond(self, request: Request) -> Response:
        query = {k: v[-1] for k, v in request.query.items()}
        try:
            body = _json_body(request.body)
            status, payload, headers = self.handle(
                request.method, request.path.rstrip("/") or "/", query, body, _token(request)
            )
        except ApiError as exc:
            status, payload, headers = exc.status, exc.payload(), {}
        except (KeyError, TypeError, ValueError) as exc:
            status, payload, headers = 400, {"message": f"Bad request: {exc}"}, {}
        return self._answer(status, payload, headers)

    def failure(self, request: Request, exc: Exception) -> Response:
        return self._answer(500, {"message": f"emulator failure: {type(exc).__name__}: {exc}"}, {})

    def _answer(self, status: int, payload: Any, headers: dict[str, str]) -> Response:
        """JSON (or a web route's bytes) with GitHub's request-id and rate-limit headers."""
        headers = {
            "X-GitHub-Request-Id": f"EMU-{len(self.requests) + 1}",
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            **headers,
        }
        if isinstance(payload, bytes):
            return Response(status, payload, headers.pop("Content-Type", None), headers)
        data = b"" if payload is None else json.dumps(payload).encode()
        return Response(status, data, headers.pop("Content-Type", "application/json; charset=utf-8"), headers, payload)

    def recorded(self, request: Request, response: Response) -> None:
        """Every API and web request goes into the state's request log (saved after a change)."""
        if request.path.startswith("/_emulator/"):
            return
        token = _token(request)
        try:
            body = _json_body(request.body)
        except ApiError:
            body = None
        entry = {
            "method": request.method,
            "path": request.path,
            "query": {k: v[-1] for k, v in request.query.items()},
            "body": body,
            "status": response.status,
            "user": self.state["tokens"].get(token, BOT) if token else None,
            "time": now(),
        }
        with self.lock:
            self.state["requests"].append(entry)
        if entry["method"] != "GET" or response.status >= 400:
            self.save()

    def _authenticate(self, token: str | None) -> str:
        if not token:
            raise ApiError(401, "Requires authentication")
        login: str = self.state["tokens"].get(token, BOT)
        return login

    def next_id(self, counter: str) -> int:
        value: int = self.state["counters"][counter]
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
        association = self.association(full_name, issue["user"])
        return shapes.issue(self.url, full_name, issue, self.user_json(issue["user"]), labels, association)

    def comment_json(self, full_name: str, issue: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
        author, association = self.user_json(comment["user"]), self.association(full_name, comment["user"])
        return shapes.comment(self.url, full_name, issue["number"], comment, author, association)

    def workflow_json(self, full_name: str, file: str) -> dict[str, Any]:
        return shapes.workflow(self.url, full_name, file, self.repo(full_name)["workflows"][file])

    def run_json(self, full_name: str, run: dict[str, Any]) -> dict[str, Any]:
        return shapes.workflow_run(self.url, full_name, run, self.repo_json(full_name))

    def association(self, full_name: str, login: str) -> str:
        role = self.repo(full_name)["collaborators"].get(login)
        return "NONE" if role is None else ("OWNER" if role == "admin" else "COLLABORATOR")

    # ------------------------------------------------------------------ lookups

    def find_issue(self, full_name: str, number: str | int) -> dict[str, Any]:
        for issue in self.issues(full_name):
            if issue["number"] == int(number):
                return issue
        raise ApiError(404, "Not Found")

    def workflow_file(self, full_name: str, workflow_id: str) -> str:
        workflows = self.repo(full_name)["workflows"]
        if workflow_id in workflows:
            return workflow_id
        for file, wf in workflows.items():
            if str(wf["id"]) == workflow_id:
                return str(file)
        raise ApiError(404, "Not Found")

    def ensure_label(self, full_name: str, name: str, color: str = "ededed", description: str | None = None) -> str:
        labels = self.repo(full_name)["labels"]
        key = name.lower()
        if key not in labels:
            labels[key] = {"id": self.next_id("label_id"), "name": name, "color": color, "description": description}
        return key

    def require_push(self, full_name: str, user: str) -> None:
        """Labels need triage or more; GITHUB_TOKEN needs ``issues: write``."""
        role = self.repo(full_name)["collaborators"].get(user)
        if user == BOT:
            self.require_bot(full_name, "issues")
        elif role not in ("admin", "maintain", "write", "triage"):
            raise ApiError(403, "Resource not accessible by integration")

    def require_bot(self, full_name: str, scope: str) -> None:
        if self.repo(full_name).get("bot_permissions", {}).get(scope, "write") != "write":
            raise ApiError(403, "Resource not accessible by integration")

    def touch(self, issue: dict[str, Any]) -> None:
        issue["updated_at"] = now()

    # ------------------------------------------------------------------ emulator-only routes

    def _emulator_route(self, method: str, path: str, body: Any) -> Answer:
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
            issue = self.find_issue(full_name, number)
            comment = self.add_comment(issue, user, text)
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
            issue = self.find_issue(full_name, number)
            key = self.ensure_label(full_name, label)
            if key not in issue["labels"]:
                issue["labels"].append(key)
                self.touch(issue)
            self.save()
            return {
                "action": "labeled",
                "issue": self.issue_json(full_name, issue),
                "label": self.label_json(full_name, key),
                "repository": self.repo_json(full_name),
                "sender": self.user_json(user),
            }

    def add_comment(self, issue: dict[str, Any], user: str, text: str) -> dict[str, Any]:
        comment = {"id": self.next_id("comment_id"), "user": user, "body": text, "created_at": now()}
        issue["comments"].append(comment)
        self.touch(issue)
        return comment


def _token(request: Request) -> str | None:
    """The token of ``Authorization: token <t>`` or ``Bearer <t>`` (either case)."""
    auth = request.header("Authorization")
    return auth.split(None, 1)[1] if auth.lower().startswith(("token ", "bearer ")) else None


def _json_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise ApiError(400, "Problems parsing JSON") from None
