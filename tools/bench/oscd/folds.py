"""Leave-cities-out folds and the chip root each training reads (links to the cities' chips)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Fold:
    """One training: the cities it holds out, validates on (checkpoint and threshold) and trains on."""

    name: str
    held_out: list[str]
    val: list[str]
    train: list[str]

    def members(self) -> dict[str, list[str]]:
        """The three city lists under the keys the results JSON uses."""
        return {"held_out": self.held_out, "val": self.val, "train": self.train}


def plan_folds(cities: Sequence[str], change_share: dict[str, float], folds: int, val_cities: int) -> list[Fold]:
    """Leave-cities-out folds: held-out group i, validation = the next groups' first cities, train = the rest.

    Cities are dealt into ``folds`` groups in snake order of decreasing change share.
    """
    if folds < 2 or folds > len(cities):
        raise SystemExit(f"folds must be between 2 and the number of cities ({len(cities)}), got {folds}")
    ranked = sorted(cities, key=lambda c: (-change_share[c], c))
    groups: list[list[str]] = [[] for _ in range(folds)]
    for position, city in enumerate(ranked):
        lap, k = divmod(position, folds)
        groups[k if lap % 2 == 0 else folds - 1 - k].append(city)
    plan = []
    for i, held_out in enumerate(groups):
        rest = [c for j in range(1, folds) for c in groups[(i + j) % folds]]
        val, train = rest[:val_cities], rest[val_cities:]
        if not val or not train:
            raise SystemExit(
                f"fold {i + 1}: {len(rest)} cities outside the held-out group cannot give {val_cities} validation "
                "cities and at least one training city; use fewer folds or fewer validation cities"
            )
        plan.append(Fold(f"fold{i + 1}", sorted(held_out), sorted(val), sorted(train)))
    return plan


def plan_trainings(
    cities: Sequence[str], plan: list[Fold], max_folds: int | None, val_cities: int, final: bool
) -> list[Fold]:
    """The first ``max_folds`` folds, then (``final``) a model of all cities for the --test-data cities.

    The final model validates on the first group(s) of cities: mixed change levels too."""
    trainings = plan[:max_folds]
    if final:
        val = [c for f in plan for c in f.held_out][:val_cities]
        trainings.append(Fold("final", [], sorted(val), sorted(set(cities) - set(val))))
    return trainings


def build_root(root: Path, members: dict[str, Sequence[str]], chips: dict[str, dict[str, Path]]) -> list[Path]:
    """A chip root of real directories ``<role>_<city>`` whose files link to the city's chips of that role.

    Returns the chip directories ``find_chip_dirs`` finds there, checked to be exactly the members.
    """
    from planet_sentinel.chips import find_chip_dirs

    root.mkdir(parents=True)
    expected = set()
    for role, cities in members.items():
        for city in cities:
            target = root / f"{role}_{city}"
            target.mkdir()
            for f in chips[city][role].iterdir():
                (target / f.name).symlink_to(f.resolve())
            expected.add(target)
    found = find_chip_dirs(root)
    if set(found) != expected:
        raise RuntimeError(f"{root}: find_chip_dirs sees {sorted(map(str, found))}, not {sorted(map(str, expected))}")
    return found


def chip_root_cities(root: Path) -> dict[str, set[str]]:
    """City names behind each split of a chip root, read back from the manifests (for checks)."""
    from planet_sentinel.chips import ChipStore, find_chip_dirs

    seen: dict[str, set[str]] = {}
    for d in find_chip_dirs(root):
        store = ChipStore(d)
        city = Path(store.manifest.scene.before).name.removesuffix("_before.tif")
        for split in {c.split for c in store.chips}:
            seen.setdefault(split, set()).add(city)
    return seen


def count_split(root: Path, split: str) -> int:
    """Chips of ``split`` under a chip root."""
    from planet_sentinel.chips import ChipStore, find_chip_dirs

    return sum(len(ChipStore(d).indices(split)) for d in find_chip_dirs(root))


def prepare_root(root: Path, fold: Fold, chips: dict[str, dict[str, Path]]) -> tuple[int, int]:
    """Link the fold's chip root and check no held-out city is in it; return its (train, val) chip counts."""
    build_root(root, {"train": fold.train, "val": fold.val}, chips)
    leaked = set().union(*chip_root_cities(root).values()) & set(fold.held_out)
    if leaked:
        raise RuntimeError(f"{fold.name}: held-out cities {sorted(leaked)} found in {root}")
    return count_split(root, "train"), count_split(root, "val")
