"""`python -m tools bench region`: a region of 16 tiles through plan -> per-tile -> merge, against the whole.

One simulated scene (``--size`` px a side, default 2048 = 20.48 km) placed so that its grid is
exactly 4 x 4 cells of the plan's UTM grid; an AOI of the scene's footprint; ``plan_region`` cuts
it into 16 tiles with a margin of ``margin_px`` pixels. The baseline is the whole-region
prediction (one ``predict_scene`` over the scene, then ``extract_alerts``); each tile is cropped
to its read area (cell + margin, within the scene), predicted and turned into alerts on its own,
as a matrix job would, then ``merge_region`` joins them. Figures: union IoU of the merged alerts'
area against the whole's, alert count ratio, duplicates (merged alerts that overlap, or share an
id) and splits (whole alerts covered by several merged ones), seconds per tile, merge seconds,
peak RSS. Goals: IoU >= 0.99, count ratio within 1 %, no duplicates.

The model is freshly initialised (``demo_bundle``, its output layer sharpened by
:func:`contrasted`): the figures measure the tiling, not the weights; about 5 % of the scene is
"loss" in blobs of every size, many of them across tile borders.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.bench.measure import default_workdir, emit, peak_rss_mb
from tools.bench.predict import demo_bundle

if TYPE_CHECKING:
    from planet_sentinel.alerts.model import AlertFeature
    from planet_sentinel.model_bundle import ModelBundle
    from planet_sentinel.region.plan import RegionPlan

DEFAULT_SIZE = 2048
GRID = 4  # tiles a side: 16 tiles
MARGIN_PX = 128
#: Output layer scale and threshold of the fresh network (see :func:`contrasted`).
HEAD_SCALE, THRESHOLD = -40.0, 0.9


def aligned_scene(size: int, work: Path, grid: int = GRID, seed: int = 3) -> tuple[Path, Path]:
    """A simulated scene pair whose grid starts on a multiple of the tile size (cached in ``work``)."""
    from rasterio.warp import transform

    from planet_sentinel.sources.synthetic import SimulationConfig, scene_grid, simulate_scene

    tile_m = size // grid * 10
    before, after = work / "region_before.tif", work / "region_after.tif"
    if before.exists() and after.exists():
        return before, after
    epsg, half = "EPSG:32720", size * 10 / 2
    left = math.floor(500_000 / tile_m) * tile_m + 3 * tile_m  # near the default Rondonia scene
    top = math.floor(8_905_000 / tile_m) * tile_m
    lon, lat = transform(epsg, "EPSG:4326", [left + half + 1.0], [top - half - 1.0])  # +1 m: inside the pixel
    cfg = SimulationConfig(name="region", size=size, seed=seed, centre_lon=lon[0], centre_lat=lat[0])
    origin = scene_grid(cfg).transform
    if (origin.c, origin.f) != (left, top):
        raise SystemExit(f"scene grid origin {(origin.c, origin.f)} is not on the tile grid")
    simulate_scene(cfg, work, overwrite=True)
    return before, after


def scene_aoi(before: Path, path: Path) -> Path:
    """The scene's footprint less one pixel, as a lon/lat GeoJSON AOI."""
    from shapely.geometry import box, mapping

    from planet_sentinel.raster import Grid
    from planet_sentinel.region.geometry import reproject

    grid = Grid.read(before)
    left, bottom, right, top = grid.bounds
    footprint = reproject(box(left + 10, bottom + 10, right - 10, top - 10), grid.crs.to_string(), "EPSG:4326")
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(footprint)}))
    return path


def crop(scene: Path, bounds: tuple[float, float, float, float], target: Path) -> Path:
    """``scene`` cut to ``bounds`` (clipped to the scene), tags kept: what a tile job would ingest."""
    from affine import Affine
    from rasterio.windows import from_bounds

    from planet_sentinel.raster import Grid, band_names, open_raster, scene_writer

    with open_raster(scene) as src:
        left, bottom, right, top = bounds
        sl, sb, sr, st = src.bounds
        clipped = (max(left, sl), max(bottom, sb), min(right, sr), min(top, st))
        window = from_bounds(*clipped, transform=src.transform).round_offsets().round_lengths()
        data = src.read(window=window)
        t = src.window_transform(window)
        grid = Grid(src.crs, Affine(t.a, t.b, t.c, t.d, t.e, t.f), int(window.width), int(window.height))
        with scene_writer(target, grid, band_names(src), tags=src.tags()) as writer:
            writer.write(data)
    return target


