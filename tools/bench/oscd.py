"""`python -m tools bench oscd`: the change model on real Sentinel-2 pairs, leave-cities-out.

Trains the Siamese U-Net (``planet_sentinel.train.train``, unchanged) on the OSCD development
cities (../shared/data/oscd-dev by default, ``--data DIR`` otherwise) and scores it on cities it
never saw:

* **Outer folds hold out whole cities.** Cities are dealt into ``folds`` groups in snake order of
  their changed-pixel share (so every group mixes high- and low-change cities); fold *i* holds out
  group *i*.
* **Checkpoint and threshold are chosen on several other cities pooled.** Within fold *i* the
  validation set is the group of fold *i + 1* (e.g. 2 of the 6 remaining cities), never the
  held-out ones; the rest is trained on. ``train`` picks the best epoch and its decision
  threshold with ``evaluate.threshold_by_f1`` over the pooled validation pixels, so the threshold
  is not fitted to one city's brightness or change rate.
* Splits are made by chipping each city twice, once wholly ``train`` (ChipConfig
  ``split_ratios=(1, 0, 0)``, 128 px chips, 64 px overlap) and once wholly ``val`` (``(0, 1, 0)``,
  no overlap, so each validation pixel counts once in the threshold choice), then building a
  chip root per fold from real directories holding symbolic links to the chip files
  (``find_chip_dirs`` uses ``Path.rglob``, which does not descend into linked directories but
  does see linked files). Each root is checked to hold exactly the fold's cities.
* Normalisation: ``compute_baseline`` over the fold's training chips.
* Held-out cities are scored with ``evaluate.evaluate_scene`` on the imported whole-city scenes
  (the tiled predictor of ``sentinel predict``), beside the NDVI-difference and change-vector
  baselines of the same evaluation (the tuned NDVI threshold is tuned on the fold's training
  chips). Per city: F1, precision, recall and AP of the change class; overall: micro-averaged
  (summed counts, merged histograms) over all held-out cities.
* ``--test-data DIR``: a final model trained on all ``--data`` cities (with its own pooled
  validation cities) is scored on every city of DIR.

The cloud screen is off (``screen=False``): OSCD pairs were picked cloud-free, and the screen is
tuned for surface reflectance over forest. On these Level-1C (top-of-atmosphere, blue raised by
the atmosphere: median B02 1100-2200) urban scenes its "bright and white in blue" rule fires on
roofs, concrete and sand and its shadow rule on dark vegetation: on the development cities it
would flag 12-92 % of the labelled pixels and 15-100 % of the changed ones (either date), hiding
the very new buildings the labels mark (flagged pixels count as "not changed" for every method).
The shares are reported per city (``screen_would_flag``).

Two dates of a city are often different seasons (e.g. winter vs summer); the labels do not mark
that as change. ``train`` already jitters each date's radiometry independently; TrainConfig has
no field to make that jitter stronger, so the default is used.

Reference: FC-Siam-diff F1 48.86 (Daudt et al. 2018) is on the official OSCD test cities with
RGB bands; this benchmark uses other cities (leave-cities-out over the development cities) and
six bands, so the split differs and the ratio is indicative only.

Runs on CPU in about ``budget_minutes`` (default 28): the epochs of each training are sized from
the measured cost of a training step and of the earlier folds, with ``max_minutes`` as a cap.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tools.bench.measure import default_workdir

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "oscd-dev"
#: FC-Siam-diff on the official OSCD test cities, RGB bands (Daudt, Le Saux, Boulch, ICIP 2018).
REFERENCE_F1 = 0.4886
REFERENCE = {
    "method": "FC-Siam-diff (Daudt et al. 2018)",
    "f1": 48.86,
    "precision": 49.81,
    "recall": 47.94,
    "split": "official OSCD test cities, RGB bands; this benchmark holds out other cities (leave-cities-out over "
    "the development cities) and uses six bands: the split differs, the ratio is indicative only",
}
BASELINES = ("cva_otsu", "ndvi_otsu", "ndvi_tuned")
_STAMP = ".oscd-bench"


@dataclass
class OscdSettings:
    """How the benchmark splits, chips and trains."""

    folds: int = 4
    val_cities: int = 2
    chip_size: int = 128
    train_overlap: int = 64
    val_overlap: int = 0
    budget_minutes: float = 28.0
    #: TrainConfig fields for every training; ``epochs`` absent: sized from the time budget.
    train: dict[str, Any] = field(
        default_factory=lambda: {"base": 16, "crop": 96, "batch_size": 8, "threads": 2, "patience": 8}
    )
    max_epochs: int = 60
    max_folds: int | None = None
    eval_batch_size: int = 4


# --------------------------------------------------------------------------------------------
# Cities and folds


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


def plan_folds(
    cities: Sequence[str], change_share: dict[str, float], folds: int, val_cities: int
) -> list[dict[str, list[str]]]:
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
        plan.append({"held_out": sorted(held_out), "val": sorted(val), "train": sorted(train)})
    return plan


# --------------------------------------------------------------------------------------------
# Import, chips and fold roots


def _screen_shares(scene: Any) -> dict[str, float]:
    """Share of labelled and of changed pixels the cloud screen would flag (either date)."""
    from planet_sentinel.clouds import cloud_mask
    from planet_sentinel.raster import open_raster

    with open_raster(scene.before) as b, open_raster(scene.after) as a, open_raster(scene.mask) as m:
        bands = [d for d in b.descriptions]
        flagged = cloud_mask(b.read(), bands) | cloud_mask(a.read(), bands)
        truth = m.read(1)
    labelled, changed = truth != 255, truth == 1
    return {
        "labelled": round(float(flagged[labelled].mean()) if labelled.any() else 0.0, 4),
        "changed": round(float(flagged[changed].mean()) if changed.any() else 0.0, 4),
    }


def import_cities(city_dirs: Sequence[Path], out_dir: Path, label: str) -> dict[str, dict[str, Any]]:
    """Import every city (six default bands, UTM 10 m); return paths and label statistics per city."""
    from planet_sentinel.errors import SentinelError
    from planet_sentinel.progress import say
    from planet_sentinel.sources.files import import_oscd

    scenes: dict[str, dict[str, Any]] = {}
    for city_dir in city_dirs:
        try:
            scene = import_oscd(city_dir, out_dir, overwrite=True)
        except SentinelError as exc:
            raise SystemExit(f"{label} city {city_dir.name}: import failed: {exc}") from exc
        pixels = json.loads(scene.summary_json.read_text())["mask_pixels"]
        labelled = pixels["loss"] + pixels["no_loss"]
        scenes[city_dir.name] = {
            "before": scene.before,
            "after": scene.after,
            "mask": scene.mask,
            "size": [scene.grid.width, scene.grid.height],
            "changed_pixels": pixels["loss"],
            "change_share": pixels["loss"] / labelled if labelled else 0.0,
            "screen_would_flag": _screen_shares(scene),
        }
        say(
            f"{label}: imported {city_dir.name} ({scene.grid.width}x{scene.grid.height} px, "
            f"{scenes[city_dir.name]['change_share']:.1%} changed)"
        )
    return scenes


def chip_cities(scenes: dict[str, dict[str, Any]], out_dir: Path, settings: OscdSettings) -> dict[str, dict[str, Path]]:
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
            chip_scene(scene["before"], scene["after"], scene["mask"], target, config, name=city, overwrite=True)
            chips[city][role] = target
    return chips


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


# --------------------------------------------------------------------------------------------
# Time budget


def _step_seconds(train_cfg: Any, n_bands: int, threads: int | None) -> float:
    """Measured seconds of one bare training step (forward, backward, AdamW) at the configured size."""
    import torch

    from planet_sentinel.model import ModelConfig, SiameseUNet

    if threads:
        torch.set_num_threads(threads)
    side = train_cfg.crop or 128
    model = SiameseUNet(
        ModelConfig(
            in_channels=n_bands,
            base=train_cfg.base,
            depth=train_cfg.depth,
            variant=train_cfg.variant,
            dropout=train_cfg.dropout,
        )
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(train_cfg.batch_size, n_bands, side, side)
    times = []
    for _ in range(4):
        start = time.perf_counter()
        optimizer.zero_grad()
        model(x, x).float().mean().backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def pick_threads(train_cfg: Any, n_bands: int) -> tuple[int | None, dict[int | None, float]]:
    """The configured thread count if, measured now, it is clearly (1.5x) faster than one thread; else one.

    On a shared machine where another process holds a core, two torch threads wait on each other at
    every parallel region and a step takes ~10x longer than with one thread (measured on the 2-core
    development machine: 2-4 s against 0.2-0.5 s); with both cores free two threads are 1.5-1.7x
    faster. Such contention also comes and goes within a training (single epochs 7-13x slower were
    seen), so two threads are used only when they win clearly.
    """
    configured = train_cfg.threads
    if configured == 1:
        return 1, {1: _step_seconds(train_cfg, n_bands, 1)}
    timings = {configured: _step_seconds(train_cfg, n_bands, configured), 1: _step_seconds(train_cfg, n_bands, 1)}
    return (configured if timings[configured] * 1.5 <= timings[1] else 1), timings


def _epoch_units(train_chips: int, val_chips: int, cfg: Any, chip_size: int) -> float:
    """An epoch's cost in training steps: its steps plus the validation pass (forward only, whole chips)."""
    steps = math.ceil((cfg.samples_per_epoch or train_chips) / cfg.batch_size)
    side = cfg.crop or chip_size
    return steps + 0.4 * math.ceil(val_chips / cfg.batch_size) * (chip_size / side) ** 2


