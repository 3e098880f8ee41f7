"""Batch exports for AOIs too large to download directly.

``gcs``: start one ``Export.image.toCloudStorage`` task per output on the plan's exact grid,
poll the operations with progress, then download the written GeoTIFFs (Earth Engine splits
large images into several files) through the Cloud Storage JSON API and mosaic them onto the
grid. ``drive``: start ``Export.image.toDrive`` tasks and say exactly what to do next; Drive has
no API we can rely on from CI.

``STORAGE_EMULATOR_HOST`` (the variable Google's storage clients honour) points the download at
a local emulator.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import Grid, atomic_path, mask_writer, scene_writer
from planet_sentinel.sources.gee.config import ExportTarget, IngestConfig
from planet_sentinel.sources.gee.plan import Plan

log = logging.getLogger(__name__)

STORAGE_ENV = "STORAGE_EMULATOR_HOST"
STORAGE_URL = "https://storage.googleapis.com"
#: Largest side of one exported file; bigger images arrive as several files.
FILE_DIMENSIONS = 16384


def _export_kwargs(plan: Plan, name: str, role: str) -> dict[str, Any]:
    t = plan.grid.transform
    return {
        "description": f"planet_sentinel_{name}_{role}"[:100],
        "crs": plan.grid.crs.to_string(),
        "crsTransform": [t.a, t.b, t.c, t.d, t.e, t.f],
        "dimensions": f"{plan.grid.width}x{plan.grid.height}",
        "fileFormat": "GeoTIFF",
        "formatOptions": {"cloudOptimized": True},
        "fileDimensions": FILE_DIMENSIONS,
        "maxPixels": 10**13,
    }


def object_prefix(target: ExportTarget, name: str, role: str) -> str:
    stem = f"{name}_{role}"
    return f"{target.prefix}/{stem}" if target.prefix else stem


def start_exports(images: dict[str, Any], plan: Plan, target: ExportTarget, name: str) -> dict[str, Any]:
    """Start one export task per output; return the started ee.batch.Task objects by role."""
    import ee

    tasks = {}
    for role, image in images.items():
        kwargs = _export_kwargs(plan, name, role)
        if target.kind == "gcs":
            task = ee.batch.Export.image.toCloudStorage(
                image, bucket=target.bucket, fileNamePrefix=object_prefix(target, name, role), **kwargs
            )
        else:
            task = ee.batch.Export.image.toDrive(image, folder=target.folder, fileNamePrefix=f"{name}_{role}", **kwargs)
        try:
            task.start()
        except ee.EEException as exc:
            raise SentinelError(f"Earth Engine refused the {role} export: {exc}") from exc
        tasks[role] = task
    return tasks


def wait_for(tasks: dict[str, Any], cfg: IngestConfig, sleep: Callable[[float], None]) -> None:
    """Poll the export operations until all succeed; fail with Earth Engine's message otherwise."""
    import ee

    from planet_sentinel.progress import bar

    pending = dict(tasks)
    with bar(len(tasks) * 100, "exports", unit="%") as progress:
        shown = 0
        while pending:
            total = 0.0
            for role, task in list(pending.items()):
                try:
                    op = ee.data.getOperation(task.name)
                except ee.EEException as exc:
                    raise SentinelError(f"cannot poll the {role} export {task.name}: {exc}") from exc
                meta = op.get("metadata", {})
                if op.get("done"):
                    if "error" in op:
                        raise SentinelError(
                            f"the {role} export {task.name} failed: {op['error'].get('message', op['error'])}"
                        )
                    del pending[role]
                    total += 1.0
                else:
                    total += float(meta.get("progress", 0.0))
            current = int(100 * total)  # 0..100 per task
            progress.update(max(0, current - shown))
            shown = max(shown, current)
            if pending:
                sleep(cfg.poll_s)
    log.info(f"exports done: {', '.join(tasks)}")


def _session(credentials: Any) -> Any:
    from google.auth.transport.requests import AuthorizedSession

    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]  # google-auth ships no annotations here


def download_exports(
    tasks: dict[str, Any],
    plan: Plan,
    target: ExportTarget,
    name: str,
    cache: Path,
    credentials: Any,
) -> dict[str, list[Path]]:
    """Download every file the exports wrote, by role, into ``cache`` (files already there are kept)."""
    base = os.environ.get(STORAGE_ENV, STORAGE_URL).rstrip("/")
    if not base.startswith("http"):
        base = f"http://{base}"
    session = _session(credentials)
    files: dict[str, list[Path]] = {}
    for role in tasks:
        prefix = object_prefix(target, name, role)
        names = _list_objects(session, base, target.bucket, prefix)
        tifs = [n for n in names if n.endswith(".tif") and Path(n).name.startswith(Path(prefix).name)]
        if not tifs:
            raise SentinelError(f"the {role} export finished but gs://{target.bucket}/{prefix}*.tif is missing")
        files[role] = []
        for obj in tifs:
            dest = cache / role / Path(obj).name
            if not dest.exists():
                _download(session, base, target.bucket, obj, dest)
            files[role].append(dest)
        log.info(f"downloaded {role}: {len(tifs)} file(s) from gs://{target.bucket}/{prefix}")
    return files