def alerts_of(bundle: ModelBundle, before: Path, after: Path, out: Path, name: str, tile: str) -> list[AlertFeature]:
    """Predict a scene pair and turn its loss into alerts (the `predict` then `alerts` stages)."""
    from planet_sentinel.alerts.dates import prediction_period
    from planet_sentinel.alerts.extract import AlertContext, extract_alerts
    from planet_sentinel.predict import predict_scene

    result = predict_scene(bundle, before, after, out, name=name, quicklook=False, overwrite=True, screen=False)
    context = AlertContext(period=prediction_period(before, after), model_name="bench", tile_id=tile)
    return extract_alerts(result.loss, result.probability, result.prediction.min_area_ha, context)


def contrasted(bundle: ModelBundle) -> ModelBundle:
    """``bundle`` with its output layer scaled: a fresh network's response is nearly flat, and
    turned around and sharpened it lights up about 5 % of the scene in blobs of every size."""
    import torch

    with torch.no_grad():
        bundle.model.head.weight.mul_(HEAD_SCALE)
        if bundle.model.head.bias is not None:
            bundle.model.head.bias.fill_(0.0)
    bundle.threshold = THRESHOLD
    return bundle


def compare(merged: list[AlertFeature], whole: list[AlertFeature], crs: str) -> dict[str, Any]:
    """Union IoU, count ratio, duplicates and splits of the merged alerts against the whole's."""
    from shapely import STRtree, unary_union
    from shapely.geometry import shape

    from planet_sentinel.region.geometry import reproject

    def geoms(alerts: list[AlertFeature]) -> list[Any]:
        return [reproject(shape(a.geometry.model_dump()), "EPSG:4326", crs) for a in alerts]

    m, w = geoms(merged), geoms(whole)
    um, uw = unary_union(m), unary_union(w)
    iou = um.intersection(uw).area / um.union(uw).area if not uw.is_empty else 1.0
    tree = STRtree(m)
    overlapping = sum(
        1 for i, g in enumerate(m) for j in tree.query(g) if int(j) > i and g.intersection(m[int(j)]).area > 1.0
    )
    duplicate_ids = len(merged) - len({a.id for a in merged})
    splits = sum(1 for g in w if sum(g.intersection(m[int(j)]).area > 1.0 for j in tree.query(g)) > 1)
    same_ids = len({a.id for a in merged} & {a.id for a in whole})
    return {
        "union_iou": iou,
        "alert_count_ratio": len(merged) / len(whole) if whole else 1.0,
        "duplicates": overlapping + duplicate_ids,
        "splits": splits,
        "same_ids_share": same_ids / len(whole) if whole else 1.0,
    }


def run_tiles(bundle: ModelBundle, plan: RegionPlan, before: Path, after: Path, work: Path) -> list[float]:
    """Each tile as a matrix job would run it: crop, predict, alerts file; the seconds of each."""
    from planet_sentinel.alerts.writers import write_geojson

    seconds = []
    for tile in plan.tiles:
        start = time.perf_counter()
        folder = work / "tiles" / tile.id
        b = crop(before, tile.read_bounds, folder / f"{tile.id}_before.tif")
        a = crop(after, tile.read_bounds, folder / f"{tile.id}_after.tif")
        alerts = alerts_of(bundle, b, a, folder, tile.id, tile.id)
        write_geojson(folder / f"{tile.id}_alerts.geojson", alerts, name=tile.id)
        seconds.append(time.perf_counter() - start)
    return seconds


def _whole(bundle: ModelBundle, before: Path, after: Path, work: Path) -> tuple[list[AlertFeature], float]:
    start = time.perf_counter()
    whole = alerts_of(bundle, before, after, work / "whole", "whole", "scene")
    return whole, time.perf_counter() - start


