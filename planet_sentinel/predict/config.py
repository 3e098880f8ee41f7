"""Prediction settings: one pydantic model (the ``predict`` section of params.yaml).

Why: the CLI, the service and :func:`planet_sentinel.predict.predict_scene` used to write the
same defaults (overlap 64, batch 8, 0.5 ha) each on their own; they now all read them from here.
Resolve with ``planet_sentinel.config.resolve(PredictConfig, SECTION, flags)`` (flag >
``SENTINEL_PREDICT_<FIELD>`` > params.yaml > default).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planet_sentinel.errors import SentinelError

#: The params.yaml section (and ``SENTINEL_PREDICT_*`` prefix) of :class:`PredictConfig`.
SECTION = "predict"
DEFAULT_OVERLAP = 64
DEFAULT_BATCH_SIZE = 8
DEFAULT_MIN_AREA_HA = 0.5
#: The window side when none is given: max(the model's chip size, this), see ``resolve_window``.
DEFAULT_MIN_WINDOW = 512


class PredictConfig(BaseModel):
    """How a scene pair is predicted; every field has the default `sentinel predict` shows."""

    model_config = ConfigDict(extra="forbid")

    window: int | None = Field(
        default=None,
        gt=0,
        description="window side in pixels (default: max(chip size, 512)), a multiple of the model's",
    )
    overlap: int = Field(default=DEFAULT_OVERLAP, ge=0, description="pixels shared by neighbouring windows")
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, description="windows per forward pass")
    threshold: float | None = Field(default=None, ge=0, le=1, description="decision threshold (default: the model's)")
    min_area_ha: float = Field(
        default=DEFAULT_MIN_AREA_HA, ge=0, description="minimum mapping unit of the loss polygons"
    )
    device: str | None = Field(default=None, description="auto, cpu, cuda or cuda:N (default: cuda if available)")
    engine: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description="onnx (ONNX Runtime, CPU), torch (PyTorch) or auto: torch on CUDA, else onnx when the "
        "model has a graph and onnxruntime is installed, else torch",
    )

    @model_validator(mode="after")
    def _overlap_below_window(self) -> PredictConfig:
        if self.window is not None and self.overlap >= self.window:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than the window ({self.window})")
        return self

    def with_overrides(self, overrides: PredictOverrides | dict[str, Any]) -> PredictConfig:
        """A copy with ``overrides`` applied (None values are ignored), validated; bad values are a
        :class:`SentinelError` naming the field."""
        values = {**self.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        try:
            return PredictConfig.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or SECTION}: {e['msg']}" for e in exc.errors())
            raise SentinelError(f"invalid {SECTION} settings: {problems}") from exc


class PredictOverrides(TypedDict, total=False):
    """The keyword arguments :func:`planet_sentinel.predict.predict_scene` accepts on top of a config
    (the fields of :class:`PredictConfig`)."""

    window: int | None
    overlap: int
    batch_size: int
    threshold: float | None
    min_area_ha: float
    device: str | None
    engine: Literal["auto", "onnx", "torch"]
