"""The tiles' outputs in a folder (as `actions/download-artifact` lays them out): found, checked, read.

Each tile of a plan is looked for as ``<tile>_alerts.geojson`` anywhere under the folder; a tile
job that failed may leave ``<tile>_failed.txt`` with its reason instead. A tile is ``ok`` (its
alerts read as an :class:`~planet_sentinel.alerts.model.AlertCollection`), ``failed`` (the reason
file, a file that cannot be read, or two different files for one tile) or ``missing`` (nothing at
all): never silently absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from planet_sentinel.alerts.model import AlertCollection
from planet_sentinel.artefacts import ArtefactError

ALERTS_SUFFIX = "_alerts.geojson"
FAILED_SUFFIX = "_failed.txt"
TileState = Literal["ok", "failed", "missing"]


@dataclass(frozen=True)
class TileOutput:
    """What one tile left in the folder."""

    tile: str
    status: TileState
    reason: str | None = None
    alerts: AlertCollection | None = None
    path: Path | None = None


def find_outputs(tiles_dir: Path, suffix: str) -> dict[str, list[Path]]:
    """Files ``<tile><suffix>`` under ``tiles_dir`` (any depth), by tile id."""
    found: dict[str, list[Path]] = {}
    for path in sorted(tiles_dir.rglob(f"*{suffix}")):
        if path.is_file():
            found.setdefault(path.name[: -len(suffix)], []).append(path)
    return found


def read_tiles(tile_ids: list[str], tiles_dir: Path) -> list[TileOutput]:
    """The output of every planned tile, in plan order."""
    alerts, failed = find_outputs(tiles_dir, ALERTS_SUFFIX), find_outputs(tiles_dir, FAILED_SUFFIX)
    return [_read_tile(tile, alerts.get(tile, []), failed.get(tile, []), tiles_dir) for tile in tile_ids]


def _read_tile(tile: str, alerts: list[Path], failed: list[Path], tiles_dir: Path) -> TileOutput:
    if failed:
        text = failed[0].read_text(encoding="utf-8", errors="replace").strip()
        return TileOutput(tile, "failed", f"the tile job failed: {text or '(no reason given)'}", path=failed[0])
    if not alerts:
        return TileOutput(tile, "missing", f"no {tile}{ALERTS_SUFFIX} under {tiles_dir}")
    if len({p.read_bytes() for p in alerts}) > 1:
        where = ", ".join(str(p) for p in alerts)
        return TileOutput(tile, "failed", f"{len(alerts)} different alert files for one tile: {where}")
    try:
        collection = AlertCollection.load(alerts[0])
    except ArtefactError as exc:
        return TileOutput(tile, "failed", str(exc), path=alerts[0])
    return TileOutput(tile, "ok", None, collection, alerts[0])
