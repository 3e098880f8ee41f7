"""The routes the GitHub emulator serves, each declared by its template in GitHub's OpenAPI
description (tests/test_github_schemas.py checks that GitHub has each one), plus the github.com
web routes that serve a committed file as GitHub links pictures in markdown."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tools.emulators.github import actions, git, issues, shapes
from tools.emulators.github.core import BOT, Answer, ApiError, Query
from tools.emulators.routing import Router

if TYPE_CHECKING:
    from tools.emulators.github.emulator import GitHubEmulator

#: GitHub's legacy ``permission`` field folds maintain into write and triage into read.
LEGACY_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}
#: The handlers' names for the description's path parameters.
PARAM_NAMES = {"issue_number": "number", "username": "login", "workflow_id": "wf"}


def get_repo(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str) -> Answer:
    return 200, em.repo_json(f"{owner}/{repo}"), {}


def get_user(em: GitHubEmulator, user: str, query: Query, body: Any) -> Answer:
    """The token's user (``public-user``). A workflow's GITHUB_TOKEN is an app installation token,
    which has no user: GitHub answers 403 "Resource not accessible by integration"."""
    if user == BOT:
        raise ApiError(403, "Resource not accessible by integration")
    return 200, shapes.public_user(em.user_json(user)), {}


def permission(em: GitHubEmulator, user: str, query: Query, body: Any, owner: str, repo: str, login: str) -> Answer:
    full = f"{owner}/{repo}"
    if login not in em.state["users"]:
        raise ApiError(404, f"{login} is not a user")
    role = em.repo(full)["collaborators"].get(login)
    if role is None:  # outside collaborators: read on a public repository, nothing on a private one
        legacy = role_name = "none" if em.repo(full)["private"] else "read"
    else:
        legacy, role_name = LEGACY_PERMISSION[role], role
    collaborator = {**em.user_json(login), "role_name": role_name}
    if role is not None:
        collaborator["permissions"] = dict.fromkeys(("pull", "triage", "push", "maintain", "admin"), False)
        collaborator["permissions"].update(dict.fromkeys(shapes.ROLE_FLAGS[role], True))
    return 200, {"permission": legacy, "role_name": role_name, "user": collaborator}, {}


#: API routes: (OpenAPI template, compiled pattern, {method: handler}), tried in order; ``{path}``
#: and ``{ref}`` may hold slashes.
ROUTES: Router[Callable[..., Answer]] = Router(wide=("path", "ref"))
for _template, _methods in (
    ("/user", {"GET": get_user}),
    ("/repos/{owner}/{repo}", {"GET": get_repo}),
    ("/repos/{owner}/{repo}/issues", {"GET": issues.list_issues, "POST": issues.create_issue}),
    ("/repos/{owner}/{repo}/issues/{issue_number}", {"GET": issues.get_issue, "PATCH": issues.edit_issue}),
    (
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        {"GET": issues.list_comments, "POST": issues.create_comment},
    ),
    (
        "/repos/{owner}/{repo}/issues/{issue_number}/labels",
        {"GET": issues.issue_labels, "POST": issues.add_labels, "PUT": issues.set_labels},
    ),
    ("/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", {"DELETE": issues.remove_label}),
    ("/repos/{owner}/{repo}/labels", {"GET": issues.list_labels, "POST": issues.create_label}),
    ("/repos/{owner}/{repo}/labels/{name}", {"GET": issues.get_label}),
    ("/repos/{owner}/{repo}/collaborators/{username}/permission", {"GET": permission}),
    ("/repos/{owner}/{repo}/actions/workflows", {"GET": actions.list_workflows}),
    ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}", {"GET": actions.get_workflow}),
    ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {"POST": actions.dispatch}),
    ("/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", {"GET": actions.workflow_runs}),
    ("/repos/{owner}/{repo}/actions/runs", {"GET": actions.list_runs}),
    ("/repos/{owner}/{repo}/actions/runs/{run_id}", {"GET": actions.get_run}),
    ("/repos/{owner}/{repo}/branches/{branch}", {"GET": git.get_branch}),
    ("/repos/{owner}/{repo}/contents/{path}", {"GET": git.get_contents, "PUT": git.put_contents}),
    ("/repos/{owner}/{repo}/git/trees", {"POST": git.create_tree}),
    ("/repos/{owner}/{repo}/git/commits", {"POST": git.create_commit}),
    ("/repos/{owner}/{repo}/git/refs", {"POST": git.create_ref}),
    ("/repos/{owner}/{repo}/git/ref/{ref}", {"GET": git.get_ref}),
):
    ROUTES.add(_template, _methods)

#: github.com pages (no token needed): a committed file as GitHub links it in markdown.
WEB_ROUTES: Router[Callable[..., Answer]] = Router(wide=("path",))
WEB_ROUTES.add("/{owner}/{repo}/blob/{sha}/{path}", {"GET": git.web_blob})
WEB_ROUTES.add("/{owner}/{repo}/raw/{sha}/{path}", {"GET": git.web_raw})
