"""`sentinel ingest gee` end to end: validate, plan, connect, check the windows, fetch, record.

Outputs follow the scene contract: ``<name>_before.tif`` and ``<name>_after.tif`` (uint16
COGs, Sentinel-2 band names), ``<name>_mask.tif`` (uint8 0/1/255) on one grid, and
``<name>_ingest.json`` with what was asked, the images found per window and the graph hash.
Nothing existing is replaced unless asked, and every file lands atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.aoi import load_aoi
from planet_sentinel.artefacts import Artefact, Upgrader, same_layout
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import refuse_existing
from planet_sentinel.sources.gee import download, graph
from planet_sentinel.sources.gee.config import IngestConfig
from planet_sentinel.sources.gee.plan import Plan, make_plan
from planet_sentinel.workspace import SceneFiles

log = logging.getLogger(__name__)

CACHE_DIR = ".ingest-cache"


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CloudStats(_Part):
    """CLOUDY_PIXEL_PERCENTAGE of the window's images (null without images)."""

    mean: float | None
    min: float | None
    max: float | None


class WindowSummary(_Part):
    """What Earth Engine holds over the AOI in one date window, checked before any download."""

    window: list[str] = Field(description="first and last date (ISO)")
    images: int
    image_ids: list[str]
    dates: list[str]
    cloudy_pixel_percentage: CloudStats
    without_cloud_score_plus: int = Field(description="images with no Cloud Score+ match (QA60 fallback)")
    clear_share: float | None = Field(description="share of the AOI with a clear observation after masking")
    clear_observations_mean: float | None


class IngestRecord(Artefact):
    """``<name>_ingest.json``: what `sentinel ingest gee` was asked, found, fetched and wrote."""

    KIND: ClassVar[str] = "ingest-record"
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel ingest gee"
    UPGRADERS: ClassVar[dict[int, Upgrader]] = {0: same_layout}

    name: str
    requested: dict[str, Any] = Field(description="the ingest config as given (IngestConfig)")
    plan: dict[str, Any] = Field(description="route, grid, tiles and estimates chosen before any request")
    graph_hash: str = Field(description="hash of the serialised Earth Engine expressions")
    windows: dict[str, WindowSummary]
    session: str
    datasets: dict[str, str]
    warnings: list[str]
    download: dict[str, Any] | None = Field(default=None, description="route direct: requests, bytes, retries, reuse")
    export: dict[str, Any] | None = Field(default=None, description="routes gcs and drive: the export tasks")
    next_steps: list[str] | None = Field(default=None, description="route drive: what to do once the exports finish")
    outputs: dict[str, str] = Field(description="role -> file written (empty for the drive route)")
    seconds: float
    timings: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """As written before versions existed: the route-specific keys only on their route."""
        data = super().to_dict()
        for key in ("download", "export", "next_steps"):
            if data[key] is None:
                del data[key]
        return data


def graph_spec(cfg: IngestConfig, plan: Plan, aoi_geojson: dict[str, Any]) -> graph.GraphSpec:
    t = plan.grid.transform
    return graph.GraphSpec(
        before=cfg.before,
        after=cfg.after,
        bands=cfg.bands,
        cloud_mask=cfg.cloud_mask,
        cloud_threshold=cfg.cloud_threshold,
        label=cfg.label,
        treecover_threshold=cfg.treecover_threshold,
        crs=plan.grid.crs.to_string(),
        transform=(t.a, t.b, t.c, t.d, t.e, t.f),
        aoi_geojson=aoi_geojson,
    )


def prepare(cfg: IngestConfig) -> tuple[Plan, graph.GraphSpec]:
    """Load the AOI and make the plan and the graph spec (no network)."""
    from shapely.geometry import mapping

    aoi = load_aoi(cfg.aoi)
    plan = make_plan(aoi, cfg)
    spec = graph_spec(cfg, plan, json.loads(json.dumps(mapping(aoi.geometry))))
    if cfg.label == "hansen":
        plan.warnings.extend(graph.label_warnings(spec))
    return plan, spec


