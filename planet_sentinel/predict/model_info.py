"""What identifies a model in a prediction's summary, an evaluation report and the service's answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from planet_sentinel.predict.engines import Model

#: Architecture settings as ModelConfig.to_dict() writes them (ints, floats, the variant's name).
Architecture = dict[str, int | float | str]


class ModelInfo(BaseModel):
    """The model that made a prediction: registry coordinates, training fingerprint and settings."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="Registered model name (None for a bundle file).")
    version: str | None = Field(None, description="Registered model version.")
    alias: str | None = Field(None, description="Alias the model was loaded through (e.g. champion).")
    uri: str | None = Field(None, description="What was loaded: models:/... URI or bundle file.")
    run_id: str | None = Field(None, description="MLflow run that trained the model.")
    fingerprint: str = Field("", description="Fingerprint of the training data.")
    bands: list[str]
    chip_size: int
    threshold: float = Field(description="The model's own decision threshold.")
    high_threshold: float | None = Field(
        None, description="Threshold of high-confidence alerts (validation precision >= 0.9); None if absent."
    )
    architecture: Architecture | None = None
    metrics: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def from_bundle(cls, bundle: Model) -> ModelInfo:
        source = bundle.source

        def text(key: str) -> str | None:
            value = source.get(key)
            return None if value is None else str(value)

        return cls(
            name=text("name"),
            version=text("version"),
            alias=text("alias"),
            uri=text("uri"),
            run_id=text("run_id"),
            fingerprint=bundle.fingerprint,
            bands=list(bundle.bands),
            chip_size=bundle.chip_size,
            threshold=bundle.threshold,
            high_threshold=bundle.high_threshold,
            architecture=bundle.architecture,
            metrics=dict(bundle.metrics),
        )


def model_info(bundle: Model) -> dict[str, Any]:
    """:class:`ModelInfo` of ``bundle`` as the JSON dict other reports embed."""
    return ModelInfo.from_bundle(bundle).model_dump(mode="json")
