"""The monitor's new data: chips directories as they are, scene pairs chipped at the baseline's size."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from planet_sentinel.bands import band_positions, canonical
from planet_sentinel.chips import MANIFEST, ChipStore
from planet_sentinel.drift.types import MonitorConfig
from planet_sentinel.errors import SentinelError


@dataclass(frozen=True)
class ScenePair:
    """One new scene: its two dates and, when there is one, its mask."""

    name: str
    before: Path
    after: Path
    mask: Path | None


def find_scene_pairs(directory: Path) -> list[ScenePair]:
    """``<name>_before.tif`` / ``<name>_after.tif`` pairs (and ``<name>_mask.tif``) under ``directory``."""
    pairs = []
    for before in sorted(directory.rglob("*_before.tif")):
        stem = before.name[: -len("_before.tif")]
        after = before.with_name(f"{stem}_after.tif")
        if not after.exists():
            raise SentinelError(f"{before}: no matching {after.name}; new scenes come as before/after pairs")
        mask = before.with_name(f"{stem}_mask.tif")
        pairs.append(ScenePair(stem, before, after, mask if mask.exists() else None))
    return pairs


@contextlib.contextmanager
def open_new_data(path: str | Path, chip_size: int, config: MonitorConfig) -> Iterator[tuple[list[ChipStore], str]]:
    """Yield the chip stores of ``path`` and what it held (``chips`` or ``scenes``).

    Scenes are chipped into a temporary directory that is removed afterwards.
    """
    from planet_sentinel.chips import ChipConfig, chip_scene

    root = Path(path)
    if not root.is_dir():
        raise SentinelError(f"{root}: no such directory of new data")
    manifests = [root / MANIFEST] if (root / MANIFEST).exists() else sorted(root.rglob(MANIFEST))
    if manifests:
        stores = [ChipStore(m.parent) for m in manifests]
        yield [s for s in stores if len(s.chips)], "chips"
        return
    pairs = find_scene_pairs(root)
    if not pairs:
        raise SentinelError(
            f"{root}: no new data (neither chips manifests nor <name>_before.tif/<name>_after.tif scene pairs)"
        )
    tmp = Path(tempfile.mkdtemp(prefix="sentinel-monitor-"))
    try:
        chip_config = ChipConfig(size=chip_size, split_block=chip_size, max_invalid=config.max_invalid)
        stores = []
        for pair in pairs:
            mask = pair.mask if config.use_masks else None
            try:
                summary = chip_scene(pair.before, pair.after, mask, tmp / pair.name, chip_config, name=pair.name)
            except SentinelError as exc:
                if "no chip of" in str(exc):  # a fully clouded or empty scene: nothing to compare
                    continue
                raise
            stores.append(ChipStore(summary.out_dir))
        yield stores, "scenes"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def band_index(store_bands: Sequence[str], wanted: Sequence[str], where: str) -> list[int]:
    names = [canonical(b) for b in store_bands]
    return band_positions(
        wanted,
        names,
        lambda missing: (
            f"{where}: bands {missing} of the comparison are missing (it has {names}); compare on the "
            f"shared bands with --bands {','.join(b for b in wanted if b in names) or '...'}"
        ),
    )
