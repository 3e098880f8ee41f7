"""Whole-scene tiled inference: probabilities, a loss mask, loss polygons and a summary.

One core serves every caller (the CLI, the service, evaluation):

* :func:`predict_batch` runs the model on a batch of equally sized before/after windows and marks
  unknown pixels (nodata on either date, cloud or shadow on either date) as NaN;
* :func:`plan_tiles` cuts a scene into model windows with overlap and **edge-crop blending**:
  each window contributes only its centre, the pixels up to the middle of its overlap with each
  neighbour (at least ``overlap // 2`` from its border), except along the scene edge, where
  windows are shifted inward instead of padded; so no pixel is predicted near a window border
  that is not a scene border, and there are no seams;
* :func:`iter_tiles` streams windows through :func:`predict_batch` and yields each window's
  contribution;
* :func:`predict_arrays` (in memory, for the service and tests) and :func:`predict_scene`
  (streamed from COGs to COGs) only differ in where windows come from and go to.

Memory of :func:`predict_scene`: the scene is read window by window (never whole) and the outputs
are written window by window into tiled GeoTIFFs that GDAL converts to COGs, so the prediction
pass holds ``batch_size`` windows: about ``batch_size x window^2 x (4 x bands x 2 dates
+ network activations, about 40 x base floats)`` bytes, plus GDAL's block cache (capped at
256 MB while a scene is streamed, unless GDAL_CACHEMAX is set). Vectorising the
loss reads the finished loss mask once (1 byte/pixel) and labels it (4 bytes/pixel, plus boolean
temporaries), reading the probability raster in 128-row strips: at most about 7 bytes per scene
pixel (about 470 MB for 8192 x 8192), and only in that step. The quicklook reads decimated
(at most 768 px a side) through the COG overviews: a few tens of MB whatever the scene size.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN, BandOrder, canonical
from planet_sentinel.clouds import SCREEN_BANDS, CloudScreen, cloud_mask
from planet_sentinel.errors import SentinelError
from planet_sentinel.predict.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MIN_WINDOW,
    DEFAULT_OVERLAP,
    PredictConfig,
    PredictOverrides,
)
from planet_sentinel.raster import (
    Grid,
    RasterWriter,
    band_indexes,
    block_windows,
    check_scene_pair,
    io_env,
    mask_writer,
    nodata_pixels,
    open_raster,
    refuse_existing,
    write_text_atomic,
)

if TYPE_CHECKING:
    import torch

    from planet_sentinel.bundle import ModelBundle

#: Probability raster: uint8 percent (0..100), this value where unknown.
PROBABILITY_NODATA = 255


# --------------------------------------------------------------------------------------------
# The core: one batch of windows
# --------------------------------------------------------------------------------------------


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    import torch

    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _select(bands: Sequence[str], wanted: Sequence[str], what: str) -> list[int]:
    names = [canonical(b) for b in bands]
    missing = [b for b in wanted if b not in names]
    if missing:
        raise SentinelError(f"{what}: bands {missing} missing; the input has {names}")
    return [names.index(b) for b in wanted]


def unknown_pixels(
    before: np.ndarray, after: np.ndarray, bands: Sequence[str], screen: CloudScreen | None | bool = True
) -> np.ndarray:
    """(H, W) True where a pixel is nodata (any band 0) or clouded/shadowed on either date.

    ``screen``: True for the default cloud screen, a :class:`CloudScreen`, or False/None for
    none (inputs that are cloud-masked already).
    """
    unknown = nodata_pixels(before, after)
    if screen is not False and screen is not None:
        params = screen if isinstance(screen, CloudScreen) else None
        unknown |= cloud_mask(before, bands, params) | cloud_mask(after, bands, params)
    return unknown


def _pad_to(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Pad the last two axes up to (rows, cols) by reflection."""
    pr, pc = rows - x.shape[-2], cols - x.shape[-1]
    if pr == 0 and pc == 0:
        return x
    pad = [(0, 0)] * (x.ndim - 2) + [(0, pr), (0, pc)]
    mode = "reflect" if min(x.shape[-2:]) > 1 else "edge"
    return np.pad(x, pad, mode=mode)


