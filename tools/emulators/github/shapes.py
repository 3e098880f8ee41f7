"""JSON shapes of the GitHub REST objects the emulator returns, with every field GitHub's OpenAPI
description (npm ``@octokit/openapi``, ``components/schemas``) marks required, so a client that
reads any of them finds it. tests/test_github_schemas.py validates them against that description."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, urlsplit

ROLE_FLAGS = {  # the ``permissions`` object of a collaborator, by role
    "admin": ("pull", "triage", "push", "maintain", "admin"),
    "maintain": ("pull", "triage", "push", "maintain"),
    "write": ("pull", "triage", "push"),
    "triage": ("pull", "triage"),
    "read": ("pull",),
}


def node_id(kind: str, key: Any) -> str:
    """An opaque global id like GitHub's (base64 of a type and a key)."""
    return base64.b64encode(f"0:{kind}{key}".encode()).decode()


def reactions(url: str) -> dict[str, Any]:
    keys = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
    return {"url": f"{url}/reactions", "total_count": 0, **dict.fromkeys(keys, 0)}


def user(base: str, login: str, info: dict[str, Any]) -> dict[str, Any]:
    """``simple-user``."""
    url = f"{base}/users/{quote(login)}"
    return {
        "login": login,
        "id": info["id"],
        "node_id": node_id("User", info["id"]),
        "avatar_url": f"{base}/avatars/u/{info['id']}",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{base}/{quote(login)}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": info["type"],
        "user_view_type": "public",
        "site_admin": False,
    }


def public_user(simple: dict[str, Any]) -> dict[str, Any]:
    """``public-user``: a ``simple-user`` with the profile fields ``GET /user`` adds."""
    profile = dict.fromkeys(("name", "company", "location", "email", "hireable", "bio"))
    counts = dict.fromkeys(("public_repos", "public_gists", "followers", "following"), 0)
    dates = {"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
    return {**simple, **profile, "blog": "", **counts, **dates}


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repository(base: str, full_name: str, repo: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """``full-repository`` (also a valid ``minimal-repository`` and webhook ``repository``)."""
    name = full_name.split("/", 1)[1]
    api, html = f"{base}/repos/{full_name}", f"{base}/{full_name}"
    host = urlsplit(base).netloc
    open_issues = sum(1 for issue in repo["issues"] if issue["state"] == "open")
    return {
        "id": repo["id"],
        "node_id": node_id("Repository", repo["id"]),
        "name": name,
        "full_name": full_name,
        "owner": owner,
        "private": repo["private"],
        "visibility": "private" if repo["private"] else "public",
        "description": "Deforestation detection (Planet Sentinel emulator)",
        "fork": False,
        "url": api,
        "html_url": html,
        **{key: api + tail for key, tail in _REPO_URLS.items()},
        "git_url": f"git://{host}/{full_name}.git",
        "ssh_url": f"git@{host}:{full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": "Python",
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "network_count": 0,
        "subscribers_count": 0,
        "size": 0,
        "default_branch": repo["default_branch"],
        "open_issues": open_issues,
        "open_issues_count": open_issues,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "license": None,
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "pushed_at": repo.get("pushed_at", "2026-01-01T00:00:00Z"),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": repo.get("pushed_at", "2026-01-01T00:00:00Z"),
    }


def label(base: str, full_name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data["id"],
        "node_id": node_id("Label", data["id"]),
        "url": f"{base}/repos/{full_name}/labels/{quote(data['name'])}",
        "name": data["name"],
        "color": data["color"],
        "description": data.get("description"),
        "default": False,
    }


def issue(
    base: str,
    full_name: str,
    data: dict[str, Any],
    author: dict[str, Any],
    labels: list[dict[str, Any]],
    association: str,
) -> dict[str, Any]:
    """``issue`` (REST) and the webhook ``issue``."""
    url = f"{base}/repos/{full_name}/issues/{data['number']}"
    return {
        "id": data["id"],
        "node_id": node_id("Issue", data["id"]),
        "url": url,
        "repository_url": f"{base}/repos/{full_name}",
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "timeline_url": f"{url}/timeline",
        "html_url": f"{base}/{full_name}/issues/{data['number']}",
        "number": data["number"],
        "title": data["title"],
        "body": data["body"],
        "state": data["state"],
        "state_reason": data.get("state_reason"),
        "locked": False,
        "active_lock_reason": None,
        "labels": labels,
        "user": author,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": len(data["comments"]),
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
        "closed_at": data.get("closed_at"),
        "author_association": association,
        "performed_via_github_app": None,
        "reactions": reactions(url),
    }


def comment(
    base: str, full_name: str, number: int, data: dict[str, Any], author: dict[str, Any], association: str
) -> dict[str, Any]:
    """``issue-comment`` (REST) and the webhook ``comment``."""
    url = f"{base}/repos/{full_name}/issues/comments/{data['id']}"
    return {
        "id": data["id"],
        "node_id": node_id("IssueComment", data["id"]),
        "url": url,
        "html_url": f"{base}/{full_name}/issues/{number}#issuecomment-{data['id']}",
        "issue_url": f"{base}/repos/{full_name}/issues/{number}",
        "body": data["body"],
        "user": author,
        "created_at": data["created_at"],
        "updated_at": data["created_at"],
        "author_association": association,
        "performed_via_github_app": None,
        "reactions": reactions(url),
    }


def workflow(base: str, full_name: str, file: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data["id"],
        "node_id": node_id("Workflow", data["id"]),
        "name": data["name"],
        "path": f".github/workflows/{file}",
        "state": "active",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "url": f"{base}/repos/{full_name}/actions/workflows/{data['id']}",
        "html_url": f"{base}/{full_name}/actions/workflows/{file}",
        "badge_url": f"{base}/{full_name}/workflows/{quote(data['name'])}/badge.svg",
    }


def workflow_run(base: str, full_name: str, run: dict[str, Any], repo: dict[str, Any]) -> dict[str, Any]:
    """``workflow-run``; ``repo`` is the repository's ``repository`` shape."""
    url = f"{base}/repos/{full_name}/actions/runs/{run['id']}"
    fields = ("id", "name", "workflow_id", "path", "event", "status", "conclusion", "head_branch", "head_sha")
    return {
        **{key: run[key] for key in fields},
        "node_id": node_id("WorkflowRun", run["id"]),
        "display_title": run["name"],
        "run_number": run["run_number"],
        "run_attempt": run["run_attempt"],
        "actor": run["actor"],
        "triggering_actor": run["triggering_actor"],
        "created_at": run["created_at"],
        "updated_at": run["updated_at"],
        "run_started_at": run["created_at"],
        "url": url,
        "html_url": f"{base}/{full_name}/actions/runs/{run['id']}",
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{base}/repos/{full_name}/check-suites/{run['id']}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "workflow_url": f"{base}/repos/{full_name}/actions/workflows/{run['workflow_id']}",
        "pull_requests": [],
        "head_commit": None,
        "repository": repo,
        "head_repository": repo,
    }
