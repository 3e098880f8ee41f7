"""Batch exports of the Earth Engine emulator: ``projects.image.export`` starts an operation that
finishes after ``Faults.export_polls`` polls of ``projects.operations.get``. Cloud Storage
destinations are written to the emulator's in-memory buckets (served through the Cloud Storage
JSON API, :func:`list_objects`), split into row bands as Earth Engine splits big images; Drive
destinations are only recorded.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tools.emulators.ee_errors import EmulatorError
from tools.emulators.ee_graph import calls, constants, expand, role_of

if TYPE_CHECKING:
    from tools.emulators.earthengine import EarthEngineEmulator

_AFFINE_KEYS = ("scaleX", "shearX", "translateX", "shearY", "scaleY", "translateY")
Grid = tuple[float, float, int, int]  # x0, y0, width, height


@dataclass
class Export:
    """An export task: its public ``Operation`` JSON and what the emulator needs to finish it."""

    operation: dict[str, Any]
    role: str
    tree: Any
    grid: Grid
    options: dict[str, Any]
    polls: int = 0


def export_grid(emu: EarthEngineEmulator, tree: Any) -> Grid:
    """The grid ee.batch folds into an export's expression: reproject + clip to a pixel rectangle."""
    reprojects = calls(tree, "Image.reproject")
    rectangles = calls(tree, "GeometryConstructors.Rectangle")
    if not reprojects or not rectangles:
        raise EmulatorError(400, "emulator: exports need crs, crsTransform and dimensions")
    outer = reprojects[0]  # pre-order: the export's own reproject wraps the graph's
    crs = next((c for c in constants(outer["crs"]) if isinstance(c, str)), None)
    t = outer["crsTransform"]["constantValue"]
    c0, r0, width, height = (int(v) for v in constants(rectangles[0]["coordinates"])[0])
    body = {
        "grid": {
            "crsCode": crs,
            "dimensions": {"width": width - c0, "height": height - r0},
            "affineTransform": dict(zip(_AFFINE_KEYS, t, strict=True)),
        }
    }
    return emu.grid_args(body)


def export_image(emu: EarthEngineEmulator, project: str, body: dict[str, Any]) -> dict[str, Any]:
    """Start an export (``projects.image.export``); returns its ``Operation``."""
    tree = expand(body["expression"])
    role = role_of(tree)
    if role is None:
        raise EmulatorError(400, "emulator: expression has no planet_sentinel:role")
    opts = body.get("fileExportOptions") or {}
    grid = export_grid(emu, tree)
    emu.band_indexes(role, None, tree)
    name = f"projects/{project}/operations/{uuid.uuid4().hex.upper()[:24]}"
    now = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    metadata = {
        "@type": "type.googleapis.com/google.earthengine.v1.OperationMetadata",
        "state": "PENDING",
        "description": body.get("description", ""),
        "createTime": now,
        "updateTime": now,
        "type": "EXPORT_IMAGE",
        "progress": 0.0,
    }
    export = Export({"name": name, "metadata": metadata, "done": False}, role, tree, grid, opts)
    with emu.lock:
        emu.operations[name] = export
        if "driveDestination" in opts:
            emu.drive.append({"operation": name, "role": role, **opts["driveDestination"]})
    return export.operation


def get_operation(emu: EarthEngineEmulator, name: str) -> dict[str, Any]:
    """One poll (``projects.operations.get``): the operation, finished at the last poll."""
    with emu.lock:
        export = emu.operations.get(name)
        if export is None:
            raise EmulatorError(404, f"Operation {name} not found.", "NOT_FOUND")
        export.polls += 1
        op = export.operation
        if not op["done"]:
            if export.polls >= emu.faults.export_polls:
                _finish(emu, export)
            else:
                op["metadata"]["state"] = "RUNNING"
                op["metadata"]["progress"] = export.polls / emu.faults.export_polls
        return op


def _finish(emu: EarthEngineEmulator, export: Export) -> None:
    op, meta = export.operation, export.operation["metadata"]
    x0, y0, width, height = export.grid
    gcs = export.options.get("cloudStorageDestination")
    band_idx = emu.band_indexes(export.role, None, export.tree)
    try:
        data = emu.pixels(export.role, export.tree, export.grid, band_idx)
    except EmulatorError as err:  # the task fails, as a batch task does, with the reason
        meta.update(state="FAILED", progress=1.0)
        op.update(done=True, error={"code": 3, "message": err.message})
        return
    if gcs:
        parts = max(1, min(emu.faults.export_split, height))
        edges = np.linspace(0, height, parts + 1).astype(int)
        prefix = gcs["filenamePrefix"]
        bucket = emu.buckets.setdefault(gcs["bucket"], {})
        res = emu.grid.transform.a
        for r0, r1 in zip(edges[:-1], edges[1:], strict=True):
            name = f"{prefix}.tif" if parts == 1 else f"{prefix}-{r0:010d}-{0:010d}.tif"
            bucket[name] = emu.geotiff(data[:, r0:r1], x0, y0 - r0 * res)
        meta["destinationUris"] = [f"https://console.developers.google.com/storage/browser/{gcs['bucket']}/{prefix}"]
    meta["state"] = "SUCCEEDED"
    meta["progress"] = 1.0
    op["done"] = True
    op["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}


def list_objects(emu: EarthEngineEmulator, bucket: str, prefix: str) -> dict[str, Any]:
    """The Cloud Storage JSON API's ``objects.list`` of an in-memory bucket."""
    objects = emu.buckets.get(bucket, {})
    items = [
        {"kind": "storage#object", "name": n, "bucket": bucket, "size": str(len(b))}
        for n, b in sorted(objects.items())
        if n.startswith(prefix)
    ]
    return {"kind": "storage#objects", "items": items}
