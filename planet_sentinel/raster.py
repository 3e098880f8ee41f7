"""Raster I/O shared by every stage: the scene contract, grids, atomic COG writing.

A scene is a multi-band uint16 GeoTIFF in a projected CRS with band descriptions set to
Sentinel-2 band names (or, for files without descriptions, a band order the user states:
:class:`planet_sentinel.bands.BandOrder`) and nodata declared; a mask is uint8 on the same grid (0/1, 255 unknown).
Everything written here goes to a temporary file beside the target and is renamed into place
only when complete, so a failure never leaves a half-written output or clobbers a good one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN, NODATA, BandOrder, band_positions, canonical, contradictions
from planet_sentinel.errors import SentinelError, require_file

if TYPE_CHECKING:
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.io import DatasetReader

COG_BLOCKSIZE = 512


class GridDict(TypedDict):
    """A grid as every artefact writes it (chip manifest, prediction summary, import summary)."""

    crs: str
    transform: list[float]  # the affine transform's first six coefficients (a, b, c, d, e, f)
    width: int
    height: int


@dataclass(frozen=True)
class Grid:
    """The pixel grid of a raster: CRS, affine transform and size."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def of(cls, dataset: DatasetReader) -> Grid:
        return cls(dataset.crs, dataset.transform, dataset.width, dataset.height)

    @classmethod
    def from_dict(cls, data: GridDict) -> Grid:
        """The inverse of :meth:`to_dict`."""
        from affine import Affine
        from rasterio.crs import CRS

        return cls(CRS.from_user_input(data["crs"]), Affine(*data["transform"]), data["width"], data["height"])

    def to_dict(self) -> GridDict:
        """The one JSON form of a grid: CRS string, six transform coefficients, size."""
        return GridDict(
            crs=self.crs.to_string(), transform=list(self.transform)[:6], width=self.width, height=self.height
        )

    @classmethod
    def read(cls, path: str | Path) -> Grid:
        with open_raster(path) as ds:
            return cls.of(ds)

    @property
    def resolution(self) -> tuple[float, float]:
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        from rasterio.transform import array_bounds

        west, south, east, north = array_bounds(self.height, self.width, self.transform)
        return (west, south, east, north)

    def differences(self, other: Grid) -> list[str]:
        """Human-readable reasons why two grids differ; empty when they are identical."""
        reasons = []
        if self.crs != other.crs:
            reasons.append(f"CRS {self.crs} vs {other.crs}")
        if (self.width, self.height) != (other.width, other.height):
            reasons.append(f"size {self.width}x{self.height} vs {other.width}x{other.height}")
        if not self.transform.almost_equals(other.transform, precision=1e-6):
            reasons.append(f"transform {tuple(self.transform)[:6]} vs {tuple(other.transform)[:6]}")
        return reasons

    def describe(self) -> str:
        return (
            f"{self.width}x{self.height} px, {self.resolution[0]:g} m, {self.crs}, "
            f"origin ({self.transform.c:.1f}, {self.transform.f:.1f})"
        )


#: GDAL's block cache: enough for a full-width row of 512 px blocks of two 6-band scenes, and a
#: fixed bound instead of GDAL's default of 5 % of RAM, so peak memory does not grow with the host.
GDAL_CACHE_MB = 256


def io_env() -> Any:
    """The GDAL settings every bulk reader runs under: bounded cache (unless the user chose one
    with GDAL_CACHEMAX), multi-threaded decoding."""
    import rasterio

    options: dict[str, Any] = {"GDAL_NUM_THREADS": "ALL_CPUS"}
    if "GDAL_CACHEMAX" not in os.environ:
        options["GDAL_CACHEMAX"] = GDAL_CACHE_MB * 1024**2
    return rasterio.Env(**options)


def open_raster(path: str | Path) -> DatasetReader:
    """Open a raster for reading, turning 'missing' and 'not a raster' into clear errors."""
    import rasterio
    from rasterio.errors import RasterioIOError

    p = require_file(path, "raster")
    try:
        return rasterio.open(p)
    except RasterioIOError as exc:
        raise SentinelError(f"{p}: not a readable raster ({exc})") from exc


def require_same_grid(a: Grid, b: Grid, what_a: str, what_b: str) -> None:
    """Raise a SentinelError naming every difference when two rasters are not on one grid."""
    reasons = a.differences(b)
    if reasons:
        raise SentinelError(
            f"{what_a} and {what_b} are not on the same grid: {'; '.join(reasons)}. "
            "Resample one onto the other first (e.g. `sentinel import files`)."
        )


