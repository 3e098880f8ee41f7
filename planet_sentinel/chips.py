"""Tiling a scene pair into training chips, with a manifest and spatially disjoint splits.

Chips travel as a few large files, not thousands of small ones (Kaggle and DVC both suffer from
the latter): ``before.npy`` and ``after.npy`` (N, bands, size, size) uint16, ``mask.npy``
(N, size, size) uint8, and ``manifest.json`` with each chip's pixel offset, bounds, split and
label statistics. The scene's CRS and transform are in the manifest, so any chip can be written
back as a georeferenced GeoTIFF (:func:`export_chip`).

The scene is read once, in full-width strips (the cheapest way to read a tiled COG), and chips are
streamed to disk as they are cut, so memory stays bounded whatever the scene size.

Splits are assigned to square blocks of the scene, never to single chips: neighbouring chips share
texture and, with overlap, pixels, so a random per-chip split would leak test pixels into
training. Blocks are stratified by their share of forest loss so that validation and test both
see loss. A chip that straddles blocks of different splits is kept on disk but marked
``buffer`` and used by no split.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from planet_sentinel import __version__
from planet_sentinel.artefacts import Artefact
from planet_sentinel.bands import MASK_UNKNOWN, NODATA, BandOrder
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import (
    Grid,
    GridDict,
    atomic_directory,
    check_mask,
    check_scene_pair,
    io_env,
    mask_writer,
    nodata_pixels,
    open_raster,
    scene_writer,
)

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")
BUFFER = "buffer"
_NPY_HEADER_BYTES = 128


class ChipConfig(BaseModel):
    """How a scene is cut into chips (the ``chip`` section of params.yaml)."""

    size: int = Field(default=256, ge=16, le=4096, description="chip side in pixels")
    overlap: int = Field(default=0, ge=0, description="pixels shared by neighbouring chips")
    max_invalid: float = Field(
        default=0.5, ge=0, le=1, description="drop chips whose nodata-or-unknown share exceeds this"
    )
    split_block: int = Field(default=512, ge=16, description="side in pixels of the blocks that splits are assigned to")
    split_ratios: tuple[float, float, float] = Field(
        default=(0.7, 0.15, 0.15), description="train, val, test shares of the blocks"
    )
    seed: int = Field(default=0, description="seed for tie-breaking in the split assignment")

    @model_validator(mode="after")
    def _consistent(self) -> ChipConfig:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        if self.split_block < self.size:
            raise ValueError(f"split_block ({self.split_block}) must be at least size ({self.size})")
        if any(r < 0 for r in self.split_ratios) or abs(sum(self.split_ratios) - 1) > 1e-6:
            raise ValueError(f"split_ratios {self.split_ratios} must be >= 0 and sum to 1")
        return self

    @property
    def stride(self) -> int:
        return self.size - self.overlap


class _Part(BaseModel):
    """A nested part of the manifest: unknown keys are refused like the manifest's own."""

    model_config = ConfigDict(extra="forbid")


class ChipRecord(_Part):
    """One chip: where it lies in the scene, its label statistics and the split it belongs to."""

    index: int = Field(description="position of the chip in the .npy arrays")
    row: int = Field(description="pixel row of the chip's top edge in the scene")
    col: int = Field(description="pixel column of the chip's left edge in the scene")
    bounds: list[float] = Field(description="left, bottom, right, top in the scene's CRS")
    nodata_share: float
    unknown_share: float = Field(description="share of pixels that are nodata or labelled unknown")
    change_share: float = Field(description="share of labelled pixels that are forest loss")
    split: str = Field(default=BUFFER, description="train, val, test, or buffer (straddles blocks of different splits)")
    block: list[int] = Field(default_factory=list, description="row, column of the split block holding its corner")


class SceneInfo(_Part):
    """The scene the chips were cut from: enough to write any chip back as a GeoTIFF."""

    before: str
    after: str
    mask: str | None
    crs: str
    transform: list[float] = Field(description="the first six affine coefficients (a, b, c, d, e, f)")
    width: int
    height: int
    bands: list[str]
    nodata: int


class ArrayInfo(_Part):
    """One ``.npy`` file of the chips directory."""

    file: str
    dtype: str
    shape: list[int]


