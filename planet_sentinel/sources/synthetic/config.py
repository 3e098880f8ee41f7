"""The simulator's knobs (:class:`SimulationConfig`), the files it wrote and the scene grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.raster import Grid, utm_crs_for

GENERATOR = "planet_sentinel.synthetic"
PIXEL_SIZE: Final = 10
MAX_SIZE = 8192
BEFORE_DATE = "2024-07-15"
AFTER_DATE = "2025-07-20"
#: Cloud opacity (and shadow strength) above which the ground counts as hidden (mask 255).
HIDDEN_THRESHOLD = 0.3


class SimulationConfig(BaseModel):
    """Knobs of the simulated scene pair.

    ``difficulty`` sets every nuisance at once; each explicit override left at None is derived
    from it (see :meth:`resolved`). The drift knobs (``gain``, ``season_shift``,
    ``forest_fraction``, ``deforestation_rate``) let the drift monitor produce shifted data.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field("demo", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    """Scene name: outputs are ``<name>_before.tif`` and so on."""
    size: int = Field(2048, ge=256, le=MAX_SIZE)
    """Width and height in 10 m pixels (2048 = 20.48 km; memory grows with size squared)."""
    seed: int = Field(7, ge=0)
    """Random seed: the same seed and knobs always give byte-identical pixels."""
    difficulty: float = Field(0.3, ge=0.0, le=1.0)
    """0 = clean pair, 1 = cloudy, hazy, noisy, misregistered; sets the overrides left at None."""
    cloud_cover: float | None = Field(None, ge=0.0, le=0.6)
    """Fraction of the after image under cloud (the before image gets half); 0.2 x difficulty."""
    haze: float | None = Field(None, ge=0.0, le=1.0)
    """Haze strength 0..1 on the after image (half on the before); 0.7 x difficulty."""
    misregistration_px: float | None = Field(None, ge=0.0, le=3.0)
    """Shift of the after image against the before, in pixels; 0.1 + 1.1 x difficulty."""
    noise: float | None = Field(None, ge=0.0, le=300.0)
    """Sensor noise standard deviation in reflectance units (x10000); 4 + 20 x difficulty (10 at the
    default 0.3: real forest's semivariogram at 10 m in B02 is ~370, i.e. noise well under 19)."""
    phenology: float | None = Field(None, ge=0.0, le=1.0)
    """Strength of the seasonal/illumination difference between the dates; 0.15 + 0.85 x d."""
    swath_edge: float | None = Field(None, ge=0.0, le=0.5)
    """Fraction of the after image outside the orbit swath (nodata); 0.25 x max(0, d - 0.6)."""
    gain: float = Field(1.0, ge=0.25, le=4.0)
    """Drift: multiplicative radiometric gain applied to the whole after image."""
    season_shift: float = Field(0.0, ge=-1.0, le=1.0)
    """Drift: extra seasonal shift of the after date, -1 driest .. +1 wettest (0 = same season)."""
    forest_fraction: float = Field(0.65, ge=0.05, le=0.95)
    """Approximate share of primary forest in the before land cover (limited by the roads)."""
    deforestation_rate: float | None = Field(None, ge=0.0, le=0.5)
    """Share of the before forest cleared by the after date; 0.05 / forest_fraction (~5 % loss)."""
    centre_lon: float = Field(-62.85, ge=-180.0, le=180.0)
    """Scene centre longitude (WGS 84); the default lies in Rondonia, Brazil."""
    centre_lat: float = Field(-9.90, ge=-80.0, le=84.0)
    """Scene centre latitude (WGS 84); sets the UTM zone of the grid."""
    pixel_size: Literal[10] = PIXEL_SIZE
    """Pixel size in metres: fixed at Sentinel-2's 10 m."""

    def resolved(self) -> SimulationConfig:
        """A copy with every override that is None derived from ``difficulty``."""
        d = self.difficulty
        derived = {
            "cloud_cover": 0.2 * d,
            "haze": 0.7 * d,
            "misregistration_px": 0.1 + 1.1 * d,
            "noise": 4.0 + 20.0 * d,
            "phenology": 0.15 + 0.85 * d,
            "swath_edge": 0.25 * max(0.0, d - 0.6),
            "deforestation_rate": min(0.5, 0.05 / self.forest_fraction),
        }
        update = {k: round(v, 6) for k, v in derived.items() if getattr(self, k) is None}
        return self.model_copy(update=update)


@dataclass
class SimulatedScene:
    """The files written by :func:`simulate_scene` and the summary statistics."""

    before: Path
    after: Path
    mask: Path
    quicklook: Path
    summary_json: Path
    stats: dict[str, Any] = field(default_factory=dict)


def scene_grid(config: SimulationConfig) -> Grid:
    """The 10 m UTM grid centred on the configured point, origin snapped to whole 10 m."""
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.warp import transform

    epsg = utm_crs_for(config.centre_lon, config.centre_lat)
    xs, ys = transform("EPSG:4326", epsg, [config.centre_lon], [config.centre_lat])
    half = config.size * PIXEL_SIZE / 2
    left = math.floor((xs[0] - half) / PIXEL_SIZE) * PIXEL_SIZE
    top = math.ceil((ys[0] + half) / PIXEL_SIZE) * PIXEL_SIZE
    return Grid(
        CRS.from_string(epsg),
        Affine(PIXEL_SIZE, 0.0, float(left), 0.0, -PIXEL_SIZE, float(top)),
        config.size,
        config.size,
    )
