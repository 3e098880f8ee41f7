"""Loss masks: from analyst polygons, from spectral change (pseudo-labels), and their review.

A mask is a uint8 GeoTIFF on the scene grid: 0 = no loss, 1 = forest loss, 255 = unknown
(nodata, clouds, anything an analyst could not decide). Masks are written atomically as COGs
and existing outputs are refused unless ``overwrite``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN, NODATA, BandOrder
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import (
    Grid,
    band_indexes,
    block_windows,
    check_mask,
    check_scene,
    check_scene_pair,
    mask_writer,
    open_raster,
    refuse_existing,
)

LOSS = 1
NO_LOSS = 0
#: Rows per strip for windowed reads (full width).
_STRIP_ROWS = 512
#: 8-connectivity for patches.
_EIGHT = np.ones((3, 3), dtype=bool)
#: Patch-size classes (ha) in the check report.
_SIZE_BINS_HA = (0.0, 0.5, 1.0, 5.0, 10.0, 50.0, math.inf)


def pixel_area_ha(grid: Grid) -> float:
    """Area of one pixel in hectares (the CRS must be projected)."""
    if grid.crs is None or not grid.crs.is_projected:
        raise SentinelError(f"cannot measure pixel area in {grid.crs}: scenes must be in a projected CRS")
    factor = grid.crs.linear_units_factor[1]
    xres, yres = grid.resolution
    return float(xres * yres * factor * factor / 10_000)


def _class_counts(counts: np.ndarray) -> dict[str, Any]:
    total = int(counts.sum())
    loss, no_loss, unknown = int(counts[LOSS]), int(counts[NO_LOSS]), int(counts[MASK_UNKNOWN])
    known = loss + no_loss
    return {
        "pixels": total,
        "loss": loss,
        "no_loss": no_loss,
        "unknown": unknown,
        "loss_share": loss / total if total else 0.0,
        "no_loss_share": no_loss / total if total else 0.0,
        "unknown_share": unknown / total if total else 0.0,
        "loss_share_of_known": loss / known if known else 0.0,
    }


@dataclass
class LabelSummary:
    """What a mask writer produced."""

    mask: Path
    method: str
    grid: str
    pixels: int
    loss: int
    no_loss: int
    unknown: int
    loss_share: float
    unknown_share: float
    loss_ha: float
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mask"] = str(self.mask)
        return d


@dataclass
class LabelReport:
    """Review of a mask against its scenes: grid, class balance, loss patches."""

    before: Path
    after: Path
    mask: Path
    grid: str
    bands: list[str]
    pixel_area_ha: float
    classes: dict[str, Any]
    patches: dict[str, Any]
    png: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("before", "after", "mask", "png"):
            d[key] = str(d[key]) if d[key] is not None else None
        return d


def _summary(
    out: Path,
    method: str,
    grid: Grid,
    counts: np.ndarray,
    params: dict[str, Any],
    notes: list[str],
) -> LabelSummary:
    c = _class_counts(counts)
    return LabelSummary(
        mask=out,
        method=method,
        grid=grid.describe(),
        pixels=c["pixels"],
        loss=c["loss"],
        no_loss=c["no_loss"],
        unknown=c["unknown"],
        loss_share=c["loss_share"],
        unknown_share=c["unknown_share"],
        loss_ha=c["loss"] * pixel_area_ha(grid),
        params=params,
        notes=notes,
    )


def _scene_nodata(ds: Any, window: Any) -> np.ndarray:
    """Pixels of a window that are nodata in any band of a scene."""
    nodata = ds.nodata if ds.nodata is not None else NODATA
    data = ds.read(window=window)
    missing: np.ndarray = np.any(data == nodata, axis=0)
    return missing


# --------------------------------------------------------------------------------------------
# From vector polygons


def _norm(value: Any) -> str:
    return str(value).strip().lower()


def _read_polygons(
    vector: Path,
    layer: str | None,
    class_field: str | None,
    loss_values: Sequence[str],
    unknown_values: Sequence[str],
    dst_crs: Any,
) -> tuple[list[Any], list[Any], dict[str, int]]:
    """Loss and unknown shapely geometries in ``dst_crs``, validated, with feature counts."""
    import fiona
    from fiona.errors import DriverError, FionaValueError
    from rasterio.warp import transform_geom
    from shapely.geometry import mapping, shape
    from shapely.validation import explain_validity

    if not vector.exists():
        raise SentinelError(f"{vector}: no such file")
    loss_set = {_norm(v) for v in loss_values}
    unknown_set = {_norm(v) for v in unknown_values}
    loss: list[Any] = []
    unknown: list[Any] = []
    counts = {"features": 0, "loss": 0, "unknown": 0}
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
        src_crs = src.crs.to_wkt() if src.crs else ""
        if not src_crs:
            raise SentinelError(f"{vector}: has no CRS; save the layer with its CRS (GeoJSON is EPSG:4326)")
        fields = list(src.schema.get("properties", {}))
        if class_field is not None and class_field not in fields:
            raise SentinelError(f"{vector}: no attribute {class_field!r}; the layer has {fields or 'no attributes'}")
        unrecognised: dict[str, list[str]] = {}
        for n, feat in enumerate(src):
            fid = feat.id if feat.id is not None else str(n)
            counts["features"] += 1
            if feat.geometry is None:
                raise SentinelError(f"{vector}: feature {fid} has no geometry; delete or redraw it")
            if class_field is None:
                kind = "loss"
            else:
                raw = feat.properties.get(class_field)
                value = _norm(raw) if raw is not None else ""
                if value in unknown_set:
                    kind = "unknown"
                elif value in loss_set:
                    kind = "loss"
                else:
                    unrecognised.setdefault(str(raw), []).append(str(fid))
                    continue
            geom = shape(feat.geometry)
            if geom.geom_type not in ("Polygon", "MultiPolygon"):
                raise SentinelError(f"{vector}: feature {fid} is a {geom.geom_type}; labels must be polygons")
            if geom.is_empty:
                raise SentinelError(f"{vector}: feature {fid} has an empty geometry")
            if not geom.is_valid:
                raise SentinelError(
                    f"{vector}: feature {fid} has an invalid geometry: {explain_validity(geom)}. "
                    "Fix it (QGIS: Vector > Geometry Tools > Fix Geometries) and try again."
                )
            projected = shape(transform_geom(src_crs, dst_crs, mapping(geom)))
            (unknown if kind == "unknown" else loss).append(projected)
            counts[kind] += 1
    if unrecognised:
        listed = "; ".join(f"{v!r} (features {', '.join(ids[:5])})" for v, ids in unrecognised.items())
        raise SentinelError(
            f"{vector}: {class_field} values not recognised: {listed}. Use one of "
            f"{sorted(loss_set)} for loss or {sorted(unknown_set)} for unknown."
        )
    if not loss and not unknown:
        raise SentinelError(f"{vector}: no polygons to rasterize (the layer is empty)")
    return loss, unknown, counts


def mask_from_vector(
    vector: Path,
    scene: Path,
    out: Path,
    layer: str | None = None,
    class_field: str | None = None,
    loss_values: Sequence[str] = ("loss", "deforestation", "1"),
    unknown_values: Sequence[str] = ("unknown", "cloud", "255"),
    all_touched: bool = False,
    overwrite: bool = False,
) -> LabelSummary:
    """Rasterize analyst polygons onto a scene's grid as a loss mask.

    Polygons (GeoJSON or any OGR vector) are reprojected to the scene CRS and burnt: loss -> 1,
    unknown -> 255 (unknown wins where both overlap), elsewhere 0; the scene's nodata pixels
    are 255. Without ``class_field`` every polygon is loss; with it, values are matched
    case-insensitively against ``loss_values`` and ``unknown_values`` and anything else is an
    error.

    Raises:
        SentinelError: unreadable vector or scene, invalid or non-polygon geometry (naming the
            feature), unrecognised class values, or no polygon overlapping the scene.
    """
    from rasterio.features import rasterize
    from rasterio.windows import transform as window_transform
    from shapely.geometry import box, mapping

    vector, scene, out = Path(vector), Path(scene), Path(out)
    refuse_existing([out], overwrite)
    grid, _ = check_scene(scene, need_band_names=False)  # only its grid is used: unnamed bands are fine
    loss, unknown, feature_counts = _read_polygons(vector, layer, class_field, loss_values, unknown_values, grid.crs)
    extent = box(*grid.bounds)
    overlapping = [g for g in loss + unknown if g.intersects(extent)]
    if not overlapping:
        from shapely import unary_union

        vb = unary_union(loss + unknown).bounds
        raise SentinelError(
            f"{vector}: no polygon overlaps the scene {scene} (polygons span "
            f"{tuple(round(v) for v in vb)} in {grid.crs}, the scene "
            f"{tuple(round(v) for v in grid.bounds)}); check the CRS and that the polygons "
            "were drawn on this scene"
        )
    shapes = [(mapping(g), LOSS) for g in loss] + [(mapping(g), MASK_UNKNOWN) for g in unknown]
    counts = np.zeros(256, dtype=np.int64)
    tags = {"method": "vector", "vector": str(vector), "class_field": class_field or ""}
    with open_raster(scene) as ds, mask_writer(out, grid, tags=tags) as writer:
        for window in block_windows(grid, rows=_STRIP_ROWS):
            strip = rasterize(
                shapes,
                out_shape=(int(window.height), int(window.width)),
                transform=window_transform(window, grid.transform),
                fill=NO_LOSS,
                all_touched=all_touched,
                dtype="uint8",
            )
            strip[_scene_nodata(ds, window)] = MASK_UNKNOWN
            counts += np.bincount(strip.ravel(), minlength=256)
            writer.write(strip, window=window)
    notes = []
    if counts[LOSS] == 0:
        notes.append("no loss pixel: loss polygons are smaller than a pixel or outside the scene")
    params = {
        "vector": str(vector),
        "layer": layer,
        "class_field": class_field,
        "loss_values": list(loss_values),
        "unknown_values": list(unknown_values),
        "all_touched": all_touched,
        "features": feature_counts,
        "features_overlapping_scene": len(overlapping),
    }
    return _summary(out, "vector", grid, counts, params, notes)


# --------------------------------------------------------------------------------------------
# From spectral change


def _index(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Normalised difference (a - b) / (a + b), 0 where the sum is 0."""
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (a - b) / np.where(total > 0, total, 1), 0.0)


