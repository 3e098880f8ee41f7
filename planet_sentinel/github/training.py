"""A retraining's outcome on its drift issue: the new model's metrics and the promotion decision
(closing the issue when the challenger was promoted), or a failed or cancelled train run; either
way without promotion the retrain labels come off so the issue can be approved again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.github.issue_labels import APPROVE_COMMAND, APPROVED_LABEL, DISPATCHED_LABEL, has_label
from planet_sentinel.github.pictures import DEFAULT_BRANCH as REPORTS_BRANCH
from planet_sentinel.github.pictures import PagesSite, Pictures, run_folder, show, site_links
from planet_sentinel.github.runs import clip, run_key_from_env
from planet_sentinel.github.target import api_errors

if TYPE_CHECKING:
    from github.Repository import Repository

TRAIN_FIELDS = (
    ("model_version", "model version"),
    ("run_id", "MLflow run"),
    ("fingerprint", "training-data fingerprint"),
    ("epochs_run", "epochs"),
    ("device", "device"),
    ("seconds", "seconds"),
)


def load_result_json(path: str | Path, what: str) -> dict[str, Any]:
    """A JSON result file: a JSON document, or a command's output whose last JSON line is the result."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise SentinelError(f"{p}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SentinelError(f"{p}: cannot read the {what} file ({exc})") from exc
    candidates = [text, *reversed([line for line in text.splitlines() if line.lstrip().startswith("{")])]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            return data
    raise SentinelError(f"{p}: no JSON object in the {what} file (expected `sentinel ... --json` output)")


@dataclass
class TrainingReportResult:
    """What ``report_training`` (closed, commented, ignored) or ``report_training_failure`` (failed,
    ignored) did."""

    action: str
    issue: int
    promoted: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "–" if value is None else str(value)


def training_comment(
    train: dict[str, Any],
    promotion: dict[str, Any],
    run_url: str | None,
    pictures: Pictures | None = None,
    site: str | None = None,
) -> str:
    """Markdown: the new model, its best validation metrics, the evaluation pictures and the promotion
    decision; ``site``: links to the published site's evaluation page and map."""
    promoted = bool(promotion.get("promoted"))
    lines = [f"### Retraining finished{f' ([run]({run_url}))' if run_url else ''}", "", "| | |", "|---|---|"]
    lines += [f"| {label} | `{_fmt(train[key])}` |" for key, label in TRAIN_FIELDS if key in train]
    if site:
        lines.append(f"| site | {site} |")
    lines += [f"| best {key} | {_fmt(value)} |" for key, value in sorted((train.get("best") or {}).items())]
    if pictures is not None and (pictures.urls or pictures.error):
        where = f"the [training run]({run_url})'s artifacts" if run_url else "the training run's artifacts"
        lines += ["", *pictures.markdown(where)]
    lines += ["", "### Promotion", "", "| | |", "|---|---|"]
    lines.append(f"| promoted | {'**yes**' if promoted else 'no'} |")
    lines.append(f"| reason | {promotion.get('reason', '–')} |")
    lines.append(f"| champion | {_fmt(promotion.get('champion_before'))} → {_fmt(promotion.get('champion_after'))} |")
    lines += [f"| {key} | {_fmt(value)} |" for key, value in sorted((promotion.get("scores") or {}).items())]
    lines.append("")
    if promoted:
        lines.append("The new champion is deployed by the next deploy run. Closing this drift issue.")
    else:
        lines.append(
            f"The challenger was not promoted, so this issue stays open. The `{DISPATCHED_LABEL}` label is removed: "
            f"approve again (`{APPROVE_COMMAND}`) to retrain after fixing the data or the settings."
        )
    return clip("\n".join(lines))


def report_training(
    repo: Repository,
    issue_number: int,
    train: dict[str, Any],
    promotion: dict[str, Any],
    run_url: str | None = None,
    images: list[Path] | tuple[Path, ...] = (),
    reports_branch: str = REPORTS_BRANCH,
    run_key: str | None = None,
    pages: PagesSite | None = None,
) -> TrainingReportResult:
    """Comment the metrics on the drift issue; close it if promoted, else reopen it to approvals.

    ``images`` (the evaluation PNGs) are shown from the published site (``pages``, default
    ``$SENTINEL_PAGES_URL``), else committed to ``reports_branch`` under ``training/<issue>/<run key>/``."""
    if "promoted" not in promotion:
        raise SentinelError("the promotion file has no 'promoted' field (expected `sentinel promote --json` output)")
    promoted = bool(promotion["promoted"])
    with api_errors(f"issue #{issue_number}"):
        issue = repo.get_issue(issue_number)
        if issue.state != "open":
            return TrainingReportResult("ignored", issue_number, promoted, f"issue #{issue_number} is {issue.state}")
        pages = pages or PagesSite.from_env()
        paths = [Path(p) for p in images]
        folder = run_folder("training", str(issue_number), run_key or run_key_from_env())
        pictures = show(repo, paths, pages, folder, reports_branch)
        issue.create_comment(training_comment(train, promotion, run_url, pictures, site_links(pages, paths)))
        if promoted:
            issue.edit(state="closed", state_reason="completed")
            return TrainingReportResult("closed", issue_number, True, promotion.get("reason", ""))
        for name in (DISPATCHED_LABEL, APPROVED_LABEL):
            if has_label(issue, name):
                issue.remove_from_labels(name)
    return TrainingReportResult("commented", issue_number, False, promotion.get("reason", ""))


def report_training_failure(
    repo: Repository,
    issue_number: int,
    run_url: str | None = None,
    outcome: str = "",
) -> TrainingReportResult:
    """Say on the drift issue that the dispatched training did not finish, and take the
    ``retrain-dispatched`` (and ``retrain-approved``) label off so a new approval can dispatch again.

    Without this a failed, timed-out or cancelled train run would leave the label on and every
    later approval would answer "already dispatched" for ever."""
    with api_errors(f"issue #{issue_number}"):
        issue = repo.get_issue(issue_number)
        if issue.state != "open":
            return TrainingReportResult("ignored", issue_number, False, f"issue #{issue_number} is {issue.state}")
        run = f"[The training run]({run_url})" if run_url else "The training run"
        detail = f" ({outcome})" if outcome else ""
        issue.create_comment(
            f"### Retraining did not finish\n\n{run} failed or was cancelled{detail}, so no new model was "
            f"promoted and this issue stays open. The `{DISPATCHED_LABEL}` label is removed: approve again "
            f"(`{APPROVE_COMMAND}` or the `{APPROVED_LABEL}` label) to retry once the cause is fixed."
        )
        removed = [name for name in (DISPATCHED_LABEL, APPROVED_LABEL) if has_label(issue, name)]
        for name in removed:
            issue.remove_from_labels(name)
    reason = f"removed {', '.join(removed)}" if removed else "no retrain label to remove"
    return TrainingReportResult("failed", issue_number, False, reason)
