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
URIs, which GitHub strips (:mod:`planet_sentinel.github.pictures`).

``import github`` below is PyGithub: absolute imports never resolve to this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from planet_sentinel.errors import SentinelError
from planet_sentinel.github.compat import check_pygithub, require_pygithub
from planet_sentinel.github.pictures import DEFAULT_BRANCH as REPORTS_BRANCH
from planet_sentinel.github.pictures import Pictures, publish, run_folder

check_pygithub()  # an old PyGithub fails here, naming the version needed, not at the first dispatch

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

DEFAULT_API_URL = "https://api.github.com"
DRIFT_LABEL = "drift"
APPROVED_LABEL = "retrain-approved"
DISPATCHED_LABEL = "retrain-dispatched"
APPROVE_COMMAND = "/approve-retrain"
APPROVER_PERMISSIONS = frozenset({"admin", "maintain", "write"})
DEFAULT_WORKFLOW = "train.yml"
LABELS = {
    DRIFT_LABEL: ("d93f0b", "Data drift found by the Planet Sentinel monitor"),
    APPROVED_LABEL: ("0e8a16", "Approve retraining for this drift issue (write access needed)"),
    DISPATCHED_LABEL: ("1d76db", "Retraining was dispatched for this drift issue"),
}
MARKER_RE = re.compile(r"<!-- planet-sentinel:drift-episode (\{.*?\}) -->")
MAX_BODY = 60_000  # GitHub refuses issue bodies and comments over 65 536 characters


# ---------------------------------------------------------------------------- connection


@dataclass(frozen=True)
class GitHubTarget:
    """Where to talk to: API base, token and ``owner/name`` (flags, then the Actions environment)."""

    api_url: str
    token: str
    repo: str

    @classmethod
    def resolve(cls, api_url: str | None = None, repo: str | None = None, token: str | None = None) -> GitHubTarget:
        token = token or os.environ.get("GITHUB_TOKEN", "")
        if not token:
            raise SentinelError(
                "GITHUB_TOKEN is not set: export a token with issues: write and actions: write "
                "(in a workflow: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})"
            )
        repo = repo or os.environ.get("GITHUB_REPOSITORY", "")
        if not repo:
            raise SentinelError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise SentinelError(f"repository '{repo}' is not OWNER/NAME")
        api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        return cls(api_url, token, repo)


@contextmanager
def api_errors(what: str) -> Iterator[None]:
    """Turn PyGithub and connection failures into one-line SentinelErrors that say what failed."""
    import requests
    from github import GithubException

    try:
        yield
    except GithubException as exc:
        message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
        hint = {401: " (is GITHUB_TOKEN valid?)", 403: " (does the token have the permissions in docs/github.md?)"}
        raise SentinelError(f"GitHub {what}: HTTP {exc.status} {message}{hint.get(exc.status, '')}") from exc
    except requests.exceptions.RequestException as exc:
        raise SentinelError(f"GitHub {what}: cannot reach the API ({type(exc).__name__}: {exc})") from exc


class GitHubConfig(BaseModel):
    """Client pacing (section ``github``; env ``SENTINEL_GITHUB_<FIELD>``). PyGithub's defaults keep
    to GitHub's advice against secondary rate limits (a second between writes); the tests and the
    local emulator set them to 0."""

    seconds_between_requests: float = Field(0.25, ge=0)
    seconds_between_writes: float = Field(1.0, ge=0)
    timeout: float = Field(20.0, gt=0, description="seconds per HTTP request")
    retries: int = Field(2, ge=0, description="retries of failed requests (fail fast in a workflow)")


