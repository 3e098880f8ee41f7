"""Label settings: one pydantic model, the ``label`` section of params.yaml.

Why: `sentinel label` and :mod:`planet_sentinel.labels` used to write the spectral thresholds and
the polygon class vocabulary each on their own; both now read them from :class:`LabelConfig`.
Resolve with ``planet_sentinel.config.resolve(LabelConfig, SECTION, flags)`` (flag >
``SENTINEL_LABEL_<FIELD>`` > params.yaml > default).
"""

from __future__ import annotations

from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator

from planet_sentinel.config import validated

#: The params.yaml section (and ``SENTINEL_LABEL_*`` prefix) of :class:`LabelConfig`.
SECTION = "label"


class LabelConfig(BaseModel):
    """How masks are made from polygons and from spectral change; the defaults `sentinel label` shows."""

    model_config = ConfigDict(extra="forbid")

    class_field: str | None = Field(
        default=None, description="attribute holding loss/unknown; without it every polygon is loss"
    )
    loss_values: tuple[str, ...] = Field(
        default=("loss", "deforestation", "1"), description="class values that mean loss (case-insensitive)"
    )
    unknown_values: tuple[str, ...] = Field(
        default=("unknown", "cloud", "255"), description="class values that mean unknown (case-insensitive)"
    )
    all_touched: bool = Field(default=False, description="burn every pixel a polygon touches")
    ndvi_drop: float = Field(default=0.25, gt=0, le=2, description="NDVI drop that counts as loss")
    nbr_drop: float = Field(default=0.3, gt=0, le=2, description="NBR (B08, B12) drop that counts as loss")
    forest_ndvi: float = Field(default=0.65, ge=-1, le=1, description="before-date NDVI that counts as forest")
    mmu_ha: float = Field(default=0.5, ge=0, description="minimum mapping unit in hectares")

    @field_validator("loss_values", "unknown_values", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # SENTINEL_LABEL_LOSS_VALUES=loss,clearing arrives as one string (planet_sentinel.config).
        return tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else value

    def with_overrides(self, overrides: VectorOverrides | SpectralOverrides) -> LabelConfig:
        """A copy with ``overrides`` applied (None values are ignored), validated; bad values are a
        :class:`~planet_sentinel.errors.SentinelError` naming the field."""
        values = {**self.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        return validated(LabelConfig, SECTION, values)


class VectorOverrides(TypedDict, total=False):
    """The :class:`LabelConfig` fields :func:`planet_sentinel.labels.mask_from_vector` takes as keywords."""

    class_field: str | None
    loss_values: tuple[str, ...] | list[str]
    unknown_values: tuple[str, ...] | list[str]
    all_touched: bool | None


class SpectralOverrides(TypedDict, total=False):
    """The :class:`LabelConfig` fields :func:`planet_sentinel.labels.mask_from_spectral` takes as keywords."""

    ndvi_drop: float | None
    nbr_drop: float | None
    forest_ndvi: float | None
    mmu_ha: float | None
