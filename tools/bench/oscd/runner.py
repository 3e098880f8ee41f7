"""The benchmark run: inputs checked, cities imported and chipped, each fold trained and scored, results written."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.bench.measure import default_workdir
from tools.bench.oscd.budget import Budget, TrainingPlan
from tools.bench.oscd.cities import CityScene, chip_cities, find_cities, import_cities
from tools.bench.oscd.folds import Fold, plan_folds, plan_trainings, prepare_root
from tools.bench.oscd.report import Outcome, assemble, plot, summary_line
from tools.bench.oscd.scoring import evaluate_cities, scene_figures, scene_record, train_fold, tuned_ndvi
from tools.bench.oscd.settings import DEFAULT_DATA, OscdSettings, bands, rounded

if TYPE_CHECKING:
    from planet_sentinel.evaluate import SceneEvaluation
    from planet_sentinel.train import TrainResult

STAMP = ".oscd-bench"
#: Every library module the run needs, imported at its start (see ``preload``).
LIBRARY_MODULES = (
    "bands",
    "baseline",
    "chips",
    "clouds",
    "evaluate",
    "model",
    "model_bundle",
    "predict",
    "progress",
    "raster",
    "sources.files",
    "train",
)

log = logging.getLogger(__name__)


def prepare_workdir(work: Path) -> Path:
    """``work/run`` emptied (only if it is ours: it carries the stamp file)."""
    run = work / "run"
    if run.exists():
        if not (run / STAMP).exists():
            raise SystemExit(f"{run} exists and was not made by this benchmark; choose another --workdir")
        shutil.rmtree(run)
    run.mkdir(parents=True)
    (run / STAMP).write_text("planet-sentinel oscd benchmark scratch space; deleted at the next run\n")
    return run


def preload() -> None:
    """Import every library module the run needs now, so that edits made to the tree while it
    runs (minutes) cannot break it half-way through."""
    import importlib

    for module in LIBRARY_MODULES:
        importlib.import_module(f"planet_sentinel.{module}")


def select_inputs(data: Path, test_data: Path | None, cities: Sequence[str] | None) -> tuple[list[Path], list[Path]]:
    """The --data city folders (only ``cities`` if given) and the --test-data ones, checked to be disjoint."""
    city_dirs = find_cities(data)
    if cities is not None:
        missing = sorted(set(cities) - {c.name for c in city_dirs})
        if missing:
            raise SystemExit(f"{data}: no OSCD cities {missing}")
        city_dirs = [c for c in city_dirs if c.name in set(cities)]
    test_dirs = find_cities(test_data) if test_data is not None else []
    shared = sorted({c.name for c in city_dirs} & {c.name for c in test_dirs})
    if shared:
        raise SystemExit(f"--test-data cities {shared} are also in --data: test cities must be unseen")
    return city_dirs, test_dirs


@dataclass
class Run:
    """One benchmark run's scratch space, inputs and time budget, shared by its trainings."""

    run: Path
    settings: OscdSettings
    scenes: dict[str, CityScene]
    test_scenes: dict[str, CityScene]
    chips: dict[str, dict[str, Path]]
    budget: Budget
    start: float

    def clock(self) -> str:
        return f"[{(time.perf_counter() - self.start) / 60:.1f} min]"


def _announce(ctx: Run, k: int, fold: Fold, counts: tuple[int, int], plan: TrainingPlan) -> None:

    held = ", ".join(fold.held_out) or f"none (scored on {len(ctx.test_scenes)} --test-data cities)"
    log.info(
        f"{ctx.clock()} {fold.name} ({k + 1}/{ctx.budget.trainings}): held out {held}; validation "
        f"{', '.join(fold.val)}; training on {', '.join(fold.train)} ({counts[0]} train / {counts[1]} val chips); "
        f"{plan.epochs} epochs, at most {plan.minutes:.1f} min; {plan.threads} torch thread(s) (bare step "
        + ", ".join(f"{t} thread(s) {v:.2f} s" for t, v in plan.timings.items())
        + ")"
    )


def _detail(
    fold: Fold, root: Path, counts: tuple[int, int], plan: TrainingPlan, result: TrainResult, train_s: float
) -> dict[str, Any]:
    """A fold's entry in ``folds_detail`` (its evaluation and NDVI tuning are added by the caller)."""
    return {
        "name": fold.name,
        **fold.members(),
        "chip_root": str(root),
        "train_chips": counts[0],
        "val_chips": counts[1],
        "threshold": rounded(float(result.best["val_threshold"])),
        "best_epoch": result.best.get("epoch"),
        "val_f1": rounded(result.best["val_f1"]),
        "epochs_planned": plan.epochs,
        "epochs_run": len(result.history),
        "stop": result.extra.get("stop_reason"),
        "train_minutes": round(train_s / 60, 2),
        "threads": plan.threads,
        "bare_step_seconds": {str(t): round(v, 3) for t, v in plan.timings.items()},
    }


@dataclass(frozen=True)
class Trained:
    """One training's outcome: its ``folds_detail`` entry, the scored cities, their figures and its threshold."""

    detail: dict[str, Any]
    evaluated: list[SceneEvaluation]
    figures: dict[str, dict[str, Any]]
    threshold: float