def predict_batch(
    bundle: ModelBundle,
    before: np.ndarray,
    after: np.ndarray,
    bands: Sequence[str],
    device: str | torch.device | None = None,
    screen: CloudScreen | bool = True,
) -> np.ndarray:
    """Change probabilities of a batch of equally sized windows, NaN where unknown.

    Args:
        bundle: the model and its band list and normalisation.
        before, after: (N, bands, H, W) uint16 reflectance x10000, nodata 0.
        bands: band names of the second axis; the bundle's bands are selected by name.
        device: torch device (default: CUDA if available, else CPU).
        screen: cloud screen (True: default; False: none; or a :class:`CloudScreen`).

    Returns:
        (N, H, W) float32 probabilities; windows whose sides are not a multiple of the model's
        are padded by reflection and cropped back.
    """
    import torch

    if before.shape != after.shape or before.ndim != 4:
        raise SentinelError(f"before {before.shape} and after {after.shape} must be equal (N, bands, H, W) arrays")
    idx = _select(bands, bundle.bands, "model input")
    n, _, h, w = before.shape
    unknown = np.stack([unknown_pixels(before[i], after[i], bands, screen) for i in range(n)])
    m = bundle.model.multiple
    hp, wp = math.ceil(h / m) * m, math.ceil(w / m) * m
    dev = resolve_device(device)
    model = bundle.model
    was_training = model.training
    model.to(dev).eval()
    try:
        with torch.inference_mode():
            xb = torch.from_numpy(_pad_to(before[:, idx].astype(np.float32), hp, wp)).to(dev)
            xa = torch.from_numpy(_pad_to(after[:, idx].astype(np.float32), hp, wp)).to(dev)
            logits = model(bundle.normalise(xb), bundle.normalise(xa))
            prob = torch.sigmoid(logits.float())[:, 0, :h, :w].cpu().numpy()
    finally:
        model.train(was_training)
    prob = np.ascontiguousarray(prob, dtype=np.float32)
    prob[unknown] = np.nan
    return prob


