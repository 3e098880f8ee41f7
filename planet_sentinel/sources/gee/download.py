"""Direct download: ``ee.data.computePixels`` per tile, several in flight, retried, resumable.

Each tile is one request for the exact grid of its window of the plan (same CRS and pixel size,
origin moved to the tile corner), checked on arrival and saved to a cache folder keyed by the
graph hash. A rerun after a failure fetches only the tiles that are missing; the mosaic is
written as a COG only once every tile is on disk.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import Grid, atomic_path, mask_writer, scene_writer, staged_outputs
from planet_sentinel.sources.gee.catalog import ee_band
from planet_sentinel.sources.gee.config import IngestConfig
from planet_sentinel.sources.gee.plan import Plan, Tile

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying: quota / rate limit and server-side failures.
RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_S = 64.0


@dataclass
class FetchStats:
    """What the download did: requests sent, tiles reused from the cache, retries, bytes."""

    requests: int = 0
    tiles_fetched: int = 0
    tiles_reused: int = 0
    retries: int = 0
    rate_limited: int = 0
    bytes: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}


class TileFailed(SentinelError):
    """A tile could not be fetched; the message says why and how to resume."""


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an ee error (ee raises EEException from googleapiclient's HttpError)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        resp = getattr(seen, "resp", None)
        status = getattr(resp, "status", None)
        if status is not None:
            return int(status)
        seen = seen.__cause__ or seen.__context__
    return None


def _retryable(exc: BaseException, status: int | None) -> bool:
    if status is not None:
        return status in RETRYABLE
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


def with_retries(
    call: Callable[[], Any],
    what: str,
    cfg: IngestConfig,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Run one Earth Engine call, backing off on quota (429) and server (5xx) errors."""
    for attempt in range(cfg.retries + 1):
        try:
            return call()
        except Exception as exc:  # ee.EEException, or transport errors
            status = http_status(exc)
            if not _retryable(exc, status) or attempt == cfg.retries:
                quota = " (Earth Engine quota exceeded: wait a few minutes and retry)" if status == 429 else ""
                raise SentinelError(
                    f"Earth Engine failed on {what} after {attempt + 1} attempt(s){quota}: {exc}"
                ) from exc
            delay = min(MAX_BACKOFF_S, cfg.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)
            reason = "quota exceeded, backing off" if status == 429 else f"HTTP {status or type(exc).__name__}"
            log.info(f"{what}: {reason}; retry {attempt + 1} in {delay:.1f} s")
            sleep(delay)
    raise AssertionError("unreachable")


def tile_path(cache: Path, role: str, tile: Tile) -> Path:
    return cache / role / f"{tile.key}.tif"


def request_grid(grid: Grid) -> dict[str, Any]:
    """A grid as the Cloud API's PixelGrid: dimensions, affine transform, CRS code."""
    t = grid.transform
    return {
        "dimensions": {"width": grid.width, "height": grid.height},
        "affineTransform": {
            "scaleX": t.a,
            "shearX": t.b,
            "translateX": t.c,
            "shearY": t.d,
            "scaleY": t.e,
            "translateY": t.f,
        },
        "crsCode": grid.crs.to_string(),
    }


def _check_tile(data: bytes, want: Grid, count: int, dtype: str, what: str) -> None:
    """Refuse a tile that is not a GeoTIFF on exactly the requested grid."""
    from rasterio.io import MemoryFile

    try:
        with MemoryFile(data) as mem, mem.open() as ds:
            got = Grid.of(ds)
            problems = want.differences(got)
            if ds.count != count or ds.dtypes[0] != dtype:
                problems.append(f"{ds.count} x {ds.dtypes[0]} bands, expected {count} x {dtype}")
    except Exception as exc:  # rasterio raises several types for bytes that are not a raster
        raise SentinelError(f"{what}: Earth Engine returned {len(data)} bytes that are not a GeoTIFF ({exc})") from exc
    if problems:
        raise SentinelError(f"{what}: Earth Engine returned a tile on another grid: {'; '.join(problems)}")