def connect(target: GitHubTarget, config: GitHubConfig | None = None) -> Repository:
    """The repository through PyGithub, paced and with few retries (a workflow should fail fast)."""
    require_pygithub()
    from github import Auth, Github

    from planet_sentinel.config import resolve

    config = config or resolve(GitHubConfig, "github")
    client = Github(
        base_url=target.api_url,
        auth=Auth.Token(target.token),
        timeout=int(config.timeout),
        retry=config.retries,
        seconds_between_requests=config.seconds_between_requests,
        seconds_between_writes=config.seconds_between_writes,
    )
    with api_errors(f"repository {target.repo}"):
        return client.get_repo(target.repo)


def ensure_labels(repo: Repository, names: tuple[str, ...] = tuple(LABELS)) -> None:
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


def run_url_from_env() -> str | None:
    """This workflow run's page, from the variables every Actions job has."""
    server, repo, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run_id:
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return None


def run_key_from_env() -> str:
    """This run's id and attempt (a rerun is a new attempt), else a UTC time and a random suffix."""
    import secrets

    run_id, attempt = os.environ.get("GITHUB_RUN_ID"), os.environ.get("GITHUB_RUN_ATTEMPT", "1")
    if run_id:
        return f"{run_id}-{attempt}"
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _clip(text: str, limit: int = MAX_BODY) -> str:
    return text if len(text) <= limit else text[: limit - 60] + "\n\n…(truncated; the full report is in the run)\n"


# ---------------------------------------------------------------------------- drift report -> issue


@dataclass
class DriftReport:
    """What the issue needs from ``sentinel monitor``'s output directory."""

    data: dict[str, Any]
    markdown: str
    plots: list[str]

    @property
    def decision(self) -> dict[str, Any]:
        decision: dict[str, Any] = self.data["decision"]
        return decision

    @property
    def baseline_fingerprint(self) -> str:
        return str(self.data.get("baseline", {}).get("fingerprint") or "unknown")

    def drifted_groups(self) -> list[str]:
        groups = {s["name"]: s.get("group", s["name"]) for s in self.data.get("signals", [])}
        return sorted({groups.get(name, name) for name in self.decision.get("drifted", [])})

    def fingerprint(self) -> str:
        """The episode: which baseline the model was trained on and which kinds of signal drifted.

        Groups (bands, scene, model), not single signals, so a band flickering between warn and
        drift on successive days stays one episode."""
        key = f"{self.baseline_fingerprint}|{','.join(self.drifted_groups())}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def model_version(self) -> str | None:
        registry = (self.data.get("model") or {}).get("registry") or {}
        return str(registry["version"]) if registry.get("version") else None


