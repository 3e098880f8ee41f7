"""Stable alert ids: the same place and period give the same id on every rerun.

Why not a counter or a uuid: reruns, retried matrix jobs and the region merge must agree on an
alert's name without talking to each other. The id hashes only what defines an alert (its
centroid rounded to 4 decimals, about 10 m, and the two dates of its period), never the tile,
so the merge recomputes the id of a polygon dissolved across a tile border with this function.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

#: Every id starts with this, so an id is recognisable in an issue, a spreadsheet or a log.
PREFIX = "PS-"
#: Decimals of the centroid hashed: 1e-4 degree is about 11 m of latitude (a pixel at 10 m).
CENTROID_DECIMALS = 4


def _iso_date(value: str, name: str) -> str:
    """``value`` checked to be an ISO date (YYYY-MM-DD), so "2024-1-5" and "2024-01-05" cannot give two ids."""
    try:
        return dt.date.fromisoformat(value).isoformat()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} {value!r} is not an ISO date (YYYY-MM-DD)") from exc


def _coordinate(value: float) -> str:
    # `+ 0.0` turns -0.0 into 0.0, so a centroid a hair west of 0° gets the same id as one on it.
    return f"{round(float(value), CENTROID_DECIMALS) + 0.0:.{CENTROID_DECIMALS}f}"


def alert_id(lon: float, lat: float, observed_after: str, observed_before: str) -> str:
    """``"PS-"`` + 16 hex chars of sha256 over the rounded centroid and the period's two ISO dates."""
    key = "|".join(
        (
            _coordinate(lon),
            _coordinate(lat),
            _iso_date(observed_after, "observed_after"),
            _iso_date(observed_before, "observed_before"),
        )
    )
    return PREFIX + hashlib.sha256(key.encode("ascii")).hexdigest()[:16]


def centroid(geometry: Mapping[str, Any]) -> tuple[float, float]:
    """(lon, lat) of a WGS 84 GeoJSON polygon's centroid, computed in degrees.

    Why degrees and not the tile's UTM CRS: the region merge dissolves polygons of tiles in
    different UTM zones, so the one CRS every caller shares is WGS 84; computing the centroid in
    one place makes :func:`feature_id` give a tile and the merge the same id for the same polygon.
    """
    from shapely.geometry import shape

    point = shape(geometry).centroid
    return float(point.x), float(point.y)


def feature_id(geometry: Mapping[str, Any], observed_after: str, observed_before: str) -> str:
    """:func:`alert_id` of a WGS 84 polygon (its :func:`centroid`) and period."""
    lon, lat = centroid(geometry)
    return alert_id(lon, lat, observed_after, observed_before)
