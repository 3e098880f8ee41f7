"""Settings of `sentinel ingest gee` (section ``ingest`` of params.yaml)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from planet_sentinel.bands import DEFAULT_BANDS, canonical

#: Earth Engine refuses computePixels requests over 48 MiB (50331648 bytes).
REQUEST_LIMIT_BYTES = 48 * 1024**2
#: Length of the default after window, which ends today: a scheduled ingest takes the newest imagery
#: (the rule the pipeline workflow computed with `date -d` before it moved here).
DEFAULT_WINDOW_DAYS = 60
#: How far back the default before window lies: the same dates of the previous year, so both
#: composites come from the same season and the difference is a year of change.
YEAR = dt.timedelta(days=365)

#: An inclusive date range (start, end).
Window = tuple[dt.date, dt.date]


def utc_today() -> dt.date:
    """Today's date in UTC, the calendar GitHub's cron schedules run on."""
    return dt.datetime.now(dt.timezone.utc).date()


def year_earlier(window: Window) -> Window:
    """``window`` moved back one YEAR."""
    start, end = window
    return (start - YEAR, end - YEAR)


def default_windows(today: dt.date) -> tuple[Window, Window]:
    """The (before, after) windows an ingest on ``today`` uses when none is given: after runs from
    DEFAULT_WINDOW_DAYS days ago to today, inclusive; before is the same dates one year earlier."""
    after = (today - dt.timedelta(days=DEFAULT_WINDOW_DAYS), today)
    return year_earlier(after), after


def _default_after() -> Window:
    return default_windows(utc_today())[1]


def _default_before(validated: dict[str, Any]) -> Window:
    # pydantic passes a one-argument default_factory the fields validated so far (pydantic/fields.py,
    # Field(default_factory=...); pydantic-core #1491), and skips it when one of them failed
    # (pydantic-core #1623), so `after` is here and valid.
    after: Window = validated["after"]
    return year_earlier(after)


class IngestConfig(BaseModel):
    """What to fetch from Earth Engine and how."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    project: str | None = None
    """Google Cloud project registered for Earth Engine (billing and quota are charged to it)."""
    aoi: str
    """AOI GeoJSON (Polygon/MultiPolygon, EPSG:4326)."""
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    """Scene name: outputs are ``<out_dir>/<name>_{before,after,mask}.tif`` and ``<name>_ingest.json``."""
    # `after` comes before `before`: fields are validated in definition order, and the default of
    # `before` is computed from `after`.
    after: Window = Field(default_factory=_default_after)
    """After window, inclusive dates, starting after the before window ends; default: 60 days ago to today (UTC)."""
    before: Window = Field(default_factory=_default_before)
    """Before window, inclusive dates; default: the after window one year (365 days) earlier."""
    bands: tuple[str, ...] = DEFAULT_BANDS
    """Sentinel-2 bands to composite (canonical names, e.g. B02)."""
    cloud_mask: Literal["cloudscore", "scl"] = "cloudscore"
    """Cloud Score+ (with the SCL fallback per image) or the SCL band alone."""
    cloud_threshold: float = Field(0.6, ge=0.0, le=1.0)
    """Cloud Score+ ``cs_cdf`` at or above which a pixel counts as clear (Google suggests 0.5-0.65)."""
    scale: int = Field(10, ge=10, le=1000)
    """Output pixel size in metres (grid origin on whole multiples of it)."""
    crs: str | None = Field(None, pattern=r"^EPSG:\d{4,5}$")
    """Projected CRS of the output grid, e.g. ``EPSG:32720``; default: the UTM zone of the AOI's centroid.
    A region's tile passes its own zone: a tile cut at a zone border may have its centroid across it."""
    label: Literal["hansen", "none"] = "hansen"
    """Hansen Global Forest Change loss as the mask, or no mask."""
    treecover_threshold: int = Field(30, ge=0, le=100)
    """Tree cover in 2000 (%) a pixel needs for its Hansen loss to count as forest loss."""
    export: str | None = None
    """``gcs:BUCKET/PREFIX`` or ``drive:FOLDER`` for batch exports; None downloads directly."""
    out_dir: str = "data/raw"
    """Where the scene files go."""
    tile_px: int | None = Field(None, ge=16, le=32768)
    """Tile side of direct downloads; default 512 (several per output, so mosaics overlap downloads)."""
    request_limit_bytes: int = Field(REQUEST_LIMIT_BYTES, ge=1024)
    """Earth Engine's computePixels request size limit."""
    workers: int = Field(4, ge=1, le=32)
    """computePixels requests in flight (Earth Engine allows 40 concurrent requests per project)."""
    retries: int = Field(5, ge=0, le=20)
    """Retries of a tile on HTTP 429 (quota) or 5xx, with exponential backoff."""
    backoff_s: float = Field(2.0, ge=0.0, le=120.0)
    """First backoff delay; doubles each retry (with jitter), capped at 64 s."""
    timeout_s: float = Field(300.0, gt=0)
    """Per-request timeout."""
    direct_max_km2: float = Field(2500.0, gt=0)
    """Largest AOI downloaded directly; larger ones need ``--export gcs:...`` or ``drive:...``."""
    export_max_km2: float = Field(250_000.0, gt=0)
    """Largest AOI for batch exports (beyond it, split the AOI)."""
    poll_s: float = Field(10.0, ge=0.0)
    """Seconds between polls of batch export operations."""
    min_clear_share: float = Field(0.0, ge=0.0, le=1.0)
    """Fail when less of the AOI than this has a clear observation in a window (0: fail only when none)."""

    @field_validator("before", "after", mode="before")
    @classmethod
    def _window_text(cls, value: object) -> object:
        # From an environment variable or params.yaml a window may arrive as "2024-01-01,2024-01-31".
        if isinstance(value, str):
            return [v for v in re.split(r"[,\s/]+", value) if v]
        return value

    @field_validator("bands", mode="before")
    @classmethod
    def _canonical_bands(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v for v in re.split(r"[,\s]+", value) if v]
        if isinstance(value, (list, tuple)):
            try:
                return tuple(canonical(str(v)) for v in value)
            except ValueError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("export")
    @classmethod
    def _export_target(cls, value: str | None) -> str | None:
        if value:
            ExportTarget.parse(value)
        return value or None

    @model_validator(mode="after")
    def _windows(self) -> IngestConfig:
        for label, (start, end) in (("after", self.after), ("before", self.before)):
            if end < start:
                raise ValueError(f"the {label} window ends ({end}) before it starts ({start})")
        if self.after[0] <= self.before[1]:
            raise ValueError(
                f"the after window starts ({self.after[0]}) before the before window ends ({self.before[1]}); "
                "the after window must begin later"
            )
        if not self.bands:
            raise ValueError("at least one band is needed")
        return self


@dataclass(frozen=True)
class ExportTarget:
    """Where batch exports go: ``gcs`` (bucket + prefix) or ``drive`` (folder)."""

    kind: Literal["gcs", "drive"]
    bucket: str = ""
    prefix: str = ""
    folder: str = ""

    @classmethod
    def parse(cls, text: str) -> ExportTarget:
        kind, _, rest = text.partition(":")
        if kind == "gcs" and rest:
            bucket, _, prefix = rest.partition("/")
            if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]", bucket):
                raise ValueError(f"--export {text}: {bucket!r} is not a valid Cloud Storage bucket name")
            return cls("gcs", bucket=bucket, prefix=prefix.strip("/"))
        if kind == "drive" and rest:
            return cls("drive", folder=rest)
        raise ValueError(f"--export {text!r}: expected gcs:BUCKET/PREFIX or drive:FOLDER")

    def describe(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}" if self.kind == "gcs" else f"Google Drive folder {self.folder!r}"