def load_drift_report(path: str | Path) -> DriftReport:
    """Read drift.json (and drift.md, the plots' names) from a monitor output directory or the JSON file."""
    p = Path(path)
    json_path = p / "drift.json" if p.is_dir() else p
    if not json_path.is_file():
        raise SentinelError(f"{json_path}: no such file (run `sentinel monitor --out-dir {p}` first)")
    try:
        data = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SentinelError(f"{json_path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("schema") != "planet-sentinel/drift-report":
        raise SentinelError(f"{json_path}: not a drift report (schema 'planet-sentinel/drift-report' expected)")
    if not isinstance(data.get("decision"), dict) or "status" not in data["decision"]:
        raise SentinelError(f"{json_path}: the report has no decision")
    md_path = json_path.with_name("drift.md")
    markdown = md_path.read_text() if md_path.is_file() else data["decision"].get("summary", "")
    files = data.get("files") or {}
    plots = [files[k] for k in ("bands_png", "features_png") if k in files and (json_path.parent / files[k]).exists()]
    return DriftReport(data, markdown, plots)


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


def _marker(info: dict[str, Any]) -> str:
    return f"<!-- planet-sentinel:drift-episode {json.dumps(info, sort_keys=True)} -->"


def episode_info(body: str | None) -> dict[str, Any] | None:
    """The episode marker of an issue body, or None if it is not a drift issue of ours."""
    match = MARKER_RE.search(body or "")
    if not match:
        return None
    try:
        info = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    return info if isinstance(info, dict) else None


def find_episode_issue(repo: Repository, fingerprint: str) -> Issue | None:
    """The open drift issue of this episode (the oldest if, through a race, there are several)."""
    found = [
        issue
        for issue in repo.get_issues(state="open", labels=[DRIFT_LABEL])
        if (episode_info(issue.body) or {}).get("fingerprint") == fingerprint
    ]
    return min(found, key=lambda i: i.number) if found else None


def _title(report: DriftReport) -> str:
    drifted = report.decision.get("drifted") or []
    shown = ", ".join(drifted[:4]) + (f" and {len(drifted) - 4} more" if len(drifted) > 4 else "")
    return f"Data drift: {shown or 'see report'} (baseline {report.baseline_fingerprint})"


def _body(
    report: DriftReport,
    info: dict[str, Any],
    model_version: str | None,
    auto_retrain: bool,
    workflow: str,
    pictures: Pictures | None = None,
) -> str:
    first = f"[{info['first_seen']}]({info['first_run']})" if info.get("first_run") else info["first_seen"]
    last = f"[{info['last_seen']}]({info['last_run']})" if info.get("last_run") else info["last_seen"]
    lines = [
        _marker(info),
        f"The drift monitor found drift in **{', '.join(report.decision.get('drifted') or ['-'])}** "
        f"({report.decision.get('summary', '')}).",
        "",
        "| | |",
        "|---|---|",
        f"| drift episode | `{info['fingerprint']}` (baseline `{info['baseline']}`; "
        f"signal groups: {', '.join(info['groups']) or '-'}) |",
        f"| model version | {model_version or 'unknown'} |",
        f"| first seen | {first} |",
        f"| last seen | {last} |",
        f"| monitor runs with this drift | {info['runs']} |",
        "",
        "### Retraining",
    ]
    if auto_retrain:
        lines.append(f"Automatic retraining is on: `{workflow}` is dispatched once for this episode.")
    else:
        lines += [
            "Retraining waits for approval. A collaborator with **write, maintain or admin** permission approves by "
            f"commenting `{APPROVE_COMMAND}` or by adding the `{APPROVED_LABEL}` label. The first approval "
            f"dispatches `{workflow}` (once; the `{DISPATCHED_LABEL}` label records it). When the retrained model "
            "is promoted to champion this issue is closed with its metrics.",
        ]
    plots = ", ".join(f"`{p}`" for p in report.plots)
    where = f"the [monitor run]({info['last_run']})'s artifacts" if info.get("last_run") else "the monitor output"
    lines += ["", "<details open><summary>Drift report (latest run)</summary>", "", report.markdown.strip(), ""]
    if pictures is not None and (pictures.urls or pictures.error):
        lines += [*pictures.markdown(where), ""]
    elif plots:
        lines += [f"Plots {plots} are in {where}.", ""]
    lines.append("</details>")
    return _clip("\n".join(lines))


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
) -> DriftIssueResult:
    """Open the episode's issue, or update it if it is already open; dispatch train if asked.

    ``images`` are committed to ``reports_branch`` under ``drift/<episode>/<run key>/`` and shown in
    the issue; if that fails the issue is still written and says where the pictures are.
    ``repo`` may be a callable that connects: without drift nothing is sent and no token is needed."""
    status = report.decision.get("status")
    if status != "drift":
        action = "inconclusive" if status == "inconclusive" else "no-drift"
        return DriftIssueResult(action, reason=f"monitor decision is '{status}': nothing to report")
    fingerprint = report.fingerprint()
    model_version = model_version or report.model_version()
    now = _now()
    if callable(repo):
        repo = repo()
    pictures = None
    if images:
        folder = run_folder("drift", fingerprint, run_key or run_key_from_env())
        pictures = publish(repo, [Path(p) for p in images], folder, reports_branch)
    with api_errors("drift issue"):
        ensure_labels(repo)
        issue = find_episode_issue(repo, fingerprint)
        if issue is None:
            info = {
                "fingerprint": fingerprint,
                "baseline": report.baseline_fingerprint,
                "groups": report.drifted_groups(),
                "first_seen": now,
                "first_run": run_url,
                "last_seen": now,
                "last_run": run_url,
                "runs": 1,
            }
            body = _body(report, info, model_version, auto_retrain, workflow, pictures)
            issue = repo.create_issue(_title(report), body=body, labels=[DRIFT_LABEL])
            action = "opened"
        else:
            info = {**(episode_info(issue.body) or {}), "last_seen": now, "last_run": run_url}
            previous = info.get("runs")
            info["runs"] = (int(previous) if isinstance(previous, int | str) else 1) + 1
            info.setdefault("groups", report.drifted_groups())
            info.setdefault("baseline", report.baseline_fingerprint)
            info.setdefault("first_seen", now)
            body = _body(report, info, model_version, auto_retrain, workflow, pictures)
            issue.edit(title=_title(report), body=body)
            run = f" in [this run]({run_url})" if run_url else ""
            issue.create_comment(
                f"Drift seen again{run} ({now}): {report.decision.get('summary', '')}. "
                f"Model version {model_version or 'unknown'}. The report above is updated."
            )
            action = "updated"
        dispatched = False
        if auto_retrain:
            dispatched = dispatch_train(repo, issue, workflow, ref, reason="automatic retraining (auto_retrain)")
    return DriftIssueResult(action, issue.number, issue.html_url, fingerprint, dispatched)


