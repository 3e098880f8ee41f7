"""`sentinel region tiles`: one matrix job's tiles, each ingested, predicted and turned into alerts.

For every tile of the batch: its read area (cell + margin, :attr:`PlanTile.read_bounds`) becomes an
AOI in lon/lat (:func:`write_tile_aoi`) that ``sources.gee.ingest`` fetches on the tile's own UTM
grid (``IngestConfig.crs``, so a tile cut at a zone border keeps its zone), the model predicts it,
and ``alerts.stage.run_alerts`` writes ``<tile>_alerts.geojson`` (and the probability and loss
COGs the STAC catalogue lists) into ``<out>/<tile>/``. A tile that fails is tried again
(``retries`` times, one by default) and, on its last failure, leaves ``<tile>_failed.txt`` with the
reason, which :mod:`.tiles` reports as failed. The other tiles of the batch go on. The retry is
here, in one loop, so the workflow holds no copy-pasted retry steps.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.region.plan import PlanTile, RegionPlan
from planet_sentinel.region.tiles import ALERTS_SUFFIX, FAILED_SUFFIX

if TYPE_CHECKING:
    from planet_sentinel.predict.engines import Model

log = logging.getLogger(__name__)

#: Points per edge of a tile's AOI ring: the straight UTM edges stay straight to well under a pixel
#: when the ingest projects the lon/lat ring back, so its grid is exactly the read area.
_EDGE_POINTS = 32


@dataclass(frozen=True)
class TileRequest:
    """What every tile of the batch shares: where outputs go, which period and model, how often to try."""

    out_dir: Path
    scenes_dir: Path
    after: tuple[str, str]
    before: tuple[str, str] | None = None
    model: str = "models:/planet-sentinel@champion"
    retries: int = 1
    ingest: dict[str, Any] = field(default_factory=dict)


@dataclass
class TileRun:
    """What became of one tile: ok (its alerts file) or failed (its reason file), after how many attempts."""

    tile: str
    status: str
    attempts: int
    path: Path
    alerts: int = 0
    reason: str | None = None
    seconds: float = 0.0


def write_tile_aoi(tile: PlanTile, path: Path) -> Path:
    """The tile's read area as a GeoJSON polygon in lon/lat (densified so it projects back exactly)."""
    import shapely
    from shapely.geometry import box, mapping

    from planet_sentinel.raster import write_text_atomic
    from planet_sentinel.region.geometry import reproject

    left, bottom, right, top = tile.read_bounds
    ring = shapely.segmentize(box(left, bottom, right, top), max((right - left), (top - bottom)) / _EDGE_POINTS)
    lonlat = reproject(ring, tile.crs, "EPSG:4326")
    props = {"tile": tile.id, "crs": tile.crs, "read_bounds": list(tile.read_bounds)}
    path.parent.mkdir(parents=True, exist_ok=True)
    feature = {"type": "Feature", "properties": props, "geometry": mapping(lonlat)}
    write_text_atomic(path, json.dumps(feature) + "\n")
    return path


def run_tile(tile: PlanTile, request: TileRequest, predictor: Model) -> int:
    """Ingest, predict and alert one tile into ``<out>/<tile>/``; the number of alerts."""
    from planet_sentinel.alerts.stage import AlertsRequest, run_alerts
    from planet_sentinel.config import resolve
    from planet_sentinel.predict import SECTION, PredictConfig, predict_scene
    from planet_sentinel.predict.scene import output_paths
    from planet_sentinel.sources.gee import IngestConfig
    from planet_sentinel.sources.gee import ingest as gee_ingest

    folder, scenes = request.out_dir / tile.id, request.scenes_dir / tile.id
    aoi = write_tile_aoi(tile, scenes / f"{tile.id}_aoi.geojson")
    windows: dict[str, Any] = {"after": list(request.after)}
    if request.before:
        windows["before"] = list(request.before)
    overrides = {"label": "none", **request.ingest, **windows}
    tile_flags = {"aoi": str(aoi), "name": tile.id, "crs": tile.crs, "out_dir": str(scenes)}
    config = resolve(IngestConfig, "ingest", {**overrides, **tile_flags})
    ingested = gee_ingest(config, overwrite=True).outputs
    predict_scene(
        predictor,
        ingested["before"],
        ingested["after"],
        folder,
        name=tile.id,
        config=resolve(PredictConfig, SECTION, {}),
        overwrite=True,
        quicklook=False,
    )
    summary = output_paths(tile.id, folder)["summary_json"]
    return len(run_alerts(AlertsRequest(summary=summary, out_dir=folder, tile_id=tile.id, overwrite=True)).alerts)


