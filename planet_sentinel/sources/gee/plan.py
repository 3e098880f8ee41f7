"""The ingest plan: output grid, tiles under the request limit, request and byte counts, route.

Computed from the AOI and the settings alone (no network), so ``--dry-run`` can print it and the
download, the exports and the emulator all agree on one grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from planet_sentinel.aoi import Aoi, aligned_grid
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import Grid
from planet_sentinel.sources.gee.config import ExportTarget, IngestConfig

#: Bytes per pixel and band of each output (uint16 composites, uint8 mask).
SAMPLE_BYTES = {"before": 2, "after": 2, "mask": 1}
#: Share of the request limit used by pixels; the rest is headroom for the GeoTIFF wrapping.
LIMIT_HEADROOM = 0.9
DEFAULT_TILE_PX = 512


@dataclass(frozen=True)
class Tile:
    """A window of the output grid fetched by one computePixels request."""

    row: int
    col: int
    row_off: int
    col_off: int
    width: int
    height: int

    @property
    def key(self) -> str:
        return f"r{self.row:03d}_c{self.col:03d}"

    def grid(self, grid: Grid) -> Grid:
        """This tile's own grid: same CRS and pixel size, origin moved to its corner."""
        t = grid.transform
        x0, y0 = t * (self.col_off, self.row_off)
        from affine import Affine

        return Grid(grid.crs, Affine(t.a, t.b, x0, t.d, t.e, y0), self.width, self.height)


@dataclass
class Plan:
    """Everything decided before any request: grid, tiles, sizes and the route with its reason."""

    grid: Grid
    bands: tuple[str, ...]
    roles: tuple[str, ...]
    tile_px: int
    tiles: list[Tile]
    area_km2: float
    route: str
    reason: str
    export: ExportTarget | None = None
    warnings: list[str] = field(default_factory=list)

    def bytes_for(self, role: str) -> int:
        nbands = 1 if role == "mask" else len(self.bands)
        return self.grid.width * self.grid.height * nbands * SAMPLE_BYTES[role]

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes_for(r) for r in self.roles)

    @property
    def requests(self) -> int:
        """computePixels requests of the direct route (exports: one task per output)."""
        return len(self.tiles) * len(self.roles) if self.route == "direct" else len(self.roles)

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "reason": self.reason,
            "grid": {
                "crs": self.grid.crs.to_string(),
                "transform": [float(v) for v in tuple(self.grid.transform)[:6]],
                "width": self.grid.width,
                "height": self.grid.height,
                "bounds": [float(v) for v in self.grid.bounds],
            },
            "area_km2": round(self.area_km2, 3),
            "bands": list(self.bands),
            "outputs": list(self.roles),
            "tile_px": self.tile_px,
            "tiles_per_output": len(self.tiles),
            "requests": self.requests,
            "bytes": self.total_bytes,
            "export": self.export.describe() if self.export else None,
            "warnings": self.warnings,
        }

    def describe(self) -> list[str]:
        mib = self.total_bytes / 1024**2
        lines = [
            f"grid: {self.grid.describe()}",
            f"AOI: {self.area_km2:.2f} km2; outputs {', '.join(self.roles)}; bands {' '.join(self.bands)}",
            f"size: {mib:.1f} MiB in {self.requests} request(s)"
            + (f" ({len(self.tiles)} tile(s) of <= {self.tile_px} px per output)" if self.route == "direct" else ""),
            f"route: {self.route} ({self.reason})",
        ]
        return lines + [f"warning: {w}" for w in self.warnings]


def max_tile_px(nbands: int, limit_bytes: int) -> int:
    """Largest square tile side whose pixels fit the request limit with headroom."""
    side = int(math.sqrt(LIMIT_HEADROOM * limit_bytes / (nbands * 2)))
    return side - side % 256 if side >= 256 else max(16, side - side % 16)


def tile_grid(grid: Grid, tile_px: int) -> list[Tile]:
    tiles = []
    for row, row_off in enumerate(range(0, grid.height, tile_px)):
        for col, col_off in enumerate(range(0, grid.width, tile_px)):
            width = min(tile_px, grid.width - col_off)
            height = min(tile_px, grid.height - row_off)
            tiles.append(Tile(row, col, row_off, col_off, width, height))
    return tiles


def make_plan(aoi: Aoi, cfg: IngestConfig) -> Plan:
    """Choose grid, tiles and route; refuse what no route can carry."""
    grid = aoi.grid(cfg.scale) if cfg.crs is None else aligned_grid(cfg.crs, aoi.projected(cfg.crs).bounds, cfg.scale)
    roles = ("before", "after", "mask") if cfg.label == "hansen" else ("before", "after")
    largest = max_tile_px(len(cfg.bands), cfg.request_limit_bytes)
    if cfg.tile_px is not None and cfg.tile_px > largest:
        raise SentinelError(
            f"tile_px {cfg.tile_px} is too large: a {cfg.tile_px}x{cfg.tile_px} tile of {len(cfg.bands)} uint16 bands "
            f"exceeds Earth Engine's {cfg.request_limit_bytes / 1024**2:.0f} MiB request limit; use at most {largest}"
        )
    tile_px = cfg.tile_px or min(DEFAULT_TILE_PX, largest)
    export = ExportTarget.parse(cfg.export) if cfg.export else None
    area = aoi.area_km2
    if area > cfg.export_max_km2:
        raise SentinelError(
            f"the AOI covers {area:,.0f} km2, more than any route here handles ({cfg.export_max_km2:,.0f} km2 for "
            "batch exports): split it into several AOIs and ingest each"
        )
    route: Literal["direct", "gcs", "drive"]
    if export is not None:
        route = export.kind
        reason = f"--export {cfg.export}: batch export of {len(roles)} image(s) to {export.describe()}"
    elif area > cfg.direct_max_km2:
        raise SentinelError(
            f"the AOI covers {area:,.0f} km2, too large for direct download (limit {cfg.direct_max_km2:,.0f} km2, "
            f"{grid.width}x{grid.height} px). Use a batch export: --export gcs:BUCKET/PREFIX (downloaded "
            "automatically) or --export drive:FOLDER"
        )
    else:
        route = "direct"
        reason = (
            f"{area:,.1f} km2 <= {cfg.direct_max_km2:,.0f} km2: computePixels straight to disk, "
            f"{cfg.workers} request(s) in flight"
        )
    plan = Plan(grid, cfg.bands, roles, tile_px, tile_grid(grid, tile_px), area, route, reason, export)
    return plan