# --------------------------------------------------------------------------------------------
# Tiling with edge-crop blending
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One model window: where it is read, and the part of it that is kept."""

    row: int
    col: int
    height: int
    width: int
    keep_row0: int
    keep_row1: int
    keep_col0: int
    keep_col1: int

    @property
    def keep(self) -> tuple[slice, slice]:
        """The kept part, in window coordinates."""
        return slice(self.keep_row0, self.keep_row1), slice(self.keep_col0, self.keep_col1)

    @property
    def target(self) -> tuple[slice, slice]:
        """The kept part, in scene coordinates."""
        return (
            slice(self.row + self.keep_row0, self.row + self.keep_row1),
            slice(self.col + self.keep_col0, self.col + self.keep_col1),
        )

    def read_window(self) -> Any:
        from rasterio.windows import Window

        return Window(self.col, self.row, self.width, self.height)

    def target_window(self) -> Any:
        from rasterio.windows import Window

        return Window(
            self.col + self.keep_col0,
            self.row + self.keep_row0,
            self.keep_col1 - self.keep_col0,
            self.keep_row1 - self.keep_row0,
        )


def _axis(length: int, window: int, overlap: int) -> list[tuple[int, int, int]]:
    """(start, keep_from, keep_to) per window along one axis, keep_* relative to start."""
    if length <= window:
        return [(0, 0, length)]
    stride = window - overlap
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)  # shifted inward: no padding beyond the scene
    # each pair of neighbours splits their overlap in the middle
    cuts = [0] + [(starts[i + 1] + starts[i] + window) // 2 for i in range(len(starts) - 1)] + [length]
    return [(s, cuts[i] - s, cuts[i + 1] - s) for i, s in enumerate(starts)]


def plan_tiles(height: int, width: int, window: int, overlap: int) -> list[Tile]:
    """Windows of ``window`` px (or the scene side, if smaller) covering the scene.

    Windows step by ``window - overlap``; the last one along each axis is aligned with the scene
    edge. Each window keeps the pixels closer to its centre than to a neighbour's: at least
    ``overlap // 2`` from any border that is not the scene's. The kept parts tile the scene
    exactly once.
    """
    if window <= 0 or overlap < 0 or (overlap >= window and max(height, width) > window):
        raise SentinelError(f"overlap ({overlap}) must be >= 0 and smaller than the window ({window})")
    rows, cols = _axis(height, window, overlap), _axis(width, window, overlap)
    h, w = min(window, height), min(window, width)
    return [Tile(r, c, h, w, r0, r1, c0, c1) for r, r0, r1 in rows for c, c0, c1 in cols]


def resolve_window(bundle: ModelBundle, window: int | None, height: int, width: int, overlap: int = 0) -> int:
    """The window side: ``window`` or max(chip size, 512), a multiple of the model's input multiple,
    capped to the scene (rounded up to that multiple: smaller scenes are padded)."""
    m = bundle.model.multiple
    if window is None:
        window = math.ceil(max(bundle.chip_size, DEFAULT_MIN_WINDOW) / m) * m
    elif window <= 0 or window % m:
        raise SentinelError(f"window {window} must be a positive multiple of {m} (the model's input multiple)")
    if not 0 <= overlap < window:
        raise SentinelError(f"overlap ({overlap}) must be >= 0 and smaller than the window ({window})")
    return min(window, math.ceil(max(height, width) / m) * m)


Reader = Callable[[Tile], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class TileResult:
    """A tile's kept probabilities (NaN unknown) and the matching crops of its inputs (views)."""

    tile: Tile
    probability: np.ndarray
    before: np.ndarray
    after: np.ndarray


def iter_tiles(
    bundle: ModelBundle,
    tiles: Sequence[Tile],
    read: Reader,
    bands: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
    screen: CloudScreen | bool = True,
    timings: dict[str, float] | None = None,
    progress: Any = None,
) -> Iterator[TileResult]:
    """Predict ``tiles`` in batches; yield each tile's kept probabilities (NaN unknown) and inputs.

    ``read(tile)`` returns the (bands, h, w) before and after arrays of a tile. ``timings``
    accumulates ``read`` and ``forward`` seconds.
    """
    if batch_size < 1:
        raise SentinelError(f"batch_size must be >= 1, got {batch_size}")
    timings = timings if timings is not None else {}
    timings.setdefault("read", 0.0)
    timings.setdefault("forward", 0.0)
    dev = resolve_device(device)
    for start in range(0, len(tiles), batch_size):
        batch = tiles[start : start + batch_size]
        t0 = time.perf_counter()
        pairs = [read(tile) for tile in batch]
        before = np.stack([p[0] for p in pairs])
        after = np.stack([p[1] for p in pairs])
        del pairs
        t1 = time.perf_counter()
        prob = predict_batch(bundle, before, after, bands, dev, screen)
        timings["read"] += t1 - t0
        timings["forward"] += time.perf_counter() - t1
        for tile, p, b, a in zip(batch, prob, before, after, strict=True):
            rows, cols = tile.keep
            yield TileResult(tile, p[rows, cols], b[:, rows, cols], a[:, rows, cols])
        if progress is not None:
            progress.update(len(batch))


def input_bands(bundle: ModelBundle, screen: CloudScreen | bool) -> list[str]:
    """The model's bands, then the extra bands the cloud screen reads."""
    bands = list(bundle.bands)
    if screen is not False:
        bands += [b for b in SCREEN_BANDS if b not in bands]
    return bands