# --------------------------------------------------------------------------------------------
# One training and its evaluation


def _count_split(root: Path, split: str) -> int:
    from planet_sentinel.chips import ChipStore, find_chip_dirs

    return sum(len(ChipStore(d).indices(split)) for d in find_chip_dirs(root))


def _train_fold(
    name: str, root: Path, run_dir: Path, fixed: dict[str, Any], epochs: int | None, minutes: float | None
) -> tuple[Any, dict[str, Any]]:
    from planet_sentinel.baseline import BaselineConfig, compute_baseline
    from planet_sentinel.train import TrainConfig, train

    baseline = compute_baseline(root, BaselineConfig(split="train", pixel_sample=100))
    config = TrainConfig(**{**fixed, "epochs": epochs or fixed.get("epochs", 1), "max_minutes": minutes})
    result = train(root, run_dir, config, baseline=baseline)
    return result, config.model_dump()


def _tuned_ndvi(root: Path, batch_size: int) -> tuple[float | None, str]:
    from planet_sentinel.chips import ChipStore, find_chip_dirs
    from planet_sentinel.evaluate import tune_ndvi_threshold

    stores = [ChipStore(d) for d in find_chip_dirs(root)]
    return tune_ndvi_threshold(stores, "train", batch_size, False)


def _evaluate(
    bundle_path: Path,
    scenes: dict[str, dict[str, Any]],
    cities: Sequence[str],
    ndvi_threshold: float | None,
    batch_size: int,
) -> list[Any]:
    from planet_sentinel.bundle import load_bundle
    from planet_sentinel.evaluate import evaluate_scene

    bundle = load_bundle(bundle_path)
    return [
        evaluate_scene(
            bundle,
            scenes[c]["before"],
            scenes[c]["after"],
            scenes[c]["mask"],
            name=c,
            batch_size=batch_size,
            screen=False,
            ndvi_threshold=ndvi_threshold,
        ).scenes[0]
        for c in cities
    ]


