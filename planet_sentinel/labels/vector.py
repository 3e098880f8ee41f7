"""Masks from analyst polygons (GeoJSON or any OGR vector), burnt onto a scene's grid."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN
from planet_sentinel.errors import SentinelError
from planet_sentinel.labels.config import LabelConfig, VectorOverrides
from planet_sentinel.labels.summary import LOSS, NO_LOSS, STRIP_ROWS, LabelSummary, nodata_pixels, summarise
from planet_sentinel.raster import Grid, block_windows, check_scene, mask_writer, open_raster, refuse_existing

if TYPE_CHECKING:
    from fiona import Collection
    from shapely.geometry.base import BaseGeometry


def _norm(value: object) -> str:
    return str(value).strip().lower()


@dataclass
class Polygons:
    """Loss and unknown polygons in the scene CRS, with how many features each class had."""

    loss: list[BaseGeometry] = field(default_factory=list)
    unknown: list[BaseGeometry] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"features": 0, "loss": 0, "unknown": 0})


@contextmanager
def _open_layer(vector: Path, layer: str | None, class_field: str | None) -> Iterator[Collection]:
    """The one layer of ``vector`` to read, checked to have a CRS and ``class_field``."""
    from planet_sentinel.extras import require

    fiona = require("fiona", "vector", "reading vector labels")
    from fiona.errors import DriverError, FionaValueError

    if not vector.exists():
        raise SentinelError(f"{vector}: no such file")
    try:
        layers = fiona.listlayers(vector)
    except (DriverError, FionaValueError, OSError) as exc:
        raise SentinelError(f"{vector}: not a readable vector file ({exc})") from exc
    if layer is None and len(layers) > 1:
        raise SentinelError(f"{vector}: has layers {layers}; choose one with --layer")
    if layer is not None and layer not in layers:
        raise SentinelError(f"{vector}: no layer {layer!r}; it has {layers}")
    try:
        src = fiona.open(vector, layer=layer)
    except (DriverError, FionaValueError, OSError) as exc:
        raise SentinelError(f"{vector}: not a readable vector file ({exc})") from exc
    with src:
        if not src.crs or not src.crs.to_wkt():
            raise SentinelError(f"{vector}: has no CRS; save the layer with its CRS (GeoJSON is EPSG:4326)")
        fields = list(src.schema.get("properties", {}))
        if class_field is not None and class_field not in fields:
            raise SentinelError(f"{vector}: no attribute {class_field!r}; the layer has {fields or 'no attributes'}")
        yield src


def _kind(raw: object, loss_set: set[str], unknown_set: set[str]) -> str:
    """ "unknown", "loss" or "" (not recognised) for a class attribute's value; unknown wins."""
    value = _norm(raw) if raw is not None else ""
    return "unknown" if value in unknown_set else "loss" if value in loss_set else ""


def _polygon(vector: Path, fid: str, geometry: Any) -> BaseGeometry:
    """A feature's geometry as a valid, non-empty (multi)polygon, or an error naming the feature."""
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    geom = shape(geometry)
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise SentinelError(f"{vector}: feature {fid} is a {geom.geom_type}; labels must be polygons")
    if geom.is_empty:
        raise SentinelError(f"{vector}: feature {fid} has an empty geometry")
    if not geom.is_valid:
        raise SentinelError(
            f"{vector}: feature {fid} has an invalid geometry: {explain_validity(geom)}. "
            "Fix it (QGIS: Vector > Geometry Tools > Fix Geometries) and try again."
        )
    return geom


def read_polygons(vector: Path, layer: str | None, cfg: LabelConfig, dst_crs: Any) -> Polygons:
    """Loss and unknown shapely geometries in ``dst_crs``, validated, with feature counts.

    Every unrecognised class value is named in one error, with the features that carry it."""
    from rasterio.warp import transform_geom
    from shapely.geometry import mapping, shape

    loss_set = {_norm(v) for v in cfg.loss_values}
    unknown_set = {_norm(v) for v in cfg.unknown_values}
    found = Polygons()
    unrecognised: dict[str, list[str]] = {}
    with _open_layer(vector, layer, cfg.class_field) as src:
        src_crs = src.crs.to_wkt()
        for n, feat in enumerate(src):
            fid = feat.id if feat.id is not None else str(n)
            found.counts["features"] += 1
            if feat.geometry is None:
                raise SentinelError(f"{vector}: feature {fid} has no geometry; delete or redraw it")
            kind = "loss"
            if cfg.class_field is not None:
                raw = feat.properties.get(cfg.class_field)
                kind = _kind(raw, loss_set, unknown_set)
                if not kind:
                    unrecognised.setdefault(str(raw), []).append(str(fid))
                    continue
            geom = _polygon(vector, fid, feat.geometry)
            projected = shape(transform_geom(src_crs, dst_crs, mapping(geom)))
            (found.unknown if kind == "unknown" else found.loss).append(projected)
            found.counts[kind] += 1
    if unrecognised:
        listed = "; ".join(f"{v!r} (features {', '.join(ids[:5])})" for v, ids in unrecognised.items())
        raise SentinelError(
            f"{vector}: {cfg.class_field} values not recognised: {listed}. Use one of "
            f"{sorted(loss_set)} for loss or {sorted(unknown_set)} for unknown."
        )
    if not found.loss and not found.unknown:
        raise SentinelError(f"{vector}: no polygons to rasterize (the layer is empty)")
    return found