def mask_from_spectral(
    before: Path,
    after: Path,
    out: Path,
    ndvi_drop: float = 0.25,
    nbr_drop: float = 0.3,
    forest_ndvi: float = 0.65,
    mmu_ha: float = 0.5,
    overwrite: bool = False,
    order: BandOrder | None = None,
) -> LabelSummary:
    """Pseudo-labels from spectral change: forest before, NDVI and NBR drops after.

    ``order``: the band order the user stated, for scenes without band descriptions.

    A pixel is loss when the before NDVI is at least ``forest_ndvi`` (forest), NDVI dropped by at
    least ``ndvi_drop`` and NBR (B08, B12) by at least ``nbr_drop``; loss patches
    (8-connected) smaller than ``mmu_ha`` hectares are removed; pixels that are nodata in either
    scene are 255. A bootstrap for analysts to correct, not ground truth.
    """
    from scipy import ndimage

    before, after, out = Path(before), Path(after), Path(out)
    refuse_existing([out], overwrite)
    for value, label in ((ndvi_drop, "ndvi_drop"), (nbr_drop, "nbr_drop")):
        if not 0 < value <= 2:
            raise SentinelError(f"{label} must be in (0, 2], got {value}")
    if not -1 <= forest_ndvi <= 1:
        raise SentinelError(f"forest_ndvi must be in [-1, 1], got {forest_ndvi}")
    if mmu_ha < 0:
        raise SentinelError(f"mmu_ha must be >= 0, got {mmu_ha}")
    grid, bands = check_scene_pair(before, after, order)
    px_ha = pixel_area_ha(grid)
    min_px = max(1, math.ceil(mmu_ha / px_ha - 1e-9)) if mmu_ha > 0 else 1

    mask = np.empty((grid.height, grid.width), dtype=np.uint8)
    with open_raster(before) as b_ds, open_raster(after) as a_ds:
        # Positions of B04, B08, B12 among the bands read (all bands: nodata is any band).
        b_idx = [i - 1 for i in band_indexes(b_ds, ("B04", "B08", "B12"), bands)]
        a_idx = [i - 1 for i in band_indexes(a_ds, ("B04", "B08", "B12"), bands)]
        b_nodata = b_ds.nodata if b_ds.nodata is not None else NODATA
        a_nodata = a_ds.nodata if a_ds.nodata is not None else NODATA
        for window in block_windows(grid, rows=_STRIP_ROWS):
            rows = slice(window.row_off, window.row_off + window.height)
            b_all = b_ds.read(window=window)
            a_all = a_ds.read(window=window)
            invalid = np.any(b_all == b_nodata, axis=0) | np.any(a_all == a_nodata, axis=0)
            bb = b_all[b_idx].astype(np.float32)
            aa = a_all[a_idx].astype(np.float32)
            del b_all, a_all
            ndvi_b, ndvi_a = _index(bb[1], bb[0]), _index(aa[1], aa[0])
            nbr_b, nbr_a = _index(bb[1], bb[2]), _index(aa[1], aa[2])
            change = (ndvi_b >= forest_ndvi) & (ndvi_b - ndvi_a >= ndvi_drop) & (nbr_b - nbr_a >= nbr_drop) & ~invalid
            strip = np.where(change, LOSS, NO_LOSS).astype(np.uint8)
            strip[invalid] = MASK_UNKNOWN
            mask[rows] = strip

    # Minimum mapping unit on the whole-scene change map (labels: 4 bytes per pixel).
    candidates = int(np.count_nonzero(mask == LOSS))
    labels, n_patches = ndimage.label(mask == LOSS, structure=_EIGHT)
    removed_patches = removed_px = 0
    if n_patches and min_px > 1:
        sizes = np.bincount(labels.ravel())
        small = sizes < min_px
        small[0] = False
        removed_patches = int(small.sum())
        removed_px = int(sizes[small].sum())
        mask[small[labels]] = NO_LOSS
    del labels

    counts = np.bincount(mask.ravel(), minlength=256)
    tags = {
        "method": "spectral",
        "ndvi_drop": ndvi_drop,
        "nbr_drop": nbr_drop,
        "forest_ndvi": forest_ndvi,
        "mmu_ha": mmu_ha,
    }
    with mask_writer(out, grid, tags=tags) as writer:
        for window in block_windows(grid, rows=_STRIP_ROWS):
            writer.write(mask[window.row_off : window.row_off + window.height], window=window)
    params = {
        "before": str(before),
        "after": str(after),
        "ndvi_drop": ndvi_drop,
        "nbr_drop": nbr_drop,
        "forest_ndvi": forest_ndvi,
        "mmu_ha": mmu_ha,
        "mmu_pixels": min_px,
        "candidate_pixels": candidates,
        "patches_found": int(n_patches),
        "patches_removed_by_mmu": removed_patches,
        "pixels_removed_by_mmu": removed_px,
    }
    notes = ["pseudo-labels: review and correct them before training (docs/labeling.md)"]
    return _summary(out, "spectral", grid, counts, params, notes)