def _scene_figures(scene: Any, fold: int | str, threshold: float) -> dict[str, Any]:
    model = scene.methods["model"]
    oracle_threshold, oracle_f1 = model.scores.best_f1_threshold()
    return {
        "fold": fold,
        "f1": _r(model.counts.f1),
        "precision": _r(model.counts.precision),
        "recall": _r(model.counts.recall),
        "ap": _r(model.average_precision),
        "threshold": _r(threshold),
        "oracle_f1": _r(oracle_f1),
        "oracle_threshold": _r(oracle_threshold),
        "baselines_f1": {m: _r(scene.methods[m].counts.f1) for m in BASELINES if m in scene.methods},
        "changed_pixels": scene.pixels["changed"],
    }


def _overall(scenes: Sequence[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    from planet_sentinel.evaluate import EvaluationReport

    overall = EvaluationReport(list(scenes), {}).overall
    model = overall["model"]
    figures = {
        "f1": _r(model.counts.f1),
        "precision": _r(model.counts.precision),
        "recall": _r(model.counts.recall),
        "ap": _r(model.average_precision),
        **model.counts.to_dict(),
    }
    baselines = {
        m: {"f1": _r(overall[m].counts.f1), "ap": _r(overall[m].average_precision)} for m in BASELINES if m in overall
    }
    return figures, baselines


def _r(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


# --------------------------------------------------------------------------------------------
# The benchmark


def _prepare_workdir(work: Path) -> Path:
    """``work/run`` emptied (only if it is ours: it carries the stamp file)."""
    run = work / "run"
    if run.exists():
        if not (run / _STAMP).exists():
            raise SystemExit(f"{run} exists and was not made by this benchmark; choose another --workdir")
        shutil.rmtree(run)
    run.mkdir(parents=True)
    (run / _STAMP).write_text("planet-sentinel oscd benchmark scratch space; deleted at the next run\n")
    return run


def _preload() -> None:
    """Import every library module the run needs now, so that edits made to the tree while it
    runs (minutes) cannot break it half-way through."""
    import importlib

    for module in (
        "bands",
        "baseline",
        "bundle",
        "chips",
        "clouds",
        "evaluate",
        "model",
        "predict",
        "progress",
        "raster",
        "sources.files",
        "train",
    ):
        importlib.import_module(f"planet_sentinel.{module}")


def benchmark(
    data: Path,
    workdir: Path,
    test_data: Path | None = None,
    settings: OscdSettings | None = None,
    cities: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run the leave-cities-out benchmark (and the test-data scoring); return the full results."""
    from planet_sentinel.progress import say
    from planet_sentinel.train import TrainConfig

    settings = settings or OscdSettings()
    start = time.perf_counter()
    _preload()

    def clock() -> str:
        return f"[{(time.perf_counter() - start) / 60:.1f} min]"

    deadline = start + 60 * settings.budget_minutes
    data, workdir = Path(data).resolve(), Path(workdir)
    city_dirs = find_cities(data)
    if cities is not None:
        missing = sorted(set(cities) - {c.name for c in city_dirs})
        if missing:
            raise SystemExit(f"{data}: no OSCD cities {missing}")
        city_dirs = [c for c in city_dirs if c.name in set(cities)]
    test_dirs = find_cities(Path(test_data).resolve()) if test_data is not None else []
    shared = sorted({c.name for c in city_dirs} & {c.name for c in test_dirs})
    if shared:
        raise SystemExit(f"--test-data cities {shared} are also in --data: test cities must be unseen")
    run = _prepare_workdir(workdir)

    also = f" and {len(test_dirs)} from {test_data}" if test_dirs else ""
    say(f"oscd: importing {len(city_dirs)} cities from {data}{also}")
    scenes = import_cities(city_dirs, run / "scenes" / "data", "data")
    test_scenes = import_cities(test_dirs, run / "scenes" / "test", "test") if test_dirs else {}
    chips = chip_cities(scenes, run / "chips", settings)
    names = sorted(scenes)
    plan = plan_folds(names, {c: scenes[c]["change_share"] for c in names}, settings.folds, settings.val_cities)
    trainings: list[tuple[str, dict[str, list[str]]]] = [(f"fold{i + 1}", f) for i, f in enumerate(plan)]
    trainings = trainings[: settings.max_folds]
    if test_scenes:  # the final model validates on the first group(s) of cities: mixed change levels too
        val = [c for f in plan for c in f["held_out"]][: settings.val_cities]
        trainings.append(("final", {"held_out": [], "val": sorted(val), "train": sorted(set(names) - set(val))}))

    fixed = {**settings.train}
    fixed_epochs = fixed.pop("epochs", None)
    probe = TrainConfig(**fixed)
    overhead_s = 20.0  # baseline, preview and evaluation per training; replaced by measurements
    step_factor = 1.3  # real step (data, loss) over a bare one; replaced by measurements
    say(f"oscd: {len(trainings)} trainings in {settings.budget_minutes:.0f} min")

    folds_out: list[dict[str, Any]] = []
    cv_scenes: list[Any] = []
    per_city: dict[str, Any] = {}
    test_out: dict[str, Any] | None = None
    for k, (name, members) in enumerate(trainings):
        fold_start = time.perf_counter()
        root = run / "folds" / name / "chips"
        build_root(root, {"train": members["train"], "val": members["val"]}, chips)
        leaked = set().union(*chip_root_cities(root).values()) & set(members["held_out"])
        if leaked:
            raise RuntimeError(f"{name}: held-out cities {sorted(leaked)} found in {root}")
        n_train, n_val = _count_split(root, "train"), _count_split(root, "val")
        share_s = (deadline - time.perf_counter()) / (len(trainings) - k) - overhead_s
        minutes = max(share_s, 30.0) / 60
        threads, timings = pick_threads(probe, len(_bands()))
        cfg = TrainConfig(**{**fixed, "threads": threads}, epochs=1)
        units = _epoch_units(n_train, n_val, cfg, settings.chip_size)
        epoch_cost = units * timings[threads] * step_factor
        epochs = fixed_epochs or int(min(settings.max_epochs, max(1, share_s * 0.92 // epoch_cost)))
        held = ", ".join(members["held_out"]) or f"none (scored on {len(test_scenes)} --test-data cities)"
        say(
            f"{clock()} {name} ({k + 1}/{len(trainings)}): held out {held}; validation {', '.join(members['val'])}; "
            f"training on {', '.join(members['train'])} ({n_train} train / {n_val} val chips); "
            f"{epochs} epochs, at most {minutes:.1f} min; {threads} torch thread(s) (bare step "
            + ", ".join(f"{t} thread(s) {v:.2f} s" for t, v in timings.items())
            + ")"
        )
        train_start = time.perf_counter()
        fold_fixed = {**fixed, "threads": threads}
        result, config = _train_fold(name, root, run / "folds" / name / "train", fold_fixed, epochs, minutes)
        train_s = time.perf_counter() - train_start
        epoch_s = [h["epoch_seconds"] for h in result.history]
        if epoch_s:  # what a real step cost over the bare one, for the next plan
            step_factor = float(np.clip(np.median(epoch_s) / (units * timings[threads]), 1.0, 3.0))
        threshold = float(result.best["val_threshold"])
        ndvi_threshold, ndvi_note = _tuned_ndvi(root, 16)
        targets = members["held_out"] or sorted(test_scenes)
        evaluated = _evaluate(
            result.bundle_path,
            scenes if members["held_out"] else test_scenes,
            targets,
            ndvi_threshold,
            settings.eval_batch_size,
        )
        fold = {
            "name": name,
            **members,
            "chip_root": str(root),
            "train_chips": n_train,
            "val_chips": n_val,
            "threshold": _r(threshold),
            "best_epoch": result.best.get("epoch"),
            "val_f1": _r(result.best["val_f1"]),
            "epochs_planned": epochs,
            "epochs_run": len(result.history),
            "stop": result.extra.get("stop_reason"),
            "train_minutes": round(train_s / 60, 2),
            "threads": threads,
            "bare_step_seconds": {str(t): round(v, 3) for t, v in timings.items()},
            "ndvi_tuned_threshold": _r(ndvi_threshold),
            "ndvi_tuning": ndvi_note,
            "run_dir": str(result.run_dir),
            "config": config,
            "evaluation": [s.to_dict() for s in evaluated],
        }
        figures = {s.name: _scene_figures(s, name, threshold) for s in evaluated}
        say(
            f"{clock()} {name}: threshold {threshold:.3f} (val F1 {result.best['val_f1']:.3f}, "
            f"epoch {result.best.get('epoch')}); "
            + "; ".join(f"{c} F1 {f['f1']:.3f} AP {f['ap']:.3f}" for c, f in figures.items())
        )
        if members["held_out"]:
            cv_scenes += evaluated
            per_city.update(figures)
        else:
            overall, baselines = _overall(evaluated)
            test_out = {
                "data": str(Path(test_data).resolve()),
                "per_city": figures,
                "overall": overall,
                "baselines_overall": baselines,
                "threshold": _r(threshold),
            }
        folds_out.append(fold)
        overhead_s = (time.perf_counter() - fold_start) - train_s + 5.0

    overall, baselines = _overall(cv_scenes)
    minutes_taken = (time.perf_counter() - start) / 60
    result = {
        "bench": "oscd",
        "data": str(data),
        "cities": names,
        "validation": "leave-cities-out: each fold holds out whole cities; checkpoint and threshold chosen on other "
        "cities pooled (never the held-out ones); overall = micro average over all held-out cities",
        "per_city": per_city,
        "overall": overall,
        "baselines_overall": baselines,
        "thresholds": {f["name"]: f["threshold"] for f in folds_out},
        "folds": [
            {
                k: f[k]
                for k in (
                    "name",
                    "held_out",
                    "val",
                    "train",
                    "threshold",
                    "val_f1",
                    "best_epoch",
                    "epochs_run",
                    "train_minutes",
                )
            }
            for f in folds_out
        ],
        "reference": REFERENCE,
        "ratio_to_reference": _r(overall["f1"] / REFERENCE_F1, 3) if overall["f1"] is not None else None,
        "test": test_out,
        "settings": {**asdict(settings), "bands": list(_bands()), "cloud_screen": False},
        "screen_would_flag": {c: s["screen_would_flag"] for c, s in {**scenes, **test_scenes}.items()},
        "minutes": round(minutes_taken, 2),
    }
    results_path = workdir / "oscd_results.json"
    full = {**result, "folds_detail": folds_out}
    results_path.write_text(json.dumps(full, indent=1, default=str) + "\n")
    result["results_json"] = str(results_path)
    result["png"] = str(plot(result, workdir / "oscd_f1.png"))
    return result


def _bands() -> tuple[str, ...]:
    from planet_sentinel.bands import DEFAULT_BANDS

    return DEFAULT_BANDS


def plot(result: dict[str, Any], target: Path) -> Path:
    """Per-city F1 bars (model and baselines) with the FC-Siam-diff reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(f"{c}\n(held out)", f) for c, f in sorted(result["per_city"].items())]
    groups.append(
        (
            "overall\n(micro)",
            {
                "f1": result["overall"]["f1"],
                "baselines_f1": {m: v["f1"] for m, v in result["baselines_overall"].items()},
            },
        )
    )
    if result.get("test"):
        groups += [(f"{c}\n(test)", f) for c, f in sorted(result["test"]["per_city"].items())]
        test = result["test"]
        groups.append(
            (
                "test overall",
                {
                    "f1": test["overall"]["f1"],
                    "baselines_f1": {m: v["f1"] for m, v in test["baselines_overall"].items()},
                },
            )
        )
    series = [("model", "Siamese U-Net", "tab:blue")] + [
        ("cva_otsu", "CVA, Otsu", "tab:gray"),
        ("ndvi_tuned", "NDVI diff, tuned on train cities", "tab:green"),
    ]
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(groups)), 4.5))
    x = np.arange(len(groups))
    width = 0.8 / len(series)
    for i, (key, label, colour) in enumerate(series):
        values = [(g["f1"] if key == "model" else g["baselines_f1"].get(key)) or 0.0 for _, g in groups]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label, color=colour)
    ax.axhline(
        REFERENCE_F1,
        color="tab:red",
        linestyle="--",
        label="FC-Siam-diff 48.86 (official OSCD test split, RGB: a different split)",
    )
    ax.set_xticks(x, [g for g, _ in groups], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1, change class")
    ax.set_title(f"OSCD leave-cities-out: overall F1 {result['overall']['f1']:.3f}, AP {result['overall']['ap']:.3f}")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def summary_line(result: dict[str, Any]) -> dict[str, Any]:
    """The one JSON line: per-city and overall figures, baselines, thresholds, time, reference."""
    keys = ("f1", "precision", "recall", "ap", "fold", "threshold", "oracle_f1", "baselines_f1")
    line = {
        "bench": "oscd",
        "per_city": {c: {k: f[k] for k in keys} for c, f in result["per_city"].items()},
        "overall_f1": result["overall"]["f1"],
        "overall_ap": result["overall"]["ap"],
        "overall_precision": result["overall"]["precision"],
        "overall_recall": result["overall"]["recall"],
        "baselines": result["baselines_overall"],
        "thresholds": result["thresholds"],
        "minutes": result["minutes"],
        "reference_f1": REFERENCE["f1"],
        "reference_split": "official OSCD test split, RGB (Daudt et al. 2018): not this leave-cities-out split",
        "ratio_overall_f1_to_reference": result["ratio_to_reference"],
        "results_json": result["results_json"],
        "png": result["png"],
    }
    if result.get("test"):
        test = result["test"]
        line["test"] = {
            "per_city": {c: {k: f[k] for k in keys if k != "fold"} for c, f in test["per_city"].items()},
            "overall_f1": test["overall"]["f1"],
            "overall_ap": test["overall"]["ap"],
            "baselines": test["baselines_overall"],
            "threshold": test["threshold"],
        }
    return line


def run(
    size: int | None = None, workdir: str | None = None, data: str | None = None, test_data: str | None = None, **_: Any
) -> dict[str, Any]:
    """`python -m tools bench oscd [--data DIR] [--test-data DIR] [--workdir DIR]`: print one JSON line."""
    if size is not None:
        print("oscd: --size is not used by this benchmark (cities keep their own size)", file=sys.stderr)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    work = Path(workdir) if workdir else default_workdir("oscd")
    result = benchmark(Path(data) if data else DEFAULT_DATA, work, Path(test_data) if test_data else None)
    line = summary_line(result)
    print(json.dumps(line))
    return line
