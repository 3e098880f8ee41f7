"""Settings of the Kaggle round trip (the ``kaggle`` section of params.yaml) and Kaggle's limits."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

#: Kaggle's published dataset limits (kaggle.com/docs/datasets): 200 GB per dataset. Checked
#: before anything is uploaded, so an oversized bundle fails in seconds, not after hours.
MAX_DATASET_BYTES = 200 * 1024**3
#: /kaggle/working (the kernel's output) holds at most 20 GB.
MAX_OUTPUT_BYTES = 20 * 1024**3
#: Kaggle slugs: lower-case letters, digits and hyphens; datasets need 6-50 characters, kernels
#: at least 5 (the title the slug derives from).
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
DATASET_SLUG_LENGTH = (6, 50)
KERNEL_SLUG_LENGTH = (5, 50)
OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def check_slug(value: str, what: str, length: tuple[int, int]) -> str:
    """``value`` if it is a valid Kaggle slug, else a ValueError that says what is allowed."""
    if not SLUG.match(value or ""):
        raise ValueError(
            f"{what} {value!r} has invalid characters: use lower-case letters, digits and single hyphens "
            "(no spaces, underscores, slashes or capitals)"
        )
    if not length[0] <= len(value) <= length[1]:
        raise ValueError(f"{what} {value!r} must be {length[0]}-{length[1]} characters long")
    return value


class KaggleConfig(BaseModel):
    """Where and how the kernel runs."""

    owner: str | None = Field(None, description="Kaggle user or organisation (default: the credentials' user)")
    dataset_slug: str = Field("planet-sentinel-chips", description="dataset holding chips + wheel")
    kernel_slug: str = Field("planet-sentinel-train", description="kernel (notebook) that trains")
    machine_shape: str = Field("NvidiaTeslaT4", description="Kaggle accelerator, e.g. NvidiaTeslaT4, NvidiaL4")
    enable_gpu: bool = True
    enable_internet: bool = Field(False, description="the kernel installs from the dataset; it needs none")
    is_private: bool = True
    timeout_minutes: float = Field(
        120.0, gt=0, description="the kernel stops itself this long after the push (its deadline)"
    )
    stop_grace_minutes: float = Field(
        10.0,
        gt=0,
        description="after the deadline: time for the kernel to stop before we give up; Kaggle's session timeout "
        "is timeout_minutes + this",
    )
    poll_seconds: float = Field(10.0, gt=0, description="first wait between status polls")
    max_poll_seconds: float = Field(120.0, gt=0, description="longest wait between polls (backoff cap)")
    dataset_ready_minutes: float = Field(30.0, gt=0, description="how long to wait for Kaggle to process data")
    upload_attempts: int = Field(3, ge=1, description="tries for the dataset upload (5xx, dropped connections)")
    max_dataset_gb: float = Field(MAX_DATASET_BYTES / 1024**3, gt=0, description="refuse bigger bundles")
    log_tail_lines: int = Field(40, ge=1)
    follow_log: bool = Field(True, description="print new kernel log lines while polling")

    @field_validator("dataset_slug")
    @classmethod
    def _dataset_slug(cls, value: str) -> str:
        return check_slug(value, "dataset slug", DATASET_SLUG_LENGTH)

    @field_validator("kernel_slug")
    @classmethod
    def _kernel_slug(cls, value: str) -> str:
        return check_slug(value, "kernel slug", KERNEL_SLUG_LENGTH)

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        if value is not None and not OWNER.match(value):
            raise ValueError(f"owner {value!r} has invalid characters")
        return value

    @property
    def max_dataset_bytes(self) -> int:
        return int(self.max_dataset_gb * 1024**3)
