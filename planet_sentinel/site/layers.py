"""The map's data: alerts, the composites, the region's tiles and the plots, as plain JSON for the page.

Each alert is shown once: the store's copy (it carries ``confirmed``) wins over a region's merged
alerts, which win over a single prediction's, and a tile's own ``<tile>_alerts.geojson`` is left
out when a region summary merged that tile (its alerts are in the region's, clipped to its core).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planet_sentinel.site.imagery import MAX_SIDE, composite_overlay
from planet_sentinel.site.scan import Found, WorkspaceFiles

log = logging.getLogger(__name__)


@dataclass
class MapData:
    """What ``data/map.js`` hands the page (``window.SENTINEL_MAP``)."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    overlays: list[dict[str, Any]] = field(default_factory=list)
    tiles: list[dict[str, Any]] = field(default_factory=list)
    plots: list[dict[str, Any]] = field(default_factory=list)
    issue_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "alerts": {"type": "FeatureCollection", "features": self.alerts},
            "overlays": self.overlays,
            "tiles": {"type": "FeatureCollection", "features": self.tiles},
            "plots": {"type": "FeatureCollection", "features": self.plots},
            "issue_url": self.issue_url,
        }


def _merged_tiles(found: WorkspaceFiles) -> set[str]:
    return {tile.tile for region in found.regions for tile in region.artefact.tiles}


def collect_alerts(found: WorkspaceFiles) -> list[dict[str, Any]]:
    """Every alert once, by id (see the module docstring for which copy wins)."""
    merged_tiles = _merged_tiles(found)
    region_files = {Path(p).resolve() for r in found.regions for k, p in r.artefact.outputs.items() if k == "geojson"}
    ranked: list[tuple[int, Found]] = [(0, store) for store in found.stores]
    for item in found.alert_files:
        if item.path.resolve() in region_files:
            ranked.append((1, item))
        elif item.path.name.removesuffix("_alerts.geojson") not in merged_tiles:
            ranked.append((2, item))
    alerts: dict[str, dict[str, Any]] = {}
    for _, item in sorted(ranked, key=lambda pair: pair[0]):
        for feature in item.artefact.features:
            alerts.setdefault(feature.id, feature.model_dump(mode="json"))
    return list(alerts.values())


def collect_tiles(found: WorkspaceFiles, root: Path) -> list[dict[str, Any]]:
    """The cores of each merged region's tiles, with the merge's status (ok / failed / missing)."""
    from planet_sentinel.artefacts import ArtefactError
    from planet_sentinel.region.plan import RegionPlan

    features = []
    for region in found.regions:
        summary = region.artefact
        candidates = [Path(summary.plan), root / summary.plan, region.path.parent / Path(summary.plan).name]
        plan_path = next((p for p in candidates if p.is_file()), None)
        if plan_path is None:
            log.warning(f"site: {region.path}: its plan {summary.plan} is not in the workspace; tiles not drawn")
            continue
        try:
            plan = RegionPlan.load(plan_path)
        except ArtefactError as exc:
            log.warning(f"site: {plan_path}: {exc}")
            continue
        status = {t.tile: t for t in summary.tiles}
        for tile in plan.tiles:
            state = status.get(tile.id)
            props = {"id": tile.id, "status": state.status if state else "missing"}
            props |= {"reason": state.reason, "alerts": state.alerts} if state else {}
            features.append({"type": "Feature", "id": tile.id, "geometry": tile.core, "properties": props})
    return features


def collect_plots(found: WorkspaceFiles) -> list[dict[str, Any]]:
    """The checked plots with their verdict (``<stem>_check.geojson``)."""
    plots = []
    for check in found.plot_checks:
        for feature in check.artefact.get("features", []):
            if feature.get("geometry"):
                plots.append(feature)
    return plots


def collect_overlays(found: WorkspaceFiles, site: Path, root: Path, max_side: int = MAX_SIDE) -> list[dict[str, Any]]:
    """Before / after true-colour quicklooks of every prediction, warped to WGS 84 (``img/``)."""
    overlays = []
    for index, item in enumerate(found.predictions):
        summary = item.artefact
        for part in ("before", "after"):
            scene = next(
                (p for p in (Path(getattr(summary, part)), root / getattr(summary, part)) if p.is_file()), None
            )
            if scene is None:
                log.warning(f"site: {item.path}: {part} scene {getattr(summary, part)} not found; no overlay")
                continue
            overlay = composite_overlay(scene, site / "img" / f"{index:02d}_{summary.name}_{part}.webp", max_side)
            overlays.append(
                {
                    "name": f"{summary.name}: {part} (true colour)",
                    "part": part,
                    "url": overlay.file.relative_to(site).as_posix(),
                    "bounds": [[overlay.bounds[0], overlay.bounds[1]], [overlay.bounds[2], overlay.bounds[3]]],
                    "size": [overlay.width, overlay.height],
                }
            )
    return overlays


def write_map_data(data: MapData, target: Path) -> Path:
    """``data/map.js``: a script, not JSON, so the page also opens from ``file://`` (no fetch)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(data.to_json(), separators=(",", ":")).replace("</", "<\\/")
    target.write_text(f"window.SENTINEL_MAP = {payload};\n")
    return target
