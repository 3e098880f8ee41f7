"""The GitHub side of the loop, through PyGithub: drift issues, retrain approvals, workflow dispatches.

One drift *episode* is one issue. Its fingerprint (baseline fingerprint + the groups of signals
that drifted) sits in a hidden marker in the body, so the daily monitor finds the open issue and
updates it instead of opening another. Retraining is dispatched at once (``auto_retrain``) or
after an approval on the issue: a ``/approve-retrain`` comment or the ``retrain-approved``
label, counted only from users whose collaborator permission is write, maintain or admin (the
permission API, never ``author_association``). The ``retrain-dispatched`` label makes dispatching
idempotent: it is set before the dispatch and checked before every dispatch. ``report_training``
comments the new model's metrics and closes the issue when the challenger was promoted;
``report_training_failure`` takes the label off again when the train run failed or was cancelled.
Pictures (``images``) are committed to a reports branch and linked, never inlined as ``data:``
URIs, which GitHub strips.

Modules, one job each (this package re-exports their public names):

- :mod:`~planet_sentinel.github.target`: where to connect (``GitHubTarget``, ``GitHubConfig``,
  ``connect``) and ``api_errors``, which turns API failures into one-line errors;
- :mod:`~planet_sentinel.github.issue_labels`: the labels and the approval command;
- :mod:`~planet_sentinel.github.runs`: the workflow run's page and key, time stamps, body size;
- :mod:`~planet_sentinel.github.episodes`: the monitor's report as an episode and its issue marker;
- :mod:`~planet_sentinel.github.drift_issue`: ``report_drift`` (open or update the episode's issue);
- :mod:`~planet_sentinel.github.approvals`: ``approve`` (webhook event -> dispatch or refusal) and who may;
- :mod:`~planet_sentinel.github.dispatch`: ``dispatch_workflow`` and the once-per-issue ``dispatch_train``;
- :mod:`~planet_sentinel.github.training`: ``report_training`` and ``report_training_failure``;
- :mod:`~planet_sentinel.github.region_issue`: ``report_region`` (one issue per region and period);
- :mod:`~planet_sentinel.github.pictures`: PNGs committed to the reports branch and linked;
- :mod:`~planet_sentinel.github.compat`: the PyGithub version floor.

``import github`` in these modules is PyGithub: absolute imports never resolve to this package.
"""

from __future__ import annotations

from planet_sentinel.github.approvals import (
    APPROVER_PERMISSIONS,
    ApprovalResult,
    WebhookEvent,
    approve,
    event_kind,
    is_approve_command,
    load_event,
    permission_of,
)
from planet_sentinel.github.compat import check_pygithub, require_pygithub
from planet_sentinel.github.dispatch import DEFAULT_WORKFLOW, dispatch_train, dispatch_workflow
from planet_sentinel.github.drift_issue import DriftIssueResult, report_drift
from planet_sentinel.github.episodes import (
    MARKER_RE,
    DriftReport,
    EpisodeInfo,
    episode_info,
    find_episode_issue,
    load_drift_report,
    marker,
)
from planet_sentinel.github.issue_labels import (
    APPROVE_COMMAND,
    APPROVED_LABEL,
    DISPATCHED_LABEL,
    DRIFT_LABEL,
    LABELS,
    REGION_LABEL,
    ensure_labels,
    has_label,
)
from planet_sentinel.github.pictures import DEFAULT_BRANCH as REPORTS_BRANCH
from planet_sentinel.github.pictures import Pictures, publish, run_folder
from planet_sentinel.github.region_issue import RegionIssueResult, RegionPeriod, report_region
from planet_sentinel.github.runs import MAX_BODY, clip, run_key_from_env, run_url_from_env, utc_now
from planet_sentinel.github.target import DEFAULT_API_URL, GitHubConfig, GitHubTarget, api_errors, connect
from planet_sentinel.github.training import (
    TrainingReportResult,
    load_result_json,
    report_training,
    report_training_failure,
    training_comment,
)

check_pygithub()  # an old PyGithub fails here, naming the version needed, not at the first dispatch

__all__ = [
    "APPROVED_LABEL",
    "APPROVER_PERMISSIONS",
    "APPROVE_COMMAND",
    "DEFAULT_API_URL",
    "DEFAULT_WORKFLOW",
    "DISPATCHED_LABEL",
    "DRIFT_LABEL",
    "LABELS",
    "MARKER_RE",
    "MAX_BODY",
    "REGION_LABEL",
    "REPORTS_BRANCH",
    "ApprovalResult",
    "DriftIssueResult",
    "DriftReport",
    "EpisodeInfo",
    "GitHubConfig",
    "GitHubTarget",
    "Pictures",
    "RegionIssueResult",
    "RegionPeriod",
    "TrainingReportResult",
    "WebhookEvent",
    "api_errors",
    "approve",
    "check_pygithub",
    "clip",
    "connect",
    "dispatch_train",
    "dispatch_workflow",
    "ensure_labels",
    "episode_info",
    "event_kind",
    "find_episode_issue",
    "has_label",
    "is_approve_command",
    "load_drift_report",
    "load_event",
    "load_result_json",
    "marker",
    "permission_of",
    "publish",
    "report_drift",
    "report_region",
    "report_training",
    "report_training_failure",
    "require_pygithub",
    "run_folder",
    "run_key_from_env",
    "run_url_from_env",
    "training_comment",
    "utc_now",
]
