"""OSCD cities: found on disk, imported as scenes (with their label statistics) and chipped."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.bench.oscd.settings import OscdSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CityScene:
    """One imported city: its rasters and what the benchmark reports about its labels."""

    before: Path
    after: Path
    mask: Path
    size: tuple[int, int]
    changed_pixels: int
    change_share: float
    #: Share of the labelled and of the changed pixels the cloud screen would flag (either date).
    screen_would_flag: dict[str, float]


def find_cities(folder: Path) -> list[Path]:
    """OSCD city folders (with imgs_1/, imgs_2/ and cm/) directly under ``folder``, by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(
            f"OSCD data not found: {folder} is not a folder. Pass --data DIR (a folder of OSCD cities, each with "
            "imgs_1/, imgs_2/ and cm/), or put the development cities at ../shared/data/oscd-dev."
        )
    parts = ("imgs_1", "imgs_2", "cm")
    cities = sorted(p for p in folder.iterdir() if p.is_dir() and all((p / s).is_dir() for s in parts))
    if not cities:
        raise SystemExit(f"{folder}: no OSCD city folders in it (each needs imgs_1/, imgs_2/ and cm/)")
    return cities


def screen_shares(before: Path, after: Path, mask: Path) -> dict[str, float]:
    """Share of labelled and of changed pixels the cloud screen would flag (either date)."""
    from planet_sentinel.clouds import cloud_mask
    from planet_sentinel.raster import open_raster

    with open_raster(before) as b, open_raster(after) as a, open_raster(mask) as m:
        bands = [d for d in b.descriptions]
        flagged = cloud_mask(b.read(), bands) | cloud_mask(a.read(), bands)
        truth = m.read(1)
    labelled, changed = truth != 255, truth == 1
    return {
        "labelled": round(float(flagged[labelled].mean()) if labelled.any() else 0.0, 4),
        "changed": round(float(flagged[changed].mean()) if changed.any() else 0.0, 4),
    }


def import_cities(city_dirs: Sequence[Path], out_dir: Path, label: str) -> dict[str, CityScene]:
    """Import every city (six default bands, UTM 10 m); return paths and label statistics per city."""
    from planet_sentinel.errors import SentinelError
    from planet_sentinel.sources.files import import_oscd

    scenes: dict[str, CityScene] = {}
    for city_dir in city_dirs:
        try:
            scene = import_oscd(city_dir, out_dir, overwrite=True)
        except SentinelError as exc:
            raise SystemExit(f"{label} city {city_dir.name}: import failed: {exc}") from exc
        if scene.mask is None:  # import_oscd always writes cm/'s mask; a change there must not pass silently
            raise SystemExit(f"{label} city {city_dir.name}: the import wrote no change mask")
        pixels = json.loads(scene.summary_json.read_text())["mask_pixels"]
        labelled = pixels["loss"] + pixels["no_loss"]
        scenes[city_dir.name] = city = CityScene(
            before=scene.before,
            after=scene.after,
            mask=scene.mask,
            size=(scene.grid.width, scene.grid.height),
            changed_pixels=pixels["loss"],
            change_share=pixels["loss"] / labelled if labelled else 0.0,
            screen_would_flag=screen_shares(scene.before, scene.after, scene.mask),
        )
        log.info(
            f"{label}: imported {city_dir.name} ({scene.grid.width}x{scene.grid.height} px, "
            f"{city.change_share:.1%} changed)"
        )
    return scenes


def chip_cities(scenes: dict[str, CityScene], out_dir: Path, settings: OscdSettings) -> dict[str, dict[str, Path]]:
    """Chip each city twice: wholly 'train' (with overlap) and wholly 'val' (without)."""
    from planet_sentinel.chips import ChipConfig, chip_scene

    roles = {
        "train": ChipConfig(size=settings.chip_size, overlap=settings.train_overlap, split_ratios=(1, 0, 0)),
        "val": ChipConfig(size=settings.chip_size, overlap=settings.val_overlap, split_ratios=(0, 1, 0)),
    }
    chips: dict[str, dict[str, Path]] = {}
    for city, scene in scenes.items():
        chips[city] = {}
        for role, config in roles.items():
            target = out_dir / role / city
            chip_scene(scene.before, scene.after, scene.mask, target, config, name=city, overwrite=True)
            chips[city][role] = target
    return chips
