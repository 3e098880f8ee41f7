"""`sentinel region merge`: the tiles' alerts joined into the region's, with a summary of every tile.

Reads the plan and each tile's ``<tile>_alerts.geojson`` (:mod:`.tiles`), keeps of each tile its
core and dissolves the alerts cut at tile borders (:mod:`.dissolve`), then writes the region's
alerts (GeoJSON, FlatGeobuf, CSV) and :class:`RegionSummary`: per tile ``ok`` / ``failed`` /
``missing`` with the reason, totals (alerts, hectares) and the largest alerts. A failed or missing tile is listed, and
``complete`` is false, so a partial region is never mistaken for a whole one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.alerts.model import AlertFeature
from planet_sentinel.artefacts import Artefact
from planet_sentinel.errors import SentinelError
from planet_sentinel.region.dissolve import Piece, clip_pieces, common_crs, dissolve, group_pieces
from planet_sentinel.region.plan import RegionPlan
from planet_sentinel.region.tiles import TileState, read_tiles

#: Largest alerts listed in the summary (and so in the region's issue).
LARGEST = 10


class TileStatus(BaseModel):
    """What became of one tile."""

    model_config = ConfigDict(extra="forbid")

    tile: str
    status: TileState
    reason: str | None = Field(None, description="Why the tile is failed or missing.")
    alerts: int = Field(0, description="Alerts in the tile's file (before clipping to its core).")


class LargestAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    area_ha: float
    lon: float
    lat: float
    confidence: str
    tile_id: str


class RegionTotals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tiles: int
    ok: int
    failed: int = Field(description="Tiles failed or missing.")
    alerts: int
    area_ha: float
    high_confidence: int
    dissolved: int = Field(description="Alerts joined from pieces of several tiles.")


class RegionSummary(Artefact):
    """The merge of a region's tiles: per-tile status, totals and the largest alerts."""

    KIND: ClassVar[str] = "region-summary"
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel region merge"

    plan: str
    complete: bool = Field(description="Every tile of the plan is ok.")
    totals: RegionTotals
    tiles: list[TileStatus]
    largest: list[LargestAlert]
    outputs: dict[str, str]
    seconds: float


def merge_region(
    plan_path: str | Path, tiles_dir: str | Path, out_dir: str | Path, name: str = "region"
) -> RegionSummary:
    """Merge the tiles of ``plan_path`` found under ``tiles_dir`` into ``out_dir`` (see the module docstring)."""
    start = time.perf_counter()
    plan = RegionPlan.load(plan_path)
    tiles_dir, out_dir = Path(tiles_dir), Path(out_dir)
    if not tiles_dir.is_dir():
        raise SentinelError(f"{tiles_dir}: no such folder of tile outputs")
    outputs = read_tiles([t.id for t in plan.tiles], tiles_dir)
    alerts, dissolved = merge_alerts(plan, {o.tile: o.alerts.features for o in outputs if o.alerts is not None})
    paths = write_region_alerts(alerts, out_dir, name)
    statuses = [
        TileStatus(tile=o.tile, status=o.status, reason=o.reason, alerts=len(o.alerts.features) if o.alerts else 0)
        for o in outputs
    ]
    ok = sum(s.status == "ok" for s in statuses)
    summary = RegionSummary(
        schema_version=RegionSummary.SCHEMA_VERSION,
        plan=str(plan_path),
        complete=ok == len(statuses),
        totals=RegionTotals(
            tiles=len(statuses),
            ok=ok,
            failed=len(statuses) - ok,
            alerts=len(alerts),
            area_ha=round(sum(a.properties.area_ha for a in alerts), 4),
            high_confidence=sum(a.properties.confidence == "high" for a in alerts),
            dissolved=dissolved,
        ),
        tiles=statuses,
        largest=[_largest(a) for a in alerts[:LARGEST]],
        outputs={k: str(v) for k, v in paths.items()},
        seconds=round(time.perf_counter() - start, 3),
    )
    summary_path = out_dir / f"{name}_summary.json"
    summary.outputs["summary"] = str(summary_path)
    summary.save(summary_path, indent=2)
    return summary


def merge_alerts(plan: RegionPlan, alerts_by_tile: dict[str, list[AlertFeature]]) -> tuple[list[AlertFeature], int]:
    """The region's alerts (largest first) from each tile's, and how many were dissolved from several tiles."""
    crs = common_crs(plan.tiles)
    pieces: list[Piece] = []
    for tile in plan.tiles:
        pieces.extend(clip_pieces(tile, alerts_by_tile.get(tile.id, []), crs))
    groups = group_pieces(pieces, plan.config.resolution_m)
    merged = [dissolve(group, crs) for group in groups]
    merged.sort(key=lambda a: (-a.properties.area_ha, a.id))
    return merged, sum(len({p.tile.id for p in g}) > 1 for g in groups)


def write_region_alerts(alerts: list[AlertFeature], out_dir: Path, name: str) -> dict[str, Path]:
    """The region's alerts as GeoJSON, FlatGeobuf and CSV (the alerts' own writers, each atomic)."""
    from planet_sentinel.alerts.writers import alert_paths, write_alerts

    out_dir.mkdir(parents=True, exist_ok=True)
    return write_alerts(alert_paths(name, out_dir), alerts, name)


def _largest(alert: AlertFeature) -> LargestAlert:
    p = alert.properties
    return LargestAlert(id=p.id, area_ha=p.area_ha, lon=p.lon, lat=p.lat, confidence=p.confidence, tile_id=p.tile_id)


def summary_line(summary: RegionSummary) -> dict[str, Any]:
    """What `sentinel region merge` prints."""
    t = summary.totals
    failed = [f"{s.tile} ({s.status}: {s.reason})" for s in summary.tiles if s.status != "ok"]
    return {
        "complete": summary.complete,
        "tiles": t.tiles,
        "ok": t.ok,
        "failed": t.failed,
        "alerts": t.alerts,
        "area_ha": t.area_ha,
        "dissolved": t.dissolved,
        "failed_tiles": failed,
        **summary.outputs,
    }
