"""`python -m tools bench predict`: whole-scene prediction against the pure forward pass.

On the chip benchmark's cached 8192x8192 scene pair, in separate processes: `predict_scene`
end to end (read, cloud screen, forward, stitching, COG and GeoJSON writing), and the bare
batched forward pass of the same model over the same number of windows of the same shape (the
floor: what any predictor must spend), for each engine (PyTorch and ONNX Runtime). Prints km2/s,
peak RSS, the ratio of the two, the achieved GFLOP/s beside a measured 3x3 convolution peak.
Goals (#14): >= 200 km2/s end to end, ratio to the bare forward of the engine used <= 1.15, peak
RSS <= 2 GB. Also reports parameters and GFLOPs per 256x256 pair.

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


def graph_file(work: Path, base: int) -> Path:
    """The demo network's ONNX graph, exported (with its parity check) once per work directory."""
    from planet_sentinel.onnx_export import export_graph

    target = work / f"bench-base{base}.onnx"
    if not target.is_file():
        export_graph(demo_bundle(base), target)
    return target


def bench_model(engine: str, graph: str, base: str) -> Any:
    """The engine's model: the bundle (torch) or its graph (ONNX Runtime)."""
    from planet_sentinel.predict.engines import OnnxModel

    return demo_bundle(int(base)) if engine == "torch" else OnnxModel.load(graph)


def end_to_end_phase(engine: str, graph: str, before: str, after: str, out_dir: str, base: str) -> dict[str, Any]:
    from planet_sentinel.predict import predict_scene

    model = bench_model(engine, graph, base)
    start = time.perf_counter()
    result = predict_scene(
        model,
        before,
        after,
        out_dir,
        name="bench",
        window=WINDOW,
        overlap=OVERLAP,
        batch_size=BATCH,
        overwrite=True,
        engine=engine,
        device="cpu",
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "timings": result.summary.get("timings_s", {}),
        "polygons": result.summary.get("polygons", 0),
        "engine": result.prediction.engine,
    }


def forward_phase(engine: str, graph: str, height: str, width: str, base: str) -> dict[str, float]:
    """The bare batched forward of the engine over the scene's windows (random reflectance)."""
    import numpy as np

    from planet_sentinel.predict import plan_tiles

    model = bench_model(engine, graph, base)
    tiles = plan_tiles(int(height), int(width), WINDOW, OVERLAP)
    rng = np.random.default_rng(0)
    batch = rng.integers(300, 4000, (BATCH, 6, WINDOW, WINDOW)).astype(np.float32)
    model.probabilities(batch[:1], batch[:1], "cpu")  # warm-up: first-run allocations are not the floor
    start = time.perf_counter()
    for first in range(0, len(tiles), BATCH):
        n = min(BATCH, len(tiles) - first)
        model.probabilities(batch[:n], batch[:n], "cpu")
    return {"seconds": time.perf_counter() - start, "windows": len(tiles), "peak_rss_mb": peak_rss_mb()}


def conv_peak_phase(graph_dir: str) -> dict[str, float]:
    """This machine's 3x3 convolution throughput in ONNX Runtime: one large conv (64 -> 64 channels,
    4 x 256 x 256), the ceiling the U-Net's convolutions can approach."""
    import numpy as np
    import onnxruntime as ort
    import torch

    channels, side, batch = 64, 256, 4
    target = Path(graph_dir) / "conv-peak.onnx"
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False).eval()
    torch.onnx.export(conv, (torch.zeros(batch, channels, side, side),), str(target), dynamo=False)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((batch, channels, side, side)).astype(np.float32)
    session.run(None, {name: x})
    runs, start = 5, time.perf_counter()
    for _ in range(runs):
        session.run(None, {name: x})
    seconds = (time.perf_counter() - start) / runs
    flops = 2 * batch * channels * channels * 9 * side * side
    return {"gflops_per_s": flops / seconds / 1e9}


def run(size: int | None = None, workdir: str | None = None, base: int = 8) -> dict[str, Any]:
    from planet_sentinel.model import ModelConfig, SiameseUNet, gflops_per_pair, parameter_count

    size = size or DEFAULT_SIZE
    work = Path(workdir) if workdir else default_workdir(f"chip-{size}")
    work.mkdir(parents=True, exist_ok=True)
    paths = ensure_scene(work, size)
    graph = str(graph_file(work, base))
    out_dir = work / "predict"
    engines: dict[str, dict[str, Any]] = {}
    area_km2 = (size * 10 / 1000) ** 2
    for engine in ("torch", "onnx"):
        forward = run_phase("tools.bench.predict", "forward", engine, graph, str(size), str(size), str(base))
        e2e = run_phase(
            "tools.bench.predict",
            "end_to_end",
            engine,
            graph,
            str(paths["before"]),
            str(paths["after"]),
            str(out_dir),
            str(base),
        )
        shutil.rmtree(out_dir, ignore_errors=True)
        engines[engine] = {
            "km2_per_s": round(area_km2 / e2e["seconds"], 2),
            "seconds": round(e2e["seconds"], 2),
            "forward_seconds": round(forward["seconds"], 2),
            "ratio_to_forward": round(e2e["seconds"] / forward["seconds"], 3),
            "peak_rss_mb": round(e2e["peak_rss_mb"], 1),
            "stages_s": e2e["timings"],
            "windows": forward["windows"],
        }
    used = engines["onnx"]
    model = SiameseUNet(ModelConfig(in_channels=6, base=base))
    per_window = gflops_per_pair(model, 256) * (WINDOW / 256) ** 2
    peak = run_phase("tools.bench.predict", "conv_peak", str(work))
    result = {
        "bench": "predict",
        "scene_px": size,
        "area_km2": round(area_km2, 1),
        "window": WINDOW,
        "overlap": OVERLAP,
        "windows": used["windows"],
        "engine": "onnx",
        "engines": engines,
        "km2_per_s": used["km2_per_s"],
        "seconds": used["seconds"],
        "ratio_to_forward": used["ratio_to_forward"],
        "peak_rss_mb": max(e["peak_rss_mb"] for e in engines.values()),
        "speedup_onnx_vs_torch": round(engines["onnx"]["km2_per_s"] / engines["torch"]["km2_per_s"], 2),
        "gflops_per_s": round(per_window * used["windows"] / used["forward_seconds"], 1),
        "conv_peak_gflops_per_s": round(peak["gflops_per_s"], 1),
        "model_base": base,
        "parameters": parameter_count(model),
        "gflops_per_256_pair": round(gflops_per_pair(model, 256), 2),
    }
    return emit(result, at_most={"ratio_to_forward": 1.15, "peak_rss_mb": 2048}, at_least={"km2_per_s": 200})


if __name__ == "__main__":
    phase_main({"end_to_end": end_to_end_phase, "forward": forward_phase, "conv_peak": conv_peak_phase})