def _list_objects(session: Any, base: str, bucket: str, prefix: str) -> list[str]:
    names: list[str] = []
    params: dict[str, str] = {"prefix": prefix}
    while True:
        resp = session.get(f"{base}/storage/v1/b/{bucket}/o", params=params, timeout=60)
        if resp.status_code != 200:
            raise SentinelError(f"cannot list gs://{bucket}/{prefix}: HTTP {resp.status_code} {resp.text[:200]}")
        body = resp.json()
        names += [item["name"] for item in body.get("items", [])]
        if not body.get("nextPageToken"):
            return names
        params["pageToken"] = body["nextPageToken"]


def _download(session: Any, base: str, bucket: str, obj: str, dest: Path) -> None:
    url = f"{base}/download/storage/v1/b/{bucket}/o/{urllib.parse.quote(obj, safe='')}"
    with session.get(url, params={"alt": "media"}, stream=True, timeout=300) as resp:
        if resp.status_code != 200:
            raise SentinelError(f"cannot download gs://{bucket}/{obj}: HTTP {resp.status_code}")
        with atomic_path(dest) as tmp, tmp.open("wb") as fh:
            for chunk in resp.iter_content(1 << 20):
                fh.write(chunk)


def mosaic_files(role: str, plan: Plan, files: list[Path], target: Path, tags: dict[str, Any] | None = None) -> Path:
    """Place exported files onto the plan's grid by their own transforms (they must align)."""
    import rasterio
    from rasterio.windows import Window

    grid = plan.grid
    writer = (
        mask_writer(target, grid, tags=tags) if role == "mask" else scene_writer(target, grid, plan.bands, tags=tags)
    )
    with writer:
        for path in files:
            with rasterio.open(path) as ds:
                part = Grid.of(ds)
                col, row = ~grid.transform * (part.transform.c, part.transform.f)
                if part.crs != grid.crs or part.resolution != grid.resolution or abs(col - round(col)) > 1e-6:
                    raise SentinelError(f"{path.name}: exported file is not on the planned grid ({part.describe()})")
                col, row = round(col), round(row)
                if col < 0 or row < 0 or col + part.width > grid.width or row + part.height > grid.height:
                    raise SentinelError(f"{path.name}: exported file extends past the planned grid")
                writer.write(ds.read(), window=Window(col, row, part.width, part.height))
    return target


def drive_instructions(tasks: dict[str, Any], target: ExportTarget, name: str, out_dir: Path) -> list[str]:
    """What the user does once the Drive exports finish."""
    files = " ".join(f"{name}_{role}.tif" for role in tasks)
    lines = [
        f"started {len(tasks)} export task(s) to {target.describe()}: "
        + ", ".join(f"{role}={task.id}" for role, task in tasks.items()),
        "next steps:",
        "  1. watch them at https://code.earthengine.google.com/tasks (or `earthengine task list`);"
        " they take minutes to hours",
        f"  2. download {files} from the Drive folder {target.folder!r} into {out_dir}/"
        f" (Earth Engine splits images wider than {FILE_DIMENSIONS} px into {name}_<role>-<row>-<col>.tif parts:"
        f" merge them with `gdal_merge.py -o {name}_<role>.tif <parts>`)",
        f"  3. check them: sentinel label check --before {out_dir}/{name}_before.tif --after {out_dir}/{name}_after.tif"
        + (f" --mask {out_dir}/{name}_mask.tif" if "mask" in tasks else ""),
        f"  4. chip them: sentinel chip --before {out_dir}/{name}_before.tif --after {out_dir}/{name}_after.tif"
        + (f" --mask {out_dir}/{name}_mask.tif" if "mask" in tasks else "")
        + f" --out-dir data/chips/{name}",
        "  (or skip all this: --export gcs:BUCKET/PREFIX downloads the results automatically)",
    ]
    return lines


def run_gcs(
    images: dict[str, Any],
    plan: Plan,
    target: ExportTarget,
    cfg: IngestConfig,
    cache: Path,
    credentials: Any,
    outputs: dict[str, Path],
    tags: dict[str, dict[str, Any]],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Export to Cloud Storage, wait, download and mosaic; return the task ids and file counts."""
    tasks = start_exports(images, plan, target, cfg.name)
    log.info(f"started {len(tasks)} export(s) to {target.describe()}: " + ", ".join(t.id for t in tasks.values()))
    wait_for(tasks, cfg, sleep)
    files = download_exports(tasks, plan, target, cfg.name, cache, credentials)
    for role, paths in files.items():
        mosaic_files(role, plan, paths, outputs[role], tags.get(role))
    return {"tasks": {r: t.id for r, t in tasks.items()}, "files": {r: len(p) for r, p in files.items()}}
