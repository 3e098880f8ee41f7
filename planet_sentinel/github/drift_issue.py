"""A drift report as an issue: one issue per episode, opened the first time, updated (body, title
and a comment) every later run; train is dispatched at once with ``auto_retrain``, else the issue
asks for approval (:mod:`planet_sentinel.github.approvals`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.github.dispatch import DEFAULT_WORKFLOW, dispatch_train
from planet_sentinel.github.episodes import DriftReport, EpisodeInfo, episode_info, find_episode_issue, marker
from planet_sentinel.github.issue_labels import (
    APPROVE_COMMAND,
    APPROVED_LABEL,
    DISPATCHED_LABEL,
    DRIFT_LABEL,
    ensure_labels,
)
from planet_sentinel.github.pictures import DEFAULT_BRANCH as REPORTS_BRANCH
from planet_sentinel.github.pictures import PagesSite, Pictures, run_folder, show, site_links
from planet_sentinel.github.runs import clip, run_key_from_env, utc_now
from planet_sentinel.github.target import api_errors

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository


@dataclass
class DriftIssueResult:
    """What ``report_drift`` did: action is opened, updated, no-drift or inconclusive."""

    action: str
    issue: int | None = None
    url: str | None = None
    fingerprint: str | None = None
    dispatched: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Post:
    """What one run writes into the episode's issue (the body's parts besides the episode marker)."""

    report: DriftReport
    model_version: str | None
    auto_retrain: bool
    workflow: str
    pictures: Pictures | None
    run_url: str | None
    now: str
    #: The published site's run page and map (markdown), when the workflow deploys it.
    site: str | None = None


def _title(report: DriftReport) -> str:
    drifted = report.decision.get("drifted") or []
    shown = ", ".join(drifted[:4]) + (f" and {len(drifted) - 4} more" if len(drifted) > 4 else "")
    return f"Data drift: {shown or 'see report'} (baseline {report.baseline_fingerprint})"


def _retraining_lines(auto_retrain: bool, workflow: str) -> list[str]:
    if auto_retrain:
        return [f"Automatic retraining is on: `{workflow}` is dispatched once for this episode."]
    return [
        "Retraining waits for approval. A collaborator with **write, maintain or admin** permission approves by "
        f"commenting `{APPROVE_COMMAND}` or by adding the `{APPROVED_LABEL}` label. The first approval "
        f"dispatches `{workflow}` (once; the `{DISPATCHED_LABEL}` label records it). When the retrained model "
        "is promoted to champion this issue is closed with its metrics.",
    ]


def _body(post: _Post, info: EpisodeInfo) -> str:
    report = post.report
    first = f"[{info['first_seen']}]({info['first_run']})" if info.get("first_run") else info["first_seen"]
    last = f"[{info['last_seen']}]({info['last_run']})" if info.get("last_run") else info["last_seen"]
    lines = [
        marker(info),
        f"The drift monitor found drift in **{', '.join(report.decision.get('drifted') or ['-'])}** "
        f"({report.decision.get('summary', '')}).",
        "",
        "| | |",
        "|---|---|",
        f"| drift episode | `{info['fingerprint']}` (baseline `{info['baseline']}`; "
        f"signal groups: {', '.join(info['groups']) or '-'}) |",
        f"| model version | {post.model_version or 'unknown'} |",
        f"| first seen | {first} |",
        f"| last seen | {last} |",
        f"| monitor runs with this drift | {info['runs']} |",
        *([f"| site | {post.site} |"] if post.site else []),
        "",
        "### Retraining",
        *_retraining_lines(post.auto_retrain, post.workflow),
    ]
    plots = ", ".join(f"`{p}`" for p in report.plots)
    where = f"the [monitor run]({info['last_run']})'s artifacts" if info.get("last_run") else "the monitor output"
    lines += ["", "<details open><summary>Drift report (latest run)</summary>", "", report.markdown.strip(), ""]
    if post.pictures is not None and (post.pictures.urls or post.pictures.error):
        lines += [*post.pictures.markdown(where), ""]
    elif plots:
        lines += [f"Plots {plots} are in {where}.", ""]
    lines.append("</details>")
    return clip("\n".join(lines))


def _open_issue(repo: Repository, post: _Post, fingerprint: str) -> Issue:
    report = post.report
    info: EpisodeInfo = {
        "fingerprint": fingerprint,
        "baseline": report.baseline_fingerprint,
        "groups": report.drifted_groups(),
        "first_seen": post.now,
        "first_run": post.run_url,
        "last_seen": post.now,
        "last_run": post.run_url,
        "runs": 1,
    }
    return repo.create_issue(_title(report), body=_body(post, info), labels=[DRIFT_LABEL])


def _update_issue(issue: Issue, post: _Post) -> None:
    report = post.report
    info: EpisodeInfo = {**(episode_info(issue.body) or {}), "last_seen": post.now, "last_run": post.run_url}
    previous = info.get("runs")
    info["runs"] = (int(previous) if isinstance(previous, int | str) else 1) + 1
    info.setdefault("groups", report.drifted_groups())
    info.setdefault("baseline", report.baseline_fingerprint)
    info.setdefault("first_seen", post.now)
    issue.edit(title=_title(report), body=_body(post, info))
    run = f" in [this run]({post.run_url})" if post.run_url else ""
    issue.create_comment(
        f"Drift seen again{run} ({post.now}): {report.decision.get('summary', '')}. "
        f"Model version {post.model_version or 'unknown'}. The report above is updated."
    )


def report_drift(
    repo: Repository | Callable[[], Repository],
    report: DriftReport,
    *,
    auto_retrain: bool = False,
    run_url: str | None = None,
    model_version: str | None = None,
    workflow: str = DEFAULT_WORKFLOW,
    ref: str | None = None,
    images: list[Path] | tuple[Path, ...] = (),
    reports_branch: str = REPORTS_BRANCH,
    run_key: str | None = None,
    pages: PagesSite | None = None,
) -> DriftIssueResult:
    """Open the episode's issue, or update it if it is already open; dispatch train if asked.

    With the published site (``pages``, default ``$SENTINEL_PAGES_URL``) the issue links the run's
    page and shows ``images`` from it. Without, ``images`` are committed to ``reports_branch`` under
    ``drift/<episode>/<run key>/``; if that fails the issue is still written and says where they are.
    ``repo`` may be a callable that connects: without drift nothing is sent and no token is needed."""
    status = report.decision.get("status")
    if status != "drift":
        action = "inconclusive" if status == "inconclusive" else "no-drift"
        return DriftIssueResult(action, reason=f"monitor decision is '{status}': nothing to report")
    fingerprint = report.fingerprint()
    now = utc_now()
    if callable(repo):
        repo = repo()
    pages = pages or PagesSite.from_env()
    paths = [Path(p) for p in images]
    folder = run_folder("drift", fingerprint, run_key or run_key_from_env())
    pictures = show(repo, paths, pages, folder, reports_branch)
    site = site_links(pages, paths)
    version = model_version or report.model_version()
    post = _Post(report, version, auto_retrain, workflow, pictures, run_url, now, site)
    with api_errors("drift issue"):
        ensure_labels(repo)
        issue = find_episode_issue(repo, fingerprint)
        if issue is None:
            issue, action = _open_issue(repo, post, fingerprint), "opened"
        else:
            _update_issue(issue, post)
            action = "updated"
        dispatched = False
        if auto_retrain:
            dispatched = dispatch_train(repo, issue, workflow, ref, reason="automatic retraining (auto_retrain)")
    return DriftIssueResult(action, issue.number, issue.html_url, fingerprint, dispatched)
