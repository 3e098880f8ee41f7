"""Cutting a scene into model windows with **edge-crop blending**, and streaming them through the model.

Each window contributes only its centre: the pixels up to the middle of its overlap with each
neighbour (at least ``overlap // 2`` from its border), except along the scene edge, where windows
are shifted inward instead of padded; so no pixel is predicted near a window border that is not a
scene border, and there are no seams.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from planet_sentinel.clouds import CloudScreen
from planet_sentinel.errors import SentinelError
from planet_sentinel.predict.batch import PreparedBatch, prepare_batch, run_prepared
from planet_sentinel.predict.config import DEFAULT_BATCH_SIZE, DEFAULT_MIN_WINDOW
from planet_sentinel.raster import io_env

if TYPE_CHECKING:
    import torch
    from rasterio.windows import Window

    from planet_sentinel.predict.engines import Model


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

    def read_window(self) -> Window:
        from rasterio.windows import Window

        return Window(self.col, self.row, self.width, self.height)

    def target_window(self) -> Window:
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


def resolve_window(bundle: Model, window: int | None, height: int, width: int, overlap: int = 0) -> int:
    """The window side: ``window`` or max(chip size, 512), a multiple of the model's input multiple,
    capped to the scene (rounded up to that multiple: smaller scenes are padded)."""
    m = bundle.multiple
    if window is None:
        window = math.ceil(max(bundle.chip_size, DEFAULT_MIN_WINDOW) / m) * m
    elif window <= 0 or window % m:
        raise SentinelError(f"window {window} must be a positive multiple of {m} (the model's input multiple)")
    if not 0 <= overlap < window:
        raise SentinelError(f"overlap ({overlap}) must be >= 0 and smaller than the window ({window})")
    return min(window, math.ceil(max(height, width) / m) * m)


Reader = Callable[[Tile], tuple[np.ndarray, np.ndarray]]
T = TypeVar("T")


class _Inline:
    """An executor that runs each job at once in the calling thread (the single-batch case)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # delivered at .result(), as a thread pool would
            future.set_exception(exc)
        return future


class Progress(Protocol):
    """What :func:`iter_tiles` needs of a progress bar (a tqdm bar has it)."""

    def update(self, n: int) -> object: ...


@dataclass(frozen=True)
class TileResult:
    """A tile's kept probabilities (NaN unknown) and the matching crops of its inputs (views)."""

    tile: Tile
    probability: np.ndarray
    before: np.ndarray
    after: np.ndarray


def iter_tiles(
    bundle: Model,
    tiles: Sequence[Tile],
    read: Reader,
    bands: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
    screen: CloudScreen | bool = True,
    timings: dict[str, float] | None = None,
    progress: Progress | None = None,
) -> Iterator[TileResult]:
    """Predict ``tiles`` in batches; yield each tile's kept probabilities (NaN unknown) and inputs.

    ``read(tile)`` returns the (bands, h, w) before and after arrays of a tile; it is called from
    one reader thread, batch by batch, one batch ahead of the engine. ``timings`` accumulates
    ``read`` (time spent waiting for the reader) and ``forward`` seconds.
    """
    if batch_size < 1:
        raise SentinelError(f"batch_size must be >= 1, got {batch_size}")
    timings = timings if timings is not None else {}
    timings.setdefault("read", 0.0)
    timings.setdefault("forward", 0.0)
    batches = [tiles[start : start + batch_size] for start in range(0, len(tiles), batch_size)]

    def read_batch(batch: Sequence[Tile]) -> tuple[np.ndarray, np.ndarray, PreparedBatch]:
        with io_env():  # rasterio's Env is thread-local: the reader thread needs its own
            pairs = [read(tile) for tile in batch]
        before, after = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
        return before, after, prepare_batch(bundle, before, after, bands, screen)

    # One reader thread reads the next batch and prepares it (cloud screen, band selection, padding)
    # while the engine runs this one (GDAL and numpy release the GIL): with ONNX Runtime the forward
    # is fast enough for the rest to show. Only that thread touches the input datasets.
    # A single batch (the service's uploads, small scenes) has nothing to overlap with: read inline.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict-read")
        if len(batches) > 1
        else _Inline() as reader
    ):
        t0 = time.perf_counter()  # inline, submit() is the read itself
        pending = reader.submit(read_batch, batches[0]) if batches else None
        for k, batch in enumerate(batches):
            assert pending is not None
            before, after, prepared = pending.result()
            pending = reader.submit(read_batch, batches[k + 1]) if k + 1 < len(batches) else None
            t1 = time.perf_counter()
            prob = run_prepared(bundle, prepared, device)
            timings["read"] += t1 - t0  # the wait for the reader, not the overlapped part
            timings["forward"] += time.perf_counter() - t1
            for tile, p, b, a in zip(batch, prob, before, after, strict=True):
                rows, cols = tile.keep
                yield TileResult(tile, p[rows, cols], b[:, rows, cols], a[:, rows, cols])
            if progress is not None:
                progress.update(len(batch))
            t0 = time.perf_counter()  # after the consumer's turn: its writing is not reading
