"""`python -m tools bench predict`: whole-scene prediction against the pure forward pass.

On the chip benchmark's cached 8192x8192 scene pair, in separate processes: `predict_scene`
end to end (read, cloud screen, forward, stitching, COG and GeoJSON writing), and the bare
batched forward pass of the same model over the same number of windows of the same shape (the
floor: what any predictor must spend). Prints km2/s, peak RSS, and the ratio of the two.
Goals: ratio <= 1.25, peak RSS <= 2 GB. Also reports parameters and GFLOPs per 256x256 pair.

The model is a freshly initialised network of the demo's size (base 8) with the scene's own
normalisation statistics: speed does not depend on the weights' values.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.bench.chip import ensure_scene
from tools.bench.measure import default_workdir, emit, peak_rss_mb, phase_main, run_phase

if TYPE_CHECKING:
    from planet_sentinel.model_bundle import ModelBundle

DEFAULT_SIZE = 8192
WINDOW, OVERLAP, BATCH = 512, 64, 4


def demo_bundle(base: int) -> ModelBundle:
    """A freshly initialised network of ``base`` channels with plausible normalisation statistics."""
    import numpy as np

    from planet_sentinel.bands import DEFAULT_BANDS
    from planet_sentinel.model import ModelConfig, SiameseUNet
    from planet_sentinel.model_bundle import ModelBundle
    from planet_sentinel.train import seed_everything

    seed_everything(0)
    model = SiameseUNet(ModelConfig(in_channels=len(DEFAULT_BANDS), base=base)).eval()
    mean = np.array([500, 800, 600, 2800, 1700, 900], np.float32)
    std = np.array([300, 300, 500, 700, 600, 500], np.float32)
    return ModelBundle(model, DEFAULT_BANDS, mean, std, chip_size=256, threshold=0.5)


def end_to_end_phase(before: str, after: str, out_dir: str, base: str) -> dict[str, float]:
    from planet_sentinel.predict import predict_scene

    bundle = demo_bundle(int(base))
    start = time.perf_counter()
    result = predict_scene(
        bundle, before, after, out_dir, name="bench", window=WINDOW, overlap=OVERLAP, batch_size=BATCH, overwrite=True
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "timings": result.summary.get("timings_s", {}),
        "polygons": result.summary.get("polygons", 0),
    }


def forward_phase(height: str, width: str, base: str) -> dict[str, float]:
    import numpy as np
    import torch

    from planet_sentinel.predict import plan_tiles

    bundle = demo_bundle(int(base))
    tiles = plan_tiles(int(height), int(width), WINDOW, OVERLAP)
    rng = np.random.default_rng(0)
    batch = torch.from_numpy(rng.integers(300, 4000, (BATCH, 6, WINDOW, WINDOW)).astype(np.uint16).astype(np.float32))
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(tiles), BATCH):
            n = min(BATCH, len(tiles) - first)
            x = bundle.normalise(batch[:n])
            torch.sigmoid(bundle.model(x, x))
    return {"seconds": time.perf_counter() - start, "windows": len(tiles), "peak_rss_mb": peak_rss_mb()}


def run(size: int | None = None, workdir: str | None = None, base: int = 8) -> dict[str, Any]:
    from planet_sentinel.model import ModelConfig, SiameseUNet, gflops_per_pair, parameter_count

    size = size or DEFAULT_SIZE
    work = Path(workdir) if workdir else default_workdir(f"chip-{size}")
    work.mkdir(parents=True, exist_ok=True)
    paths = ensure_scene(work, size)
    out_dir = work / "predict"
    forward = run_phase("tools.bench.predict", "forward", str(size), str(size), str(base))
    e2e = run_phase(
        "tools.bench.predict", "end_to_end", str(paths["before"]), str(paths["after"]), str(out_dir), str(base)
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    model = SiameseUNet(ModelConfig(in_channels=6, base=base))
    area_km2 = (size * 10 / 1000) ** 2
    result = {
        "bench": "predict",
        "scene_px": size,
        "area_km2": round(area_km2, 1),
        "window": WINDOW,
        "overlap": OVERLAP,
        "windows": forward["windows"],
        "seconds": round(e2e["seconds"], 2),
        "km2_per_s": round(area_km2 / e2e["seconds"], 2),
        "peak_rss_mb": round(e2e["peak_rss_mb"], 1),
        "forward_seconds": round(forward["seconds"], 2),
        "ratio_to_forward": round(e2e["seconds"] / forward["seconds"], 3),
        "stages_s": e2e["timings"],
        "model_base": base,
        "parameters": parameter_count(model),
        "gflops_per_256_pair": round(gflops_per_pair(model, 256), 2),
    }
    return emit(result, at_most={"ratio_to_forward": 1.25, "peak_rss_mb": 2048})


if __name__ == "__main__":
    phase_main({"end_to_end": end_to_end_phase, "forward": forward_phase})
