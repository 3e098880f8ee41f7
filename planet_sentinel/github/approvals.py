"""Retrain approvals: an ``issue_comment`` (``/approve-retrain``) or ``issues``/``labeled``
(``retrain-approved``) event dispatches train once, counted only from users whose collaborator
permission is write, maintain or admin (the permission API, never ``author_association``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from planet_sentinel.errors import SentinelError
from planet_sentinel.github.dispatch import DEFAULT_WORKFLOW, dispatch_train
from planet_sentinel.github.episodes import episode_info
from planet_sentinel.github.issue_labels import (
    APPROVE_COMMAND,
    APPROVED_LABEL,
    DISPATCHED_LABEL,
    DRIFT_LABEL,
    has_label,
)
from planet_sentinel.github.target import api_errors

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

#: Collaborator permissions (the permission API's answer) whose approval counts.
APPROVER_PERMISSIONS = frozenset({"admin", "maintain", "write"})


class EventUser(TypedDict, total=False):
    login: str


class EventIssue(TypedDict, total=False):
    number: int
    pull_request: object  # present (an object) on a pull request's comments; only its presence is read


class EventComment(TypedDict, total=False):
    body: str | None
    user: EventUser


class EventLabel(TypedDict, total=False):
    name: str


class EventRepository(TypedDict, total=False):
    full_name: str


class WebhookEvent(TypedDict, total=False):
    """The fields read from an ``issue_comment`` or ``issues`` webhook payload (GitHub's "Webhook
    events and payloads", https://docs.github.com/en/webhooks/webhook-events-and-payloads; schemas
    ``webhook-issue-comment-created`` and ``webhook-issues-labeled`` of @octokit/openapi-webhooks 12.1.0,
    which tests/test_github_schemas.py checks the emulator's payloads against). Only checked to be
    a JSON object when loaded, so every read is defensive."""

    action: str
    issue: EventIssue
    comment: EventComment
    label: EventLabel
    sender: EventUser
    repository: EventRepository


@dataclass
class ApprovalResult:
    """What ``approve`` did: action is dispatched, refused, already-dispatched or ignored."""

    action: str
    reason: str
    issue: int | None = None
    user: str | None = None
    permission: str | None = None
    dispatched: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_event(path: str | Path) -> WebhookEvent:
    """The webhook payload Actions writes to ``$GITHUB_EVENT_PATH``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise SentinelError(f"{p}: no such event file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SentinelError(f"{p}: cannot read the event payload ({exc})") from exc
    if not isinstance(data, dict):
        raise SentinelError(f"{p}: an event payload is a JSON object")
    return cast(WebhookEvent, data)


def event_kind(event: WebhookEvent, event_name: str | None = None) -> str:
    """``issue_comment`` or ``issues``, from $GITHUB_EVENT_NAME or the payload's shape."""
    if event_name:
        return event_name
    if "comment" in event and "issue" in event:
        return "issue_comment"
    if "issue" in event:
        return "issues"
    return "unknown"


def is_approve_command(text: str | None) -> bool:
    """A comment that starts with the word ``/approve-retrain`` (what follows is a note), the same
    rule the approve workflow's ``startsWith`` filter applies."""
    words = (text or "").lstrip().split(maxsplit=1)
    return bool(words) and words[0] == APPROVE_COMMAND


def permission_of(repo: Repository, login: str) -> str:
    """The user's repository permission from the collaborator permission API ('none' if unknown)."""
    from github import GithubException

    try:
        return repo.get_collaborator_permission(login)
    except GithubException as exc:
        if exc.status == 404:
            return "none"
        raise


@dataclass(frozen=True)
class _Request:
    """An approval the payload asks for: on which issue, by whom, how (comment or label)."""

    kind: str
    number: int
    user: str
    via: str


def _request(event: WebhookEvent, kind: str) -> _Request | ApprovalResult:
    """The approval in the payload, or the ``ignored`` result of an event that is none (no API call)."""
    action = event.get("action")
    number = (event.get("issue") or {}).get("number")
    if kind == "issue_comment":
        if action != "created":
            return ApprovalResult("ignored", f"issue_comment action '{action}' is not 'created'", number)
        if (event.get("issue") or {}).get("pull_request"):
            return ApprovalResult("ignored", "comment on a pull request, not an issue", number)
        if not is_approve_command((event.get("comment") or {}).get("body")):
            return ApprovalResult("ignored", f"comment is not {APPROVE_COMMAND}", number)
        user = ((event.get("comment") or {}).get("user") or {}).get("login")
        via = f"comment `{APPROVE_COMMAND}`"
    elif kind == "issues":
        label = (event.get("label") or {}).get("name")
        if action != "labeled" or (label or "").lower() != APPROVED_LABEL:
            return ApprovalResult("ignored", f"issues event '{action}' is not the label {APPROVED_LABEL}", number)
        user = (event.get("sender") or {}).get("login")
        via = f"label `{APPROVED_LABEL}`"
    else:
        return ApprovalResult("ignored", f"event '{kind}' is neither issue_comment nor issues")
    if not isinstance(number, int) or not user:
        raise SentinelError("the event payload has no issue number or no user")
    return _Request(kind, number, user, via)


def _refuse(issue: Issue, request: _Request, permission: str) -> ApprovalResult:
    user = request.user
    issue.create_comment(
        f"Thank you @{user}. Retraining can only be approved by collaborators with write, maintain or "
        f"admin permission on this repository (yours: {permission}), so nothing was dispatched. "
        f"A maintainer can approve with `{APPROVE_COMMAND}` or the `{APPROVED_LABEL}` label."
    )
    if request.kind == "issues" and has_label(issue, APPROVED_LABEL):
        issue.remove_from_labels(APPROVED_LABEL)
    return ApprovalResult("refused", f"@{user} has '{permission}' permission", request.number, user, permission)


def _decide(repo: Repository, request: _Request, workflow: str, ref: str | None) -> ApprovalResult:
    number, user = request.number, request.user
    issue = repo.get_issue(number)
    if issue.pull_request is not None:
        return ApprovalResult("ignored", "a pull request, not an issue", number, user)
    if issue.state != "open":
        return ApprovalResult("ignored", f"issue #{number} is {issue.state}", number, user)
    if not has_label(issue, DRIFT_LABEL) or episode_info(issue.body) is None:
        return ApprovalResult("ignored", f"issue #{number} is not a drift issue", number, user)
    permission = permission_of(repo, user)
    if permission not in APPROVER_PERMISSIONS:
        return _refuse(issue, request, permission)
    if not dispatch_train(repo, issue, workflow, ref, reason=f"approved by @{user} with {request.via}"):
        if request.kind == "issue_comment":
            issue.create_comment(
                f"@{user} retraining was already dispatched for this issue (label `{DISPATCHED_LABEL}`); "
                "nothing new was started. If that run never reported here (e.g. it was cancelled while "
                f"queued), remove the `{DISPATCHED_LABEL}` label and approve again."
            )
        return ApprovalResult("already-dispatched", "train was already dispatched", number, user, permission)
    return ApprovalResult("dispatched", f"approved by @{user} ({request.via})", number, user, permission, True)


def approve(
    repo: Repository | Callable[[], Repository],
    event: WebhookEvent,
    *,
    event_name: str | None = None,
    workflow: str = DEFAULT_WORKFLOW,
    ref: str | None = None,
) -> ApprovalResult:
    """Handle an ``issue_comment`` or ``issues``/``labeled`` event: dispatch train once for a
    writer's approval on an open drift issue, refuse politely otherwise.

    ``repo`` may be a callable that connects: it is called only for relevant events, so
    irrelevant ones are ignored without needing a token."""
    request = _request(event, event_kind(event, event_name))
    if isinstance(request, ApprovalResult):
        return request
    if callable(repo):
        repo = repo()
    with api_errors(f"approval on issue #{request.number}"):
        return _decide(repo, request, workflow, ref)