class ChipManifest(Artefact):
    """The manifest.json of a chips directory: scene, config, arrays and every chip's split."""

    KIND: ClassVar[str] = "chip-manifest"
    # Version 1 is the first manifest with a schema_version (written since the first release);
    # there is no older layout to upgrade, so version 0 is refused with "re-run `sentinel chip`".
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel chip"

    schema_name: Literal["planet-sentinel/chips"] = Field(default="planet-sentinel/chips", alias="schema")
    generator: str
    name: str
    created: str
    config: ChipConfig
    scene: SceneInfo
    labelled: bool
    arrays: dict[str, ArrayInfo]
    counts: dict[str, int]
    notes: list[str] = Field(default_factory=list, description="what a user should know (absent when none)")
    chips: list[ChipRecord]

    def to_dict(self) -> dict[str, Any]:
        """As written since version 1: no ``notes`` key when there is nothing to say."""
        data = super().to_dict()
        if not data["notes"]:
            del data["notes"]
        return data


@dataclass(frozen=True)
class ChipSummary:
    """What :func:`chip_scene` wrote."""

    out_dir: Path
    counts: dict[str, int]
    seconds: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"out_dir": str(self.out_dir), "counts": self.counts}
        result["seconds"] = round(self.seconds, 3)
        if self.notes:
            result["notes"] = list(self.notes)
        return result


def offsets(length: int, size: int, stride: int) -> list[int]:
    """Chip start offsets along one axis; the last chip is aligned to the edge so none is lost."""
    if size > length:
        raise SentinelError(f"chip size {size} is larger than the scene ({length} px)")
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


class _NpyStream:
    """Append fixed-shape records to a ``.npy`` file and write its header once the count is known.

    The header slot is reserved up front (128 bytes, a valid NPY 1.0 header length), so the file
    is written in one sequential pass and stays loadable with ``np.load(mmap_mode='r')``.
    """

    def __init__(self, path: Path, dtype: str, record_shape: tuple[int, ...]) -> None:
        self.path, self.dtype, self.record_shape = path, np.dtype(dtype), record_shape
        self.count = 0
        self._file = path.open("wb")
        self._file.write(b"\0" * _NPY_HEADER_BYTES)

    def append(self, record: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(record, dtype=self.dtype).tobytes())
        self.count += 1

    def close(self) -> None:
        shape = (self.count, *self.record_shape)
        header = repr({"descr": self.dtype.str, "fortran_order": False, "shape": shape})
        body_len = _NPY_HEADER_BYTES - 10
        text = header.ljust(body_len - 1) + "\n"
        if len(text) != body_len:
            raise RuntimeError(f"npy header too long for {shape}")
        self._file.seek(0)
        self._file.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", body_len) + text.encode("latin1"))
        self._file.close()


def _assign_block_splits(
    block_change: dict[tuple[int, int], float], ratios: Sequence[float], seed: int
) -> dict[tuple[int, int], str]:
    """Stratified block split: blocks sorted by loss share, each given to the split most behind
    its quota at that point, so every split gets blocks from every stratum of loss. The first
    blocks (those with the most loss) go one to each split, so that validation and test see
    loss even when only a few blocks have any."""
    rng = np.random.default_rng(seed)
    blocks = list(block_change)
    tie_break = rng.random(len(blocks))
    order = sorted(range(len(blocks)), key=lambda i: (-block_change[blocks[i]], tie_break[i]))
    assigned = dict.fromkeys(SPLITS, 0)
    result: dict[tuple[int, int], str] = {}
    for position, i in enumerate(order, start=1):
        empty = [s for k, s in enumerate(SPLITS) if ratios[k] > 0 and assigned[s] == 0]
        if empty:
            split = empty[int(rng.integers(len(empty)))]
        else:
            deficits = [(ratios[k] * position - assigned[s], rng.random(), s) for k, s in enumerate(SPLITS)]
            _, _, split = max(deficits)
        assigned[split] += 1
        result[blocks[i]] = split
    return result


