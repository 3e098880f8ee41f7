"""The plots check's outputs: a CSV (one row a plot) and a GeoJSON of the checked plots.

Plots that could not be checked are rows too (verdict empty, ``error`` saying why), so the
operator sees every submitted plot in one table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from planet_sentinel.plots.check import PlotResult
from planet_sentinel.plots.load import PlotError
from planet_sentinel.raster import write_text_atomic

COLUMNS = (
    "plot_id",
    "verdict",
    "area_ha",
    "loss_ha",
    "loss_share",
    "unknown_share",
    "alert_ids",
    "notes",
    "error",
)


def report_paths(stem: str, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    return {"csv": out / f"{stem}_check.csv", "geojson": out / f"{stem}_check.geojson"}


def _row(item: PlotResult | PlotError) -> dict[str, Any]:
    if isinstance(item, PlotError):
        return {"plot_id": item.plot_id, "verdict": "", "error": item.message}
    return {
        "plot_id": item.plot_id,
        "verdict": item.verdict,
        "area_ha": item.area_ha,
        "loss_ha": item.loss_ha,
        "loss_share": item.loss_share,
        "unknown_share": item.unknown_share,
        "alert_ids": item.alert_ids,
        "notes": "; ".join(item.notes),
        "error": "",
    }


def write_csv(path: Path, items: Sequence[PlotResult | PlotError]) -> Path:
    """One row a plot; ``alert_ids`` joined with spaces (a spreadsheet cell)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in items:
        row = _row(item)
        row["alert_ids"] = " ".join(row.get("alert_ids", []))
        writer.writerow(row)
    return write_text_atomic(path, buffer.getvalue())


def write_geojson(path: Path, items: Sequence[PlotResult | PlotError]) -> Path:
    """The plots (WGS 84; a point plot as the circle that was checked) with their own and the check's properties."""
    from shapely.geometry import mapping

    features = []
    for item in items:
        geometry = mapping(item.geometry) if isinstance(item, PlotResult) else item.geometry
        properties = {**item.properties, **{k: v for k, v in _row(item).items() if k in COLUMNS}}
        features.append({"type": "Feature", "properties": properties, "geometry": geometry})
    text = json.dumps({"type": "FeatureCollection", "name": path.stem, "features": features}, indent=1, default=str)
    return write_text_atomic(path, text + "\n")