# ---------------------------------------------------------------------------- dispatch and approval


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


@dataclass
class ApprovalResult:
    """What ``approve`` did: action is dispatched, refused, already-dispatched or ignored."""

    action: str
    reason: str
    issue: int | None = None
    user: str | None = None
    permission: str | None = None
    dispatched: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


def load_event(path: str | Path) -> dict[str, Any]:
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
    return data


def event_kind(event: dict[str, Any], event_name: str | None = None) -> str:
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


def approve(
    repo: Repository | Callable[[], Repository],
    event: dict[str, Any],
    *,
    event_name: str | None = None,
    workflow: str = DEFAULT_WORKFLOW,
    ref: str | None = None,
) -> ApprovalResult:
    """Handle an ``issue_comment`` or ``issues``/``labeled`` event: dispatch train once for a
    writer's approval on an open drift issue, refuse politely otherwise.

    ``repo`` may be a callable that connects: it is called only for relevant events, so
    irrelevant ones are ignored without needing a token."""
    kind = event_kind(event, event_name)
    action = event.get("action")
    payload_issue = event.get("issue") or {}
    number = payload_issue.get("number")
    if kind == "issue_comment":
        if action != "created":
            return ApprovalResult("ignored", f"issue_comment action '{action}' is not 'created'", number)
        if payload_issue.get("pull_request"):
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
    if callable(repo):
        repo = repo()
    with api_errors(f"approval on issue #{number}"):
        issue = repo.get_issue(number)
        if issue.pull_request is not None:
            return ApprovalResult("ignored", "a pull request, not an issue", number, user)
        if issue.state != "open":
            return ApprovalResult("ignored", f"issue #{number} is {issue.state}", number, user)
        if not has_label(issue, DRIFT_LABEL) or episode_info(issue.body) is None:
            return ApprovalResult("ignored", f"issue #{number} is not a drift issue", number, user)
        permission = permission_of(repo, user)
        if permission not in APPROVER_PERMISSIONS:
            issue.create_comment(
                f"Thank you @{user}. Retraining can only be approved by collaborators with write, maintain or "
                f"admin permission on this repository (yours: {permission}), so nothing was dispatched. "
                f"A maintainer can approve with `{APPROVE_COMMAND}` or the `{APPROVED_LABEL}` label."
            )
            if kind == "issues" and has_label(issue, APPROVED_LABEL):
                issue.remove_from_labels(APPROVED_LABEL)
            return ApprovalResult("refused", f"@{user} has '{permission}' permission", number, user, permission)
        dispatched = dispatch_train(repo, issue, workflow, ref, reason=f"approved by @{user} with {via}")
        if not dispatched:
            if kind == "issue_comment":
                issue.create_comment(
                    f"@{user} retraining was already dispatched for this issue (label `{DISPATCHED_LABEL}`); "
                    "nothing new was started. If that run never reported here (e.g. it was cancelled while "
                    f"queued), remove the `{DISPATCHED_LABEL}` label and approve again."
                )
            return ApprovalResult("already-dispatched", "train was already dispatched", number, user, permission)
    return ApprovalResult("dispatched", f"approved by @{user} ({via})", number, user, permission, True)


