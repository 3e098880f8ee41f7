"""The emulator's seeded state: users with one per role, their tokens, one repository with the
project's workflows and what a dispatch of each may send."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.emulators.github.core import BOT

DEFAULT_REPO = "octo-org/planet-sentinel"
DEFAULT_WORKFLOWS = ("ci.yml", "pipeline.yml", "train.yml", "deploy.yml", "monitor.yml", "approve.yml")
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
    users: dict[str, dict[str, Any]] = {
        BOT: {"type": "Bot"},
        **{login: {"type": "User"} for login in people},
        "oscar-outsider": {"type": "User"},
    }
    users[repo.split("/", 1)[0]] = {"type": "Organization"}
    for i, login in enumerate(users, start=1):
        users[login]["id"] = 1000 + i
    workflows: dict[str, dict[str, Any]] = {}
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
