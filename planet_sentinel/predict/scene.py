"""A whole scene pair, streamed from COGs to COGs: probability, loss mask, polygons, quicklook, summary.

Memory: the scene is read window by window (never whole) and the outputs are written window by
window into tiled GeoTIFFs that GDAL converts to COGs, so the prediction pass holds
``batch_size`` windows: about ``batch_size x window^2 x (4 x bands x 2 dates + network
activations, about 40 x base floats)`` bytes, plus GDAL's block cache (capped at 256 MB while a
scene is streamed, unless GDAL_CACHEMAX is set). Vectorising is bounded as
:mod:`planet_sentinel.predict.vectorise` says; the quicklook reads decimated (at most 768 px a
side) through the COG overviews: a few tens of MB whatever the scene size.

Outputs are staged in a temporary directory beside them and renamed into place only when all
are complete, so a failure never leaves half a prediction or loses the previous one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN, BandOrder
from planet_sentinel.clouds import CloudScreen
from planet_sentinel.errors import SentinelError
from planet_sentinel.predict.batch import input_bands
from planet_sentinel.predict.config import PredictConfig, PredictOverrides
from planet_sentinel.predict.model_info import ModelInfo
from planet_sentinel.predict.summary import GridInfo, PredictionSummary
from planet_sentinel.predict.tiling import Tile, TileResult, iter_tiles, plan_tiles, resolve_window
from planet_sentinel.predict.vectorise import Feature, feature_collection, vectorise
from planet_sentinel.raster import (
    Grid,
    RasterWriter,
    band_indexes,
    check_scene_pair,
    io_env,
    mask_writer,
    open_raster,
    refuse_existing,
    staged_outputs,
    write_text_atomic,
)

if TYPE_CHECKING:
    from planet_sentinel.predict.engines import Model

#: Probability raster: uint8 percent (0..100), this value where unknown.
PROBABILITY_NODATA = 255


@dataclass
class PredictionResult:
    """The files :func:`predict_scene` wrote and its summary."""

    probability: Path
    loss: Path
    geojson: Path
    summary_json: Path
    prediction: PredictionSummary
    quicklook: Path | None = None  # None when not asked for (the service does not return it)

    @property
    def summary(self) -> dict[str, Any]:
        """The summary as written to ``summary_json`` (a JSON dict)."""
        return self.prediction.to_dict()

    def to_dict(self) -> dict[str, Any]:
        paths = (self.probability, self.loss, self.geojson, self.summary_json, self.quicklook)
        names = ("probability", "loss", "geojson", "summary_json", "quicklook")
        return {
            **{k: None if v is None else str(v) for k, v in zip(names, paths, strict=True)},
            "summary": self.summary,
        }


def output_paths(name: str, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    return {
        "probability": out / f"{name}_probability.tif",
        "loss": out / f"{name}_loss.tif",
        "geojson": out / f"{name}_loss.geojson",
        "summary_json": out / f"{name}_prediction.json",
        "quicklook": out / f"{name}_quicklook.png",
    }


def scene_name(before: Path) -> str:
    stem = before.name
    for ext in (".tif", ".tiff", ".TIF", ".TIFF", ".vrt"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    for suffix in ("_before", "-before", ".before"):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


@dataclass(frozen=True)
class _Job:
    """Everything :func:`predict_scene` decided before the first pixel is read."""

    bundle: Model
    before: Path
    after: Path
    name: str
    config: PredictConfig
    threshold: float
    device: str
    screen: CloudScreen | bool
    wanted: list[str]
    scene_bands: tuple[str, ...]
    grid: Grid
    window: int
    tiles: list[Tile]
    start: float


def predict_scene(
    bundle: Model,
    before: str | Path,
    after: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    config: PredictConfig | None = None,
    *,
    overwrite: bool = False,
    screen: CloudScreen | bool = True,
    quicklook: bool = True,
    order: BandOrder | None = None,
    **overrides: Unpack[PredictOverrides],
) -> PredictionResult:
    """Predict forest loss over a scene pair, streaming windows from the COGs with bounded memory.

    Writes into ``out_dir``: ``<name>_probability.tif`` (COG, uint8 percent 0..100, nodata 255),
    ``<name>_loss.tif`` (COG, 0 no loss, 1 loss, 255 unknown), ``<name>_loss.geojson`` (loss
    polygons of at least ``min_area_ha``, EPSG:4326, with ``area_ha`` and ``mean_probability``),
    ``<name>_prediction.json`` (:class:`PredictionSummary`: model, threshold, areas, shares,
    timings) and ``<name>_quicklook.png`` (after | probability | loss). Existing outputs are
    refused unless ``overwrite``.

    Args:
        bundle: the model bundle or its ONNX graph; ``config.engine`` picks which runs it
            (:func:`planet_sentinel.predict.engines.resolve_engine`).
        before, after: scenes on one grid holding the bundle's bands (by name, any order).
        out_dir: output directory.
        name: output prefix (default: the before file's name without ``_before``).
        config: window, overlap, batch size, threshold (default: the bundle's), minimum mapping
            unit and device (:class:`PredictConfig`; default: its defaults).
        overrides: fields of ``config`` replaced for this call (``window=256``); None keeps the config's.
        overwrite: replace existing outputs.
        screen: cloud screen, as in :func:`planet_sentinel.predict.predict_arrays`.
        quicklook: write the PNG quicklook (the service, which does not return it, skips it).
        order: the band order the user stated, for scenes without band descriptions (see
            :func:`planet_sentinel.raster.band_names`).
    """
    start = time.perf_counter()
    cfg = (config or PredictConfig()).with_overrides(overrides)
    threshold = bundle.threshold if cfg.threshold is None else float(cfg.threshold)
    if not 0.0 <= threshold <= 1.0:
        raise SentinelError(f"threshold {threshold} must be within 0..1")
    from planet_sentinel.predict.engines import resolve_engine

    bundle = resolve_engine(bundle, cfg.engine, cfg.device)
    device = bundle.device_name(cfg.device)  # an unknown device fails here, before any output
    before, after, out_dir = Path(before), Path(after), Path(out_dir)
    grid, scene_bands = check_scene_pair(before, after, (order or BandOrder()).with_example(bundle.bands))
    name = name or scene_name(before)
    paths = output_paths(name, out_dir)
    if not quicklook:
        del paths["quicklook"]
    refuse_existing(list(paths.values()), overwrite)
    window = resolve_window(bundle, cfg.window, grid.height, grid.width, cfg.overlap)
    job = _Job(
        bundle=bundle,
        before=before,
        after=after,
        name=name,
        config=cfg,
        threshold=threshold,
        device=device,
        screen=screen,
        wanted=input_bands(bundle, screen),
        scene_bands=scene_bands,
        grid=grid,
        window=window,
        tiles=plan_tiles(grid.height, grid.width, window, cfg.overlap),
        start=start,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    with io_env():
        return _run(job, paths, out_dir)


def _run(job: _Job, paths: dict[str, Path], out_dir: Path) -> PredictionResult:
    """Write every output into a staging directory, then rename them all into place."""
    timings: dict[str, float] = {"read": 0.0, "forward": 0.0, "write": 0.0}
    with staged_outputs(paths, out_dir, f".{job.name}.predict-") as staged:
        counts = _write_rasters(job, staged, timings)
        summary = _write_products(job, staged, counts, timings)
    return PredictionResult(
        probability=paths["probability"],
        loss=paths["loss"],
        geojson=paths["geojson"],
        summary_json=paths["summary_json"],
        prediction=summary,
        quicklook=paths.get("quicklook"),
    )


def _write_rasters(job: _Job, staged: dict[str, Path], timings: dict[str, float]) -> np.ndarray:
    """Stream the windows through the model into the probability and loss COGs.

    Returns the pixel counts (no loss, loss, unknown)."""
    from planet_sentinel.progress import bar

    counts = np.zeros(3, np.int64)
    tags = {"model_fingerprint": job.bundle.fingerprint, "threshold": job.threshold, "source_after": job.after.name}
    writers: list[RasterWriter] = []
    try:
        with open_raster(job.before) as src_b, open_raster(job.after) as src_a:
            idx_b, idx_a = (
                band_indexes(src_b, job.wanted, job.scene_bands),
                band_indexes(src_a, job.wanted, job.scene_bands),
            )

            def read(t: Tile) -> tuple[np.ndarray, np.ndarray]:
                w = t.read_window()
                return src_b.read(idx_b, window=w), src_a.read(idx_a, window=w)

            writers.append(
                RasterWriter(
                    staged["probability"],
                    job.grid,
                    1,
                    "uint8",
                    PROBABILITY_NODATA,
                    ["loss_probability_percent"],
                    tags={**tags, "values": "probability of forest loss in percent, 255 unknown"},
                )
            )
            writers.append(
                mask_writer(staged["loss"], job.grid, tags={**tags, "values": "0 no loss, 1 loss, 255 unknown"})
            )
            cfg = job.config
            with bar(len(job.tiles), f"predict {job.name}", unit="window") as progress:
                for item in iter_tiles(
                    job.bundle, job.tiles, read, job.wanted, cfg.batch_size, job.device, job.screen, timings, progress
                ):
                    t0 = time.perf_counter()
                    counts += _write_tile(item, job.threshold, writers[0], writers[1])
                    timings["write"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        for writer in writers:
            writer.close()
        timings["write"] += time.perf_counter() - t0
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    return counts


def _write_tile(item: TileResult, threshold: float, prob_writer: RasterWriter, loss_writer: RasterWriter) -> np.ndarray:
    """Write one tile's kept part into both rasters; its (no loss, loss, unknown) pixel counts."""
    prob = item.probability
    unknown = np.isnan(prob)
    loss = np.where(unknown, MASK_UNKNOWN, prob >= threshold).astype(np.uint8)
    percent = np.where(unknown, PROBABILITY_NODATA, np.round(np.nan_to_num(prob) * 100))
    prob_writer.write(percent.astype(np.uint8), window=item.tile.target_window())
    loss_writer.write(loss, window=item.tile.target_window())
    counts: np.ndarray = np.bincount(np.minimum(loss.ravel(), 2), minlength=3)
    return counts


def _write_products(
    job: _Job, staged: dict[str, Path], counts: np.ndarray, timings: dict[str, float]
) -> PredictionSummary:
    """From the finished rasters: the polygons, the quicklook and the summary."""
    t0 = time.perf_counter()
    features = vectorise(staged["loss"], staged["probability"], job.grid, job.config.min_area_ha)
    collection = feature_collection(features, name=f"{job.name} forest loss")
    write_text_atomic(staged["geojson"], json.dumps(collection, separators=(",", ":")) + "\n")
    timings["vectorise"] = time.perf_counter() - t0

    if "quicklook" in staged:
        t0 = time.perf_counter()
        write_quicklook(staged["quicklook"], job.after, job.scene_bands, staged["probability"], staged["loss"])
        timings["quicklook"] = time.perf_counter() - t0

    timings["total"] = time.perf_counter() - job.start
    summary = _summary(job, features, counts, timings)
    summary.save(staged["summary_json"], indent=2)
    return summary


def _summary(job: _Job, features: list[Feature], counts: np.ndarray, timings: dict[str, float]) -> PredictionSummary:
    grid, cfg = job.grid, job.config
    total_px = grid.width * grid.height
    valid_px = int(counts[0] + counts[1])
    pixel_ha = grid.resolution[0] * grid.resolution[1] / 10_000
    return PredictionSummary(
        schema_version=PredictionSummary.SCHEMA_VERSION,
        name=job.name,
        before=str(job.before),
        after=str(job.after),
        grid=GridInfo.of(grid),
        model=ModelInfo.from_bundle(job.bundle),
        threshold=job.threshold,
        min_area_ha=cfg.min_area_ha,
        window=job.window,
        overlap=cfg.overlap,
        windows=len(job.tiles),
        cloud_screen=job.screen is not False,
        device=job.device,
        engine=job.bundle.engine,
        loss_area_ha=round(sum(f["properties"]["area_ha"] for f in features), 4),
        loss_pixels_area_ha=round(int(counts[1]) * pixel_ha, 4),
        polygons=len(features),
        changed_share=round(int(counts[1]) / valid_px, 6) if valid_px else 0.0,
        unknown_share=round(int(counts[2]) / total_px, 6),
        timings_s={k: round(v, 3) for k, v in timings.items()},
    )


def write_quicklook(
    target: Path, after: Path, after_bands: tuple[str, ...], prob_path: Path, loss_path: Path, max_size: int = 768
) -> Path:
    """The prediction's PNG: after (true colour) | loss probability | loss mask, read decimated."""
    from planet_sentinel.quicklook import colourise_probability, mask_colour, save_panels, true_colour

    mask_rgb = mask_colour(loss_path, max_size)
    try:
        rgb = true_colour(after, max_size, names=after_bands)
    except SentinelError:  # a scene without B04/B03/B02: leave the panel blank
        rgb = np.zeros_like(mask_rgb)
    with open_raster(prob_path) as ds:
        percent = ds.read(1, out_shape=mask_rgb.shape[:2])
    return save_panels(
        target,
        [rgb, colourise_probability(percent, unknown=PROBABILITY_NODATA), mask_rgb],
        ["after (true colour)", "loss probability (blue unknown)", "loss mask: red loss, blue unknown"],
    )