# ---------------------------------------------------------------------------- training result -> issue


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
) -> str:
    """Markdown: the new model, its best validation metrics, the evaluation pictures and the promotion decision."""
    promoted = bool(promotion.get("promoted"))
    lines = [f"### Retraining finished{f' ([run]({run_url}))' if run_url else ''}", "", "| | |", "|---|---|"]
    for key, label in (
        ("model_version", "model version"),
        ("run_id", "MLflow run"),
        ("fingerprint", "training-data fingerprint"),
        ("epochs_run", "epochs"),
        ("device", "device"),
        ("seconds", "seconds"),
    ):
        if key in train:
            lines.append(f"| {label} | `{_fmt(train[key])}` |")
    for key, value in sorted((train.get("best") or {}).items()):
        lines.append(f"| best {key} | {_fmt(value)} |")
    if pictures is not None and (pictures.urls or pictures.error):
        where = f"the [training run]({run_url})'s artifacts" if run_url else "the training run's artifacts"
        lines += ["", *pictures.markdown(where)]
    lines += ["", "### Promotion", "", "| | |", "|---|---|"]
    lines.append(f"| promoted | {'**yes**' if promoted else 'no'} |")
    lines.append(f"| reason | {promotion.get('reason', '–')} |")
    lines.append(f"| champion | {_fmt(promotion.get('champion_before'))} → {_fmt(promotion.get('champion_after'))} |")
    for key, value in sorted((promotion.get("scores") or {}).items()):
        lines.append(f"| {key} | {_fmt(value)} |")
    lines.append("")
    if promoted:
        lines.append("The new champion is deployed by the next deploy run. Closing this drift issue.")
    else:
        lines.append(
            f"The challenger was not promoted, so this issue stays open. The `{DISPATCHED_LABEL}` label is removed: "
            f"approve again (`{APPROVE_COMMAND}`) to retrain after fixing the data or the settings."
        )
    return _clip("\n".join(lines))


def report_training(
    repo: Repository,
    issue_number: int,
    train: dict[str, Any],
    promotion: dict[str, Any],
    run_url: str | None = None,
    images: list[Path] | tuple[Path, ...] = (),
    reports_branch: str = REPORTS_BRANCH,
    run_key: str | None = None,
) -> TrainingReportResult:
    """Comment the metrics on the drift issue; close it if promoted, else reopen it to approvals.

    ``images`` (the evaluation PNGs) go to ``reports_branch`` under ``training/<issue>/<run key>/``."""
    if "promoted" not in promotion:
        raise SentinelError("the promotion file has no 'promoted' field (expected `sentinel promote --json` output)")
    promoted = bool(promotion["promoted"])
    with api_errors(f"issue #{issue_number}"):
        issue = repo.get_issue(issue_number)
        if issue.state != "open":
            return TrainingReportResult("ignored", issue_number, promoted, f"issue #{issue_number} is {issue.state}")
        pictures = None
        if images:
            folder = run_folder("training", str(issue_number), run_key or run_key_from_env())
            pictures = publish(repo, [Path(p) for p in images], folder, reports_branch)
        issue.create_comment(training_comment(train, promotion, run_url, pictures))
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
