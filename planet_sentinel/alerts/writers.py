"""Alert files: GeoJSON (RFC 7946), FlatGeobuf (for large sets) and CSV (one row an alert).

Every writer writes a temporary file beside the target and renames it, so a failed write never
leaves half a file where the last good one was. All three open in QGIS: the GeoJSON and the
FlatGeobuf as vector layers, the CSV as "delimited text" with ``lon``/``lat`` as X/Y (EPSG:4326).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from planet_sentinel.alerts.model import AlertCollection, AlertFeature, AlertProperties
from planet_sentinel.raster import write_text_atomic

#: The columns of the CSV and the attributes of the FlatGeobuf, in the model's order.
FIELDS: tuple[str, ...] = tuple(AlertProperties.model_fields)
#: FlatGeobuf attribute types (fiona schema names) of the non-text fields.
_FGB_TYPES = {"area_ha": "float", "lon": "float", "lat": "float", "max_probability": "float"}


def alert_paths(name: str, out_dir: str | Path) -> dict[str, Path]:
    """``<name>_alerts.geojson``, ``.fgb`` and ``.csv`` in ``out_dir``."""
    out = Path(out_dir)
    return {fmt: out / f"{name}_alerts.{fmt}" for fmt in ("geojson", "fgb", "csv")}


def write_geojson(path: Path, alerts: Sequence[AlertFeature], name: str | None = None) -> Path:
    """A GeoJSON FeatureCollection (WGS 84, exterior rings counter-clockwise) with ``schema_version``."""
    return AlertCollection(schema_version=AlertCollection.SCHEMA_VERSION, name=name, features=list(alerts)).save(path)


def write_csv(path: Path, alerts: Sequence[AlertFeature]) -> Path:
    """One row an alert, the properties as columns (None as an empty cell)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for alert in alerts:
        writer.writerow(alert.properties.model_dump())
    return write_text_atomic(path, buffer.getvalue())


def write_flatgeobuf(path: Path, alerts: Sequence[AlertFeature], name: str = "alerts") -> Path:
    """A FlatGeobuf layer (GDAL's driver through fiona), MultiPolygon geometries in EPSG:4326.

    Polygons are written as MultiPolygons because a FlatGeobuf layer has one geometry type and a
    polygon reprojected across a tile may come back as either.
    """
    from planet_sentinel.extras import require

    fiona = require("fiona", "vector", "writing FlatGeobuf alerts")

    schema = {
        "geometry": "MultiPolygon",
        "properties": {field: _FGB_TYPES.get(field, "str") for field in FIELDS},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        staged = stage / path.name
        with fiona.open(staged, "w", driver="FlatGeobuf", crs="EPSG:4326", schema=schema, layer=name) as sink:
            sink.writerecords(_fgb_record(alert) for alert in alerts)
        os.replace(staged, path)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return path


def _fgb_record(alert: AlertFeature) -> dict[str, Any]:
    geometry = alert.geometry.model_dump()
    if geometry["type"] == "Polygon":
        geometry = {"type": "MultiPolygon", "coordinates": [geometry["coordinates"]]}
    return {"geometry": geometry, "properties": alert.properties.model_dump()}


def write_alerts(paths: dict[str, Path], alerts: Sequence[AlertFeature], name: str) -> dict[str, Path]:
    """Every file of :func:`alert_paths` (each written atomically)."""
    write_geojson(paths["geojson"], alerts, name=f"{name}_alerts")
    write_flatgeobuf(paths["fgb"], alerts, name=f"{name}_alerts")
    write_csv(paths["csv"], alerts)
    return paths
