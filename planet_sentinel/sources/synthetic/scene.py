"""The driver: land cover, both dates and the mask of one scene pair, written as files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from planet_sentinel.bands import DEFAULT_BANDS, MASK_UNKNOWN, REFLECTANCE_SCALE
from planet_sentinel.raster import Grid, mask_writer, refuse_existing, scene_writer, write_text_atomic
from planet_sentinel.sources.synthetic.config import (
    AFTER_DATE,
    BEFORE_DATE,
    GENERATOR,
    PIXEL_SIZE,
    SimulatedScene,
    SimulationConfig,
    scene_grid,
)
from planet_sentinel.sources.synthetic.landcover import LandCover, land_cover
from planet_sentinel.sources.synthetic.reflectance import (
    Acquisition,
    acquisitions,
    draw_atmosphere,
    render_bands,
    terrain,
    variation_field,
)
from planet_sentinel.workspace import SceneFiles

log = logging.getLogger(__name__)


def _write_date(
    cfg: SimulationConfig,
    lc: LandCover,
    date: Acquisition,
    dem: np.ndarray,
    path: Path,
    grid: Grid,
    tags: dict[str, Any],
    hidden: np.ndarray,
    cloudy: np.ndarray,
) -> tuple[dict[str, float], dict[str, float]]:
    """Render and write one date; accumulate the pixels it hides into ``hidden``/``cloudy``.

    The work arrays are released before the COG is finished, when GDAL needs its block cache.
    """
    n = cfg.size
    log.info(f"{date.role}: atmosphere and textures ({tags['ACQUISITION_DATE']})")
    mult = np.empty((n, n), np.float32)
    atm = draw_atmosphere(cfg, date, dem, mult)
    hidden |= atm.hidden
    if atm.cloudy is not None:
        cloudy |= atm.cloudy
    stats = {
        "cloud_share": round(atm.cloud_share, 6),
        "shadow_share": round(atm.shadow_share, 6),
        "nodata_share": round(float(atm.nodata.mean()), 6) if atm.nodata is not None else 0.0,
        "sun_elevation": round(date.sun_elevation, 3),
        "sun_azimuth": round(date.sun_azimuth, 3),
    }
    a = np.empty((n, n), np.float32)
    b = np.empty((n, n), np.float32)
    variation_field(cfg, lc, lc.before if date.role == "before" else lc.after, date, b, a)
    variation = b.astype(np.float16)  # +-4 in steps of 0.004: far below the sensor noise
    out = np.empty((n, n), np.uint16)
    log.info(f"{date.role}: rendering {len(DEFAULT_BANDS)} bands")
    writer = scene_writer(path, grid, DEFAULT_BANDS, tags=tags)
    try:
        means = render_bands(cfg, lc, date, atm, variation, (a, b), out, lambda arr, i: writer.write(arr, indexes=i))
        del atm, mult, a, b, variation, out
        log.info(f"writing: {path.name}")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    _release_memory()
    return stats, means


def _release_memory() -> None:
    """Hand freed heap (GDAL's block cache after a COG is finished) back to the OS (glibc)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def simulate_scene(
    config: SimulationConfig,
    out_dir: str | Path,
    overwrite: bool = False,
) -> SimulatedScene:
    """Simulate a before/after scene pair with its loss mask, quicklook and summary JSON.

    Writes ``<name>_before.tif``, ``<name>_after.tif`` (uint16 COGs, bands
    :data:`~planet_sentinel.bands.DEFAULT_BANDS`), ``<name>_mask.tif`` (uint8: 0 no loss,
    1 forest loss, 255 unknown), ``<name>_quicklook.png`` and ``<name>_simulation.json`` into
    ``out_dir``. Existing outputs are refused unless ``overwrite``; every file is written
    atomically.
    """
    from planet_sentinel.quicklook import scene_quicklook

    cfg = config.resolved()
    paths = SceneFiles(Path(out_dir), cfg.name, "simulation").paths()
    refuse_existing(list(paths.values()), overwrite)
    grid = scene_grid(cfg)
    n = cfg.size
    log.info(f"land cover: {n}x{n} px at {PIXEL_SIZE} m, {grid.crs}, seed {cfg.seed}")
    lc = land_cover(cfg)
    dem = terrain(cfg.seed, n)
    dates = acquisitions(cfg)
    hidden = np.zeros((n, n), bool)
    cloudy = np.zeros((n, n), bool)
    atm_stats: dict[str, dict[str, float]] = {}
    means: dict[str, dict[str, float]] = {}
    common_tags = {
        "GENERATOR": GENERATOR,
        "SEED": cfg.seed,
        "DIFFICULTY": cfg.difficulty,
        "REFLECTANCE_SCALE": REFLECTANCE_SCALE,
        "SIMULATION": cfg.model_dump_json(),
    }
    for date, when in zip(dates, (BEFORE_DATE, AFTER_DATE), strict=True):
        tags = {**common_tags, "ACQUISITION_DATE": when, "DATE_ROLE": date.role}
        atm_stats[date.role], means[date.role] = _write_date(
            cfg, lc, date, dem, paths[date.role], grid, tags, hidden, cloudy
        )
    log.info("mask: forest loss, unknown under clouds, shadows and nodata")
    mask = lc.loss.astype(np.uint8)
    mask[hidden] = MASK_UNKNOWN
    mask_tags = {
        **common_tags,
        "VALUES": "0 no loss, 1 forest loss, 255 unknown (cloud, shadow, nodata)",
        "BEFORE_DATE": BEFORE_DATE,
        "AFTER_DATE": AFTER_DATE,
    }
    with mask_writer(paths["mask"], grid, tags=mask_tags) as w:
        w.write(mask)
    log.info(f"writing: {paths['quicklook'].name}")
    scene_quicklook(paths["quicklook"], paths["before"], paths["after"], paths["mask"])
    stats = _scene_stats(grid, lc, mask, hidden, cloudy, atm_stats, means, dates[1])
    summary = {
        "config": cfg.model_dump(mode="json"),
        "requested": config.model_dump(mode="json", exclude_none=True),
        **stats,
        "files": {k: p.name for k, p in paths.items()},
    }
    write_text_atomic(paths["summary_json"], json.dumps(summary, indent=2) + "\n")
    log.info(f"done: loss {stats['mask']['loss_share']:.1%}, unknown {stats['unknown_share']:.1%}")
    return SimulatedScene(
        paths["before"], paths["after"], paths["mask"], paths["quicklook"], paths["summary_json"], stats
    )