def predict_arrays(
    bundle: ModelBundle,
    before: np.ndarray,
    after: np.ndarray,
    bands: Sequence[str],
    window: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
    screen: CloudScreen | bool = True,
) -> np.ndarray:
    """Tiled prediction of an in-memory scene pair: (H, W) float32 probability, NaN where unknown.

    Args:
        bundle: the model bundle.
        before, after: (bands, H, W) uint16 reflectance x10000, nodata 0, on one grid.
        bands: band names of the first axis (the bundle's bands are selected by name).
        window: window side (default max(chip size, 512), capped to the scene).
        overlap: pixels shared by neighbouring windows; ``overlap // 2`` is cropped from each.
        batch_size: windows per forward pass.
        device: torch device (default CUDA if available, else CPU).
        screen: cloud screen (True: default; False: none; or a :class:`CloudScreen`).

    The bundle's model is moved to ``device`` and used in eval mode (its mode is restored).
    """
    before, after = np.asarray(before), np.asarray(after)
    if before.ndim != 3 or before.shape != after.shape:
        raise SentinelError(f"before {before.shape} and after {after.shape} must be equal (bands, H, W) arrays")
    if len(bands) != before.shape[0]:
        raise SentinelError(f"{len(bands)} band names for {before.shape[0]} bands")
    wanted = input_bands(bundle, screen)
    idx = _select(bands, wanted, "scene")
    _, height, width = before.shape
    win = resolve_window(bundle, window, height, width, overlap)
    tiles = plan_tiles(height, width, win, overlap)

    def read(t: Tile) -> tuple[np.ndarray, np.ndarray]:
        sl = (idx, slice(t.row, t.row + t.height), slice(t.col, t.col + t.width))
        return before[sl], after[sl]

    out = np.full((height, width), np.nan, np.float32)
    for item in iter_tiles(bundle, tiles, read, wanted, batch_size, device, screen):
        out[item.tile.target] = item.probability
    return out


# --------------------------------------------------------------------------------------------
# Vectorisation
# --------------------------------------------------------------------------------------------