def band_names(dataset: DatasetReader, order: BandOrder | None = None) -> tuple[str, ...]:
    """The Sentinel-2 band names of a scene: its band descriptions, or the order the user stated.

    A stated order must name every band of the file; band descriptions that are Sentinel-2 names
    must agree with it (one of the two is wrong, and guessing which would feed a model the wrong
    bands without a sign), while descriptions that are no band name (``Band 1``) carry nothing to
    contradict and are ignored.
    """
    order = order or BandOrder()
    if order.names is not None:
        return _stated_names(dataset, order)
    names = []
    for i, desc in enumerate(dataset.descriptions, start=1):
        if not desc:
            raise SentinelError(
                f"{dataset.name}: band {i} of {dataset.count} has no band description, so which Sentinel-2 band "
                "it holds is unknown (exports from gdal_merge, QGIS or SNAP usually write none). State the "
                f"file's band order with {order.option}, one Sentinel-2 name (B01-B12, B8A) per band in file "
                f"order (e.g. {order.suggestion()}), or write the band descriptions"
            )
        try:
            names.append(canonical(desc))
        except ValueError as exc:
            raise SentinelError(
                f"{dataset.name}: band {i}: {exc}; state the file's band order with {order.suggestion()} instead"
            ) from exc
    return tuple(names)


def _stated_names(dataset: DatasetReader, order: BandOrder) -> tuple[str, ...]:
    stated = tuple(order.names or ())
    if len(stated) != dataset.count:
        raise SentinelError(
            f"{dataset.name}: {order.option} names {len(stated)} bands ({','.join(stated)}) but the file has "
            f"{dataset.count}; name every band of the file, in file order"
        )
    conflicts = contradictions(dataset.descriptions, stated, order.option)
    if conflicts:
        raise SentinelError(
            f"{dataset.name}: the band descriptions contradict {order.option}: {'; '.join(conflicts)}. "
            f"Drop {order.option} to use the descriptions, or correct whichever is wrong"
        )
    return stated


def check_scene(
    path: str | Path,
    expect_bands: Sequence[str] | None = None,
    order: BandOrder | None = None,
    need_band_names: bool = True,
) -> tuple[Grid, tuple[str, ...]]:
    """Validate a scene file against the scene contract; return its grid and band names.

    ``order`` is the band order the user stated (for files without band descriptions); without
    ``need_band_names`` (a caller that uses the grid only) the bands are not looked at and come
    back empty.
    """
    with open_raster(path) as ds:
        if ds.crs is None or not ds.crs.is_projected:
            raise SentinelError(f"{path}: scenes must be in a projected CRS (UTM), got {ds.crs}")
        if ds.dtypes[0] != "uint16":
            raise SentinelError(f"{path}: scenes must be uint16 reflectance x10000, got {ds.dtypes[0]}")
        names = band_names(ds, order) if need_band_names else ()
        grid = Grid.of(ds)
    if expect_bands is not None and tuple(expect_bands) != names:
        raise SentinelError(
            f"{path}: bands {list(names)} do not match the expected {list(expect_bands)} "
            f"({len(names)} vs {len(expect_bands)} bands)"
        )
    return grid, names


def nodata_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Pixels with no observation on either date: any band at nodata in (bands, h, w) arrays."""
    missing: np.ndarray = (before == NODATA).any(axis=0) | (after == NODATA).any(axis=0)
    return missing


def check_scene_pair(
    before: str | Path, after: str | Path, order: BandOrder | None = None
) -> tuple[Grid, tuple[str, ...]]:
    """Validate a before/after pair: each follows the scene contract, same bands, one grid.

    ``order`` (the user's stated band order) applies to both files.
    """
    grid, bands = check_scene(before, order=order)
    after_grid, _ = check_scene(after, expect_bands=bands, order=order)
    require_same_grid(grid, after_grid, f"before {before}", f"after {after}")
    return grid, bands


def check_mask(path: str | Path, grid: Grid) -> None:
    """Validate a mask file: uint8, one band, on the scene grid."""
    with open_raster(path) as ds:
        if ds.count != 1 or ds.dtypes[0] != "uint8":
            raise SentinelError(f"{path}: a mask is one uint8 band, got {ds.count} x {ds.dtypes[0]}")
        require_same_grid(grid, Grid.of(ds), "scene", f"mask {path}")


def band_indexes(dataset: DatasetReader, wanted: Sequence[str], names: Sequence[str] | None = None) -> list[int]:
    """1-based band indexes of ``wanted`` band names in a scene, with a clear error if absent.

    ``names`` are the scene's band names when the caller has them already (from
    :func:`check_scene` with a stated order); otherwise they come from the band descriptions.
    """
    have = tuple(names) if names is not None else band_names(dataset)
    positions = band_positions(
        wanted, have, lambda missing: f"{dataset.name}: bands {missing} missing; the scene has {list(have)}"
    )
    return [i + 1 for i in positions]


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the permissions a normal open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(target: str | Path, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


@contextlib.contextmanager
def atomic_directory(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh staging directory that replaces ``target`` only if the block succeeds.

    Refuses an existing ``target`` unless ``overwrite``; the old directory is removed only after
    the new one is complete, so an error never loses existing outputs.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise SentinelError(f"{target} already exists; pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_outputs(targets: Mapping[str, Path], stage_in: Path, prefix: str) -> Iterator[dict[str, Path]]:
    """Yield a staging path per output (its file name, in a fresh hidden directory under ``stage_in``).

    When the block succeeds, every staged file is renamed onto its target (each must have been
    written: name only the outputs this run makes); the staging directory goes either way. For a
    stage whose outputs share a directory with files it must not touch (so :func:`atomic_directory`
    does not fit): a failure leaves no partial output and the previous ones intact. ``stage_in``
    must be on the targets' file system (rename).
    """
    names = [p.name for p in targets.values()]
    if len(set(names)) != len(names):
        raise ValueError(f"outputs must have distinct file names to be staged together: {names}")
    stage_in.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=prefix, dir=stage_in))
    try:
        staged = {key: stage / path.name for key, path in targets.items()}
        yield staged
        for key, path in targets.items():
            os.replace(staged[key], path)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def refuse_existing(paths: Sequence[Path], overwrite: bool) -> None:
    """Refuse to replace existing outputs unless the user asked for it."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise SentinelError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace")


