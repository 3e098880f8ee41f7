"""What a run leaves behind in its run directory (checkpoint, best bundle, history.json, a PNG of
validation predictions) and the plain-PyTorch copy of the bundle for people without MLflow."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planet_sentinel.raster import atomic_path, write_text_atomic
from planet_sentinel.train.config import Scalar, TrainResult
from planet_sentinel.train.data import ChipDataset

#: The seed's plain-PyTorch output, for people who do not use MLflow.
INFERENCE_COPY = Path("runs/model_inference.pth")


@dataclass(frozen=True)
class RunFiles:
    """The files a run writes into its run directory."""

    run_dir: Path

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    @property
    def bundle(self) -> Path:
        return self.run_dir / "model.pt"

    @property
    def history(self) -> Path:
        return self.run_dir / "history.json"

    @property
    def preview(self) -> Path:
        return self.run_dir / "val_predictions.png"


def write_history(
    files: RunFiles, history: list[dict[str, float]], best: dict[str, float], params: dict[str, Scalar], stop: str
) -> Path:
    """history.json: every epoch's metrics, the best epoch, the run's params and why it stopped."""
    document = {"history": history, "best": best, "params": params, "stop_reason": stop}
    return write_text_atomic(files.history, json.dumps(document, indent=1))


def publish_inference_copy(result: TrainResult, target: Path = INFERENCE_COPY) -> Path:
    """Copy the best bundle to ``runs/model_inference.pth`` and its ONNX graph, when registration
    exported one, to ``runs/model_inference.onnx`` (each atomically; a stale graph is removed)."""
    from planet_sentinel.onnx_export import graph_path

    with atomic_path(target, suffix=".pth") as tmp:
        shutil.copyfile(result.bundle_path, tmp)
    graph, published = graph_path(result.bundle_path), graph_path(target)
    if graph.is_file():
        with atomic_path(published, suffix=".onnx") as tmp:
            shutil.copyfile(graph, tmp)
    else:
        published.unlink(missing_ok=True)  # never pair the new bundle with an older model's graph
    return target


def most_loss(val_set: ChipDataset, count: int) -> list[int]:
    """Indexes of the ``count`` validation chips with the largest share of loss pixels."""
    return sorted(range(len(val_set)), key=lambda k: -float((val_set.sample(k)[2] == 1).mean()))[:count]


def keep_parity_windows(val_set: ChipDataset, run_dir: Path, count: int = 2) -> Path:
    """The validation chips the ONNX export is checked on at registration (planet_sentinel.onnx_export)."""
    from planet_sentinel.onnx_export import save_parity_windows

    pairs = [val_set.sample(k)[:2] for k in most_loss(val_set, count)]
    return save_parity_windows(pairs, run_dir)


def validation_preview(bundle_path: Path, val_set: ChipDataset, target: Path, rows: int = 4) -> Path:
    """A PNG of the validation chips with the most loss: after true colour | truth | predicted probability."""
    import torch

    from planet_sentinel.model_bundle import load_bundle
    from planet_sentinel.quicklook import colourise_mask, save_panels

    bundle = load_bundle(bundle_path)
    bands = list(bundle.bands)
    candidates = most_loss(val_set, rows)
    panels, titles = [], []
    for k in candidates:
        before, after, mask = val_set.sample(k)
        with torch.inference_mode():
            prob = torch.sigmoid(
                bundle.model(
                    bundle.normalise(torch.from_numpy(before[None])), bundle.normalise(torch.from_numpy(after[None]))
                )
            )[0, 0].numpy()
        rgb_idx = [bands.index(b) for b in ("B04", "B03", "B02") if b in bands]
        rgb = np.moveaxis(after[rgb_idx], 0, -1) if len(rgb_idx) == 3 else np.repeat(after[:1], 3, 0).transpose(1, 2, 0)
        lo, hi = np.percentile(rgb[rgb > 0], [2, 98]) if (rgb > 0).any() else (0, 1)
        rgb = (np.clip((rgb - lo) / max(hi - lo, 1), 0, 1) * 255).astype(np.uint8)
        heat = (np.stack([prob, np.zeros_like(prob), 1 - prob], -1) * 255).astype(np.uint8)
        panels.append(np.concatenate([rgb, colourise_mask(mask), heat], axis=1))
        titles.append(f"val chip {k}: after | truth | probability (red high)")
    stacked = np.concatenate([np.pad(p, ((0, 4), (0, 0), (0, 0)), constant_values=255) for p in panels], axis=0)
    return save_panels(target, [stacked], [" / ".join(titles[:1]) + f" (+{len(titles) - 1} more rows)"])
