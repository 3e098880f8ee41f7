"""Local rasters: single-band Sentinel-2 files stacked onto one 10 m grid, and OSCD city folders.

Copernicus delivers one file per band at the band's native resolution (10, 20 or 60 m), in the
tile's UTM zone; archives such as OSCD re-project them to EPSG:4326. ``import_files`` turns
such a set for two dates into the scene contract (see ``planet_sentinel.raster``): a before and
an after scene on ONE 10 m grid in a projected CRS, uint16, nodata 0, band names in the band
descriptions, plus an optional change mask, an import summary (JSON) and a quicklook (PNG).

Every band is warped straight from its own file onto the target grid, one band at a time, so
memory stays bounded by one band whatever the number of bands (``planet_sentinel.sources.warp``).

Source rasters without a declared nodata value use 0, the Sentinel-2 convention for "no data".
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from planet_sentinel.bands import (
    CATALOGUE,
    DEFAULT_BANDS,
    MASK_UNKNOWN,
    band_from_filename,
    require_bands,
    validate_bands,
)
from planet_sentinel.errors import SentinelError
from planet_sentinel.quicklook import mask_colour, save_panels, scene_quicklook, true_colour
from planet_sentinel.raster import (
    Grid,
    block_windows,
    mask_writer,
    open_raster,
    refuse_existing,
    staged_outputs,
)
from planet_sentinel.sources.warp import (
    STRIP_ROWS,
    TARGET_RESOLUTION,
    describe_source,
    target_grid,
    warp_mask,
    write_date,
)
from planet_sentinel.workspace import SceneFiles

_RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportedScene:
    """The files written by an import, and the grid they share."""

    before: Path
    after: Path
    mask: Path | None
    quicklook: Path
    summary_json: Path
    grid: Grid

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": str(self.before),
            "after": str(self.after),
            "mask": str(self.mask) if self.mask else None,
            "quicklook": str(self.quicklook),
            "summary_json": str(self.summary_json),
            "grid": _grid_dict(self.grid),
        }


def _grid_dict(grid: Grid) -> dict[str, Any]:
    return {
        **grid.to_dict(),
        "resolution": list(grid.resolution),
        "bounds": list(grid.bounds),
    }


# --------------------------------------------------------------------------------------------
# Band detection


def band_of_file(path: Path) -> str:
    """The Sentinel-2 band a single-band file holds, from its name; error if none or ambiguous."""
    band = band_from_filename(path.name)
    if band is None:
        raise SentinelError(
            f"{path}: cannot tell which Sentinel-2 band this file holds; name files as "
            "Copernicus does (e.g. T20LKP_20240101T140049_B04_10m.jp2 or ..._B8A.tif)"
        )
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", path.stem) if t]
    found = sorted({b for b in (band_from_filename(t) for t in tokens) if b is not None})
    if len(found) > 1:
        raise SentinelError(
            f"{path}: the file name mentions several bands ({', '.join(found)}); rename it so it names exactly one band"
        )
    return band


def _files_by_band(files: Sequence[Path], bands: Sequence[str], date: str) -> dict[str, Path]:
    if not files:
        raise SentinelError(f"no {date} files given; pass one single-band raster per band")
    by_band: dict[str, Path] = {}
    for f in files:
        f = Path(f)
        if not f.exists():
            raise SentinelError(f"{f}: no such file ({date} date)")
        band = band_of_file(f)
        if band in by_band:
            raise SentinelError(
                f"band {band} given twice for the {date} date: {by_band[band]} and {f}; pass one file per band"
            )
        by_band[band] = f
    require_bands(
        bands,
        by_band,
        lambda missing: (
            f"the {date} date lacks bands {missing}: got {sorted(by_band)} from "
            f"{len(files)} file(s); add the files or choose other bands"
        ),
    )
    return {b: by_band[b] for b in bands}


def _quicklook(target: Path, before: Path, after: Path, mask: Path | None, bands: Sequence[str]) -> Path:
    """The standard quicklook; grey-scale of the first band when B04/B03/B02 are not stacked."""
    rgb = ("B04", "B03", "B02")
    if all(b in bands for b in rgb):
        return scene_quicklook(target, before, after, mask)
    grey = (bands[0],) * 3
    panels = [true_colour(before, bands=grey), true_colour(after, bands=grey)]
    titles = [f"before ({bands[0]})", f"after ({bands[0]})"]
    if mask is not None:
        panels.append(mask_colour(mask))
        titles.append("mask: red loss, blue unknown")
    return save_panels(target, panels, titles)


# --------------------------------------------------------------------------------------------
# Public entry points


def import_files(
    before: list[Path],
    after: list[Path],
    name: str,
    out_dir: Path,
    bands: Sequence[str] = DEFAULT_BANDS,
    mask: Path | None = None,
    crs: str | None = None,
    add_offset: int = 0,
    overwrite: bool = False,
    dates: tuple[str | None, str | None] | None = None,
) -> ImportedScene:
    """Stack single-band Sentinel-2 rasters of two dates onto one 10 m grid as a scene pair.

    Args:
        before: single-band rasters of the first date, one per band (extra bands are ignored);
            the band is read from each file name (``..._B04_10m.jp2``, ``..._B8A.tif``).
        after: the same for the second date.
        name: output name; files are ``<name>_before.tif``, ``<name>_after.tif``,
            ``<name>_mask.tif`` (with ``mask``), ``<name>_import.json``, ``<name>_quicklook.png``.
        out_dir: output folder (created if missing).
        bands: bands to stack, in this order.
        mask: optional georeferenced change mask (0 no loss, 1 loss, 255 unknown), warped with
            nearest neighbour onto the grid.
        crs: force the output CRS (projected, metres); default: the reference band's own grid
            when it is projected at 10 m, else the UTM zone of its centre.
        add_offset: added to every valid digital number, e.g. -1000 for the L2A BOA_ADD_OFFSET
            of processing baseline 04.00; results are clipped at 1 so they never read as nodata.
        overwrite: replace existing outputs (and remove ``<name>_mask.tif`` left by an earlier
            import when no mask is given now, since it would not match the new scenes).
        dates: optional (before, after) acquisition dates recorded in the summary and as tags.

    Raises:
        SentinelError: for any input that cannot produce a valid scene pair.
    """
    return _import(before, after, name, out_dir, bands, mask, crs, add_offset, overwrite, dates, {})


def _import(
    before: Sequence[Path],
    after: Sequence[Path],
    name: str,
    out_dir: Path,
    bands: Sequence[str],
    mask: Path | None,
    crs: str | None,
    add_offset: int,
    overwrite: bool,
    dates: tuple[str | None, str | None] | None,
    extra: dict[str, Any],
    mask_label: str | None = None,
) -> ImportedScene:
    bands = _checked_request(name, bands, add_offset)
    out_dir = Path(out_dir)
    paths = SceneFiles(out_dir, name, "import").paths()
    stale_mask = _stale_mask(paths, mask is not None, overwrite)
    files = {
        "before": _files_by_band([Path(p) for p in before], bands, "before"),
        "after": _files_by_band([Path(p) for p in after], bands, "after"),
    }
    sources = {
        date: {band: describe_source(path, band) for band, path in by_band.items()} for date, by_band in files.items()
    }
    if mask is not None and not Path(mask).exists():
        raise SentinelError(f"{mask}: no such file (mask)")
    reference = files["before"][_reference_band(bands)]
    grid, grid_how = target_grid(reference, crs)
    log.info(f"target grid: {grid.describe()} ({grid_how})")
    date_of = dict(zip(("before", "after"), dates or (None, None), strict=True))

    made = {key: path for key, path in paths.items() if key != "mask" or mask is not None}
    with staged_outputs(made, out_dir, f".{name}.import.") as staged:
        both = _write_dates(files, grid, staged, name, add_offset, date_of, sources)
        mask_info, mask_stats = None, None
        if mask is not None:
            log.info(f"mask from {Path(mask).name}")
            mask_info, mask_stats = _write_mask(Path(mask), grid, both, staged["mask"], name, mask_label)
        log.info("quicklook")
        _quicklook(staged["quicklook"], staged["before"], staged["after"], staged["mask"] if mask else None, bands)
        summary = {
            "name": name,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bands": list(bands),
            "outputs": {k: str(v) for k, v in made.items()},
            "grid": _grid_dict(grid),
            "grid_from": grid_how,
            "reference": str(reference),
            "resampling": {"reflectance": "bilinear", "mask": "nearest", "same_grid": "copied without resampling"},
            "add_offset": add_offset,
            "dates": date_of,
            "sources": sources,
            "valid_pixels": {"both_dates": int(both.sum()), "total": grid.width * grid.height},
            "mask": mask_info,
            "mask_pixels": mask_stats,
            **extra,
        }
        staged["summary_json"].write_text(json.dumps(summary, indent=2) + "\n")
    if stale_mask is not None:
        stale_mask.unlink(missing_ok=True)
    log.info(f"wrote {paths['before']} and {paths['after']}")
    return ImportedScene(
        before=paths["before"],
        after=paths["after"],
        mask=paths["mask"] if mask is not None else None,
        quicklook=paths["quicklook"],
        summary_json=paths["summary_json"],
        grid=grid,
    )


def _write_dates(
    files: dict[str, dict[str, Path]],
    grid: Grid,
    staged: dict[str, Path],
    name: str,
    add_offset: int,
    date_of: dict[str, str | None],
    sources: dict[str, dict[str, dict[str, Any]]],
) -> np.ndarray:
    """Write both dates' scenes into ``staged`` (noting each band's resampling in ``sources``);
    the pixels valid on both dates, refusing scenes that do not overlap. The staging directory is
    also the warp's scratch space."""
    valid: dict[str, np.ndarray] = {}
    for date in ("before", "after"):
        tags = {"source": "files", "scene_name": name, "date_role": date}
        acquired = date_of[date]
        if acquired:
            tags["acquisition_date"] = acquired
        valid[date], how = write_date(date, files[date], grid, staged[date], staged[date].parent, add_offset, tags)
        for band, method in how.items():
            sources[date][band]["resampling"] = method
    both: np.ndarray = valid["before"] & valid["after"]
    if not both.any():
        raise SentinelError(
            "the before and after scenes do not overlap on the target grid: no pixel has "
            "data on both dates. Check that both dates cover the same area."
        )
    return both


