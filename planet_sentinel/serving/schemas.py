"""Response models: what the OpenAPI docs show and what clients can rely on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from planet_sentinel.registry import CHAMPION_URI


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class ModelInfo(BaseModel):
    """The served model: what `planet_sentinel.predict.model_info` reports, as in `sentinel predict`'s summary."""

    name: str | None = Field(None, examples=["planet-sentinel"])
    version: str | None = Field(None, examples=["3"])
    alias: str | None = Field(None, examples=["champion"])
    uri: str | None = Field(None, examples=[CHAMPION_URI])
    run_id: str | None = None
    fingerprint: str = Field("", description="Training data fingerprint.", examples=["9f1c2ab4d0e3f6a7"])
    bands: list[str] = Field(examples=[["B02", "B03", "B04", "B08", "B11", "B12"]])
    chip_size: int = Field(examples=[256])
    threshold: float = Field(examples=[0.42])
    architecture: dict[str, Any] | None = None
    metrics: dict[str, float] = Field(default_factory=dict, examples=[{"val_f1": 0.93}])
    loaded_at: float | None = Field(None, description="Unix time the service loaded this model.")


class Registry(BaseModel):
    """The last periodic check of the model's alias (or file)."""

    spec: str
    last_check: float | None = None
    last_success: float | None = None
    last_error: str | None = Field(None, description="Why the last check failed; the current model keeps serving.")
    failures: int = 0
    swaps: int = 0


class Ready(BaseModel):
    ready: bool
    model: ModelInfo | None = None
    registry: Registry


class Problem(BaseModel):
    """Every 4xx/5xx of the service: a reason a person can act on, and a stable kind for programs."""

    detail: str = Field(examples=["'before' and 'after' are not on the same grid: size 256x256 vs 128x128"])
    kind: str = Field(examples=["grid_mismatch"])


class Prediction(BaseModel):
    """The JSON answer of POST /predict (format=json)."""

    model: ModelInfo
    loss: dict[str, Any] = Field(
        description="GeoJSON FeatureCollection (EPSG:4326) of loss polygons with area_ha and mean_probability."
    )
    loss_area_ha: float = Field(description="Area of the polygons (minimum mapping unit applied), hectares.")
    loss_pixels_area_ha: float = Field(description="Area of every loss pixel, hectares.")
    polygons: int
    changed_share: float = Field(description="Loss pixels / known pixels.")
    unknown_share: float = Field(description="Unknown pixels (nodata, cloud, shadow) / all pixels.")
    threshold: float
    min_area_ha: float
    grid: dict[str, Any] = Field(description="CRS, width, height and affine transform of the input grid.")
    window: int
    overlap: int
    windows: int
    cloud_screen: bool
    device: str
    timings_s: dict[str, float] = Field(
        description="Seconds per step: upload (store + check), queue (waiting for a worker), the predictor's own "
        "steps (read, forward, write, vectorise, quicklook, total) and service_total."
    )
