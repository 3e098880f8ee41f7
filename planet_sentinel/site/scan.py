"""Which artefacts a workspace holds: found by their file names, read through their typed models.

Why by name: every stage names its files one way (``<name>_prediction.json``, ``drift.json``,
``evaluation.json``, ``<name>_alerts.geojson``, ``alerts/alerts.geojson``, ``<name>_summary.json``,
``<stem>_check.geojson``), so the site finds them in any folder layout the workflows download.
A file that does not read as its artefact is skipped with a warning, never fatal: a site of the
rest is better than none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from planet_sentinel.artefacts import Artefact, ArtefactError

log = logging.getLogger(__name__)
A = TypeVar("A", bound=Artefact)


@dataclass(frozen=True)
class Found:
    """One artefact and the file it was read from."""

    path: Path
    artefact: Any


@dataclass
class WorkspaceFiles:
    """Everything :func:`scan` found, by kind."""

    predictions: list[Found] = field(default_factory=list)
    alert_files: list[Found] = field(default_factory=list)
    stores: list[Found] = field(default_factory=list)
    regions: list[Found] = field(default_factory=list)
    evaluations: list[Found] = field(default_factory=list)
    drifts: list[Found] = field(default_factory=list)
    plot_checks: list[Found] = field(default_factory=list)

    def folders(self) -> list[Path]:
        """Output folders holding a report (one run page each), in path order."""
        kinds = (self.predictions, self.evaluations, self.drifts)
        return sorted({found.path.parent for kind in kinds for found in kind})


def _files(roots: Iterable[Path], pattern: str) -> list[Path]:
    seen: dict[Path, None] = {}
    for root in roots:
        if root.is_dir():
            for path in sorted(root.rglob(pattern)):
                if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
                    seen.setdefault(path.resolve(), None)
    return list(seen)


def _load(model: type[A], paths: Iterable[Path]) -> list[Found]:
    found = []
    for path in paths:
        try:
            found.append(Found(path, model.load(path)))
        except (ArtefactError, OSError, ValueError) as exc:
            log.warning(f"site: skipping {path}: not a {model.KIND} ({str(exc).splitlines()[0]})")
    return found


def _is_kind(path: Path, key: str) -> bool:
    """Cheap pre-check before a typed load, so unrelated files named alike are passed over quietly."""
    try:
        return key in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


def scan(roots: Iterable[Path]) -> WorkspaceFiles:
    """Find every artefact the site shows under ``roots`` (hidden folders skipped)."""
    from planet_sentinel.alerts.model import AlertCollection
    from planet_sentinel.alerts.store import STORE_FILE, AlertStore
    from planet_sentinel.drift.types import DriftReport
    from planet_sentinel.evaluation_report import EvaluationRecord
    from planet_sentinel.predict.summary import PredictionSummary
    from planet_sentinel.region.merge import RegionSummary

    roots = list(roots)
    stores = [p for p in _files(roots, STORE_FILE) if p.parent.name == "alerts"]
    alert_files = [p for p in _files(roots, "*_alerts.geojson")]
    summaries = [p for p in _files(roots, "*_summary.json") if _is_kind(p, "totals")]
    return WorkspaceFiles(
        predictions=_load(PredictionSummary, _files(roots, "*_prediction.json")),
        alert_files=_load(AlertCollection, alert_files),
        stores=_load(AlertStore, stores),
        regions=_load(RegionSummary, summaries),
        evaluations=_load(EvaluationRecord, _files(roots, "evaluation.json")),
        drifts=_load(DriftReport, _files(roots, "drift.json")),
        plot_checks=[Found(p, json.loads(p.read_text())) for p in _files(roots, "*_check.geojson")],
    )