def _reference_band(bands: Sequence[str]) -> str:
    """The band whose before file sets the grid: the first 10 m band, else the finest one."""
    ten_m = [b for b in bands if CATALOGUE[b].resolution_m == TARGET_RESOLUTION]
    return ten_m[0] if ten_m else min(bands, key=lambda b: CATALOGUE[b].resolution_m)


def _checked_request(name: str, bands: Sequence[str], add_offset: int) -> tuple[str, ...]:
    """Refuse a bad scene name, band list or offset before any work; the validated bands."""
    if not name or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise SentinelError(f"scene name {name!r} must be letters, digits, '.', '_' or '-'")
    try:
        checked = validate_bands(list(bands))
    except ValueError as exc:
        raise SentinelError(str(exc)) from exc
    if not isinstance(add_offset, int) or not -10_000 <= add_offset <= 10_000:
        raise SentinelError(f"add_offset must be an integer in -10000..10000, got {add_offset!r}")
    return checked


def _stale_mask(paths: dict[str, Path], with_mask: bool, overwrite: bool) -> Path | None:
    """Refuse existing outputs unless ``overwrite``; the mask of an earlier import that would no
    longer match the new scenes (to remove once they are written), if any."""
    wanted = [paths[k] for k in ("before", "after", "summary_json", "quicklook")]
    if with_mask:
        wanted.append(paths["mask"])
    refuse_existing(wanted, overwrite)
    return paths["mask"] if overwrite and not with_mask and paths["mask"].exists() else None


