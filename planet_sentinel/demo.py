"""`sentinel demo`: the local pipeline on the embedded simulated scene, end to end.

Each step calls the same library function as its stage command; the demo only chooses paths
and prints a summary of what was made and how long it took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from planet_sentinel.progress import say


def run_demo(workdir: Path, size: int = 2048, seed: int = 7) -> Iterator[str]:
    """Run the stages available so far and yield the summary lines."""
    from planet_sentinel.chips import ChipConfig, chip_scene
    from planet_sentinel.config import resolve
    from planet_sentinel.drift.baseline import BaselineConfig, write_baseline
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene

    timings: dict[str, float] = {}
    raw, chips_dir, baseline_path = workdir / "data/raw", workdir / "data/chips/demo", workdir / "data/baseline.json"

    t0 = time.perf_counter()
    say(f"[1/3] simulate: {size}x{size} px scene pair, seed {seed}")
    scene = simulate_scene(SimulationConfig(name="demo", size=size, seed=seed), raw, overwrite=True, progress=say)
    timings["simulate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    say("[2/3] chip")
    summary = chip_scene(scene.before, scene.after, scene.mask, chips_dir, resolve(ChipConfig, "chip"), name="demo", overwrite=True)
    timings["chip"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    say("[3/3] baseline")
    base = write_baseline(workdir / "data/chips", baseline_path, resolve(BaselineConfig, "baseline"), overwrite=True)
    timings["baseline"] = time.perf_counter() - t0

    counts = summary.counts
    yield "Planet Sentinel demo: data stages done"
    yield f"  scene      {scene.before}, {scene.after}"
    yield f"  mask       {scene.mask} (loss {scene.stats.get('loss_share', 0):.2%}, unknown {scene.stats.get('unknown_share', 0):.2%})"
    yield f"  quicklook  {scene.quicklook}"
    yield f"  chips      {chips_dir}: {counts['kept']} chips (train {counts['train']}, val {counts['val']}, test {counts['test']}, buffer {counts['buffer']})"
    yield f"  baseline   {baseline_path}: {base['n_chips']} chips, fingerprint {base['source']['fingerprint']}"
    yield ""
    yield "| stage | seconds |"
    yield "|---|---|"
    for stage, seconds in timings.items():
        yield f"| {stage} | {seconds:.1f} |"
    yield "Training, prediction and evaluation join the demo with issue #3."
