"""`python -m tools bench chip`: chipping throughput against one plain read of the rasters.

Simulates an 8192x8192 scene pair (cached between runs), then in separate processes:
the floor (one sequential strip read of both scenes and the mask, the least any chipper must
do) and `sentinel chip` itself. Prints chips/s, peak RSS of the chipping process, and the ratio
of chipping time to the floor. Goals: ratio <= 2.0, peak RSS <= 1.5 GB.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from tools.bench.measure import default_workdir, emit, peak_rss_mb, phase_main, run_phase

DEFAULT_SIZE = 8192


def _scene_paths(workdir: Path) -> dict[str, Path]:
    return {k: workdir / f"bench_{k}.tif" for k in ("before", "after", "mask")}


def ensure_scene(workdir: Path, size: int) -> dict[str, Path]:
    """Simulate the benchmark scene once; reuse it while its size matches."""
    paths = _scene_paths(workdir)
    stamp = workdir / "scene.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("size") == size and all(p.exists() for p in paths.values()):
        return paths
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene

    print(f"simulating a {size}x{size} scene pair in {workdir} (cached for later runs)", file=sys.stderr)
    simulate_scene(SimulationConfig(name="bench", size=size, seed=11), workdir, overwrite=True)
    stamp.write_text(json.dumps({"size": size}))
    return paths


def floor_phase(before: str, after: str, mask: str) -> dict[str, float]:
    """One sequential read of every raster, in full-width strips."""
    from planet_sentinel.raster import io_env

    start = time.perf_counter()
    with io_env():
        total = _read_all((before, after, mask))
    return {"seconds": time.perf_counter() - start, "bytes": total, "peak_rss_mb": peak_rss_mb()}


def _read_all(paths: tuple[str, ...]) -> int:
    from planet_sentinel.raster import Grid, block_windows, open_raster

    total = 0
    for path in paths:
        with open_raster(path) as ds:
            for window in block_windows(Grid.of(ds), rows=512):
                total += ds.read(window=window).nbytes
    return total


def chip_phase(before: str, after: str, mask: str, out_dir: str) -> dict[str, float]:
    from planet_sentinel.chips import ChipConfig, chip_scene

    start = time.perf_counter()
    summary = chip_scene(before, after, mask, out_dir, ChipConfig(), overwrite=True)
    return {"seconds": time.perf_counter() - start, "chips": summary.counts["kept"], "peak_rss_mb": peak_rss_mb()}


def run(size: int | None = None, workdir: str | None = None) -> dict[str, Any]:
    size = size or DEFAULT_SIZE
    work = Path(workdir) if workdir else default_workdir(f"chip-{size}")
    work.mkdir(parents=True, exist_ok=True)
    paths = ensure_scene(work, size)
    args = [str(paths["before"]), str(paths["after"]), str(paths["mask"])]
    run_phase("tools.bench.chip", "floor", *args)  # warm the page cache: both phases read from RAM
    floor = min((run_phase("tools.bench.chip", "floor", *args) for _ in range(2)), key=lambda r: r["seconds"])
    out_dir = work / "chips"
    chip = run_phase("tools.bench.chip", "chip", *args, str(out_dir))
    shutil.rmtree(out_dir, ignore_errors=True)
    result = {
        "bench": "chip",
        "scene_px": size,
        "chips": chip["chips"],
        "chip_seconds": round(chip["seconds"], 2),
        "chips_per_s": round(chip["chips"] / chip["seconds"], 1),
        "peak_rss_mb": round(chip["peak_rss_mb"], 1),
        "floor_seconds": round(floor["seconds"], 2),
        "floor_peak_rss_mb": round(floor["peak_rss_mb"], 1),
        "ratio_to_floor": round(chip["seconds"] / floor["seconds"], 3),
    }
    return emit(result, at_most={"ratio_to_floor": 2.0, "peak_rss_mb": 1536})


if __name__ == "__main__":
    phase_main({"floor": floor_phase, "chip": chip_phase})
