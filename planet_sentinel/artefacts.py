"""Typed, versioned JSON artefacts passed between stages (baseline, chip manifest, prediction
summary, evaluation report, drift report, ingest record, Kaggle run record).

Why: stages and users' own tools read each other's outputs; a pydantic model per artefact gives
one place that says what the file holds, one loader that checks it, and a JSON Schema users can
validate against (``docs/schemas/``, written by ``python -m tools artefacts write``). Modelled on
raster-vision's ``RasterStats.load/save`` and its config upgraders:

- every file carries ``schema_version``; :meth:`Artefact.load` upgrades older versions step by
  step through ``UPGRADERS`` (version N -> N+1 on the raw dict) and refuses newer ones with a
  message that says what to do;
- :meth:`Artefact.save` writes to a temporary file and renames it, so a failed write never
  leaves half a file where the last good one was.

Subclasses set ``KIND`` (a short name, also the schema's file name), ``SCHEMA_VERSION``, the
``produced_by`` hint (which command writes it, for the messages) and optionally ``UPGRADERS``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planet_sentinel.errors import SentinelError

A = TypeVar("A", bound="Artefact")
Upgrader = Callable[[dict[str, Any]], dict[str, Any]]


def same_layout(raw: dict[str, Any]) -> dict[str, Any]:
    """The upgrader 0 -> 1 of an artefact whose files from before ``schema_version`` have today's
    layout: nothing to change (``UPGRADERS = {0: same_layout}``)."""
    return raw


class ArtefactError(SentinelError):
    """An artefact file that cannot be read as its model: missing, not JSON, wrong version or shape."""


class Artefact(BaseModel):
    """Base of every JSON artefact; see the module docstring."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    KIND: ClassVar[str] = "artefact"
    SCHEMA_VERSION: ClassVar[int] = 1
    #: The command that writes this artefact, named in error messages ("re-run `sentinel chip`").
    PRODUCED_BY: ClassVar[str] = "sentinel"
    #: version -> function turning a raw dict of that version into the next version's dict.
    UPGRADERS: ClassVar[dict[int, Upgrader]] = {}

    schema_version: int = Field(description="Version of this artefact's layout; readers upgrade older ones.")

    @model_validator(mode="before")
    @classmethod
    def _current_version(cls, data: Any) -> Any:
        """Built in code: the current version. A dict of an older version: upgraded first.
        (A *file* without ``schema_version`` is version 0; :meth:`from_dict` handles that.)"""
        if isinstance(data, dict):
            if "schema_version" not in data:
                return {**data, "schema_version": cls.SCHEMA_VERSION}
            return cls.upgrade(dict(data))
        return data

    # ------------------------------------------------------------------ reading

    @classmethod
    def upgrade(cls, raw: dict[str, Any], source: str = "<dict>") -> dict[str, Any]:
        """``raw`` brought to ``SCHEMA_VERSION`` (a file without ``schema_version`` is version 0)."""
        version = raw.get("schema_version", 0)
        if not isinstance(version, int) or version < 0:
            raise ArtefactError(f"{source}: schema_version {version!r} is not a version number")
        if version > cls.SCHEMA_VERSION:
            raise ArtefactError(
                f"{source}: {cls.KIND} schema_version {version} was written by a newer planet-sentinel "
                f"(this one reads up to {cls.SCHEMA_VERSION}); upgrade planet-sentinel to read it, "
                f"or re-run `{cls.PRODUCED_BY}` with this one to rewrite it"
            )
        while version < cls.SCHEMA_VERSION:
            step = cls.UPGRADERS.get(version)
            if step is None:
                raise ArtefactError(
                    f"{source}: {cls.KIND} schema_version {version} can no longer be read "
                    f"(this planet-sentinel reads {cls.SCHEMA_VERSION}); re-run `{cls.PRODUCED_BY}` to rewrite it"
                )
            raw = step(dict(raw))
            version += 1
            raw["schema_version"] = version
        return raw

    @classmethod
    def from_dict(cls: type[A], raw: Any, source: str = "<dict>") -> A:
        if not isinstance(raw, dict):
            raise ArtefactError(f"{source}: a {cls.KIND} must be a JSON object, not {type(raw).__name__}")
        try:
            return cls.model_validate(cls.upgrade({"schema_version": 0, **raw}, source))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise ArtefactError(
                f"{source}: not a valid {cls.KIND} ({problems}); re-run `{cls.PRODUCED_BY}` to rewrite it"
            ) from exc

    @classmethod
    def load(cls: type[A], path: str | Path) -> A:
        """Read, upgrade and validate ``path``; every failure is an :class:`ArtefactError` naming the file."""
        path = Path(path)
        if not path.is_file():
            raise ArtefactError(f"{path}: no {cls.KIND} here; run `{cls.PRODUCED_BY}` first")
        try:
            raw = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtefactError(f"{path}: not JSON ({exc}); re-run `{cls.PRODUCED_BY}` to rewrite it") from exc
        return cls.from_dict(raw, str(path))

    # ------------------------------------------------------------------ writing

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def save(self, path: str | Path, indent: int | None = 1) -> Path:
        """Write atomically (temporary file in the same directory, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(self.to_dict(), handle, indent=indent)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema users' tools can validate our outputs with (published in docs/schemas/)."""
        schema = cls.model_json_schema(by_alias=True, mode="serialization")
        schema["$id"] = f"https://planet-sentinel.invalid/schemas/{cls.KIND}-v{cls.SCHEMA_VERSION}.json"
        schema.setdefault("description", (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else cls.KIND)
        return schema


#: Every artefact model as "module:Class" (``python -m tools artefacts write|check`` publishes
#: their JSON Schemas in docs/schemas/); a module that defines a new artefact adds a line here.
ARTEFACTS: tuple[str, ...] = (
    "planet_sentinel.chips:ChipManifest",
    "planet_sentinel.kaggle.entry:KaggleRunRecord",
    "planet_sentinel.kaggle.manifest:BundleManifest",
    "planet_sentinel.evaluation_report:EvaluationRecord",
    "planet_sentinel.sources.gee.ingest:IngestRecord",
    "planet_sentinel.predict.summary:PredictionSummary",
    "planet_sentinel.baseline:Baseline",
    "planet_sentinel.drift.types:DriftReport",
    "planet_sentinel.alerts.model:AlertCollection",
    "planet_sentinel.alerts.store:AlertStore",
    "planet_sentinel.region.plan:RegionPlan",
    "planet_sentinel.region.merge:RegionSummary",
)


def registered() -> dict[str, type[Artefact]]:
    """Every artefact model of :data:`ARTEFACTS`, by KIND (two models with one KIND is an error)."""
    import importlib

    models: dict[str, type[Artefact]] = {}
    for entry in ARTEFACTS:
        module, _, name = entry.partition(":")
        model = getattr(importlib.import_module(module), name)
        if model.KIND in models:
            raise ValueError(f"two artefact models named {model.KIND!r}: {models[model.KIND]} and {model}")
        models[model.KIND] = model
    return dict(sorted(models.items()))
