"""What an alert is: a GeoJSON Feature (RFC 7946, WGS 84) whose properties are :class:`AlertProperties`.

Why one model: the alert files (GeoJSON, FlatGeobuf, CSV), the alert store and the region merge
all write the same fields; the model is the one place that says what each one means.
:class:`AlertCollection` is the GeoJSON FeatureCollection of alerts as a typed, versioned
artefact (``schema_version`` is a foreign member, which RFC 7946 section 6.1 allows).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from planet_sentinel.artefacts import Artefact

Confidence = Literal["nominal", "high"]
Status = Literal["new", "confirmed"]

#: Decimals of lon/lat (about 0.1 m): enough for a centroid, short in a spreadsheet.
LONLAT_DECIMALS = 6
#: ``tile_id`` of a prediction that was not part of a region plan.
SCENE_TILE = "scene"


class AlertProperties(BaseModel):
    """One alert's properties (the columns of the CSV, the attributes in QGIS)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable id (planet_sentinel.alerts.ids.alert_id): same place and period, same id.")
    observed_after: str = Field(description="ISO date of the before composite: the loss happened after it.")
    observed_before: str = Field(description="ISO date of the after composite: the loss happened before it.")
    confidence: Confidence = Field(
        description="'high' when the polygon's max probability reaches the model's high_threshold, else 'nominal'."
    )
    status: Status = Field(description="'new' when first seen; 'confirmed' once seen again in the following period.")
    area_ha: float = Field(ge=0, description="Area in hectares, computed in the tile's UTM CRS.")
    lon: float = Field(ge=-180, le=180, description="Centroid longitude (WGS 84, 6 decimals).")
    lat: float = Field(ge=-90, le=90, description="Centroid latitude (WGS 84, 6 decimals).")
    tile_id: str = Field(description="Tile of the region plan; 'scene' for a prediction outside a plan.")
    model_name: str = Field(description="Registered model name (or the bundle file's name).")
    model_version: str | None = Field(None, description="Registered model version.")
    run_id: str | None = Field(None, description="Run that produced the prediction (MLflow run of the model).")
    max_probability: float = Field(ge=0, le=1, description="Highest loss probability inside the polygon.")

    @field_validator("observed_after", "observed_before")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from exc

    @field_validator("lon", "lat")
    @classmethod
    def _six_decimals(cls, value: float) -> float:
        return round(value, LONLAT_DECIMALS) + 0.0


class AlertGeometry(BaseModel):
    """A GeoJSON Polygon or MultiPolygon in WGS 84 lon/lat (exterior rings counter-clockwise)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any]


class AlertFeature(BaseModel):
    """One alert as a GeoJSON Feature."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Feature"] = "Feature"
    id: str = Field(description="The alert id again (GeoJSON's feature id, which QGIS and GDAL read).")
    geometry: AlertGeometry
    properties: AlertProperties


class AlertCollection(Artefact):
    """Alerts as a GeoJSON FeatureCollection (RFC 7946) carrying ``schema_version``."""

    KIND: ClassVar[str] = "alert-collection"
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel alerts"

    type: Literal["FeatureCollection"] = "FeatureCollection"
    name: str | None = Field(None, description="Layer name GDAL and QGIS show.")
    features: list[AlertFeature] = Field(default_factory=list)