def _scene_stats(
    grid: Grid,
    lc: LandCover,
    mask: np.ndarray,
    hidden: np.ndarray,
    cloudy: np.ndarray,
    atm_stats: dict[str, dict[str, float]],
    means: dict[str, dict[str, float]],
    after: Acquisition,
) -> dict[str, Any]:
    """What the summary JSON and :attr:`SimulatedScene.stats` report about the written pair."""
    n = grid.width
    counts = np.bincount(mask.ravel(), minlength=256)
    return {
        "generator": GENERATOR,
        "dates": {"before": BEFORE_DATE, "after": AFTER_DATE},
        "size": n,
        "pixel_size": PIXEL_SIZE,
        "bands": list(DEFAULT_BANDS),
        "crs": grid.crs.to_string(),
        "bounds": [round(v, 3) for v in grid.bounds],
        "transform": [round(v, 6) for v in tuple(grid.transform)[:6]],
        "land_cover": {"before": lc.shares("before"), "after": lc.shares("after")},
        "loss_share": lc.stats["loss_share"],
        "forest_fraction": lc.stats["forest_fraction"],
        "deforestation_rate": lc.stats["deforestation_rate"],
        "clearings": lc.stats["clearings"],
        "mask": {
            "no_loss_share": round(float(counts[0]) / n / n, 6),
            "loss_share": round(float(counts[1]) / n / n, 6),
            "unknown_share": round(float(counts[MASK_UNKNOWN]) / n / n, 6),
        },
        "unknown_share": round(float(counts[MASK_UNKNOWN]) / n / n, 6),
        "cloud_share": round(float(cloudy.mean()), 6),
        "hidden_share": round(float(hidden.mean()), 6),
        "atmosphere": atm_stats,
        "misregistration_px": {"rows": round(after.shift[0], 4), "cols": round(after.shift[1], 4)},
        "band_means": means,
    }
