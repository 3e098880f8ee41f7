"""Uploaded TIFFs: stored under names we choose, checked from the header before any pixel is read.

Client filenames are never used as paths: every upload is written to ``before.tif``,
``after.tif`` or ``stack.tif`` inside a private temporary directory. A filename that looks like a
path anyway (a ``/`` or ``\\``, a NUL or other control character, ``.`` or ``..``) is refused with
422 ``bad_filename``: a client sending one is confused or probing, and saying so beats ignoring it.

A TIFF's declared width x height x bands is compared with a limit before GDAL decodes anything,
so a tiny file that declares a gigapixel image (a decompression bomb) is refused without being
inflated.
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rasterio.crs import CRS
    from rasterio.io import DatasetReader

    from planet_sentinel.bands import BandOrder

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders


class InputError(Exception):
    """A client error with its HTTP status and a short machine-readable kind."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


def check_filename(name: str | None, field: str) -> None:
    """Refuse a client filename that is a path or could pass for one; the name itself is never used.

    Clients send the basename (curl ``-F file=@dir/stack.tif`` sends ``stack.tif``); browsers too.
    """
    if name is None:
        return
    problems = [f"contains {why}" for bad, why in (("/", "'/'"), ("\\", "'\\'"), ("\x00", "a NUL byte")) if bad in name]
    if not problems and any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems.append("contains a control character")
    if name in (".", ".."):
        problems.append(f"is {name!r}")
    if problems:
        raise InputError(
            422,
            "bad_filename",
            f"'{field}': the filename {name!r} {' and '.join(problems)}; send the file's base name "
            "(e.g. before.tif), not a path",
        )


def save_upload(source: IO[bytes], target: Path, field: str) -> Path:
    """Copy an upload (already size-limited by the app) to ``target``; refuse empty and non-TIFF files."""
    source.seek(0)
    head = source.read(4)
    if not head:
        raise InputError(415, "not_tiff", f"'{field}' is empty; send a GeoTIFF")
    if head not in TIFF_MAGIC:
        raise InputError(415, "not_tiff", f"'{field}' is not a TIFF (it starts with {head!r}); send a GeoTIFF")
    source.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    return target