def chip_scene(
    before: str | Path,
    after: str | Path,
    mask: str | Path | None,
    out_dir: str | Path,
    config: ChipConfig | None = None,
    name: str | None = None,
    overwrite: bool = False,
    order: BandOrder | None = None,
    adapt_split_block: bool = True,
) -> ChipSummary:
    """Cut a co-registered scene pair (and optional mask) into chips under ``out_dir``.

    ``order`` is the band order the user stated for scenes without band descriptions. A scene
    too small for ``config.split_block`` (a split would get no chips) gets the largest smaller
    block that gives every split chips, unless ``adapt_split_block`` is off (the user chose the
    block). What a user should know about that is in the summary's and the manifest's ``notes``.
    """
    config = config or ChipConfig()
    start = time.perf_counter()
    grid, bands = check_scene_pair(before, after, order)
    if mask is not None:
        check_mask(mask, grid)
    rows = offsets(grid.height, config.size, config.stride)
    cols = offsets(grid.width, config.size, config.stride)
    size, nb = config.size, len(bands)

    with atomic_directory(out_dir, overwrite=overwrite) as stage:
        streams = {
            "before": _NpyStream(stage / "before.npy", "uint16", (nb, size, size)),
            "after": _NpyStream(stage / "after.npy", "uint16", (nb, size, size)),
        }
        if mask is not None:
            streams["mask"] = _NpyStream(stage / "mask.npy", "uint8", (size, size))
        with contextlib.ExitStack() as stack:
            stack.enter_context(io_env())
            for stream in streams.values():
                stack.callback(stream.close)
            sources = [stack.enter_context(open_raster(p)) for p in (before, after, mask) if p is not None]
            chips, dropped = _cut_chips(sources, streams, grid, rows, cols, config)
        if not chips:
            raise SentinelError(
                f"no chip of {before} has at most {config.max_invalid:.0%} nodata/unknown pixels; "
                "the scene is empty or fully clouded (raise max_invalid to keep such chips)"
            )
        config, counts, notes = _choose_splits(chips, config, grid, adapt_split_block)
        counts.update(candidates=len(rows) * len(cols), kept=len(chips), dropped_invalid=dropped)
        scene = SceneInfo(
            before=str(before),
            after=str(after),
            mask=str(mask) if mask is not None else None,
            **grid.to_dict(),
            bands=list(bands),
            nodata=NODATA,
        )
        ChipManifest(
            schema_version=ChipManifest.SCHEMA_VERSION,
            generator=f"planet_sentinel {__version__}",
            name=name or Path(out_dir).name,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            config=config,
            scene=scene,
            labelled=mask is not None,
            arrays={
                k: ArrayInfo(file=s.path.name, dtype=s.dtype.name, shape=[s.count, *s.record_shape])
                for k, s in streams.items()
            },
            counts=counts,
            notes=notes,
            chips=chips,
        ).save(stage / MANIFEST)
    return ChipSummary(Path(out_dir), counts, time.perf_counter() - start, tuple(notes))


def _cut_chips(
    sources: list[DatasetReader],
    streams: dict[str, _NpyStream],
    grid: Grid,
    rows: list[int],
    cols: list[int],
    config: ChipConfig,
) -> tuple[list[ChipRecord], int]:
    """Read the scene in full-width strips and stream every chip with few enough invalid pixels
    to ``streams``; returns the kept chips (not yet split) and how many were dropped."""
    from rasterio.windows import Window

    from planet_sentinel.progress import bar

    size = config.size
    chips: list[ChipRecord] = []
    dropped = 0
    with bar(len(rows), "chip", unit="row") as row_bar:
        for row in rows:
            strip = Window(0, row, grid.width, size)
            b = sources[0].read(window=strip)
            a = sources[1].read(window=strip)
            m = sources[2].read(1, window=strip) if len(sources) > 2 else None
            for col in cols:
                cb, ca = b[:, :, col : col + size], a[:, :, col : col + size]
                cm = m[:, col : col + size].copy() if m is not None else None
                chip = _chip_record(len(chips), row, col, cb, ca, cm, grid, config)
                if chip is None:
                    dropped += 1
                    continue
                chips.append(chip)
                streams["before"].append(cb)
                streams["after"].append(ca)
                if cm is not None:
                    streams["mask"].append(cm)
            row_bar.update(1)
    return chips, dropped


def _chip_record(
    index: int,
    row: int,
    col: int,
    before: np.ndarray,
    after: np.ndarray,
    mask: np.ndarray | None,
    grid: Grid,
    config: ChipConfig,
) -> ChipRecord | None:
    """The record of one chip (``mask`` gets nodata pixels marked unknown in place), or ``None``
    when its nodata-or-unknown share exceeds ``config.max_invalid``."""
    from rasterio.windows import Window
    from rasterio.windows import bounds as window_bounds

    nodata = nodata_pixels(before, after)
    if mask is not None:
        mask[nodata] = MASK_UNKNOWN
        unknown = mask == MASK_UNKNOWN
    else:
        unknown = nodata
    if unknown.mean() > config.max_invalid:
        return None
    n_labelled = int((~unknown).sum())
    change = float((mask == 1).sum() / n_labelled) if mask is not None and n_labelled else 0.0
    size = config.size
    return ChipRecord(
        index=index,
        row=row,
        col=col,
        bounds=[round(v, 3) for v in window_bounds(Window(col, row, size, size), grid.transform)],
        nodata_share=round(float(nodata.mean()), 5),
        unknown_share=round(float(unknown.mean()), 5),
        change_share=round(change, 5),
    )