def loss_polygons(
    mask: np.ndarray,
    transform: Any,
    crs: Any,
    min_area_ha: float = 0.5,
    probability: Callable[[np.ndarray], np.ndarray] | np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """GeoJSON features (EPSG:4326, RFC 7946) of the loss patches of a mask.

    Patches (4-connected pixels of value 1) smaller than ``min_area_ha`` are dropped before
    vectorising (the minimum mapping unit). Each feature has ``area_ha`` (computed in the
    mask's projected CRS), ``pixels`` and, when ``probability`` is given, ``mean_probability``
    (0..1) of its pixels. ``probability`` is a (H, W) array of probabilities, or a function that
    takes the label image and returns the per-label probability sums (index 0 unused), so a
    caller can stream the probability raster instead of holding it.
    """
    from rasterio.features import shapes
    from rasterio.warp import transform_geom
    from scipy import ndimage
    from shapely.geometry import mapping, shape
    from shapely.geometry.polygon import orient

    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    min_px = max(1, math.ceil(min_area_ha * 10_000 / pixel_area - 1e-9)) if min_area_ha > 0 else 1
    labels, n = ndimage.label(mask == 1)
    if n == 0:
        return []
    sizes = np.zeros(n + 1, np.int64)
    for row in range(0, labels.shape[0], 256):  # in strips: bincount works in 8-byte integers
        sizes += np.bincount(labels[row : row + 256].ravel(), minlength=n + 1)
    small = sizes < min_px
    small[0] = True
    labels[small[labels]] = 0
    sums = None
    if probability is not None:
        if callable(probability):
            sums = probability(labels)
        else:
            sums = ndimage.sum_labels(probability, labels, np.arange(n + 1))
    features = []
    labels = labels.astype(np.int32, copy=False)
    for geom, value in shapes(labels, mask=labels > 0, transform=transform, connectivity=4):
        label = int(value)
        area_ha = shape(geom).area / 10_000
        wgs84 = shape(transform_geom(crs, "EPSG:4326", geom))
        wgs84 = orient(wgs84, sign=1.0) if wgs84.geom_type == "Polygon" else wgs84
        props: dict[str, Any] = {"area_ha": round(area_ha, 4), "pixels": int(sizes[label])}
        if sums is not None:
            props["mean_probability"] = round(float(sums[label]) / int(sizes[label]), 4)
        features.append({"type": "Feature", "properties": props, "geometry": _round_geometry(mapping(wgs84))})
    features.sort(key=lambda f: -f["properties"]["area_ha"])
    for i, feature in enumerate(features, start=1):
        feature["id"] = i
        feature["properties"] = {"id": i, **feature["properties"]}
    return features


def _round_geometry(geom: dict[str, Any], digits: int = 7) -> dict[str, Any]:
    def rnd(coords: Any) -> Any:
        if isinstance(coords[0], (int, float)):
            return [round(float(c), digits) for c in coords]
        return [rnd(c) for c in coords]

    return {"type": geom["type"], "coordinates": rnd(geom["coordinates"])}


def feature_collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", **members, "features": features}


# --------------------------------------------------------------------------------------------
# Whole scene, streamed
# --------------------------------------------------------------------------------------------


@dataclass
class PredictionResult:
    """The files :func:`predict_scene` wrote and its summary."""

    probability: Path
    loss: Path
    geojson: Path
    summary_json: Path
    quicklook: Path | None = None  # None when not asked for (the service does not return it)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        paths = {k: None if v is None else str(v) for k, v in asdict(self).items() if k != "summary"}
        return {**paths, "summary": self.summary}


def output_paths(name: str, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    return {
        "probability": out / f"{name}_probability.tif",
        "loss": out / f"{name}_loss.tif",
        "geojson": out / f"{name}_loss.geojson",
        "summary_json": out / f"{name}_prediction.json",
        "quicklook": out / f"{name}_quicklook.png",
    }


def model_info(bundle: ModelBundle) -> dict[str, Any]:
    """What identifies the model in a prediction's summary."""
    config = getattr(bundle.model, "config", None)
    source = bundle.source
    return {
        "name": source.get("name"),
        "version": source.get("version"),
        "alias": source.get("alias"),
        "uri": source.get("uri"),
        "run_id": source.get("run_id"),
        "fingerprint": bundle.fingerprint,
        "bands": list(bundle.bands),
        "chip_size": bundle.chip_size,
        "threshold": bundle.threshold,
        "architecture": config.to_dict() if hasattr(config, "to_dict") else None,
        "metrics": dict(bundle.metrics),
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


def predict_scene(
    bundle: ModelBundle,
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
    ``<name>_prediction.json`` (model, threshold, areas, shares, timings) and
    ``<name>_quicklook.png`` (after | probability | loss). Outputs are staged in a temporary
    directory and moved into place only when all are complete; existing outputs are refused
    unless ``overwrite``.

    Args:
        bundle: the model bundle.
        before, after: scenes on one grid holding the bundle's bands (by name, any order).
        out_dir: output directory.
        name: output prefix (default: the before file's name without ``_before``).
        config: window, overlap, batch size, threshold (default: the bundle's), minimum mapping
            unit and device (:class:`PredictConfig`; default: its defaults).
        overrides: fields of ``config`` replaced for this call (``window=256``); None keeps the config's.
        screen: as in :func:`predict_arrays`.
        overwrite: replace existing outputs.
        quicklook: write the PNG quicklook (the service, which does not return it, skips it).
        order: the band order the user stated, for scenes without band descriptions (see
            :func:`planet_sentinel.raster.band_names`).
    """
    start = time.perf_counter()
    cfg = (config or PredictConfig()).with_overrides(overrides)
    window, overlap, batch_size, min_area_ha, device = (
        cfg.window,
        cfg.overlap,
        cfg.batch_size,
        cfg.min_area_ha,
        cfg.device,
    )
    before, after, out_dir = Path(before), Path(after), Path(out_dir)
    name = name or scene_name(before)
    threshold = bundle.threshold if cfg.threshold is None else float(cfg.threshold)
    wanted = input_bands(bundle, screen)
    grid, scene_bands = check_scene_pair(before, after, (order or BandOrder()).with_example(bundle.bands))
    paths = output_paths(name, out_dir)
    if not quicklook:
        del paths["quicklook"]
    refuse_existing(list(paths.values()), overwrite)
    win = resolve_window(bundle, window, grid.height, grid.width, overlap)
    tiles = plan_tiles(grid.height, grid.width, win, overlap)

    out_dir.mkdir(parents=True, exist_ok=True)
    with io_env():
        return _predict_scene(
            bundle,
            before,
            after,
            out_dir,
            name,
            paths,
            tiles,
            win,
            overlap,
            batch_size,
            threshold,
            min_area_ha,
            device,
            screen,
            wanted,
            scene_bands,
            grid,
            start,
        )


def _predict_scene(
    bundle: ModelBundle,
    before: Path,
    after: Path,
    out_dir: Path,
    name: str,
    paths: dict[str, Path],
    tiles: list[Tile],
    win: int,
    overlap: int,
    batch_size: int,
    threshold: float,
    min_area_ha: float,
    device: str | torch.device | None,
    screen: CloudScreen | bool,
    wanted: list[str],
    scene_bands: tuple[str, ...],
    grid: Grid,
    start: float,
) -> PredictionResult:
    from planet_sentinel.progress import bar

    stage = Path(tempfile.mkdtemp(prefix=f".{name}.predict-", dir=out_dir))
    staged = {k: stage / p.name for k, p in paths.items()}
    timings: dict[str, float] = {"read": 0.0, "forward": 0.0, "write": 0.0}
    counts = np.zeros(3, np.int64)  # no loss, loss, unknown
    writers: list[RasterWriter] = []
    try:
        src_b, src_a = open_raster(before), open_raster(after)
        try:
            idx_b, idx_a = band_indexes(src_b, wanted, scene_bands), band_indexes(src_a, wanted, scene_bands)

            def read(t: Tile) -> tuple[np.ndarray, np.ndarray]:
                w = t.read_window()
                return src_b.read(idx_b, window=w), src_a.read(idx_a, window=w)

            tags = {"model_fingerprint": bundle.fingerprint, "threshold": threshold, "source_after": after.name}
            prob_writer = RasterWriter(
                staged["probability"],
                grid,
                1,
                "uint8",
                PROBABILITY_NODATA,
                ["loss_probability_percent"],
                tags={**tags, "values": "probability of forest loss in percent, 255 unknown"},
            )
            writers.append(prob_writer)
            loss_writer = mask_writer(staged["loss"], grid, tags={**tags, "values": "0 no loss, 1 loss, 255 unknown"})
            writers.append(loss_writer)
            with bar(len(tiles), f"predict {name}", unit="window") as progress:
                for item in iter_tiles(bundle, tiles, read, wanted, batch_size, device, screen, timings, progress):
                    t0 = time.perf_counter()
                    tile, prob = item.tile, item.probability
                    unknown = np.isnan(prob)
                    loss = np.where(unknown, MASK_UNKNOWN, prob >= threshold).astype(np.uint8)
                    percent = np.where(unknown, PROBABILITY_NODATA, np.round(np.nan_to_num(prob) * 100))
                    prob_writer.write(percent.astype(np.uint8), window=tile.target_window())
                    loss_writer.write(loss, window=tile.target_window())
                    counts += np.bincount(np.minimum(loss.ravel(), 2), minlength=3)
                    timings["write"] += time.perf_counter() - t0
        finally:
            src_b.close()
            src_a.close()
        t0 = time.perf_counter()
        for writer in writers:
            writer.close()
        writers.clear()
        timings["write"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        features = _vectorise(staged["loss"], staged["probability"], grid, min_area_ha)
        collection = feature_collection(features, name=f"{name} forest loss")
        write_text_atomic(staged["geojson"], json.dumps(collection, separators=(",", ":")) + "\n")
        timings["vectorise"] = time.perf_counter() - t0

        if "quicklook" in staged:
            t0 = time.perf_counter()
            _quicklook(staged["quicklook"], after, scene_bands, staged["probability"], staged["loss"])
            timings["quicklook"] = time.perf_counter() - t0

        total_px = grid.width * grid.height
        valid_px = int(counts[0] + counts[1])
        pixel_ha = grid.resolution[0] * grid.resolution[1] / 10_000
        timings["total"] = time.perf_counter() - start
        summary = {
            "name": name,
            "before": str(before),
            "after": str(after),
            "grid": {
                "crs": grid.crs.to_string(),
                "width": grid.width,
                "height": grid.height,
                "transform": list(grid.transform)[:6],
            },
            "model": model_info(bundle),
            "threshold": threshold,
            "min_area_ha": min_area_ha,
            "window": win,
            "overlap": overlap,
            "windows": len(tiles),
            "cloud_screen": screen is not False,
            "device": str(resolve_device(device)),
            "loss_area_ha": round(sum(f["properties"]["area_ha"] for f in features), 4),
            "loss_pixels_area_ha": round(int(counts[1]) * pixel_ha, 4),
            "polygons": len(features),
            "changed_share": round(int(counts[1]) / valid_px, 6) if valid_px else 0.0,
            "unknown_share": round(int(counts[2]) / total_px, 6),
            "timings_s": {k: round(v, 3) for k, v in timings.items()},
        }
        write_text_atomic(staged["summary_json"], json.dumps(summary, indent=2) + "\n")
        for key, path in paths.items():
            os.replace(staged[key], path)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return PredictionResult(**paths, summary=summary)


def _vectorise(loss_path: Path, prob_path: Path, grid: Grid, min_area_ha: float) -> list[dict[str, Any]]:
    """Polygons of a finished loss COG; the probability COG is read strip by strip."""
    with open_raster(loss_path) as ds:
        mask = ds.read(1)

    def probability_sums(labels: np.ndarray) -> np.ndarray:
        n = int(labels.max())
        sums = np.zeros(n + 1, np.float64)
        with open_raster(prob_path) as ds:
            for w in block_windows(grid, rows=128):
                strip = labels[w.row_off : w.row_off + w.height]
                if strip.any():
                    percent = ds.read(1, window=w)
                    sums += np.bincount(strip.ravel(), weights=percent.ravel(), minlength=n + 1)
        return sums / 100.0

    return loss_polygons(mask, grid.transform, grid.crs, min_area_ha, probability_sums)


def colourise_probability(percent: np.ndarray) -> np.ndarray:
    """uint8 percent -> RGB: dark grey (0) through yellow to red (100); unknown light blue."""
    p = np.clip(percent.astype(np.float32), 0, 100) / 100.0
    stops = np.array([[40, 40, 40], [250, 220, 60], [220, 20, 20]], np.float32)
    lo = np.where(p[..., None] < 0.5, stops[0], stops[1])
    hi = np.where(p[..., None] < 0.5, stops[1], stops[2])
    t = np.where(p < 0.5, p * 2, (p - 0.5) * 2)[..., None]
    rgb = (lo + (hi - lo) * t).astype(np.uint8)
    rgb[percent == PROBABILITY_NODATA] = (150, 200, 255)
    return rgb


def _quicklook(
    target: Path, after: Path, after_bands: tuple[str, ...], prob_path: Path, loss_path: Path, max_size: int = 768
) -> Path:
    from planet_sentinel.quicklook import mask_colour, save_panels, true_colour

    mask_rgb = mask_colour(loss_path, max_size)
    try:
        rgb = true_colour(after, max_size, names=after_bands)
    except SentinelError:  # a scene without B04/B03/B02: leave the panel blank
        rgb = np.zeros_like(mask_rgb)
    with open_raster(prob_path) as ds:
        percent = ds.read(1, out_shape=mask_rgb.shape[:2])
    return save_panels(
        target,
        [rgb, colourise_probability(percent), mask_rgb],
        ["after (true colour)", "loss probability (blue unknown)", "loss mask: red loss, blue unknown"],
    )