def declared_size(path: Path) -> tuple[int, int, int] | None:
    """(width, height, samples per pixel) from the first IFD of a classic or Big TIFF, without GDAL.

    None when the header cannot be parsed (GDAL then reports the file as corrupt).
    """
    with open(path, "rb") as f:
        head = f.read(16)
        if len(head) < 8 or head[:4] not in TIFF_MAGIC:
            return None
        order = "<" if head[:2] == b"II" else ">"
        big = head[2:4] in (b"+\x00", b"\x00+")
        try:
            if big:
                offset = struct.unpack(order + "Q", head[8:16])[0]
                f.seek(offset)
                (count,) = struct.unpack(order + "Q", f.read(8))
                entry, value_at = 20, 12
            else:
                offset = struct.unpack(order + "I", head[4:8])[0]
                f.seek(offset)
                (count,) = struct.unpack(order + "H", f.read(2))
                entry, value_at = 12, 8
            table = f.read(entry * min(count, 4096))
        except struct.error:
            return None
    sizes = {3: "H", 4: "I", 16: "Q"}  # SHORT, LONG, LONG8
    tags: dict[int, int] = {}
    for i in range(len(table) // entry):
        item = table[i * entry : (i + 1) * entry]
        tag, kind = struct.unpack(order + "HH", item[:4])
        if tag in (256, 257, 277) and kind in sizes:
            tags[tag] = struct.unpack_from(order + sizes[kind], item, value_at)[0]
    if 256 not in tags or 257 not in tags:
        return None
    return tags[256], tags[257], tags.get(277, 1)


@dataclass(frozen=True)
class TiffHeader:
    """What a TIFF's header says, read without decoding a pixel."""

    width: int
    height: int
    count: int
    dtype: str | None
    crs: CRS | None
    descriptions: tuple[str | None, ...]


def inspect_tiff(path: Path, field: str, max_samples: int) -> TiffHeader:
    """Open a TIFF's header only: its size, band count, CRS and band descriptions.

    Raises :class:`InputError` 422 for a corrupt or zero-size raster and 413 for one whose
    declared size exceeds ``max_samples`` (width x height x bands).
    """
    import rasterio
    from rasterio.errors import RasterioError

    declared = declared_size(path)
    if declared is not None:
        _check_size(*declared, field, max_samples)
    try:
        with rasterio.open(path) as ds:
            header = TiffHeader(
                ds.width, ds.height, ds.count, ds.dtypes[0] if ds.count else None, ds.crs, tuple(ds.descriptions)
            )
    except RasterioError as exc:
        raise InputError(422, "corrupt_tiff", f"'{field}' is a TIFF but cannot be read: {exc}") from exc
    _check_size(header.width, header.height, header.count, field, max_samples)
    return header


def _check_size(width: int, height: int, bands: int, field: str, max_samples: int) -> None:
    samples = width * height * bands
    if samples == 0:
        raise InputError(422, "empty_raster", f"'{field}' has no pixels ({width}x{height} px, {bands} bands)")
    if samples > max_samples:
        raise InputError(
            413,
            "too_many_pixels",
            f"'{field}' declares {width}x{height} px x {bands} bands = {samples:,} samples, "
            f"above the limit of {max_samples:,}",
        )


def _stated_stack_names(src: DatasetReader, order: BandOrder) -> list[str]:
    """The stated ``bands`` of a stack's halves: one name per band of each date, agreeing with any
    descriptions that are band names (the rule of :func:`planet_sentinel.raster.band_names`)."""
    from planet_sentinel.bands import contradictions

    stated = list(order.names or ())
    n = src.count // 2
    if len(stated) != n:
        raise InputError(
            422,
            "bad_bands",
            f"bands names {len(stated)} bands ({','.join(stated)}) but 'file' has {src.count} bands, {n} per date; "
            "name each date's bands once, in file order",
        )
    conflicts = contradictions(src.descriptions, stated, "bands")
    if conflicts:
        raise InputError(
            422,
            "bad_bands",
            f"'file': the band descriptions contradict bands: {'; '.join(conflicts)}. Drop bands to use the "
            "descriptions, or correct whichever is wrong",
        )
    return stated


def split_stack(
    stack: Path, before: Path, after: Path, model_bands: tuple[str, ...], order: BandOrder | None = None
) -> None:
    """Write the two halves of a stacked upload (before bands, then after bands) as two scenes.

    With ``bands`` stated (``order``), each half holds those bands in that order (descriptions,
    where they are band names, must agree). Otherwise band descriptions, when present, must name
    the same bands in both halves; without any, a stack of exactly twice the model's bands is
    taken to be in the model's band order.
    """
    import rasterio

    from planet_sentinel.bands import canonical
    from planet_sentinel.raster import Grid, block_windows

    with rasterio.open(stack) as src:
        if src.count % 2:
            raise InputError(
                422, "bad_stack", f"'file' has {src.count} bands; a stack holds the before bands then the after bands"
            )
        n = src.count // 2
        descriptions = list(src.descriptions)
        if order is not None and order.names is not None:
            names = _stated_stack_names(src, order)
        elif all(descriptions):
            try:
                names = [canonical(d) for d in descriptions]
            except ValueError as exc:
                raise InputError(422, "bad_bands", f"'file': {exc}") from exc
            if names[:n] != names[n:]:
                raise InputError(
                    422,
                    "bad_stack",
                    f"'file': the before bands {names[:n]} and the after bands {names[n:]} differ; "
                    "stack the same bands in the same order for both dates",
                )
            names = names[:n]
        elif not any(descriptions) and n == len(model_bands):
            names = list(model_bands)
        else:
            raise InputError(
                422,
                "bad_bands",
                f"'file' has {src.count} bands without (complete) band descriptions; state the order of each "
                f"date's {n} bands with bands= (e.g. bands={','.join(model_bands)} for a stack of "
                f"{2 * len(model_bands)}), name them in the descriptions (e.g. B04), or send "
                f"{2 * len(model_bands)} bands: {list(model_bands)} before, then the same after",
            )
        profile = {
            "driver": "GTiff",
            "width": src.width,
            "height": src.height,
            "count": n,
            "dtype": src.dtypes[0],
            "crs": src.crs,
            "transform": src.transform,
            "nodata": src.nodata,
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
        }
        outputs = [rasterio.open(p, "w", **profile) for p in (before, after)]
        try:
            for ds in outputs:
                for i, name in enumerate(names, start=1):
                    ds.set_band_description(i, name)
            for window in block_windows(Grid.of(src), rows=512):
                data = src.read(window=window)
                outputs[0].write(data[:n], window=window)
                outputs[1].write(data[n:], window=window)
        finally:
            for ds in outputs:
                ds.close()
