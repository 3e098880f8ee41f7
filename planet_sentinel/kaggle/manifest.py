"""``sentinel-bundle.json``: what the training dataset uploaded to Kaggle holds, with checksums.

Written by :func:`planet_sentinel.kaggle.packing.pack_dataset` next to the archive; the kernel
script (``kernels/siamese-unet/train_kernel.py``) reads it with plain ``json`` before the wheel is
installed, so the layout (keys and nesting) is a contract with that script: this model only
types it for the library side.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.artefacts import Artefact
from planet_sentinel.train.config import Scalar

BUNDLE_MANIFEST = "sentinel-bundle.json"
ARCHIVE_NAME = "sentinel-bundle.zip"
BUNDLE_SCHEMA = "planet-sentinel/kaggle-bundle"
BUNDLE_SCHEMA_VERSION = 1


class ArchiveInfo(BaseModel):
    """The archive the dataset carries: the kernel checks its checksum before unpacking it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: str
    size: int


class BundleManifest(Artefact):
    """The training bundle's manifest: archive checksum, every member's checksum, settings, chips."""

    KIND: ClassVar[str] = "kaggle-bundle"
    # Every manifest ever written carries schema_version 1 (it had one from the start): nothing to upgrade.
    SCHEMA_VERSION: ClassVar[int] = BUNDLE_SCHEMA_VERSION
    PRODUCED_BY: ClassVar[str] = "sentinel kaggle train"

    schema_name: Literal["planet-sentinel/kaggle-bundle"] = Field(
        default="planet-sentinel/kaggle-bundle", alias="schema"
    )
    created: str = Field(description="UTC time of packing")
    planet_sentinel_version: str
    archive: ArchiveInfo
    wheel: str = Field(description="the planet_sentinel wheel's path inside the archive")
    chips: list[str] = Field(description="chip directories inside the archive, one per scene")
    files: dict[str, str] = Field(description="sha256 of every archive member, by name")
    train_config: dict[str, Scalar] = Field(description="the TrainConfig the kernel trains with")
    baseline: str | None = Field(description="the baseline's path inside the archive, if one travels")
    fingerprint: str = Field(description="identity of the chips (the kernel's run record must match it)")
    bands: list[str]