# --------------------------------------------------------------------------------------------
# Review


def _patch_stats(mask: np.ndarray, px_ha: float) -> dict[str, Any]:
    from scipy import ndimage

    labels, n = ndimage.label(mask == LOSS, structure=_EIGHT)
    if n == 0:
        return {"count": 0, "total_ha": 0.0, "size_ha": None, "size_classes_ha": {}}
    sizes_px = np.bincount(labels.ravel())[1:]
    del labels
    sizes = sizes_px * px_ha
    classes = {}
    for lo, hi in zip(_SIZE_BINS_HA[:-1], _SIZE_BINS_HA[1:], strict=True):
        key = f"{lo:g}-{hi:g}" if math.isfinite(hi) else f">={lo:g}"
        classes[key] = int(np.count_nonzero((sizes >= lo) & (sizes < hi)))
    return {
        "count": int(n),
        "total_ha": round(float(sizes.sum()), 4),
        "size_ha": {
            "min": round(float(sizes.min()), 4),
            "median": round(float(np.median(sizes)), 4),
            "mean": round(float(sizes.mean()), 4),
            "p90": round(float(np.percentile(sizes, 90)), 4),
            "max": round(float(sizes.max()), 4),
        },
        "size_classes_ha": classes,
        "single_pixel_patches": int(np.count_nonzero(sizes_px == 1)),
    }