def write_picture(after: Path, plan: RegionPlan, merged: list[AlertFeature], target: Path) -> Path:
    """A PNG of the merged alerts over the after composite, the tile cells dashed, the alerts joined
    across a tile border in magenta: what the merge did, at a glance (README, the closing note)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rasterio.warp import transform_geom
    from shapely.geometry import box, shape
    from shapely.ops import unary_union

    from planet_sentinel.quicklook import true_colour
    from planet_sentinel.raster import open_raster

    with open_raster(after) as ds:
        crs, (left, bottom, right, top) = ds.crs, ds.bounds
    rgb = true_colour(after, max_size=1024)
    fig, ax = plt.subplots(figsize=(7, 7), dpi=110)
    ax.imshow(rgb, extent=(left, right, bottom, top))
    cells = [box(*tile.bounds) for tile in plan.tiles]
    for cell in cells:
        ax.plot(*cell.exterior.xy, color="white", linewidth=0.8, linestyle="--")
    # the borders between tiles (the region's own outline is no border an alert can be cut at)
    outline = unary_union(cells).boundary.buffer(1.0)
    borders = [cell.boundary.difference(outline) for cell in cells]
    joined = 0
    for alert in merged:
        geometry = shape(transform_geom("EPSG:4326", crs, alert.geometry.model_dump()))
        across = any(geometry.intersects(line) for line in borders)
        joined += across
        polygons = getattr(geometry, "geoms", [geometry])
        for polygon in polygons:
            ax.plot(*polygon.exterior.xy, color="magenta" if across else "orange", linewidth=1.2)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_axis_off()
    ax.set_title(
        f"{len(merged)} merged alerts, {len(plan.tiles)} tiles (dashed), {joined} across a tile border (magenta)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target


def run(
    size: int | None = None, workdir: str | None = None, margin_px: int = MARGIN_PX, base: int = 8, grid: int = GRID
) -> dict[str, Any]:
    """The benchmark (``grid`` x ``grid`` tiles; the tests run a 2 x 2 region to stay quick)."""
    from planet_sentinel.alerts.model import AlertCollection
    from planet_sentinel.region.merge import merge_region
    from planet_sentinel.region.plan import PlanConfig, plan_region

    size = size or DEFAULT_SIZE
    if size % (grid * 16):
        raise SystemExit(f"--size must be a multiple of {grid * 16} ({grid} x {grid} tiles of whole model windows)")
    work = Path(workdir) if workdir else default_workdir(f"region-{size}")
    work.mkdir(parents=True, exist_ok=True)
    before, after = aligned_scene(size, work, grid)
    for stale in ("tiles", "whole", "merged"):
        shutil.rmtree(work / stale, ignore_errors=True)
    tile_km = size // grid * 10 / 1000
    plan = plan_region(
        scene_aoi(before, work / "region_aoi.geojson"), PlanConfig(tile_km=tile_km, margin_m=margin_px * 10)
    )
    if len(plan.tiles) != grid * grid:
        raise SystemExit(f"the plan has {len(plan.tiles)} tiles, not {grid * grid}")
    plan_path = plan.save(work / "region_plan.json")
    bundle = contrasted(demo_bundle(base))
    whole, whole_seconds = _whole(bundle, before, after, work)
    tile_seconds = run_tiles(bundle, plan, before, after, work)
    start = time.perf_counter()
    summary = merge_region(plan_path, work / "tiles", work / "merged")
    merge_seconds = time.perf_counter() - start
    merged = AlertCollection.load(work / "merged" / "region_alerts.geojson").features
    figures = compare(merged, whole, plan.tiles[0].crs)
    picture = write_picture(after, plan, merged, work / "region_alerts.png")
    for stale in ("tiles", "whole", "merged"):
        shutil.rmtree(work / stale, ignore_errors=True)
    result = {
        "bench": "region",
        "scene_px": size,
        "tiles": len(plan.tiles),
        "tile_px": size // grid,
        "margin_px": margin_px,
        "threshold": round(bundle.threshold, 3),
        "whole_alerts": len(whole),
        "merged_alerts": len(merged),
        "dissolved": summary.totals.dissolved,
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()},
        "whole_seconds": round(whole_seconds, 2),
        "tile_seconds": round(sum(tile_seconds) / len(tile_seconds), 3),
        "tile_seconds_max": round(max(tile_seconds), 3),
        "merge_seconds": round(merge_seconds, 3),
        "ratio_to_whole": round(sum(tile_seconds) / whole_seconds, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "picture": str(picture),
    }
    exact = {**figures, "count_error": abs(figures["alert_count_ratio"] - 1)}
    result["count_error"] = round(exact["count_error"], 4)
    return emit(result, at_least={"union_iou": 0.99}, at_most={"count_error": 0.01, "duplicates": 0}, exact=exact)
