"""Shifted-data presets for the drift monitor: each real-world cause of drift as simulator knobs.

Why here: a preset is a set of :class:`~planet_sentinel.sources.synthetic.config.SimulationConfig`
knobs, so it belongs with the simulator; ``sentinel monitor --simulate``, the demo and the drift
benchmark all draw their new data through :func:`simulate_new_data`.
"""

from __future__ import annotations

from pathlib import Path

from planet_sentinel.errors import SentinelError
from planet_sentinel.sources.synthetic.config import SimulationConfig
from planet_sentinel.sources.synthetic.scene import simulate_scene

#: Simulator knobs of each demo drift, on top of the baseline's settings. Chosen as "moderate"
#: versions of each real-world cause: a 5 % radiometric calibration change, haze over the after
#: date of 0.5 (the default scene has 0.21), the after date moved a full season (wettest, +1),
#: and a region with a much smaller forest share elsewhere in the Amazon.
DRIFT_PRESETS: dict[str, dict[str, float]] = {
    "none": {},
    "gain": {"gain": 1.05},
    "haze": {"haze": 0.5},
    "season": {"season_shift": 1.0},
    "region": {"forest_fraction": 0.35, "centre_lon": -52.5, "centre_lat": -3.6},
}


def drift_config(kind: str, name: str, size: int, seed: int, difficulty: float = 0.3) -> SimulationConfig:
    """The simulation of one scene of the ``kind`` preset (``none``: the baseline's settings)."""
    if kind not in DRIFT_PRESETS:
        raise SentinelError(f"unknown drift {kind!r}; expected one of {', '.join(DRIFT_PRESETS)}")
    knobs = {"name": name, "size": size, "seed": seed, "difficulty": difficulty, **DRIFT_PRESETS[kind]}
    return SimulationConfig.model_validate(knobs)


def simulate_new_data(
    kind: str, out_dir: str | Path, scenes: int = 4, size: int = 512, seed: int = 1000, difficulty: float = 0.3
) -> list[Path]:
    """Simulate ``scenes`` scene pairs with the ``kind`` preset of :data:`DRIFT_PRESETS`.
    Returns the before paths."""
    drift_config(kind, kind, size, seed, difficulty)  # refuse an unknown kind before writing anything
    out = Path(out_dir)
    return [
        simulate_scene(drift_config(kind, f"{kind}{seed + i}", size, seed + i, difficulty), out, overwrite=True).before
        for i in range(scenes)
    ]