def _burn(
    scene: Path, out: Path, grid: Grid, shapes: Sequence[tuple[Any, int]], all_touched: bool, tags: dict[str, object]
) -> np.ndarray:
    """Rasterize ``shapes`` strip by strip into ``out`` (scene nodata as unknown); the value histogram."""
    from rasterio.features import rasterize
    from rasterio.windows import transform as window_transform

    counts = np.zeros(256, dtype=np.int64)
    with open_raster(scene) as ds, mask_writer(out, grid, tags=tags) as writer:
        for window in block_windows(grid, rows=STRIP_ROWS):
            strip = rasterize(
                shapes,
                out_shape=(int(window.height), int(window.width)),
                transform=window_transform(window, grid.transform),
                fill=NO_LOSS,
                all_touched=all_touched,
                dtype="uint8",
            )
            strip[nodata_pixels(ds, window)] = MASK_UNKNOWN
            counts += np.bincount(strip.ravel(), minlength=256)
            writer.write(strip, window=window)
    return counts


def _overlapping(polygons: Polygons, grid: Grid, vector: Path, scene: Path) -> int:
    """How many polygons overlap the scene; none is an error saying where each lies."""
    from shapely import unary_union
    from shapely.geometry import box

    every = polygons.loss + polygons.unknown
    extent = box(*grid.bounds)
    overlapping = [g for g in every if g.intersects(extent)]
    if not overlapping:
        vb = unary_union(every).bounds
        raise SentinelError(
            f"{vector}: no polygon overlaps the scene {scene} (polygons span "
            f"{tuple(round(v) for v in vb)} in {grid.crs}, the scene "
            f"{tuple(round(v) for v in grid.bounds)}); check the CRS and that the polygons "
            "were drawn on this scene"
        )
    return len(overlapping)


def mask_from_vector(
    vector: Path,
    scene: Path,
    out: Path,
    config: LabelConfig | None = None,
    *,
    layer: str | None = None,
    overwrite: bool = False,
    **overrides: Unpack[VectorOverrides],
) -> LabelSummary:
    """Rasterize analyst polygons onto a scene's grid as a loss mask.

    Polygons (GeoJSON or any OGR vector) are reprojected to the scene CRS and burnt: loss -> 1,
    unknown -> 255 (unknown wins where both overlap), elsewhere 0; the scene's nodata pixels
    are 255. Without ``class_field`` every polygon is loss; with it, values are matched
    case-insensitively against ``loss_values`` and ``unknown_values`` and anything else is an
    error. ``config`` (default: :class:`LabelConfig`'s defaults) holds those settings and
    ``all_touched``; ``overrides`` replace its fields for this call (None keeps the config's).

    Raises:
        SentinelError: unreadable vector or scene, invalid or non-polygon geometry (naming the
            feature), unrecognised class values, or no polygon overlapping the scene.
    """
    from shapely.geometry import mapping

    vector, scene, out = Path(vector), Path(scene), Path(out)
    refuse_existing([out], overwrite)
    cfg = (config or LabelConfig()).with_overrides(overrides)
    grid, _ = check_scene(scene, need_band_names=False)  # only its grid is used: unnamed bands are fine
    polygons = read_polygons(vector, layer, cfg, grid.crs)
    overlapping = _overlapping(polygons, grid, vector, scene)
    shapes = [(mapping(g), LOSS) for g in polygons.loss] + [(mapping(g), MASK_UNKNOWN) for g in polygons.unknown]
    tags: dict[str, object] = {"method": "vector", "vector": str(vector), "class_field": cfg.class_field or ""}
    counts = _burn(scene, out, grid, shapes, cfg.all_touched, tags)
    notes = []
    if counts[LOSS] == 0:
        notes.append("no loss pixel: loss polygons are smaller than a pixel or outside the scene")
    params: dict[str, object] = {
        "vector": str(vector),
        "layer": layer,
        "class_field": cfg.class_field,
        "loss_values": list(cfg.loss_values),
        "unknown_values": list(cfg.unknown_values),
        "all_touched": cfg.all_touched,
        "features": polygons.counts,
        "features_overlapping_scene": overlapping,
    }
    return summarise(out, "vector", grid, counts, params, notes)
