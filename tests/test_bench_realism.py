"""`python -m tools bench realism` on a small simulated scene against the real MultiEarth chips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.bench import realism


def test_realism_bench_prints_per_band_and_texture_figures(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (shared_data / "multiearth-sample").is_dir():
        pytest.skip(f"the MultiEarth sample is not under {shared_data}")
    realism.run(size=512, workdir=str(tmp_path), data=str(shared_data))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["bench"] == "realism" and isinstance(line["meets_goal"], bool)
    assert set(line["forest"]) == set(line["texture"]) == {"B02", "B03", "B04"}
    for band in line["forest"].values():
        assert band["wasserstein"] >= 0 and band["psi"] >= 0
    assert set(line["texture"]["B03"]) == {"10m", "20m", "50m", "100m"}
    # the cloudy chips are left out, the two clear labelled ones used
    assert line["real_chips"]["used"] == ["-54.68_-4.17_2021_05_06", "-55.06_-4.09_2021_05_06"]
    assert line["pixels"]["real"]["forest"] > 10_000 and line["pixels"]["sim"]["forest"] > 10_000


def test_semivariogram_of_white_noise_is_its_variance_at_every_lag() -> None:
    rng = np.random.default_rng(0)
    side = realism.Side()
    image = rng.normal(500, 30, (3, 256, 256))
    forest = np.ones((256, 256), bool)
    side.add(image, forest, ~forest, forest)
    gamma = realism.semivariogram(side, 1)
    assert all(abs(g - 900) < 60 for g in gamma.values())
    smooth = realism.Side()
    smooth.add(np.cumsum(image, axis=2), forest, ~forest, forest)  # a random walk: gamma grows with the lag
    g = realism.semivariogram(smooth, 1)
    assert g[1] < g[2] < g[5] < g[10]