class RasterWriter:
    """Write a scene or mask block by block, finishing as a Cloud-Optimized GeoTIFF.

    Blocks go to a tiled GeoTIFF beside the target; ``close`` converts it with GDAL's COG driver
    (streamed, internal overviews) and renames it into place. Memory stays bounded by the
    caller's block size whatever the raster size.
    """

    def __init__(
        self,
        target: str | Path,
        grid: Grid,
        count: int,
        dtype: str,
        nodata: float | None,
        descriptions: Sequence[str] | None = None,
        categorical: bool = False,
        tags: dict[str, Any] | None = None,
    ) -> None:
        import rasterio

        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.categorical = categorical
        self._stage = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        self._tiled = self._stage / "tiled.tif"
        profile = dict(
            driver="GTiff",
            width=grid.width,
            height=grid.height,
            count=count,
            dtype=dtype,
            crs=grid.crs,
            transform=grid.transform,
            nodata=nodata,
            tiled=True,
            blockxsize=COG_BLOCKSIZE,
            blockysize=COG_BLOCKSIZE,
            compress="ZSTD",
            zstd_level=1,
            BIGTIFF="IF_SAFER",
        )
        self.dataset = rasterio.open(self._tiled, "w", **profile)
        if descriptions:
            for i, desc in enumerate(descriptions, start=1):
                self.dataset.set_band_description(i, desc)
        if tags:
            self.dataset.update_tags(**{k: str(v) for k, v in tags.items()})

    def write(self, array: np.ndarray, window: Any = None, indexes: Any = None) -> None:
        """Write (bands, rows, cols) or (rows, cols) data, optionally into a window."""
        if array.ndim == 2 and indexes is None:
            indexes = 1
        self.dataset.write(array, indexes=indexes, window=window)

    def close(self) -> Path:
        """Finish the COG and move it into place atomically."""
        from rasterio.shutil import copy as rio_copy

        self.dataset.close()
        cog = self._stage / "cog.tif"
        try:
            rio_copy(
                self._tiled,
                cog,
                driver="COG",
                compress="DEFLATE",
                predictor=2,
                level=6,
                blocksize=COG_BLOCKSIZE,
                overview_resampling="nearest" if self.categorical else "average",
                num_threads="ALL_CPUS",
                bigtiff="IF_SAFER",
            )
            os.replace(cog, self.target)
        finally:
            shutil.rmtree(self._stage, ignore_errors=True)
        return self.target

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.dataset.close()
        shutil.rmtree(self._stage, ignore_errors=True)

    def __enter__(self) -> RasterWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def scene_writer(
    target: str | Path, grid: Grid, bands: Sequence[str], tags: dict[str, Any] | None = None
) -> RasterWriter:
    """A writer for a scene following the contract (uint16, nodata 0, band names set)."""
    return RasterWriter(target, grid, len(bands), "uint16", NODATA, list(bands), tags=tags)


def mask_writer(target: str | Path, grid: Grid, tags: dict[str, Any] | None = None) -> RasterWriter:
    """A writer for a change mask (uint8: 0 no loss, 1 loss, 255 unknown)."""
    return RasterWriter(target, grid, 1, "uint8", MASK_UNKNOWN, ["forest_loss"], categorical=True, tags=tags)


def block_windows(grid: Grid, rows: int = 1024) -> Iterator[Any]:
    """Full-width row strips of ``rows`` lines: the cheapest windows to read a COG sequentially."""
    from rasterio.windows import Window

    for row in range(0, grid.height, rows):
        yield Window(0, row, grid.width, min(rows, grid.height - row))


def utm_crs_for(lon: float, lat: float) -> str:
    """EPSG code of the WGS 84 UTM zone that contains (lon, lat)."""
    if not (-180 <= lon <= 180 and -80 <= lat <= 84):
        raise SentinelError(f"({lon}, {lat}) is outside the UTM range (lat -80..84)")
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
