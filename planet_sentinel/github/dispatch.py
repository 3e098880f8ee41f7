"""Workflow dispatches: any workflow (deploy after a promotion), and train once per drift issue,
made idempotent by the ``retrain-dispatched`` label."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planet_sentinel.github.issue_labels import DISPATCHED_LABEL, has_label
from planet_sentinel.github.target import api_errors

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

DEFAULT_WORKFLOW = "train.yml"  # what retraining dispatches (the project's .github/workflows/train.yml)


def dispatch_workflow(repo: Repository, workflow: str, ref: str | None, inputs: dict[str, str] | None = None) -> str:
    """Dispatch ``workflow`` on ``ref`` (default: the repository's default branch); returns the ref.

    ``throw=True`` makes a refused dispatch (unknown workflow, no ``workflow_dispatch`` trigger,
    missing ``actions: write``) raise instead of returning False, so it is never silent."""
    target = ref or repo.default_branch
    with api_errors(f"dispatch of {workflow} on {target}"):
        repo.get_workflow(workflow).create_dispatch(target, dict(inputs or {}), throw=True)
    return target


def dispatch_train(repo: Repository, issue: Issue, workflow: str, ref: str | None, reason: str) -> bool:
    """Dispatch ``workflow`` with ``drift_issue`` once per issue; False if it was already dispatched.

    The label goes on first, so a second approval that arrives while this one runs sees it (the
    approve workflow also serialises per issue with ``concurrency``); a failed dispatch takes it off.
    """
    from github import GithubException

    issue = repo.get_issue(issue.number)  # fresh labels, not the event payload's
    if has_label(issue, DISPATCHED_LABEL):
        return False
    target = ref or repo.default_branch
    issue.add_to_labels(DISPATCHED_LABEL)
    try:
        repo.get_workflow(workflow).create_dispatch(target, {"drift_issue": str(issue.number)}, throw=True)
    except GithubException:
        issue.remove_from_labels(DISPATCHED_LABEL)
        raise
    issue.create_comment(
        f"Retraining dispatched: `{workflow}` on `{target}` with `drift_issue={issue.number}` ({reason}). "
        "The result will be reported here."
    )
    return True
