"""Drift episodes: what an issue needs from ``sentinel monitor``'s output, and the hidden marker
that ties one open issue to one episode (baseline fingerprint + the groups of signals that drifted),
so the daily monitor updates that issue instead of opening another."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from planet_sentinel.errors import SentinelError
from planet_sentinel.github.issue_labels import DRIFT_LABEL
from planet_sentinel.github.markers import HiddenMarker

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

DRIFT_MARKER = HiddenMarker("drift-episode")
MARKER_RE = DRIFT_MARKER.pattern


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
    """Read drift.json (and drift.md, the plots' names) from a monitor output directory or the JSON file.

    The JSON is checked by the drift report's artefact model (``drift.types.DriftReport.load``:
    schema, version, every field), so a file of another kind or version is refused saying what to re-run.
    """
    from planet_sentinel.drift.types import DriftReport as DriftReportFile

    p = Path(path)
    json_path = p / "drift.json" if p.is_dir() else p
    if not json_path.is_file():
        raise SentinelError(f"{json_path}: no such file (run `sentinel monitor --out-dir {p}` first)")
    report = DriftReportFile.load(json_path)
    md_path = json_path.with_name("drift.md")
    markdown = md_path.read_text() if md_path.is_file() else report.decision.summary
    plots = [
        report.files[k] for k in ("bands_png", "features_png") if (json_path.parent / report.files.get(k, "")).is_file()
    ]
    return DriftReport(report.to_dict(), markdown, plots)


class EpisodeInfo(TypedDict, total=False):
    """What the marker of an episode's issue holds (what :mod:`~planet_sentinel.github.drift_issue`
    writes). A marker read back is only checked to be a JSON object (people can edit issue bodies,
    and older issues may lack keys), so its readers stay defensive."""

    fingerprint: str
    baseline: str
    groups: list[str]
    first_seen: str
    first_run: str | None
    last_seen: str
    last_run: str | None
    runs: int


def marker(info: EpisodeInfo) -> str:
    """The hidden line of an issue body that carries the episode (read back by :func:`episode_info`)."""
    return DRIFT_MARKER.write(info)


def episode_info(body: str | None) -> EpisodeInfo | None:
    """The episode marker of an issue body, or None if it is not a drift issue of ours."""
    info = DRIFT_MARKER.read(body)
    return cast(EpisodeInfo, info) if info is not None else None


def find_episode_issue(repo: Repository, fingerprint: str) -> Issue | None:
    """The open drift issue of this episode (the oldest if, through a race, there are several)."""
    found = [
        issue
        for issue in repo.get_issues(state="open", labels=[DRIFT_LABEL])
        if (episode_info(issue.body) or {}).get("fingerprint") == fingerprint
    ]
    return min(found, key=lambda i: i.number) if found else None