def check_labels(
    before: Path, after: Path, mask: Path, png: Path | None = None, order: BandOrder | None = None
) -> LabelReport:
    """Check a mask against its scenes and summarise it for review.

    Verifies that before, after and mask share one grid (naming every difference otherwise),
    that the scenes have the same bands and the mask holds only 0/1/255; reports the class
    balance, the loss patches (8-connected) and their sizes in hectares; and writes a PNG
    (before | after | after with the mask overlaid) when ``png`` is given.
    """
    from planet_sentinel.quicklook import overlay, save_panels, true_colour

    before, after, mask = Path(before), Path(after), Path(mask)
    grid, bands = check_scene_pair(before, after, order)
    check_mask(mask, grid)
    with open_raster(mask) as ds:
        data = ds.read(1)
    counts = np.bincount(data.ravel(), minlength=256)
    other = [v for v in np.nonzero(counts)[0].tolist() if v not in (NO_LOSS, LOSS, MASK_UNKNOWN)]
    if other:
        raise SentinelError(f"{mask}: values {other[:10]} are not mask classes (0 no loss, 1 loss, 255 unknown)")
    px_ha = pixel_area_ha(grid)
    classes = _class_counts(counts)
    patches = _patch_stats(data, px_ha)
    del data
    warnings = []
    if classes["loss"] == 0:
        warnings.append("no loss pixel: the mask teaches the model nothing about loss")
    if classes["unknown_share"] > 0.5:
        warnings.append(f"{classes['unknown_share']:.0%} of pixels are unknown")
    if 0 < classes["loss_share_of_known"] < 0.001:
        warnings.append("loss is under 0.1 % of labelled pixels: expect a hard, imbalanced task")
    below_mmu = patches["size_classes_ha"].get("0-0.5", 0)
    if below_mmu:
        warnings.append(f"{below_mmu} of {patches['count']} loss patches are below the 0.5 ha minimum mapping unit")
    if patches["count"] and patches["single_pixel_patches"] > patches["count"] / 2:
        warnings.append("most loss patches are single pixels: check for speckle (apply an MMU)")

    if png is not None:
        rgb_before = true_colour(before, names=bands)
        rgb_after = true_colour(after, names=bands)
        with open_raster(mask) as ds:
            small = ds.read(1, out_shape=rgb_after.shape[:2])
        save_panels(
            png,
            [rgb_before, rgb_after, overlay(rgb_after, small)],
            ["before", "after", "after + mask (red loss, blue unknown)"],
        )
    return LabelReport(
        before=before,
        after=after,
        mask=mask,
        grid=grid.describe(),
        bands=list(bands),
        pixel_area_ha=px_ha,
        classes=classes,
        patches=patches,
        png=Path(png) if png is not None else None,
        warnings=warnings,
    )
