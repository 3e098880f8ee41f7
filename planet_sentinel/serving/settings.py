"""Service settings: one pydantic model, resolved like every stage (flag > SENTINEL_SERVE_* > params.yaml)."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, Field

from planet_sentinel.registry import CHAMPION_URI

SECTION = "serve"


class ServeSettings(BaseModel):
    """What the service loads, how much it accepts and how much work it takes on at once."""

    model: str = Field(
        CHAMPION_URI,
        description="MLflow model URI (models:/name@alias, models:/name/version) or a bundle file.",
    )
    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0 in a container).")
    port: int = Field(8000, ge=0, le=65535)
    max_request_mb: float = Field(256.0, gt=0, description="Largest request body, enforced while it is read (413).")
    max_samples: int = Field(
        2**30,
        gt=0,
        description="Largest declared width x height x bands of one uploaded TIFF, checked from its header "
        "before any pixel is read (decompression bombs: 413).",
    )
    workers: int = Field(2, ge=1, description="Predictions run at once (threads off the event loop).")
    queue: int = Field(16, ge=0, description="Predictions allowed to wait for a worker; more get 503 + Retry-After.")
    torch_threads: int | None = Field(
        None, ge=1, description="Intra-op threads per worker, PyTorch or ONNX Runtime (default: cores / workers)."
    )
    timeout_s: float = Field(300.0, gt=0, description="Per-request limit on waiting plus predicting (504).")
    retry_after_s: int = Field(5, ge=1, description="Retry-After of a 503 when saturated.")
    reload_interval_s: float = Field(60.0, ge=0, description="How often the alias (or file) is checked; 0: never.")
    window: int | None = Field(None, description="Prediction window (default as `sentinel predict`).")
    overlap: int = Field(64, ge=0)
    batch_size: int = Field(8, ge=1)
    min_area_ha: float = Field(0.5, ge=0, description="Minimum mapping unit of the loss polygons.")
    device: str | None = Field(None, description="cpu, cuda or cuda:N (default: cuda if available).")
    engine: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="onnx (ONNX Runtime), torch (PyTorch) or auto: torch on CUDA, else the model's ONNX graph "
        "when onnxruntime is installed, else torch (the service image has no torch: onnx).",
    )

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * 1024 * 1024)

    def threads_per_worker(self) -> int:
        if self.torch_threads is not None:
            return self.torch_threads
        return max(1, (os.cpu_count() or 1) // self.workers)


def load_settings(cli_values: dict[str, Any] | None = None) -> ServeSettings:
    """Settings from flags, SENTINEL_SERVE_<FIELD> variables, the `serve` section of params.yaml, defaults."""
    from planet_sentinel.config import resolve

    return resolve(ServeSettings, SECTION, cli_values)
