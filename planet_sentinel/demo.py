"""`sentinel demo`: the local pipeline on the embedded simulated scene, end to end.

simulate -> chip -> baseline -> train -> register -> promote -> predict -> evaluate, each step
calling the same library function as its stage command, then an evaluation on freshly simulated
scenes the model never saw, a drift report, the alerts of the prediction and the site of it all
(``site/``, what GitHub Pages would publish). Paths are relative to the working directory; MLflow
uses ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db`` there.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.registry import display_uri
from planet_sentinel.workspace import LOCAL

if TYPE_CHECKING:
    from planet_sentinel.baseline import Baseline
    from planet_sentinel.site import SiteResult

HELD_OUT_SEEDS = (101, 202, 303)
#: The demo's site (`sentinel site build --out site`), and the port the printed command serves it on.
SITE = Path("site")
SITE_PORT = 8000
log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """What the demo runs on. Held-out scenes are smaller than the training scene to keep the
    whole demo within five minutes on two CPU cores."""

    size: int = 2048
    seed: int = 7
    held_out_size: int = 1024
    held_out_seeds: tuple[int, ...] = HELD_OUT_SEEDS
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(config: DemoConfig, stage: str, message: str) -> Iterator[None]:
    log.info(f"[{len(config.timings) + 1}] {stage}: {message}")
    start = time.perf_counter()
    yield
    config.timings[stage] = time.perf_counter() - start


def run_demo(config: DemoConfig | None = None) -> Iterator[str]:
    """Run the whole local pipeline in the current directory and yield the summary lines."""
    from planet_sentinel import registry
    from planet_sentinel.baseline import BaselineConfig, write_baseline
    from planet_sentinel.chips import ChipConfig, chip_scene
    from planet_sentinel.config import resolve
    from planet_sentinel.evaluate import EvaluateConfig, evaluate_scene, run_evaluation
    from planet_sentinel.pipeline import TrainRequest, train_and_register
    from planet_sentinel.predict import predict_scene
    from planet_sentinel.promote import PromoteConfig, promote
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene
    from planet_sentinel.train import TrainConfig

    config = config or DemoConfig()
    raw, chips_root, outputs = Path(LOCAL.raw), Path(LOCAL.chips_root), Path("outputs")
    baseline_path = Path(LOCAL.baseline)
    with _timed(config, "simulate", f"{config.size}x{config.size} px scene pair, seed {config.seed}"):
        scene = simulate_scene(SimulationConfig(name="demo", size=config.size, seed=config.seed), raw, overwrite=True)
    with _timed(config, "chip", "256 px chips, spatial splits"):
        chips = chip_scene(
            scene.before,
            scene.after,
            scene.mask,
            chips_root / "demo",
            resolve(ChipConfig, "chip"),
            name="demo",
            overwrite=True,
        )
    with _timed(config, "baseline", "training-data statistics"):
        baseline = write_baseline(chips_root, baseline_path, resolve(BaselineConfig, "baseline"), overwrite=True)
    with _timed(config, "train", "Siamese U-Net, tracked in MLflow"):
        request = TrainRequest(
            chips_root,
            Path("runs/demo"),
            resolve(TrainConfig, "train"),
            baseline,
            tags={"trained_on": "local", "source": "sentinel demo"},
        )
        trained = train_and_register(request)
        version = trained.registration
    with _timed(config, "promote", "challenger vs champion on the test split"):
        decision = promote(chips_root / "demo", PromoteConfig(split="test"))
    model_uri = registry.CHAMPION_URI
    with _timed(config, "predict", f"whole scene with {model_uri}"):
        bundle = registry.load_model(model_uri)
        prediction = predict_scene(bundle, scene.before, scene.after, outputs / "demo", name="demo", overwrite=True)
    with _timed(config, "evaluate", "test split and held-out scenes vs spectral baselines"):
        evaluation = run_evaluation(
            bundle,
            outputs / "demo" / "evaluation",
            EvaluateConfig(split="test"),
            chips_dir=chips_root / "demo",
            overwrite=True,
        )
        test_report = evaluation.report
        held_out: list[tuple[int, Any]] = []
        for seed in config.held_out_seeds:
            fresh = simulate_scene(
                SimulationConfig(name=f"heldout{seed}", size=config.held_out_size, seed=seed), raw, overwrite=True
            )
            report = evaluate_scene(bundle, fresh.before, fresh.after, fresh.mask, name=f"heldout{seed}")
            report.write(outputs / f"heldout{seed}", overwrite=True)
            held_out.append((seed, report))
    with _timed(config, "monitor", "drift report on freshly simulated hazy scenes vs the baseline"):
        from planet_sentinel.drift.monitor import run_monitor
        from planet_sentinel.sources.synthetic import simulate_new_data

        shutil.rmtree("data/drift", ignore_errors=True)  # only the fresh scenes are new data
        # two scenes: one 1024 px scene gives too few 256 px chips for a test to reach significance
        simulate_new_data("haze", Path("data/drift"), scenes=2, size=max(config.held_out_size, 1024), seed=404)
        drift = run_monitor(baseline_path, Path("data/drift"), outputs / "monitor", model=model_uri)
    with _timed(config, "alerts", "the prediction's loss polygons as alerts"):
        from planet_sentinel.alerts.stage import AlertsRequest, run_alerts

        alerts = run_alerts(AlertsRequest(summary=prediction.summary_json, out_dir=outputs / "demo", overwrite=True))
    with _timed(config, "site", f"map and run pages in {SITE}/ (what GitHub Pages publishes)"):
        from planet_sentinel.site import SiteConfig, build_site

        site = build_site(SITE, resolve(SiteConfig, "site"))

    yield from _summary(config, scene, chips, baseline, version, decision, prediction, test_report, held_out)
    yield (
        f"\n  monitor     hazy scenes vs baseline: {drift.decision.summary} (exit code {drift.exit_code}); "
        f"{drift.paths['markdown']}, {drift.paths['bands_png']}"
    )
    yield f"  alerts      {len(alerts.alerts)} in {alerts.paths.get('geojson', outputs / 'demo')}"
    yield from _site_lines(site)


def _site_lines(site: SiteResult) -> Iterator[str]:
    """Where the site is and the two ways to open it (a local server, as Pages serves it, or the file)."""
    yield f"  site        {site.out}/: {site.size.describe()}; {site.alerts} alerts, {len(site.runs)} run pages"
    yield f"              open it: python -m http.server -d {site.out} {SITE_PORT}  ->  http://127.0.0.1:{SITE_PORT}/"
    yield f"              or the file {(site.out / 'index.html').resolve().as_uri()}"


def _f1_row(label: str, report: Any) -> str:
    overall = report.overall
    cells = [
        f"{overall[m].counts.f1:.3f}" if m in overall else "n/a"
        for m in ("model", "ndvi_otsu", "ndvi_tuned", "cva_otsu")
    ]
    return f"| {label} | " + " | ".join(cells) + " |"


def _summary(
    config: DemoConfig,
    scene: Any,
    chips: Any,
    baseline: Baseline,
    version: Any,
    decision: Any,
    prediction: Any,
    test_report: Any,
    held_out: list[tuple[int, Any]],
) -> Iterator[str]:
    counts = chips.counts
    summary = prediction.summary
    yield ""
    yield "Planet Sentinel demo: done"
    yield f"  scene       {scene.before}, {scene.after}, quicklook {scene.quicklook}"
    yield (
        f"  chips       data/chips/demo: {counts['kept']} (train {counts['train']}, val {counts['val']}, "
        f"test {counts['test']}); baseline data/baseline.json ({baseline.n_chips} chips)"
    )
    yield (
        f"  model       {version.model_uri} = version {version.model_version}; runs/model_inference.pth; "
        f"MLflow {display_uri()}"
    )
    yield f"  promotion   {decision.reason}"
    yield (f"  prediction  {prediction.probability}, {prediction.loss}, {prediction.geojson}, {prediction.quicklook}")
    yield (
        f"  loss found  {summary.get('loss_area_ha', float('nan')):.1f} ha in "
        f"{summary.get('polygons', 'n/a')} polygons (unknown share {summary.get('unknown_share', float('nan')):.1%})"
    )
    yield ""
    yield "| F1 of the loss class | model | NDVI diff (Otsu) | NDVI diff (tuned) | CVA (Otsu) |"
    yield "|---|---|---|---|---|"
    yield _f1_row("demo scene, test split", test_report)
    for seed, report in held_out:
        yield _f1_row(f"fresh scene seed {seed} ({config.held_out_size} px)", report)
    yield ""
    yield "| stage | seconds |"
    yield "|---|---|"
    for stage, seconds in config.timings.items():
        yield f"| {stage} | {seconds:.1f} |"
    yield f"| total | {sum(config.timings.values()):.1f} |"
