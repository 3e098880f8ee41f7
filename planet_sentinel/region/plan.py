"""`sentinel region plan`: an AOI cut into UTM tiles with an overlap margin, and the Actions matrix.

Tiles lie on a fixed grid per UTM zone: cell (col, row) of zone Z covers easting
``[col, col + 1) x tile_m`` and northing ``[row, row + 1) x tile_m`` of EPSG 326ZZ (north) or
327ZZ (south). The id ``<zone><N|S>_<size>km_<col>_<row>`` (e.g. ``20S_20km_0022_0440``) depends
only on the place and the tile size, never on the AOI: the same AOI and parameters give the same
ids, and two AOIs that overlap share the tiles they have in common. An AOI across a zone border
gets the tiles west of the border in the western zone and east of it in the eastern one; a cell
that crosses the border is cut along the meridian (its ``core``), so every point of the AOI
belongs to exactly one tile. Each tile is predicted over its cell grown by ``margin_m`` on every
side (``read_bounds``): the context the model needs near the cell's edge; the merge keeps of each
tile only its core.

GitHub Actions runs at most 256 jobs from one matrix ("A matrix will generate a maximum of 256
jobs per workflow run", https://docs.github.com/en/actions/reference/limits, "Job Matrix"), so
tiles are batched: ``ceil(tiles / max_jobs)`` tiles a job, in id order.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planet_sentinel.artefacts import Artefact
from planet_sentinel.errors import SentinelError
from planet_sentinel.region.geometry import reproject, utm_epsg, zone_strips

#: GitHub's ceiling on the jobs of one matrix (see the module docstring).
GITHUB_MATRIX_MAX = 256


class PlanConfig(BaseModel):
    """How an AOI is cut (the ``region`` section of params.yaml)."""

    model_config = ConfigDict(extra="forbid")

    tile_km: float = Field(20.0, gt=0, le=500, description="Side of a tile's cell in km.")
    margin_m: float = Field(1280.0, ge=0, description="Context read beyond each cell edge, in metres.")
    resolution_m: float = Field(10.0, gt=0, description="Pixel size; cell and margin are whole pixels.")
    max_jobs: int = Field(GITHUB_MATRIX_MAX, ge=1, le=GITHUB_MATRIX_MAX, description="Jobs of the matrix at most.")

    @model_validator(mode="after")
    def _whole_pixels(self) -> PlanConfig:
        for name, metres in (("tile_km", self.tile_km * 1000), ("margin_m", self.margin_m)):
            if abs(metres / self.resolution_m - round(metres / self.resolution_m)) > 1e-6:
                raise ValueError(f"{name} ({metres:g} m) must be a whole number of {self.resolution_m:g} m pixels")
        return self

    @property
    def tile_m(self) -> float:
        return round(self.tile_km * 1000, 6)


class PlanTile(BaseModel):
    """One tile: its cell in its UTM zone, the part of the AOI's plane it owns, and what it reads."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="<zone><N|S>_<size>km_<col>_<row>: stable for a place and tile size.")
    epsg: int = Field(description="EPSG code of the tile's UTM zone (326xx north, 327xx south).")
    col: int = Field(description="Cell column: easting // tile size.")
    row: int = Field(description="Cell row: northing // tile size.")
    bounds: tuple[float, float, float, float] = Field(description="The cell (left, bottom, right, top) in metres.")
    read_bounds: tuple[float, float, float, float] = Field(description="The cell grown by the margin, in metres.")
    cut: bool = Field(description="True when the core is the cell cut at a zone or hemisphere border.")
    core: dict[str, Any] = Field(description="The part of the plane this tile owns: GeoJSON geometry in lon/lat.")
    bbox: tuple[float, float, float, float] = Field(description="Lon/lat box (W, S, E, N) of read_bounds.")

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"

    def read_size(self, resolution_m: float) -> tuple[int, int]:
        """(width, height) in pixels of the read area."""
        left, bottom, right, top = self.read_bounds
        return round((right - left) / resolution_m), round((top - bottom) / resolution_m)


class Batch(BaseModel):
    """One matrix job: a name and its tiles."""

    model_config = ConfigDict(extra="forbid")

    batch: str
    tiles: list[str]


class RegionPlan(Artefact):
    """An AOI cut into UTM tiles with an overlap margin, batched into at most 256 matrix jobs."""

    KIND: ClassVar[str] = "region-plan"
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel region plan"

    aoi: str | None = Field(description="The AOI file the plan was cut from.")
    aoi_area_km2: float
    config: PlanConfig
    tiles: list[PlanTile]
    batches: list[Batch]

    def tile(self, tile_id: str) -> PlanTile:
        for tile in self.tiles:
            if tile.id == tile_id:
                return tile
        raise SentinelError(f"tile {tile_id!r} is not in this plan ({len(self.tiles)} tiles)")

    def matrix(self) -> dict[str, list[dict[str, str]]]:
        """The ``strategy.matrix`` of the tile job: one ``include`` entry per batch, tiles space-separated."""
        return {"include": [{"batch": b.batch, "tiles": " ".join(b.tiles)} for b in self.batches]}

    def github_output(self) -> str:
        """Lines for ``$GITHUB_OUTPUT``: ``matrix=<one-line JSON>`` (for ``fromJSON``) and the counts."""
        matrix = json.dumps(self.matrix(), separators=(",", ":"))
        return f"matrix={matrix}\ntiles={len(self.tiles)}\njobs={len(self.batches)}\n"


