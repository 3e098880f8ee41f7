"""A page per output folder: its drift report and plots, its evaluation table and picture, the model
and where it came from (registry version, MLflow run, training-data fingerprint), links to the
workflow run and the issue.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from planet_sentinel.site import html
from planet_sentinel.site.scan import WorkspaceFiles


@dataclass(frozen=True)
class Links:
    """The workflow run and the issue a build belongs to (from GitHub Actions' default variables)."""

    run_url: str | None = None
    issue_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], issue: str | None = None) -> Links:
        """``GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`` (docs.github.com, "Variables
        reference": default environment variables); ``issue``: a number of that repository or a URL."""
        server, repo, run = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        base = f"{server.rstrip('/')}/{repo}" if server and repo else None
        run_url = f"{base}/actions/runs/{run}" if base and run else None
        issue_url = None
        if issue:
            if issue.isdigit():
                issue_url = f"{base}/issues/{issue}" if base else None
            elif issue.startswith(("https://", "http://")):
                issue_url = issue
        return cls(run_url, issue_url)


def slug(folder: Path, root: Path) -> str:
    """The page's folder name: the output folder's path under the workspace, made URL-safe."""
    try:
        rel = folder.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = folder.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", rel).strip("-") or "run"


def page_path(folder: Path, root: Path) -> str:
    """Where the page of an output folder lies in the site (``runs/<slug>/``); its pictures keep
    their file names there, so a picture's address follows from its path alone
    (:class:`planet_sentinel.github.pictures.PagesSite` links them from issues)."""
    return f"runs/{slug(folder, root)}/"


def _model_facts(model: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not model:
        return []
    name = model.get("name") or model.get("uri") or "bundle"
    version = model.get("version")
    pairs = [("model", escape(f"{name} v{version}" if version else str(name)))]
    for label, key in (("loaded as", "uri"), ("MLflow run", "run_id"), ("training data fingerprint", "fingerprint")):
        if model.get(key):
            pairs.append((label, f"<code>{escape(str(model[key]))}</code>"))
    return pairs


def _drift_section(report: Any, folder: Path, out: Path) -> str:
    decision = report.decision
    rows = [(s.name, s.test, s.statistic, s.p_adjusted, s.status) for s in report.signals]
    parts = [
        f'<section class="drift"><h2>Drift: {escape(decision.status)}</h2><p>{escape(decision.summary)}</p>',
        html.table(["signal", "test", "statistic", "adjusted p", "status"], rows),
    ]
    for kind, name in sorted(report.files.items()):
        if name.endswith(".png") and (folder / name).is_file():
            shutil.copy2(folder / name, out / name)
            parts.append(html.image(name, f"drift: {kind}"))
    return "".join(parts) + "</section>"


def _evaluation_section(record: Any, folder: Path, out: Path) -> str:
    rows = [
        (method, s.precision, s.recall, s.f1, s.iou, s.ap, s.threshold) for method, s in sorted(record.overall.items())
    ]
    parts = [
        '<section class="evaluation"><h2>Evaluation</h2>',
        html.table(["method", "precision", "recall", "F1", "IoU", "AP", "threshold"], rows),
    ]
    if (folder / "evaluation.png").is_file():
        shutil.copy2(folder / "evaluation.png", out / "evaluation.png")
        parts.append(html.image("evaluation.png", "evaluation: precision, recall and F1 per method"))
    return "".join(parts) + "</section>"


def _prediction_section(summary: Any) -> str:
    rows = [(summary.name, summary.polygons, summary.loss_area_ha, f"{summary.unknown_share:.1%}", summary.engine)]
    return (
        '<section class="prediction"><h2>Prediction</h2>'
        + html.table(["scene", "polygons", "loss (ha)", "unknown", "engine"], rows)
        + "</section>"
    )


def write_run_pages(found: WorkspaceFiles, root: Path, site: Path, links: Links) -> list[dict[str, str]]:
    """One ``runs/<slug>/index.html`` per output folder; returns the index's entries."""
    by_folder: dict[Path, dict[str, Any]] = {}
    for kind, items in (("prediction", found.predictions), ("evaluation", found.evaluations), ("drift", found.drifts)):
        for item in items:
            by_folder.setdefault(item.path.parent, {})[kind] = item.artefact
    entries = []
    for folder in sorted(by_folder):
        reports, name = by_folder[folder], slug(folder, root)
        out = site / page_path(folder, root)
        out.mkdir(parents=True, exist_ok=True)
        model = _first_model(reports)
        pairs = _model_facts(model)
        pairs += [("workflow run", html.link(links.run_url, links.run_url or "local build"))]
        if links.issue_url:
            pairs.append(("issue", html.link(links.issue_url, links.issue_url)))
        body = [f"<h1>{escape(name)}</h1>", html.facts(pairs)]
        if "prediction" in reports:
            body.append(_prediction_section(reports["prediction"]))
        if "drift" in reports:
            body.append(_drift_section(reports["drift"], folder, out))
        if "evaluation" in reports:
            body.append(_evaluation_section(reports["evaluation"], folder, out))
        (out / "index.html").write_text(html.page(name, "\n".join(body), root="../../"))
        verdict = reports["drift"].decision.status if "drift" in reports else ""
        href = f"{page_path(folder, root)}index.html"
        entries.append({"href": href, "name": name, "kinds": ", ".join(reports), "drift": verdict})
    return entries


def _first_model(reports: Mapping[str, Any]) -> dict[str, Any] | None:
    if "prediction" in reports:
        return dict(reports["prediction"].model.model_dump(mode="json"))
    for kind in ("evaluation", "drift"):
        model = getattr(reports.get(kind), "model", None)
        if model:
            return dict(model)
    return None