def serialised_graphs(spec: graph.GraphSpec) -> dict[str, Any]:
    """The serialised expressions of every output and of the window metadata query."""
    graphs = {role: graph.serialise(image) for role, image in graph.outputs(spec).items()}
    graphs["metadata"] = graph.serialise(graph.window_metadata(spec))
    return graphs


def dry_run(cfg: IngestConfig) -> dict[str, Any]:
    """The plan and the serialised graphs, built offline: no credentials, no network."""
    from planet_sentinel.sources.gee.auth import require_ee

    plan, spec = prepare(cfg)
    require_ee()
    with graph.offline_session(cfg.project or "offline-dry-run"):
        graphs = serialised_graphs(spec)
    return {
        "dry_run": True,
        "plan": plan.to_dict(),
        "graph_hash": graph.graph_hash(graphs),
        "graph": graphs,
    }


def _window_summary(window: tuple[dt.date, dt.date], info: dict[str, Any]) -> WindowSummary:
    times = info.get("times") or []
    dates = [dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).date().isoformat() for t in times]
    clouds = [c for c in info.get("cloudy_pixel_percentage") or [] if c is not None]
    clear = info.get("clear") or {}
    scored = info.get("has_cloud_score") or []
    return WindowSummary(
        window=[window[0].isoformat(), window[1].isoformat()],
        images=len(info.get("ids") or []),
        image_ids=list(info.get("ids") or []),
        dates=dates,
        cloudy_pixel_percentage=CloudStats(
            mean=round(sum(clouds) / len(clouds), 2) if clouds else None,
            min=min(clouds) if clouds else None,
            max=max(clouds) if clouds else None,
        ),
        without_cloud_score_plus=sum(1 for s in scored if not s),
        clear_share=None if clear.get("clear_share") is None else round(float(clear["clear_share"]), 4),
        clear_observations_mean=None if clear.get("clear_mean") is None else round(float(clear["clear_mean"]), 2),
    )


def check_windows(cfg: IngestConfig, windows: dict[str, WindowSummary]) -> None:
    """Refuse windows with no image, or with nothing clear after masking; say what to change."""
    for role, w in windows.items():
        span = f"{w.window[0]}..{w.window[1]}"
        wider = f"widen the {role} window (e.g. to 2-3 months)"
        if w.images == 0:
            raise SentinelError(
                f"no Sentinel-2 image over the AOI in the {role} window {span}: {wider}, "
                "or check that the AOI lies on land Sentinel-2 covers"
            )
        share = w.clear_share or 0.0
        if share <= cfg.min_clear_share:
            looser = (
                f"loosen the Cloud Score+ threshold (--cloud-threshold {max(0.3, cfg.cloud_threshold - 0.15):.2f}, "
                f"now {cfg.cloud_threshold})"
                if cfg.cloud_mask == "cloudscore"
                else "try the Cloud Score+ mask (cloud_mask: cloudscore)"
            )
            raise SentinelError(
                f"the {role} window {span} has {w.images} image(s) (cloudy pixel percentage mean "
                f"{w.cloudy_pixel_percentage.mean}) but only {share:.1%} of the AOI has a clear observation "
                f"after cloud masking: {wider}, or {looser}"
            )


def _tags(role: str, windows: dict[str, WindowSummary], ghash: str) -> dict[str, Any]:
    tags: dict[str, Any] = {"GENERATOR": "planet_sentinel.sources.gee", "GRAPH_HASH": ghash, "DATE_ROLE": role}
    if role in ("before", "after"):
        tags["WINDOW"] = "/".join(windows[role].window)
        tags["IMAGES"] = windows[role].images
    else:
        tags["VALUES"] = "0 no loss, 1 forest loss (Hansen GFC), 255 unknown (cloud in either composite, no data)"
    return tags