def _empty_splits(counts: dict[str, int], config: ChipConfig) -> list[str]:
    """The splits that should get chips (ratio above 0) but got none."""
    return [s for s, r in zip(SPLITS, config.split_ratios, strict=True) if r > 0 and counts[s] == 0]


def _smaller_blocks(config: ChipConfig) -> list[int]:
    """Split block sides below the configured one, largest first: multiples of the chip stride
    (chips then start on block edges) no smaller than a chip, and the chip size itself."""
    stride, size = config.stride, config.size
    sides = {k * stride for k in range(1, config.split_block // stride + 1) if size <= k * stride < config.split_block}
    if size < config.split_block:
        sides.add(size)
    return sorted(sides, reverse=True)


def _choose_splits(
    chips: list[ChipRecord], config: ChipConfig, grid: Grid, adapt: bool
) -> tuple[ChipConfig, dict[str, int], list[str]]:
    """Assign splits with the configured block; for a scene too small for it (a split left empty)
    and ``adapt``, with the largest smaller block that gives every split chips. Returns the config
    actually used, the counts and notes for the user. Scenes where the configured block works are
    untouched."""
    counts = _split_chips(chips, config)
    empty = _empty_splits(counts, config)
    if not empty:
        return config, counts, []
    problem = (
        f"split blocks of {config.split_block} px leave {', '.join(empty)} without chips in this "
        f"{grid.width}x{grid.height} px scene"
    )
    for side in _smaller_blocks(config):
        trial = config.model_copy(update={"split_block": side})
        trial_counts = _split_chips(chips, trial)
        if _empty_splits(trial_counts, trial):
            continue
        if adapt:
            return (
                trial,
                trial_counts,
                [
                    f"{problem}; used split blocks of {side} px instead, so every split gets chips (neighbouring "
                    "chips are more alike than distant ones, so smaller blocks make validation more optimistic; "
                    "pass --split-block to fix the block side)"
                ],
            )
        advice = f"pass --split-block {side} (or omit --split-block to let `sentinel chip` choose)"
        break
    else:
        advice = _too_small_advice(config, grid)
    return config, _split_chips(chips, config), [f"{problem}: {advice}"]


def _too_small_advice(config: ChipConfig, grid: Grid) -> str:
    """What to pass when a scene is too small to give every split a block even at chip-sized blocks."""
    scene = f"the {grid.width}x{grid.height} px scene"
    wanted = sum(1 for r in config.split_ratios if r > 0)
    more = "or chip more scenes under one chips root (a scene too small to split goes wholly to one split)"
    for side in (config.size // 2, config.size // 4, config.size // 8):
        if side < 32:
            break
        rows, cols = offsets(grid.height, side, side), offsets(grid.width, side, side)
        if len({r // side for r in rows}) * len({c // side for c in cols}) >= wanted:
            return (
                f"{scene} has too few {config.size} px chips for {wanted} spatially disjoint splits; chip it "
                f"with smaller chips (e.g. --size {side} --split-block {side}), {more}"
            )
    return f"{scene} is too small for {wanted} spatially disjoint splits; chip a larger area, {more}"


def _split_chips(chips: list[ChipRecord], config: ChipConfig) -> dict[str, int]:
    """Give every chip the split of the block(s) it lies in, or ``buffer`` if they disagree."""
    block = config.split_block

    def touched(chip: ChipRecord) -> set[tuple[int, int]]:
        r0, c0 = chip.row // block, chip.col // block
        r1, c1 = (chip.row + config.size - 1) // block, (chip.col + config.size - 1) // block
        return {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}

    change: dict[tuple[int, int], list[float]] = {}
    for chip in chips:
        home = (chip.row // block, chip.col // block)
        change.setdefault(home, []).append(chip.change_share)
    block_split = _assign_block_splits(
        {k: float(np.mean(v)) for k, v in change.items()}, config.split_ratios, config.seed
    )
    counts = dict.fromkeys((*SPLITS, BUFFER), 0)
    for chip in chips:
        splits = {block_split[b] for b in touched(chip) if b in block_split}
        chip.split = splits.pop() if len(splits) == 1 else BUFFER
        chip.block = [chip.row // block, chip.col // block]
        counts[chip.split] += 1
    return counts


def empty_split_advice(stores: Sequence[ChipStore], split: str) -> str:
    """Why ``split`` has no chips in these stores and which flag fixes it, for the stages that need it."""
    counts = {s: sum(len(store.indices(s)) for store in stores) for s in (*SPLITS, BUFFER)}
    held = ", ".join(f"{s} {n}" for s, n in counts.items() if n) or "none"
    small = [st for st in stores if st.manifest.config.split_block > st.size and not len(st.indices(split))]
    if small:
        store = small[0]
        fix = (
            f"re-chip with `sentinel chip` without --split-block (it adapts the blocks to small scenes) or with "
            f"--split-block {store.size} (e.g. {store.directory}: {store.manifest.scene.width}x"
            f"{store.manifest.scene.height} px in blocks of {store.manifest.config.split_block} px)"
        )
    else:
        fix = "re-chip with a smaller --size (and --split-block), or chip more scenes"
    return f"chips per split: {held}; splits go to whole blocks of the scene, so {fix}"


class ChipStore:
    """Read access to one chips directory: manifest plus memory-mapped arrays."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not (self.directory / MANIFEST).exists():
            raise SentinelError(f"{self.directory}: no {MANIFEST}; not a chips directory (run `sentinel chip`)")
        self.manifest = ChipManifest.load(self.directory / MANIFEST)
        self.arrays: dict[str, np.ndarray] = {}
        for key, meta in self.manifest.arrays.items():
            arr = np.load(self.directory / meta.file, mmap_mode="r")
            if list(arr.shape) != meta.shape:
                raise SentinelError(f"{self.directory / meta.file}: shape {arr.shape} != manifest {meta.shape}")
            self.arrays[key] = arr

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(self.manifest.scene.bands)

    @property
    def chips(self) -> list[ChipRecord]:
        return self.manifest.chips

    @property
    def size(self) -> int:
        return self.manifest.config.size

    @property
    def labelled(self) -> bool:
        return "mask" in self.arrays

    def indices(self, split: str | None = None) -> np.ndarray:
        """Chip indexes of a split (``None`` or ``all``: every chip not in the buffer)."""
        if split in (None, "all"):
            return np.array([c.index for c in self.chips if c.split != BUFFER], dtype=np.int64)
        if split not in (*SPLITS, BUFFER):
            raise SentinelError(f"unknown split {split!r}; expected one of {', '.join((*SPLITS, 'all'))}")
        return np.array([c.index for c in self.chips if c.split == split], dtype=np.int64)

    def grid(self) -> Grid:
        scene = self.manifest.scene
        return Grid.from_dict(
            GridDict(crs=scene.crs, transform=scene.transform, width=scene.width, height=scene.height)
        )

    def batches(self, indices: np.ndarray, batch_size: int = 64) -> Iterator[dict[str, np.ndarray]]:
        """Yield dicts of in-memory arrays for consecutive slices of ``indices``."""
        for start in range(0, len(indices), batch_size):
            idx = np.sort(indices[start : start + batch_size])
            yield {key: np.asarray(arr[idx]) for key, arr in self.arrays.items()}


def find_chip_dirs(root: str | Path) -> list[Path]:
    """Chip directories under ``root`` (``root`` itself if it holds a manifest)."""
    root = Path(root)
    if not root.exists():
        raise SentinelError(f"{root}: no such directory")
    if (root / MANIFEST).exists():
        return [root]
    found = sorted(p.parent for p in root.rglob(MANIFEST))
    if not found:
        raise SentinelError(f"{root}: no chips found (no {MANIFEST} in it or below); run `sentinel chip` first")
    return found


def export_chip(chips_dir: str | Path, index: int, out_dir: str | Path, overwrite: bool = False) -> dict[str, Path]:
    """Write one chip back as georeferenced GeoTIFFs (before, after and mask if labelled)."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    store = ChipStore(chips_dir)
    if not 0 <= index < len(store.chips):
        raise SentinelError(f"chip index {index} out of range 0..{len(store.chips) - 1}")
    chip = store.chips[index]
    scene_grid = store.grid()
    size = store.size
    grid = Grid(
        scene_grid.crs, window_transform(Window(chip.col, chip.row, size, size), scene_grid.transform), size, size
    )
    out_dir = Path(out_dir)
    stem = f"{store.manifest.name}_chip{index:05d}"
    paths = {"before": out_dir / f"{stem}_before.tif", "after": out_dir / f"{stem}_after.tif"}
    if store.labelled:
        paths["mask"] = out_dir / f"{stem}_mask.tif"
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise SentinelError(f"{', '.join(existing)} already exist; pass --overwrite to replace")
    tags = {"chip_index": index, "split": chip.split, "source": str(store.directory)}
    for key in ("before", "after"):
        with scene_writer(paths[key], grid, store.bands, tags=tags) as writer:
            writer.write(np.asarray(store.arrays[key][index]))
    if store.labelled:
        with mask_writer(paths["mask"], grid, tags=tags) as writer:
            writer.write(np.asarray(store.arrays["mask"][index]))
    return paths
