"""The words the loop and people share on its issues: the labels (drift, region) and the approval command."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

DRIFT_LABEL = "drift"
APPROVED_LABEL = "retrain-approved"
DISPATCHED_LABEL = "retrain-dispatched"
REGION_LABEL = "region-alerts"
APPROVE_COMMAND = "/approve-retrain"
LABELS = {
    DRIFT_LABEL: ("d93f0b", "Data drift found by the Planet Sentinel monitor"),
    APPROVED_LABEL: ("0e8a16", "Approve retraining for this drift issue (write access needed)"),
    DISPATCHED_LABEL: ("1d76db", "Retraining was dispatched for this drift issue"),
    REGION_LABEL: ("b60205", "Deforestation alerts of a region and period (Planet Sentinel region workflow)"),
}
#: The labels of the drift loop (what the monitor makes sure exist).
DRIFT_LABELS = (DRIFT_LABEL, APPROVED_LABEL, DISPATCHED_LABEL)


def ensure_labels(repo: Repository, names: tuple[str, ...] = DRIFT_LABELS) -> None:
    """Create the project's labels with colours and descriptions where missing."""
    from github import GithubException

    existing = {label.name.lower() for label in repo.get_labels()}
    for name in names:
        if name.lower() in existing:
            continue
        color, description = LABELS[name]
        try:
            repo.create_label(name, color, description)
        except GithubException as exc:  # created meanwhile by a concurrent run
            if exc.status != 422:
                raise


def has_label(issue: Issue, name: str) -> bool:
    return any(label.name.lower() == name.lower() for label in issue.labels)
