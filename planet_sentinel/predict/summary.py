"""The prediction summary (``<name>_prediction.json``): a typed, versioned artefact.

Why typed: the service, the demo, the benchmarks and users' own tools read it; the model says
what each field is, and ``docs/schemas/prediction-summary.schema.json`` publishes it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.artefacts import Artefact, Upgrader, same_layout
from planet_sentinel.predict.model_info import ModelInfo
from planet_sentinel.raster import Grid


class GridInfo(BaseModel):
    """The scene grid: CRS, size and the affine transform's six coefficients (a, b, c, d, e, f)."""

    model_config = ConfigDict(extra="forbid")

    crs: str
    width: int
    height: int
    transform: list[float] = Field(min_length=6, max_length=6)

    @classmethod
    def of(cls, grid: Grid) -> GridInfo:
        return cls(**grid.to_dict())


class PredictionSummary(Artefact):
    """What `sentinel predict` (and POST /predict) found over a scene pair, and how."""

    KIND: ClassVar[str] = "prediction-summary"
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel predict"
    UPGRADERS: ClassVar[dict[int, Upgrader]] = {0: same_layout}

    name: str = Field(description="Output prefix of the prediction's files.")
    before: str
    after: str
    grid: GridInfo
    model: ModelInfo
    threshold: float = Field(description="Decision threshold applied to the probability.")
    min_area_ha: float = Field(description="Minimum mapping unit of the polygons.")
    window: int = Field(description="Window side in pixels.")
    overlap: int
    windows: int = Field(description="Windows predicted.")
    cloud_screen: bool
    device: str
    engine: str = Field("torch", description="What ran the network: onnx (ONNX Runtime) or torch (PyTorch).")
    loss_area_ha: float = Field(description="Area of the polygons (minimum mapping unit applied), hectares.")
    loss_pixels_area_ha: float = Field(description="Area of every loss pixel, hectares.")
    polygons: int
    changed_share: float = Field(description="Loss pixels / known pixels.")
    unknown_share: float = Field(description="Unknown pixels (nodata, cloud, shadow) / all pixels.")
    timings_s: dict[str, float] = Field(
        description="Seconds per step: read, forward, write, vectorise, quicklook, total."
    )