def ingest(
    cfg: IngestConfig,
    overwrite: bool = False,
    api_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> IngestRecord:
    """Run the ingest; return the record that is also written to ``<name>_ingest.json``."""
    from planet_sentinel.sources.gee import auth

    auth.require_ee()
    started = time.perf_counter()
    if not cfg.project:
        raise SentinelError(auth.NO_PROJECT)
    plan, spec = prepare(cfg)
    files = SceneFiles(Path(cfg.out_dir), cfg.name, "ingest")
    targets = {role: files.raster(role) for role in plan.roles}
    if plan.route != "drive":
        refuse_existing(list(targets.values()), overwrite)
    for line in plan.describe():
        log.info(line)
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    session = auth.connect(cfg.project, api_url, cfg.timeout_s)
    log.info(f"connected: {session}")
    timings["connect"] = time.perf_counter() - tick
    images = graph.outputs(spec)
    ghash = graph.graph_hash({role: graph.serialise(image) for role, image in images.items()})
    windows = _checked_windows(cfg, spec, sleep)
    timings["metadata"] = time.perf_counter() - tick - timings["connect"]
    planned = plan.to_dict()
    cache = Path(cfg.out_dir) / CACHE_DIR / f"{cfg.name}-{ghash[:12]}"
    tags = {role: _tags(role, windows, ghash) for role in plan.roles}
    fetched = _fetch(download.FetchJob(images, plan, cfg, cache, targets, tags, sleep), timings)
    record = IngestRecord(
        schema_version=IngestRecord.SCHEMA_VERSION,
        name=cfg.name,
        requested=cfg.model_dump(mode="json"),
        plan=planned,
        graph_hash=ghash,
        windows=windows,
        session=session,
        datasets=graph_datasets(cfg),
        warnings=plan.warnings,
        **fetched,
        outputs={r: str(p) for r, p in targets.items()} if plan.route != "drive" else {},
        seconds=round(time.perf_counter() - started, 3),
        timings={k: round(v, 3) for k, v in timings.items()},
    )
    record.save(files.record, indent=2)
    if cache.exists():
        shutil.rmtree(cache, ignore_errors=True)
        _remove_if_empty(cache.parent)
    return record


def _checked_windows(
    cfg: IngestConfig, spec: graph.GraphSpec, sleep: Callable[[float], None]
) -> dict[str, WindowSummary]:
    """Ask Earth Engine what each date window holds (one request) and refuse unusable windows."""
    from planet_sentinel.sources.gee import auth

    ee = auth.require_ee()
    log.info("checking the windows: images, dates, clouds")
    metadata = graph.window_metadata(spec)
    info = download.with_retries(lambda: ee.data.computeValue(metadata), "the window metadata", cfg, sleep)
    windows = {
        role: _window_summary(cfg.before if role == "before" else cfg.after, info[role]) for role in ("before", "after")
    }
    for role, w in windows.items():
        clear = w.clear_share if w.clear_share is not None else "?"
        log.info(f"{role}: {w.images} image(s) {w.window[0]}..{w.window[1]}, clear share {clear}")
    check_windows(cfg, windows)
    return windows


def _fetch(job: download.FetchJob, timings: dict[str, float]) -> dict[str, Any]:
    """Fetch the outputs by the plan's route; the route's part of the record (download, export,
    next_steps). ``timings`` gets the download phases."""
    from planet_sentinel.sources.gee import auth, export

    plan, cfg = job.plan, job.cfg
    if plan.route == "direct":
        stats, tail = download.fetch_and_mosaic(job)
        timings["download"] = stats.seconds
        timings["mosaic_after_download"] = tail
        return {"download": stats.to_dict()}
    assert plan.export is not None
    if plan.route == "gcs":
        creds, _how = auth.credentials()
        return {
            "export": export.run_gcs(
                job.images, plan, plan.export, cfg, job.cache, creds, job.targets, job.tags, job.sleep
            )
        }
    tasks = export.start_exports(job.images, plan, plan.export, cfg.name)
    return {
        "export": {"tasks": {r: t.id for r, t in tasks.items()}},
        "next_steps": export.drive_instructions(tasks, plan.export, cfg.name, Path(cfg.out_dir)),
    }


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def graph_datasets(cfg: IngestConfig) -> dict[str, str]:
    from planet_sentinel.sources.gee import catalog

    used = {"sentinel2": catalog.S2_COLLECTION}
    if cfg.cloud_mask == "cloudscore":
        used["cloud_score_plus"] = catalog.CLOUD_SCORE_PLUS
    if cfg.label == "hansen":
        used["hansen"] = catalog.HANSEN_GFC
    return used