def _write_mask(
    mask: Path, grid: Grid, both: np.ndarray, target: Path, name: str, label: str | None
) -> tuple[dict[str, Any], dict[str, int]]:
    """Warp ``mask`` onto ``grid``, unknown where either date has no data, and write it to
    ``target``; returns its description and pixel counts for the summary."""
    warped, info = warp_mask(mask, grid)
    if label is not None:
        info["path"] = label
    warped[~both] = MASK_UNKNOWN
    counts = np.bincount(warped.ravel(), minlength=256)
    stats = {"no_loss": int(counts[0]), "loss": int(counts[1]), "unknown": int(counts[MASK_UNKNOWN])}
    with mask_writer(target, grid, tags={"source": "files", "scene_name": name}) as w:
        for window in block_windows(grid, rows=STRIP_ROWS):
            rows = slice(window.row_off, window.row_off + window.height)
            w.write(warped[rows], window=window)
    return info, stats


# --------------------------------------------------------------------------------------------
# OSCD


def _raster_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SentinelError(f"{folder}: no such folder; an OSCD city has imgs_1/ and imgs_2/")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _RASTER_SUFFIXES)
    if not files:
        raise SentinelError(f"{folder}: no band rasters (*.tif) found")
    return files


def _oscd_dates(city_dir: Path) -> tuple[str | None, str | None]:
    path = city_dir / "dates.txt"
    if not path.exists():
        return (None, None)
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*date_([12])\s*:\s*(\d{4})-?(\d{2})-?(\d{2})\s*$", line)
        if m:
            found[m.group(1)] = f"{m.group(2)}-{m.group(3)}-{m.group(4)}"
    if set(found) != {"1", "2"}:
        raise SentinelError(f"{path}: expected lines 'date_1: YYYYMMDD' and 'date_2: YYYYMMDD'")
    return (found["1"], found["2"])


def _oscd_change_mask(city_dir: Path) -> Path:
    cm_dir = city_dir / "cm"
    expected = cm_dir / f"{city_dir.name}-cm.tif"
    if expected.exists():
        return expected
    candidates = sorted(cm_dir.glob("*.tif")) if cm_dir.is_dir() else []
    if len(candidates) == 1:
        return candidates[0]
    raise SentinelError(
        f"{city_dir}: no change mask; expected {expected}"
        + (f" (found {[c.name for c in candidates]})" if candidates else "")
    )


