"""The model bundle: everything needed to use a trained model, in one file.

A bundle is a ``torch.save`` dict with the weights, the architecture config, the band list,
per-band normalisation statistics, chip size, decision threshold, training-data fingerprint
and metrics (raster-vision's "model bundle" idea). The MLflow model wraps the same file, so a
model loaded from the registry or from disk behaves identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import atomic_path

if TYPE_CHECKING:
    import torch

    from planet_sentinel.model import SiameseUNet

BUNDLE_FORMAT = "planet-sentinel/bundle"
BUNDLE_VERSION = 1


@dataclass
class ModelBundle:
    """A trained model with its metadata. ``normalise`` maps uint16 reflectance to model input."""

    model: SiameseUNet
    bands: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    chip_size: int
    threshold: float
    fingerprint: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Set by the registry when the bundle came from MLflow.
    source: dict[str, Any] = field(default_factory=dict)

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """(N, bands, H, W) reflectance x10000 -> standardised float32 (nodata stays finite)."""
        import torch

        mean = torch.as_tensor(self.mean, dtype=torch.float32, device=image.device).view(1, -1, 1, 1)
        std = torch.as_tensor(self.std, dtype=torch.float32, device=image.device).view(1, -1, 1, 1)
        return (image.float() - mean) / std

    def metadata(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "model_config": self.model.config.to_dict(),
            "bands": list(self.bands),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "chip_size": self.chip_size,
            "threshold": self.threshold,
            "fingerprint": self.fingerprint,
            "metrics": self.metrics,
            "extra": self.extra,
        }

    def save(self, path: str | Path) -> Path:
        """Write the bundle atomically."""
        import torch

        payload = {**self.metadata(), "state_dict": {k: v.cpu() for k, v in self.model.state_dict().items()}}
        with atomic_path(path, suffix=".pt") as tmp:
            torch.save(payload, tmp)
        return Path(path)


def load_bundle(path: str | Path, device: str | torch.device = "cpu") -> ModelBundle:
    """Read a bundle file, with clear errors for missing, corrupt or foreign files."""
    import torch

    path = Path(path)
    if not path.exists():
        raise SentinelError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise SentinelError(f"{path}: not a readable model bundle ({type(exc).__name__}: {exc})") from exc
    return bundle_from_payload(payload, str(path), device)


def bundle_from_payload(payload: Any, where: str, device: str | torch.device = "cpu") -> ModelBundle:
    from planet_sentinel.model import ModelConfig, SiameseUNet

    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
        raise SentinelError(f"{where}: not a planet-sentinel model bundle")
    if payload.get("version") != BUNDLE_VERSION:
        raise SentinelError(f"{where}: bundle version {payload.get('version')} is not {BUNDLE_VERSION}")
    model = SiameseUNet(ModelConfig(**payload["model_config"]))
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError) as exc:
        raise SentinelError(f"{where}: weights do not fit the architecture ({exc})") from exc
    model.to(device).eval()
    return ModelBundle(
        model=model,
        bands=tuple(payload["bands"]),
        mean=np.asarray(payload["mean"], np.float32),
        std=np.asarray(payload["std"], np.float32),
        chip_size=int(payload["chip_size"]),
        threshold=float(payload["threshold"]),
        fingerprint=payload.get("fingerprint", ""),
        metrics=dict(payload.get("metrics", {})),
        extra=dict(payload.get("extra", {})),
    )