def tile_id(zone: int, north: bool, tile_m: float, col: int, row: int) -> str:
    """The stable id of a cell (see the module docstring)."""
    return f"{zone:02d}{'N' if north else 'S'}_{tile_m / 1000:g}km_{col:04d}_{row:04d}"


def plan_region(aoi_path: str | Path, config: PlanConfig | None = None) -> RegionPlan:
    """Cut the AOI of ``aoi_path`` into tiles (see the module docstring)."""
    from planet_sentinel.aoi import load_aoi

    cfg = config or PlanConfig()
    aoi = load_aoi(aoi_path)
    tiles: list[PlanTile] = []
    for zone, north, strip in zone_strips(aoi.bounds):
        part = aoi.geometry.intersection(strip)
        if part.is_empty or part.area == 0:
            continue
        tiles.extend(_zone_tiles(part, strip, zone, north, cfg))
    tiles.sort(key=lambda t: t.id)
    return RegionPlan(
        schema_version=RegionPlan.SCHEMA_VERSION,
        aoi=str(aoi.source) if aoi.source else None,
        aoi_area_km2=round(aoi.area_km2, 3),
        config=cfg,
        tiles=tiles,
        batches=batch_tiles([t.id for t in tiles], cfg.max_jobs),
    )


def _zone_tiles(part: Any, strip: Any, zone: int, north: bool, cfg: PlanConfig) -> list[PlanTile]:
    """The tiles of one zone and hemisphere whose core meets ``part`` (the AOI inside ``strip``)."""
    import shapely
    from shapely.geometry import box, mapping

    crs = f"EPSG:{utm_epsg(zone, north)}"
    local = reproject(part, "EPSG:4326", crs)
    strip_local = reproject(strip, "EPSG:4326", crs)
    size, margin = cfg.tile_m, cfg.margin_m
    left, bottom, right, top = local.bounds
    tiles = []
    for col in range(math.floor(left / size), math.ceil(right / size)):
        for row in range(math.floor(bottom / size), math.ceil(top / size)):
            cell = box(col * size, row * size, (col + 1) * size, (row + 1) * size)
            if not cell.intersects(local) or cell.intersection(local).area <= 0:
                continue
            core = cell.intersection(strip_local)
            cut = not shapely.equals_exact(shapely.normalize(core), shapely.normalize(cell), tolerance=1e-6)
            grown = cell.buffer(margin, join_style="mitre")
            tiles.append(
                PlanTile(
                    id=tile_id(zone, north, size, col, row),
                    epsg=utm_epsg(zone, north),
                    col=col,
                    row=row,
                    bounds=cell.bounds,
                    read_bounds=grown.bounds,
                    cut=cut,
                    core=json.loads(json.dumps(mapping(_rounded(reproject(core, crs, "EPSG:4326"))))),
                    bbox=tuple(round(v, 7) for v in reproject(grown, crs, "EPSG:4326").bounds),
                )
            )
    return tiles


def _rounded(geometry: Any) -> Any:
    """``geometry`` with its coordinates on a 1e-7 degree grid (about 1 cm): short files, same shape."""
    import shapely

    return shapely.set_precision(geometry, 1e-7)


def batch_tiles(ids: list[str], max_jobs: int = GITHUB_MATRIX_MAX) -> list[Batch]:
    """``ids`` in consecutive batches: one tile a job up to ``max_jobs`` tiles, then ``ceil(n / max_jobs)`` a job."""
    if max_jobs < 1:
        raise SentinelError(f"max_jobs must be at least 1, got {max_jobs}")
    if not ids:
        return []
    per = math.ceil(len(ids) / max_jobs)
    chunks = [ids[i : i + per] for i in range(0, len(ids), per)]
    width = max(3, len(str(len(chunks) - 1)))
    return [Batch(batch=f"b{i:0{width}d}", tiles=chunk) for i, chunk in enumerate(chunks)]


def write_plan(plan: RegionPlan, out: str | Path, github_output: str | Path | None = None) -> dict[str, Any]:
    """Save the plan (and its matrix beside it as ``<stem>.matrix.json``); append to ``$GITHUB_OUTPUT`` if given."""
    from planet_sentinel.raster import write_text_atomic

    out = Path(out)
    plan.save(out)
    matrix_path = out.with_name(out.stem + ".matrix.json")
    write_text_atomic(matrix_path, json.dumps(plan.matrix(), separators=(",", ":")) + "\n")
    if github_output:
        with Path(github_output).open("a", encoding="utf-8") as handle:
            handle.write(plan.github_output())
    zones = sorted({t.epsg for t in plan.tiles})
    return {
        "plan": str(out),
        "matrix": str(matrix_path),
        "tiles": len(plan.tiles),
        "jobs": len(plan.batches),
        "tiles_per_job": max((len(b.tiles) for b in plan.batches), default=0),
        "epsg": zones,
        "aoi_area_km2": plan.aoi_area_km2,
    }