def _georeference_oscd_mask(cm: Path, reference: Path, target: Path) -> dict[str, Any]:
    """Write the OSCD mask (1 no change, 2 change) as a georeferenced 0/1/255 GeoTIFF."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # OSCD masks have no georeference
        with open_raster(cm) as ds:
            if ds.count != 1:
                raise SentinelError(f"{cm}: a change mask has one band, got {ds.count}")
            raw = ds.read(1)
            cm_crs = ds.crs
            cm_transform = ds.transform
    with open_raster(reference) as ref:
        if (ref.height, ref.width) != raw.shape:
            raise SentinelError(
                f"{cm}: {raw.shape[1]}x{raw.shape[0]} px, but the date-1 10 m band "
                f"{reference.name} is {ref.width}x{ref.height}; OSCD masks are drawn on that grid"
            )
        crs, transform = ref.crs, ref.transform
    if cm_crs is not None:  # already georeferenced: keep its own placement
        crs, transform = cm_crs, cm_transform
    values, counts = np.unique(raw, return_counts=True)
    original = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
    if not set(original) & {1, 2}:
        raise SentinelError(f"{cm}: values {sorted(original)}; OSCD masks hold 1 = no change, 2 = change")
    mapped = np.full(raw.shape, MASK_UNKNOWN, dtype=np.uint8)
    mapped[raw == 1] = 0
    mapped[raw == 2] = 1
    with rasterio.open(
        target,
        "w",
        driver="GTiff",
        width=raw.shape[1],
        height=raw.shape[0],
        count=1,
        dtype="uint8",
        crs=crs,
        transform=transform,
        nodata=MASK_UNKNOWN,
    ) as dst:
        dst.write(mapped, 1)
    return {
        "path": str(cm),
        "georeferenced_from": str(reference) if cm_crs is None else "its own CRS",
        "values": original,
        "mapping": {"1": 0, "2": 1, "other": MASK_UNKNOWN},
        "change_share": original.get(2, 0) / raw.size,
    }


def import_oscd(
    city_dir: Path,
    out_dir: Path,
    name: str | None = None,
    bands: Sequence[str] = DEFAULT_BANDS,
    overwrite: bool = False,
) -> ImportedScene:
    """Import an OSCD city folder (``imgs_1/``, ``imgs_2/``, ``cm/<city>-cm.tif``, ``dates.txt``).

    The date-1 10 m grid is the reference: all bands of both dates (date 2 is a few pixels
    smaller in some cities) are warped from EPSG:4326 onto one UTM 10 m grid over its footprint.
    The change mask, which is not georeferenced, is given the date-1 10 m band's placement,
    mapped 1 -> 0 (no change), 2 -> 1 (change), anything else -> 255, and warped with nearest
    neighbour; pixels outside the footprint are 255.
    """
    city_dir = Path(city_dir)
    if not city_dir.is_dir():
        raise SentinelError(f"{city_dir}: no such OSCD city folder")
    name = name or city_dir.name
    files_1 = _raster_files(city_dir / "imgs_1")
    files_2 = _raster_files(city_dir / "imgs_2")
    cm = _oscd_change_mask(city_dir)
    dates = _oscd_dates(city_dir)
    by_band: dict[str, Path] = {}
    for f in files_1:
        band = band_from_filename(f.name)
        if band is not None:
            by_band.setdefault(band, f)
    try:
        wanted = validate_bands(list(bands))
    except ValueError as exc:
        raise SentinelError(str(exc)) from exc
    order = [b for b in (*wanted, "B02", "B03", "B04", "B08") if CATALOGUE[b].resolution_m == 10]
    reference = next((by_band[b] for b in order if b in by_band), None)
    if reference is None:
        raise SentinelError(f"{city_dir / 'imgs_1'}: no 10 m band (B02, B03, B04 or B08) found")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Refuse early, before any work, with the same rule the import applies.
    paths = SceneFiles(out_dir, name, "import").paths()
    refuse_existing([paths[k] for k in paths], overwrite)
    with tempfile.TemporaryDirectory(prefix=f".{name}.oscd.", dir=out_dir) as tmp:
        mask_path = Path(tmp) / "cm_georeferenced.tif"
        cm_info = _georeference_oscd_mask(cm, reference, mask_path)
        log.info(f"OSCD {city_dir.name}: dates {dates[0]} / {dates[1]}")
        oscd = {"city": city_dir.name, "folder": str(city_dir), "change_mask": cm_info}
        return _import(
            files_1,
            files_2,
            name,
            out_dir,
            wanted,
            mask_path,
            None,
            0,
            overwrite,
            dates,
            {"oscd": oscd},
            mask_label=f"{cm} (OSCD mask, georeferenced on {reference.name})",
        )