def run_with_retries(tile: PlanTile, request: TileRequest, attempt: Callable[[], int]) -> TileRun:
    """``attempt`` up to ``1 + retries`` times; the last failure's reason goes to ``<tile>_failed.txt``."""
    from planet_sentinel.raster import write_text_atomic

    folder = request.out_dir / tile.id
    failed, alerts_path = folder / f"{tile.id}{FAILED_SUFFIX}", folder / f"{tile.id}{ALERTS_SUFFIX}"
    start, reasons = time.perf_counter(), []
    for number in range(1, request.retries + 2):
        try:
            count = attempt()
        except Exception as exc:  # noqa: BLE001 - any failure of a tile is recorded, the batch goes on
            reasons.append(f"attempt {number}: {type(exc).__name__}: {exc}".strip())
            log.warning("tile %s: %s", tile.id, reasons[-1])
            continue
        failed.unlink(missing_ok=True)
        return TileRun(tile.id, "ok", number, alerts_path, count, seconds=round(time.perf_counter() - start, 2))
    alerts_path.unlink(missing_ok=True)  # never a stale alerts file beside the failure
    reason = "; ".join(reasons)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(failed, reason + "\n")
    return TileRun(
        tile.id, "failed", len(reasons), failed, reason=reason, seconds=round(time.perf_counter() - start, 2)
    )


def run_tiles(plan_path: str | Path, tile_ids: list[str], request: TileRequest) -> list[TileRun]:
    """Every tile of ``tile_ids`` (a matrix job's batch) through :func:`run_with_retries`."""
    from planet_sentinel.config import resolve
    from planet_sentinel.predict import SECTION, PredictConfig
    from planet_sentinel.predict.loading import load_predictor

    plan = RegionPlan.load(plan_path)
    tiles = [plan.tile(t) for t in tile_ids]  # an unknown id fails here, before any download
    if not tiles:
        raise SentinelError("no tiles given (--tiles): the matrix job's batch is empty")
    if request.retries < 0:
        raise SentinelError(f"retries must be 0 or more, got {request.retries}")
    config = resolve(PredictConfig, SECTION, {})
    try:
        predictor = load_predictor(request.model, config.engine, config.device)
    except Exception as exc:  # noqa: BLE001 - without a model every tile fails, each saying why
        reason = f"cannot load the model {request.model}: {type(exc).__name__}: {exc}"
        return [run_with_retries(t, _once(request), _raise(reason)) for t in tiles]
    runs = [run_with_retries(tile, request, functools.partial(run_tile, tile, request, predictor)) for tile in tiles]
    shutil.rmtree(request.scenes_dir, ignore_errors=True)  # scenes are inputs: only the outputs travel on
    return runs


def _once(request: TileRequest) -> TileRequest:
    from dataclasses import replace

    return replace(request, retries=0)


def _raise(reason: str) -> Callable[[], int]:
    def fail() -> int:
        raise SentinelError(reason)

    return fail


def runs_summary(runs: list[TileRun]) -> dict[str, Any]:
    """What `sentinel region tiles` prints."""
    failed = [r for r in runs if r.status != "ok"]
    return {
        "tiles": len(runs),
        "ok": len(runs) - len(failed),
        "failed": len(failed),
        "recovered": sum(r.status == "ok" and r.attempts > 1 for r in runs),  # ok on a retry
        "alerts": sum(r.alerts for r in runs),
        "failed_tiles": [f"{r.tile}: {r.reason}" for r in failed],
        "runs": [{"tile": r.tile, "status": r.status, "attempts": r.attempts, "seconds": r.seconds} for r in runs],
    }