class TileFetcher:
    """Fetch every missing tile of every output with a bounded pool and per-tile retries."""

    def __init__(
        self,
        images: dict[str, Any],
        plan: Plan,
        cache: Path,
        cfg: IngestConfig,
        sleep: Callable[[float], None] = time.sleep,
        on_output_done: Callable[[str], None] | None = None,
    ) -> None:
        self.images, self.plan, self.cache, self.cfg = images, plan, cache, cfg
        self.sleep = sleep
        self.on_output_done = on_output_done or (lambda _role: None)
        self._remaining: dict[str, int] = {}
        self.stats = FetchStats()
        self._stop = threading.Event()
        self._quota_told = False

    def run(self) -> FetchStats:
        from planet_sentinel.progress import bar

        start = time.perf_counter()
        todo = []
        for role in self.plan.roles:
            for tile in self.plan.tiles:
                if tile_path(self.cache, role, tile).exists():
                    self.stats.tiles_reused += 1
                else:
                    todo.append((role, tile))
        total = len(self.plan.roles) * len(self.plan.tiles)
        self._remaining = {role: sum(1 for r, _t in todo if r == role) for role in self.plan.roles}
        for role, left in self._remaining.items():
            if left == 0:
                self.on_output_done(role)
        if self.stats.tiles_reused:
            log.info(f"resuming: {self.stats.tiles_reused} of {total} tile(s) already in {self.cache}")
        with bar(total, "computePixels", unit="tile", initial=self.stats.tiles_reused) as progress:
            with ThreadPoolExecutor(self.cfg.workers, thread_name_prefix="ee-tile") as pool:
                futures = [pool.submit(self._fetch, role, tile, progress) for role, tile in todo]
                done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    self._stop.set()  # queued tiles return at once; those in flight finish and are kept
                    wait(futures)
                    self.stats.seconds = time.perf_counter() - start
                    raise failed[0].exception()  # type: ignore[misc]
        self.stats.seconds = time.perf_counter() - start
        return self.stats

    def _fetch(self, role: str, tile: Tile, progress: Any) -> None:
        import ee

        if self._stop.is_set():
            return
        grid = tile.grid(self.plan.grid)
        nbands = 1 if role == "mask" else len(self.plan.bands)
        dtype = "uint8" if role == "mask" else "uint16"
        what = f"{role} tile {tile.key}"
        params = {
            "expression": self.images[role],
            "fileFormat": "GEO_TIFF",
            "grid": request_grid(grid),
        }
        if role != "mask":
            params["bandIds"] = [ee_band(b) for b in self.plan.bands]
        attempts = self.cfg.retries + 1
        for attempt in range(attempts):
            with self.stats.lock:
                self.stats.requests += 1
            try:
                data = ee.data.computePixels(params)
            except Exception as exc:  # ee.EEException, or transport errors from requests/googleapiclient
                status = http_status(exc)
                if status == 429:
                    with self.stats.lock:
                        self.stats.rate_limited += 1
                    self._tell_quota()
                if not _retryable(exc, status) or attempt == attempts - 1 or self._stop.is_set():
                    raise self._failure(what, attempt + 1, status, exc) from exc
                delay = min(MAX_BACKOFF_S, self.cfg.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)
                with self.stats.lock:
                    self.stats.retries += 1
                log.info(f"{what}: HTTP {status or type(exc).__name__}, retry {attempt + 1} in {delay:.1f} s")
                self.sleep(delay)
                continue
            _check_tile(data, grid, nbands, dtype, what)
            target = tile_path(self.cache, role, tile)
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
            with self.stats.lock:
                self.stats.tiles_fetched += 1
                self.stats.bytes += len(data)
                self._remaining[role] -= 1
                complete = self._remaining[role] == 0
            progress.update(1)
            if complete:
                self.on_output_done(role)
            return

    def _tell_quota(self) -> None:
        if not self._quota_told:
            self._quota_told = True
            log.info(
                "Earth Engine quota hit (HTTP 429: too many requests in flight or per minute for this project); "
                "backing off. If it persists lower --workers or wait a few minutes."
            )

    def _failure(self, what: str, attempts: int, status: int | None, exc: BaseException) -> TileFailed:
        total = len(self.plan.roles) * len(self.plan.tiles)
        saved = sum(1 for r in self.plan.roles for t in self.plan.tiles if tile_path(self.cache, r, t).exists())
        cause = f"HTTP {status}: {exc}" if status else f"{type(exc).__name__}: {exc}"
        hint = ""
        if status == 429:
            hint = " The project's Earth Engine quota is exhausted; wait a few minutes or lower --workers."
        elif status is not None and status not in RETRYABLE:
            hint = " This is not a transient error; check the project, its Earth Engine registration and the AOI."
        return TileFailed(
            f"{what} failed after {attempts} attempt(s) ({cause}).{hint} {saved} of {total} tile(s) are saved in "
            f"{self.cache}; rerun the same command to fetch only the missing ones."
        )


def mosaic(role: str, plan: Plan, cache: Path, target: Path, tags: dict[str, Any] | None = None) -> Path:
    """Assemble the cached tiles of one output into a COG on the plan's grid (atomic)."""
    import rasterio
    from rasterio.windows import Window

    if role == "mask":
        writer = mask_writer(target, plan.grid, tags=tags)
    else:
        writer = scene_writer(target, plan.grid, plan.bands, tags=tags)
    with writer:
        for tile in plan.tiles:
            with rasterio.open(tile_path(cache, role, tile)) as ds:
                writer.write(ds.read(), window=Window(tile.col_off, tile.row_off, tile.width, tile.height))
    return target


@dataclass(frozen=True)
class FetchJob:
    """What one ingest fetches and where, whichever route: the Earth Engine image of each output
    role, the plan, the tile cache, the output files and their GeoTIFF tags, and how to wait
    (tests pass a clock that does not sleep)."""

    images: dict[str, Any]
    plan: Plan
    cfg: IngestConfig
    cache: Path
    targets: dict[str, Path]
    tags: dict[str, dict[str, Any]]
    sleep: Callable[[float], None] = time.sleep


def fetch_and_mosaic(job: FetchJob) -> tuple[FetchStats, float]:
    """Fetch all tiles; mosaic each output as soon as its tiles are in, while the others download.

    Mosaics are staged in the cache and moved onto ``targets`` only when every output is complete,
    so a failed run leaves no partial outputs. Returns the fetch statistics and the seconds spent
    after the last tile arrived (mosaicking that did not overlap the download).
    """
    plan, cache = job.plan, job.cache
    futures: dict[str, Future[Path]] = {}
    with (
        staged_outputs({role: job.targets[role] for role in plan.roles}, cache, ".mosaic-") as staged,
        ThreadPoolExecutor(len(plan.roles), thread_name_prefix="ee-mosaic") as pool,
    ):

        def output_done(role: str) -> None:
            log.info(f"{role}: all {len(plan.tiles)} tile(s) in, writing the COG")
            futures[role] = pool.submit(mosaic, role, plan, cache, staged[role], job.tags.get(role))

        fetcher = TileFetcher(job.images, plan, cache, job.cfg, job.sleep, on_output_done=output_done)
        stats = fetcher.run()
        tail_start = time.perf_counter()
        for future in futures.values():
            future.result()
    return stats, time.perf_counter() - tail_start