def run_training(ctx: Run, k: int, fold: Fold) -> Trained:
    """Train fold ``k`` and score its held-out (or the --test-data) cities."""

    fold_start = time.perf_counter()
    root = ctx.run / "folds" / fold.name / "chips"
    counts = prepare_root(root, fold, ctx.chips)
    plan = ctx.budget.plan(k, *counts)
    _announce(ctx, k, fold, counts, plan)
    train_start = time.perf_counter()
    fixed = {**ctx.budget.fixed, "threads": plan.threads}
    result, config = train_fold(root, ctx.run / "folds" / fold.name / "train", fixed, plan.epochs, plan.minutes)
    train_s = time.perf_counter() - train_start
    threshold = float(result.best["val_threshold"])
    ndvi_threshold, ndvi_note = tuned_ndvi(root, 16)
    targets = fold.held_out or sorted(ctx.test_scenes)
    scenes = ctx.scenes if fold.held_out else ctx.test_scenes
    evaluated = evaluate_cities(result.bundle_path, scenes, targets, ndvi_threshold, ctx.settings.eval_batch_size)
    detail = {
        **_detail(fold, root, counts, plan, result, train_s),
        "ndvi_tuned_threshold": rounded(ndvi_threshold),
        "ndvi_tuning": ndvi_note,
        "run_dir": str(result.run_dir),
        "config": config,
        "evaluation": [scene_record(s) for s in evaluated],
    }
    figures = {s.name: scene_figures(s, fold.name, threshold) for s in evaluated}
    log.info(
        f"{ctx.clock()} {fold.name}: threshold {threshold:.3f} (val F1 {result.best['val_f1']:.3f}, "
        f"epoch {result.best.get('epoch')}); "
        + "; ".join(f"{c} F1 {f['f1']:.3f} AP {f['ap']:.3f}" for c, f in figures.items())
    )
    epoch_s = [h["epoch_seconds"] for h in result.history]
    ctx.budget.learn(plan, epoch_s, time.perf_counter() - fold_start, train_s)
    return Trained(detail, evaluated, figures, threshold)


def _start(
    data: Path, workdir: Path, test_data: Path | None, settings: OscdSettings, cities: Sequence[str] | None
) -> tuple[Run, list[Fold]]:
    """Check the inputs, import and chip the cities, plan the folds and the budget."""

    start = time.perf_counter()
    preload()
    city_dirs, test_dirs = select_inputs(data, test_data, cities)
    run = prepare_workdir(workdir)
    also = f" and {len(test_dirs)} from {test_data}" if test_dirs else ""
    log.info(f"oscd: importing {len(city_dirs)} cities from {data}{also}")
    scenes = import_cities(city_dirs, run / "scenes" / "data", "data")
    test_scenes = import_cities(test_dirs, run / "scenes" / "test", "test") if test_dirs else {}
    chips = chip_cities(scenes, run / "chips", settings)
    names = sorted(scenes)
    plan = plan_folds(names, {c: scenes[c].change_share for c in names}, settings.folds, settings.val_cities)
    trainings = plan_trainings(names, plan, settings.max_folds, settings.val_cities, final=bool(test_scenes))
    fixed = {**settings.train}
    fixed_epochs = fixed.pop("epochs", None)
    budget = Budget(
        deadline=start + 60 * settings.budget_minutes,
        trainings=len(trainings),
        fixed=fixed,
        fixed_epochs=fixed_epochs,
        max_epochs=settings.max_epochs,
        chip_size=settings.chip_size,
        n_bands=len(bands()),
    )
    log.info(f"oscd: {len(trainings)} trainings in {settings.budget_minutes:.0f} min")
    return Run(run, settings, scenes, test_scenes, chips, budget, start), trainings


def benchmark(
    data: Path,
    workdir: Path,
    test_data: Path | None = None,
    settings: OscdSettings | None = None,
    cities: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run the leave-cities-out benchmark (and the test-data scoring); return the full results."""
    settings = settings or OscdSettings()
    data, workdir = Path(data).resolve(), Path(workdir)
    test_data = Path(test_data).resolve() if test_data is not None else None
    ctx, trainings = _start(data, workdir, test_data, settings, cities)
    outcome = Outcome()
    for k, fold in enumerate(trainings):
        trained = run_training(ctx, k, fold)
        if fold.held_out:
            outcome.cv_scenes += trained.evaluated
            outcome.per_city.update(trained.figures)
        elif test_data is not None:
            outcome.add_test(test_data, trained.figures, trained.evaluated, trained.threshold)
        outcome.folds.append(trained.detail)
    screen = {c: s.screen_would_flag for c, s in {**ctx.scenes, **ctx.test_scenes}.items()}
    minutes = (time.perf_counter() - ctx.start) / 60
    result = assemble(outcome, data, sorted(ctx.scenes), settings, screen, minutes)
    results_path = workdir / "oscd_results.json"
    results_path.write_text(json.dumps({**result, "folds_detail": outcome.folds}, indent=1, default=str) + "\n")
    result["results_json"] = str(results_path)
    result["png"] = str(plot(result, workdir / "oscd_f1.png"))
    return result


def run(
    size: int | None = None, workdir: str | None = None, data: str | None = None, test_data: str | None = None
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
