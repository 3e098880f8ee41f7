"""`sentinel github`: GitHub: drift issues, retrain approvals, workflow dispatches, region issues.

Each command finds the API at --github-url or $GITHUB_API_URL (default https://api.github.com),
the token in $GITHUB_TOKEN and the repository at --repo or $GITHUB_REPOSITORY, so inside a
workflow they need no options beyond their inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from planet_sentinel.commands.common import SentinelGroup, emit, json_option

if TYPE_CHECKING:
    from github.Repository import Repository

Command = Callable[..., None]


@dataclass(frozen=True)
class TargetOptions:
    """--github-url and --repo; the repository is reached only when a command needs it."""

    github_url: str | None
    repo: str | None

    def connect(self) -> Repository:
        from planet_sentinel import github as gh

        return gh.connect(gh.GitHubTarget.resolve(self.github_url, self.repo))


@dataclass(frozen=True)
class PictureOptions:
    """--image (repeatable) and --reports-branch."""

    images: tuple[str, ...]
    reports_branch: str

    @property
    def paths(self) -> list[Path]:
        return [Path(p) for p in self.images]


def _packed(func: Command, name: str, options: type[TargetOptions | PictureOptions]) -> Command:
    """``func`` called with the click arguments named like ``options``' fields packed into one
    ``name`` argument (the click options already on ``func`` stay on the wrapper, in their order)."""
    names = [f.name for f in fields(options)]

    @functools.wraps(func)
    def command(**kwargs: Any) -> None:
        packed = options(**{key: kwargs.pop(key) for key in names})
        func(**kwargs, **{name: packed})

    vars(command)["__click_params__"] = list(getattr(func, "__click_params__", []))
    return command


def _target_options(func: Command) -> Command:
    func = click.option("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY).")(
        _packed(func, "target", TargetOptions)
    )
    return click.option("--github-url", help="REST API base (default: $GITHUB_API_URL or https://api.github.com).")(
        func
    )


workflow_option = click.option(
    "--workflow", default="train.yml", show_default=True, help="Workflow file (or id) to dispatch for retraining."
)
ref_option = click.option("--ref", help="Branch or tag the workflow runs on (default: the repository's default).")


def _picture_options(func: Command) -> Command:
    func = click.option(
        "--reports-branch",
        default="sentinel-reports",
        show_default=True,
        help="Branch the pictures are committed to (created as an orphan branch if missing).",
    )(_packed(func, "pictures", PictureOptions))
    return click.option(
        "--image",
        "images",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="PNG to show (repeatable). Committed to --reports-branch and linked; a missing file is a warning.",
    )(func)


@click.group(name="github", cls=SentinelGroup)
def github() -> None:
    """GitHub: drift issues, retrain approvals, workflow dispatches (token in $GITHUB_TOKEN)."""


@github.command(name="report-drift")
@click.option(
    "--report",
    default="outputs/monitor",
    show_default=True,
    type=click.Path(),
    help="`sentinel monitor` output directory (or its drift.json).",
)
@click.option(
    "--auto-retrain",
    is_flag=True,
    envvar="SENTINEL_GITHUB_AUTO_RETRAIN",
    help="Dispatch train at once instead of asking for approval (env SENTINEL_GITHUB_AUTO_RETRAIN=true).",
)
@click.option("--run-url", help="Link to the monitor run (default: built from GITHUB_SERVER_URL/REPOSITORY/RUN_ID).")
@click.option("--model-version", help="Model version to name (default: the report's registry version).")
@workflow_option
@ref_option
@_picture_options
@_target_options
@json_option
def report_drift(
    report: str,
    auto_retrain: bool,
    run_url: str | None,
    model_version: str | None,
    workflow: str,
    ref: str | None,
    pictures: PictureOptions,
    target: TargetOptions,
    as_json: bool,
) -> None:
    """Open (or update) the one issue of this drift episode; with --auto-retrain dispatch train.

    Without drift in the report (no_drift or inconclusive) nothing is written and it exits 0.
    --image pictures (e.g. outputs/monitor/bands.png) are committed to --reports-branch and shown
    in the issue; without contents: write the issue says they are in the run's artifacts.
    """
    from planet_sentinel import github as gh

    result = gh.report_drift(
        target.connect,  # called only when there is drift to report: no token needed otherwise
        gh.load_drift_report(report),
        auto_retrain=auto_retrain,
        run_url=run_url or gh.run_url_from_env(),
        model_version=model_version,
        workflow=workflow,
        ref=ref,
        images=pictures.paths,
        reports_branch=pictures.reports_branch,
    )
    emit(result.to_dict(), as_json)


@github.command(name="approve")
@click.option(
    "--event-path",
    required=True,
    envvar="GITHUB_EVENT_PATH",
    type=click.Path(dir_okay=False),
    help="Webhook payload (default: $GITHUB_EVENT_PATH).",
)
@click.option("--event-name", envvar="GITHUB_EVENT_NAME", help="issue_comment or issues (default: $GITHUB_EVENT_NAME).")
@workflow_option
@ref_option
@_target_options
@json_option
def approve(
    event_path: str,
    event_name: str | None,
    workflow: str,
    ref: str | None,
    target: TargetOptions,
    as_json: bool,
) -> None:
    """Dispatch train once when a writer approves a drift issue (`/approve-retrain` or `retrain-approved`).

    Other events, closed or non-drift issues: exits 0 with action `ignored`. Approvals from users
    without write, maintain or admin permission get a polite refusal comment and dispatch nothing.
    """
    import os

    from planet_sentinel import github as gh

    event = gh.load_event(event_path)
    repo = target.repo or os.environ.get("GITHUB_REPOSITORY") or (event.get("repository") or {}).get("full_name")
    connect = replace(target, repo=repo).connect  # the event's repository when neither --repo nor the env say
    result = gh.approve(connect, event, event_name=event_name, workflow=workflow, ref=ref)
    emit(result.to_dict(), as_json)


@github.command(name="report-training")
@click.option("--issue", required=True, help="Drift issue number (empty: nothing to report, exit 0).")
@click.option(
    "--result",
    "result_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="`sentinel train --json` output (or `sentinel kaggle train --json`).",
)
@click.option("--promotion", required=True, type=click.Path(dir_okay=False), help="`sentinel promote --json` output.")
@click.option("--run-url", help="Link to the training run (default: built from the Actions environment).")
@_picture_options
@_target_options
@json_option
def report_training(
    issue: str,
    result_path: str,
    promotion: str,
    run_url: str | None,
    pictures: PictureOptions,
    target: TargetOptions,
    as_json: bool,
) -> None:
    """Comment the retrained model's metrics on the drift issue; close it if the model was promoted.

    Not promoted: the issue stays open with the reason, and can be approved again. --image
    pictures (the evaluation PNGs) are committed to --reports-branch and shown in the comment.
    """
    from planet_sentinel import github as gh

    number = _issue_number(issue)
    if number is None:
        emit({"action": "ignored", "reason": "no drift issue given (train was not started from one)"}, as_json)
        return
    train = gh.load_result_json(result_path, "training result")
    decision = gh.load_result_json(promotion, "promotion")
    result = gh.report_training(
        target.connect(),
        number,
        train,
        decision,
        run_url or gh.run_url_from_env(),
        images=pictures.paths,
        reports_branch=pictures.reports_branch,
    )
    emit(result.to_dict(), as_json)


def _issue_number(issue: str) -> int | None:
    """``--issue`` as a number; None when empty (train was started by hand, not from an issue)."""
    from planet_sentinel.errors import SentinelError

    if issue.strip() in ("", "0"):
        return None
    try:
        return int(issue.strip().lstrip("#"))
    except ValueError:
        raise SentinelError(f"--issue '{issue}' is not an issue number") from None


@github.command(name="report-failure")
@click.option("--issue", required=True, help="Drift issue number (empty: nothing to report, exit 0).")
@click.option("--run-url", help="Link to the failed run (default: built from the Actions environment).")
@click.option("--outcome", default="", help="What failed, e.g. 'train: failure, evaluate-promote: skipped'.")
@_target_options
@json_option
def report_failure(
    issue: str,
    run_url: str | None,
    outcome: str,
    target: TargetOptions,
    as_json: bool,
) -> None:
    """Tell the drift issue that the dispatched training failed or was cancelled, and remove the
    `retrain-dispatched` label so the issue can be approved again (the train workflow runs this
    when a job failed or was cancelled).
    """
    from planet_sentinel import github as gh

    number = _issue_number(issue)
    if number is None:
        emit({"action": "ignored", "reason": "no drift issue given (train was not started from one)"}, as_json)
        return
    result = gh.report_training_failure(target.connect(), number, run_url or gh.run_url_from_env(), outcome)
    emit(result.to_dict(), as_json)


@github.command(name="report-region")
@click.option(
    "--summary",
    required=True,
    type=click.Path(),
    help="`sentinel region merge` summary (<name>_summary.json) or the folder that holds it.",
)
@click.option("--period", nargs=2, required=True, metavar="START END", help="The period's first and last dates.")
@click.option("--region", help="Region name (default: the stem of the plan's AOI file).")
@click.option("--run-url", help="Link to the region run (default: built from the Actions environment).")
@_target_options
@json_option
def report_region(
    summary: str, period: tuple[str, str], region: str | None, run_url: str | None, target: TargetOptions, as_json: bool
) -> None:
    """Open (or update) the one issue of this region and period: alerts, hectares, largest alerts, tiles.

    A rerun of the period with the same result changes nothing; a different result updates the
    issue and comments what changed. Failed tiles are listed as failed.
    """
    from planet_sentinel import github as gh
    from planet_sentinel.github import region_issue

    merged = region_issue.load_region_summary(summary)
    key = region_issue.RegionPeriod(region_issue.region_name(merged, region), *period)
    result = region_issue.report_region(target.connect, merged, key, run_url or gh.run_url_from_env())
    emit(result.to_dict(), as_json)


@github.command(name="dispatch")
@click.option("--workflow", required=True, help="Workflow file (or id) to dispatch, e.g. deploy.yml.")
@ref_option
@click.option("--input", "inputs", multiple=True, help="KEY=VALUE workflow_dispatch input (repeat).")
@_target_options
@json_option
def dispatch(workflow: str, ref: str | None, inputs: tuple[str, ...], target: TargetOptions, as_json: bool) -> None:
    """Dispatch a workflow (the train workflow dispatches deploy after a promotion)."""
    from planet_sentinel import github as gh

    values: dict[str, str] = {}
    for item in inputs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--input")
        values[key] = value
    ref = gh.dispatch_workflow(target.connect(), workflow, ref, values)
    emit({"action": "dispatched", "workflow": workflow, "ref": ref, "inputs": values}, as_json)
