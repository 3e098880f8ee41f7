"""The model bundle: everything needed to use a trained model, in one file.

A bundle is a ``torch.save`` dict with the weights, the architecture config, the band list,
per-band normalisation statistics, chip size, decision threshold, training-data fingerprint
and metrics (raster-vision's "model bundle" idea). The MLflow model wraps the same file, so a
model loaded from the registry or from disk behaves identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

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
    #: The stricter threshold of ``high`` confidence alerts (validation precision >= 0.9); None for
    #: bundles saved before it existed or when no threshold reached that precision.
    high_threshold: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Set by the registry when the bundle came from MLflow.
    source: dict[str, Any] = field(default_factory=dict)

    #: The engine that runs it (an :class:`~planet_sentinel.predict.engines.OnnxModel` says "onnx").
    engine: ClassVar[str] = "torch"

    @property
    def multiple(self) -> int:
        """Window sides must be multiples of this (the U-Net's down-sampling)."""
        return self.model.multiple

    @property
    def architecture(self) -> dict[str, int | float | str] | None:
        """The network's ModelConfig as a dict (None for a stand-in network without one, as in tests)."""
        from planet_sentinel.model import ModelConfig

        config = getattr(self.model, "config", None)
        return config.to_dict() if isinstance(config, ModelConfig) else None

    def device_name(self, device: str | torch.device | None = None) -> str:
        from planet_sentinel.device import resolve_device

        return str(resolve_device(device))

    def probabilities(
        self, before: np.ndarray, after: np.ndarray, device: str | torch.device | None = None
    ) -> np.ndarray:
        """(N, bands, H, W) float32 reflectance x10000 on both dates -> (N, H, W) float32 probability.

        The model is moved to ``device`` (default: CUDA if available) and used in eval mode; its
        training mode is restored afterwards (training calls this on its live model)."""
        import torch

        from planet_sentinel.device import resolve_device

        dev = resolve_device(device)
        model = self.model
        was_training = model.training
        model.to(dev).eval()
        try:
            with torch.inference_mode():
                xb = torch.from_numpy(np.ascontiguousarray(before, np.float32)).to(dev)
                xa = torch.from_numpy(np.ascontiguousarray(after, np.float32)).to(dev)
                logits = model(self.normalise(xb), self.normalise(xa))
                prob: np.ndarray = torch.sigmoid(logits.float())[:, 0].cpu().numpy()
        finally:
            model.train(was_training)
        return prob

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
            "high_threshold": self.high_threshold,
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
    bundle = bundle_from_payload(payload, str(path), device)
    graph = path.with_suffix(".onnx")  # planet_sentinel.onnx_export.graph_path: the graph beside the file
    if graph.is_file():
        bundle.source = {"graph": str(graph)}
    return bundle


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
    return ModelBundle(model=model, **metadata_fields(payload))


def metadata_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """The bundle's fields (all but the network) from :meth:`ModelBundle.metadata`'s dict: read the
    same way from a bundle file and from an ONNX graph's metadata (predict.engines.OnnxModel)."""
    high = meta.get("high_threshold")
    return {
        "bands": tuple(meta["bands"]),
        "mean": np.asarray(meta["mean"], np.float32),
        "std": np.asarray(meta["std"], np.float32),
        "chip_size": int(meta["chip_size"]),
        "threshold": float(meta["threshold"]),
        "high_threshold": None if high is None else float(high),
        "fingerprint": str(meta.get("fingerprint", "")),
        "metrics": dict(meta.get("metrics", {})),
        "extra": dict(meta.get("extra", {})),
    }
