"""`sentinel`: one subcommand per pipeline stage.

Only click is imported at module level; each command imports the library pieces it needs, so
``sentinel --help`` stays fast. Settings follow one precedence: flag > SENTINEL_<SECTION>_<FIELD>
environment variable > params.yaml > default (see planet_sentinel.config).

Exit codes: 0 success, 1 a problem with the input or environment (the message says what),
2 a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from planet_sentinel.commands.common import SentinelGroup, json_option, overwrite_option, training_options
from planet_sentinel.commands.common import emit as _emit
from planet_sentinel.commands.deploy import deploy
from planet_sentinel.commands.github import github
from planet_sentinel.commands.ingest import ingest
from planet_sentinel.commands.kaggle import kaggle
from planet_sentinel.commands.serve import serve

RAW_DIR = Path("data/raw")


@click.group(cls=SentinelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="planet-sentinel")
def cli() -> None:
    """Planet Sentinel: find deforestation in Sentinel-2 imagery.

    Stages, in pipeline order: ingest / import / simulate -> label -> chip -> baseline ->
    train -> promote -> predict -> evaluate -> serve -> deploy -> monitor. `sentinel demo` runs
    the local pipeline on the embedded simulated scene.
    """


# --------------------------------------------------------------------------- data in


@cli.command()
@click.option("--name", help="Scene name; files are <out-dir>/<name>_{before,after,mask}.tif.")
@click.option("--size", type=int, help="Scene side in pixels (10 m each).")
@click.option("--seed", type=int, help="Random seed; the same seed gives the same scene.")
@click.option("--difficulty", type=float, help="0..1: raises clouds, haze, misregistration, noise.")
@click.option("--cloud-cover", type=float, help="Cloud share of the scene (overrides difficulty).")
@click.option("--haze", type=float, help="Haze strength 0..1 (overrides difficulty).")
@click.option("--misregistration", "misregistration_px", type=float, help="After-date shift in pixels.")
@click.option("--noise", type=float, help="Sensor noise std in reflectance x10000 units.")
@click.option("--gain", type=float, help="Drift knob: reflectance gain on the after date.")
@click.option("--season-shift", type=float, help="Drift knob: extra seasonal shift between dates.")
@click.option("--forest-fraction", type=float, help="Drift knob: forest share of the land cover.")
@click.option("--aoi", type=click.Path(dir_okay=False), help="Place the scene at this AOI's centre.")
@click.option("--out-dir", type=click.Path(file_okay=False), default=str(RAW_DIR), show_default=True)
@overwrite_option
@json_option
def simulate(out_dir: str, overwrite: bool, as_json: bool, aoi: str | None, **options: Any) -> None:
    """Write a realistic simulated Sentinel-2 L2A scene pair with its loss mask."""
    from planet_sentinel.config import resolve
    from planet_sentinel.progress import say
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene

    if aoi is not None:
        from planet_sentinel.aoi import load_aoi

        centre = load_aoi(aoi).geometry.centroid
        options.update(centre_lon=centre.x, centre_lat=centre.y)
    config = resolve(SimulationConfig, "simulate", options)
    scene = simulate_scene(config, Path(out_dir), overwrite=overwrite, progress=say)
    _emit(
        {
            "before": scene.before,
            "after": scene.after,
            "mask": scene.mask,
            "quicklook": scene.quicklook,
            "loss_share": round(scene.stats.get("loss_share", float("nan")), 4),
            "unknown_share": round(scene.stats.get("unknown_share", float("nan")), 4),
        },
        as_json,
    )


@cli.group(name="import", cls=SentinelGroup)
def import_() -> None:
    """Bring real rasters into the scene contract (UTM, 10 m, uint16, named bands)."""


@import_.command(name="files")
@click.option("--name", required=True, help="Scene name for the outputs.")
@click.option(
    "--before",
    "before",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Single-band rasters of the before date (repeat; band read from the file name).",
)
@click.option(
    "--after",
    "after",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Single-band rasters of the after date (repeat).",
)
@click.option("--mask", type=click.Path(dir_okay=False), help="Optional georeferenced loss mask.")
@click.option("--bands", help="Comma-separated bands to stack (default B02,B03,B04,B08,B11,B12).")
@click.option("--crs", help="Target CRS (default: the 10 m band's, or its UTM zone if geographic).")
@click.option(
    "--add-offset",
    type=int,
    default=0,
    show_default=True,
    help="Added to every valid value, e.g. -1000 for L2A processing baseline >= 04.00.",
)
@click.option("--out-dir", type=click.Path(file_okay=False), default=str(RAW_DIR), show_default=True)
@overwrite_option
@json_option
def import_files_cmd(
    name: str,
    before: tuple[str, ...],
    after: tuple[str, ...],
    mask: str | None,
    bands: str | None,
    crs: str | None,
    add_offset: int,
    out_dir: str,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Stack single-band rasters (any mix of 10/20/60 m) onto one 10 m grid."""
    from planet_sentinel.bands import DEFAULT_BANDS, validate_bands
    from planet_sentinel.progress import say
    from planet_sentinel.sources.files import import_files

    band_list = _bands(bands) if bands else DEFAULT_BANDS
    scene = import_files(
        [Path(p) for p in before],
        [Path(p) for p in after],
        name,
        Path(out_dir),
        bands=validate_bands(band_list),
        mask=Path(mask) if mask else None,
        crs=crs,
        add_offset=add_offset,
        overwrite=overwrite,
        progress=say,
    )
    _emit(_scene_result(scene), as_json)


@import_.command(name="oscd")
@click.argument("city_dir", type=click.Path(file_okay=False))
@click.option("--name", help="Scene name (default: the city folder's name).")
@click.option("--out-dir", type=click.Path(file_okay=False), default=str(RAW_DIR), show_default=True)
@overwrite_option
@json_option
def import_oscd_cmd(city_dir: str, name: str | None, out_dir: str, overwrite: bool, as_json: bool) -> None:
    """Turn an OSCD city folder (imgs_1, imgs_2, cm) into a scene pair and mask."""
    from planet_sentinel.progress import say
    from planet_sentinel.sources.files import import_oscd

    scene = import_oscd(Path(city_dir), Path(out_dir), name=name, overwrite=overwrite, progress=say)
    _emit(_scene_result(scene), as_json)


def _scene_result(scene: Any) -> dict[str, Any]:
    return {
        "before": scene.before,
        "after": scene.after,
        "mask": scene.mask,
        "quicklook": scene.quicklook,
        "grid": scene.grid.describe(),
    }


def _bands(text: str) -> tuple[str, ...]:
    from planet_sentinel.bands import validate_bands

    try:
        return validate_bands([b for b in text.split(",") if b.strip()])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bands") from exc


def _band_order(text: str | None) -> Any:
    """The band order stated with --bands (for scenes without band descriptions) as a BandOrder."""
    from planet_sentinel.bands import BandOrder

    try:
        return BandOrder.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bands") from exc


#: --bands on the commands that read a user's scenes: GIS exports (gdal_merge, QGIS, SNAP) usually
#: write no band descriptions, so the user states the order (planet_sentinel.bands.BandOrder).
scene_bands_option = click.option(
    "--bands",
    "scene_bands",
    help="Band order of scenes without band descriptions, e.g. B02,B03,B04,B08,B11,B12 (one Sentinel-2 name per "
    "band, in file order; band descriptions, where present, must agree).",
)

cli.add_command(ingest)


# --------------------------------------------------------------------------- labels


@cli.group(cls=SentinelGroup)
def label() -> None:
    """Make and check loss masks (uint8: 0 no loss, 1 loss, 255 unknown)."""


@label.command(name="from-vector")
@click.argument("vector", type=click.Path(dir_okay=False))
@click.option("--scene", required=True, type=click.Path(dir_okay=False), help="Scene whose grid the mask takes.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Mask GeoTIFF to write.")
@click.option("--layer", help="Layer name for multi-layer vector files (GeoPackage).")
@click.option("--class-field", help="Attribute holding loss/unknown; without it every polygon is loss.")
@click.option("--all-touched", is_flag=True, help="Burn every pixel a polygon touches.")
@overwrite_option
@json_option
def label_from_vector(
    vector: str,
    scene: str,
    out: str,
    layer: str | None,
    class_field: str | None,
    all_touched: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Rasterize analyst polygons (GeoJSON or any OGR vector) onto a scene's grid."""
    from planet_sentinel.labels import mask_from_vector

    summary = mask_from_vector(
        Path(vector),
        Path(scene),
        Path(out),
        layer=layer,
        class_field=class_field,
        all_touched=all_touched,
        overwrite=overwrite,
    )
    _emit(summary.to_dict(), as_json)


@label.command(name="from-spectral")
@click.option("--before", required=True, type=click.Path(dir_okay=False))
@click.option("--after", required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@click.option("--ndvi-drop", type=float, default=0.25, show_default=True)
@click.option("--nbr-drop", type=float, default=0.3, show_default=True)
@click.option(
    "--forest-ndvi", type=float, default=0.65, show_default=True, help="Before-date NDVI that counts as forest."
)
@click.option("--mmu-ha", type=float, default=0.5, show_default=True, help="Minimum mapping unit in hectares.")
@scene_bands_option
@overwrite_option
@json_option
def label_from_spectral(
    before: str,
    after: str,
    out: str,
    ndvi_drop: float,
    nbr_drop: float,
    forest_ndvi: float,
    mmu_ha: float,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Pseudo-labels from NDVI and NBR drops, to bootstrap before analysts review."""
    from planet_sentinel.labels import mask_from_spectral

    summary = mask_from_spectral(
        Path(before),
        Path(after),
        Path(out),
        ndvi_drop=ndvi_drop,
        nbr_drop=nbr_drop,
        forest_ndvi=forest_ndvi,
        mmu_ha=mmu_ha,
        overwrite=overwrite,
        order=_band_order(scene_bands),
    )
    _emit(summary.to_dict(), as_json)


@label.command(name="check")
@click.option("--before", required=True, type=click.Path(dir_okay=False))
@click.option("--after", required=True, type=click.Path(dir_okay=False))
@click.option("--mask", required=True, type=click.Path(dir_okay=False))
@click.option("--png", type=click.Path(dir_okay=False), help="Overlay quicklook to write.")
@scene_bands_option
@json_option
def label_check(before: str, after: str, mask: str, png: str | None, scene_bands: str | None, as_json: bool) -> None:
    """Check a mask against its scenes: same grid, class balance, unknown share, overlay PNG."""
    from planet_sentinel.labels import check_labels

    order = _band_order(scene_bands)
    report = check_labels(Path(before), Path(after), Path(mask), Path(png) if png else None, order=order)
    _emit(report.to_dict(), as_json)


# --------------------------------------------------------------------------- chips and baseline


@cli.group(cls=SentinelGroup, invoke_without_command=True)
@click.option("--before", type=click.Path(dir_okay=False), help="Before-date scene.")
@click.option("--after", type=click.Path(dir_okay=False), help="After-date scene.")
@click.option("--mask", type=click.Path(dir_okay=False), help="Loss mask (omit for unlabelled data).")
@click.option("--out-dir", type=click.Path(file_okay=False), help="Chips directory to create.")
@click.option("--size", type=int, help="Chip side in pixels (default 256).")
@click.option("--overlap", type=int, help="Pixels shared by neighbouring chips (default 0).")
@click.option("--max-invalid", type=float, help="Drop chips with more nodata/unknown than this share.")
@click.option(
    "--split-block",
    type=int,
    help="Side in pixels of the blocks splits are assigned to (default 512 from params.yaml, made smaller for a "
    "scene too small to give every split chips; given here, used as is).",
)
@click.option("--seed", type=int, help="Seed for the split assignment.")
@scene_bands_option
@overwrite_option
@json_option
@click.pass_context
def chip(
    ctx: click.Context,
    before: str | None,
    after: str | None,
    mask: str | None,
    out_dir: str | None,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Tile a scene pair into chips with a manifest and spatially disjoint splits."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [n for n, v in (("--before", before), ("--after", after), ("--out-dir", out_dir)) if not v]
    if missing:
        raise click.UsageError(f"missing option(s) {', '.join(missing)}", ctx)
    from planet_sentinel.chips import ChipConfig, chip_scene
    from planet_sentinel.config import resolve

    config = resolve(ChipConfig, "chip", options)
    summary = chip_scene(
        Path(before),
        Path(after),
        Path(mask) if mask else None,  # type: ignore[arg-type]
        Path(out_dir),  # type: ignore[arg-type]
        config,
        overwrite=overwrite,
        order=_band_order(scene_bands),
        adapt_split_block=options.get("split_block") is None,
    )
    _emit(summary.to_dict(), as_json)


@chip.command(name="export")
@click.option("--chips-dir", required=True, type=click.Path(file_okay=False))
@click.option("--index", required=True, type=int, help="Chip index from the manifest.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@overwrite_option
@json_option
def chip_export(chips_dir: str, index: int, out_dir: str, overwrite: bool, as_json: bool) -> None:
    """Write one chip back as georeferenced GeoTIFFs."""
    from planet_sentinel.chips import export_chip

    _emit(export_chip(chips_dir, index, out_dir, overwrite=overwrite), as_json)


@cli.command()
@click.option(
    "--chips-dir", required=True, type=click.Path(file_okay=False), help="Chips directory (searched recursively)."
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Baseline JSON to write.")
@click.option("--split", help="Split the baseline describes: train (default), val, test or all.")
@click.option("--pixel-sample", type=int, help="Pixels kept per band for two-sample tests.")
@overwrite_option
@json_option
def baseline(chips_dir: str, out: str, overwrite: bool, as_json: bool, **options: Any) -> None:
    """Per-band, NDVI and cloud statistics of the training chips, for drift monitoring."""
    from planet_sentinel.config import resolve
    from planet_sentinel.drift.baseline import BaselineConfig, write_baseline

    config = resolve(BaselineConfig, "baseline", options)
    data = write_baseline(chips_dir, out, config, overwrite=overwrite)
    _emit(
        {
            "out": out,
            "n_chips": data["n_chips"],
            "bands": ",".join(data["bands"]),
            "fingerprint": data["source"]["fingerprint"],
            "ndvi_mean": round(data["ndvi"]["mean"], 4) if data["ndvi"]["count"] else None,
        },
        as_json,
    )


# --------------------------------------------------------------------------- model and operations


@cli.command()
@training_options("Normalisation statistics (computed from the chips if absent).")
@click.option("--device", help="auto, cpu, cuda or cuda:N.")
@click.option("--run-dir", type=click.Path(file_okay=False), help="Where checkpoints go (default runs/<time>).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's checkpoint.")
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Log to MLflow and register the model as `challenger`.",
)
@click.option(
    "--on",
    "where",
    type=click.Choice(["local", "kaggle"]),
    default="local",
    show_default=True,
    help="Train here, or on a Kaggle GPU (same as `sentinel kaggle train`; settings in params.yaml `kaggle:`).",
)
@json_option
def train(
    data_dir: str,
    baseline_path: str,
    run_dir: str | None,
    resume: bool,
    register: bool,
    where: str,
    as_json: bool,
    **options: Any,
) -> None:
    """Train the Siamese U-Net on the chips' train split, validating on val each epoch."""
    import time

    if where == "kaggle":
        from planet_sentinel.commands.kaggle import run_kaggle_training

        if resume:
            raise click.UsageError("--resume works only with --on local")
        _emit(run_kaggle_training(data_dir, baseline_path, run_dir, register, options), as_json)
        return

    from planet_sentinel.config import resolve
    from planet_sentinel.train import TrainConfig, publish_inference_copy
    from planet_sentinel.train import train as run_training

    config = resolve(TrainConfig, "train", options)
    baseline_data = None
    if Path(baseline_path).exists():
        from planet_sentinel.drift.baseline import load_baseline

        baseline_data = load_baseline(baseline_path)
    run_dir = run_dir or f"runs/{time.strftime('%Y%m%d-%H%M%S')}"
    result_info: dict[str, Any] = {}
    if register:
        from planet_sentinel import registry

        with registry.training_run(run_name=Path(run_dir).name) as run:
            result = run_training(data_dir, run_dir, config, baseline_data, resume, callbacks=[registry.log_epoch])
            version = registry.log_and_register(result, tags={"trained_on": "local"})
        result_info = {"run_id": run.info.run_id, "model_version": version.version, "model_uri": version.uri}
    else:
        result = run_training(data_dir, run_dir, config, baseline_data, resume)
    inference = publish_inference_copy(result)
    _emit({**result.to_dict(), **result_info, "model_inference": str(inference)}, as_json)


@cli.command()
@click.option("--chips-dir", required=True, type=click.Path(file_okay=False), help="Evaluation chips.")
@click.option("--split", default="test", show_default=True)
@click.option("--force", is_flag=True, help="Promote even if the challenger does not win (logged).")
@click.option("--min-gain", type=float, default=0.0, show_default=True, help="F1 margin the challenger must win by.")
@click.option("--version", "version", help="Model version to promote (default: the one @challenger points at now).")
@json_option
def promote(chips_dir: str, split: str, force: bool, min_gain: float, version: str | None, as_json: bool) -> None:
    """Move the MLflow `champion` alias to the challenger if it beats the champion."""
    from planet_sentinel.registry import promote as run_promotion

    decision = run_promotion(chips_dir, split=split, force=force, min_gain=min_gain, version=version)
    _emit(decision.to_dict(), as_json)


@cli.command()
@click.option(
    "--model",
    "model_spec",
    default="models:/planet-sentinel@champion",
    show_default=True,
    help="MLflow model URI or a local bundle file.",
)
@click.option("--before", required=True, type=click.Path(dir_okay=False))
@click.option("--after", required=True, type=click.Path(dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@click.option("--name", help="Output name (default: from the before file).")
@click.option("--threshold", type=float, help="Decision threshold (default: the model's).")
@click.option("--min-area-ha", type=float, default=0.5, show_default=True, help="Minimum mapping unit.")
@click.option("--window", type=int, help="Window side in pixels (default: max(chip size, 512)).")
@click.option("--overlap", type=int, default=64, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--device", help="cpu, cuda or cuda:N (default: cuda if available).")
@scene_bands_option
@overwrite_option
@json_option
def predict(
    model_spec: str,
    before: str,
    after: str,
    out_dir: str,
    name: str | None,
    threshold: float | None,
    min_area_ha: float,
    window: int | None,
    overlap: int,
    batch_size: int,
    device: str | None,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Map forest loss over a whole scene pair: probability and mask COGs, GeoJSON, quicklook."""
    from planet_sentinel.predict import predict_scene
    from planet_sentinel.registry import load_model

    order = _band_order(scene_bands)
    bundle = load_model(model_spec)
    result = predict_scene(
        bundle,
        before,
        after,
        out_dir,
        name=name,
        window=window,
        overlap=overlap,
        batch_size=batch_size,
        threshold=threshold,
        min_area_ha=min_area_ha,
        overwrite=overwrite,
        device=device,
        order=order,
    )
    _emit(result.to_dict(), as_json)


@cli.command()
@click.option(
    "--model",
    "model_spec",
    default="models:/planet-sentinel@champion",
    show_default=True,
    help="MLflow model URI or a local bundle file.",
)
@click.option("--chips-dir", type=click.Path(file_okay=False), help="Evaluate on these chips' split...")
@click.option("--split", default="test", show_default=True)
@click.option("--before", type=click.Path(dir_okay=False), help="...or on a whole labelled scene.")
@click.option("--after", type=click.Path(dir_okay=False))
@click.option("--mask", type=click.Path(dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@click.option(
    "--log/--no-log", "log_mlflow", default=True, show_default=True, help="Log the scores to the model's MLflow run."
)
@scene_bands_option
@overwrite_option
@json_option
def evaluate(
    model_spec: str,
    chips_dir: str | None,
    split: str,
    before: str | None,
    after: str | None,
    mask: str | None,
    out_dir: str,
    log_mlflow: bool,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Precision, recall, F1, IoU and AP of the model next to spectral baselines."""
    from planet_sentinel.evaluate import evaluate_chips, evaluate_scene
    from planet_sentinel.registry import load_model, log_evaluation

    scene_args = (before, after, mask)
    if (chips_dir is not None) == any(scene_args):
        raise click.UsageError("give either --chips-dir or all of --before, --after and --mask")
    if chips_dir is None and not all(scene_args):
        raise click.UsageError("a scene evaluation needs --before, --after and --mask")
    if scene_bands and chips_dir is not None:
        raise click.UsageError("--bands states the band order of --before/--after scenes; chips name their bands")
    order = _band_order(scene_bands)
    bundle = load_model(model_spec)
    if chips_dir is not None:
        report = evaluate_chips(bundle, chips_dir, split)
    else:
        report = evaluate_scene(bundle, before, after, mask, order=order)  # type: ignore[arg-type]
    paths = report.write(out_dir, overwrite=overwrite)
    if log_mlflow:
        log_evaluation(bundle, report, paths)
    click.echo(report.to_markdown())
    overall = report.overall["model"].counts
    _emit({"f1": round(overall.f1, 4), "iou": round(overall.iou, 4), **{k: str(v) for k, v in paths.items()}}, as_json)


cli.add_command(serve)
cli.add_command(deploy)


@cli.command()
@click.option(
    "--baseline",
    "baseline_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Baseline JSON of the training chips (`sentinel baseline`).",
)
@click.option(
    "--new-data",
    required=True,
    type=click.Path(file_okay=False),
    help="New chips (directories with manifest.json) or scenes (<name>_before.tif/_after.tif[/_mask.tif]).",
)
@click.option("--model", "model_spec", help="MLflow model URI or bundle file: adds predicted-change and encoder MMD.")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    default="outputs/monitor",
    show_default=True,
    help="Where drift.json, drift.md and the PNG plots go.",
)
@click.option(
    "--simulate",
    type=click.Choice(["none", "gain", "haze", "season", "region"]),
    help="First simulate drifted scenes into --new-data (demo; added to what it holds): 5 % gain, "
    "haze 0.5, a full season, another region; none = the baseline's settings.",
)
@click.option("--scenes", type=int, default=16, show_default=True, help="With --simulate: how many scene pairs.")
@click.option("--scene-size", type=int, default=512, show_default=True, help="With --simulate: scene side in pixels.")
@click.option("--seed", "sim_seed", type=int, default=1000, show_default=True, help="With --simulate: first seed.")
@click.option("--bands", help="Comma-separated bands to compare (default: all of the baseline's).")
@click.option("--split", help="Compare only new chips of this split (default: all).")
@json_option
@click.pass_context
def monitor(
    ctx: click.Context,
    baseline_path: str,
    new_data: str,
    model_spec: str | None,
    out_dir: str,
    simulate: str | None,
    scenes: int,
    scene_size: int,
    sim_seed: int,
    bands: str | None,
    split: str | None,
    as_json: bool,
) -> None:
    """Compare new imagery with the training baseline and report drift.

    Signals: per-band distributions, NDVI, nodata and cloud shares, and with --model the predicted
    change share and encoder features. Drift = effect size above threshold AND significant after
    Holm correction. Writes drift.json, drift.md and PNG plots into --out-dir.

    Exit codes: 0 no drift, 3 drift detected, 4 inconclusive (too few chips to test anything),
    1 error (bad baseline, new data with other bands, empty new data), 2 usage error.
    """
    from planet_sentinel.config import resolve
    from planet_sentinel.drift.monitor import MonitorConfig, run_monitor, simulate_new_data

    options: dict[str, Any] = {"split": split}
    if bands:
        options["bands"] = list(_bands(bands))
    config = resolve(MonitorConfig, "monitor", options)
    if simulate is not None:
        from planet_sentinel.progress import say

        say(f"simulating {scenes} scene pairs of {scene_size} px with drift '{simulate}' into {new_data}")
        simulate_new_data(simulate, new_data, scenes=scenes, size=scene_size, seed=sim_seed)
    result = run_monitor(baseline_path, new_data, out_dir, model=model_spec, config=config)
    d = result.decision
    _emit(
        {
            "decision": d.status,
            "drifted": ",".join(d.drifted) or "-",
            "warnings": ",".join(d.warnings) or "-",
            "insufficient": ",".join(d.insufficient) or "-",
            "summary": d.summary,
            "new_chips": result.new.n_chips,
            "report": result.paths.get("markdown"),
            "json": result.paths.get("json"),
            "exit_code": result.exit_code,
        },
        as_json,
    )
    ctx.exit(result.exit_code)


# --------------------------------------------------------------------------- tooling


@cli.group(cls=SentinelGroup)
def aoi() -> None:
    """Areas of interest (GeoJSON polygons in lon/lat)."""


@aoi.command(name="check")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
def aoi_check(path: str, as_json: bool) -> None:
    """Validate an AOI and show its area, UTM zone and 10 m grid."""
    from planet_sentinel.aoi import load_aoi

    area = load_aoi(path)
    _emit({"area_km2": round(area.area_km2, 3), "utm_crs": area.utm_crs, "grid": area.grid(10).describe()}, as_json)


@cli.command()
@click.option("--remote", type=click.Path(file_okay=False), help="Directory for the local DVC remote.")
def init(remote: str | None) -> None:
    """Set up this checkout: DVC repository and a local DVC remote (no cloud account needed)."""
    from planet_sentinel.dvc import init_local_remote

    for line in init_local_remote(Path.cwd(), Path(remote) if remote else None):
        click.echo(line)


@cli.command()
@click.option("--size", type=int, default=2048, show_default=True, help="Training scene side in pixels.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--held-out-size", type=int, default=1024, show_default=True, help="Side of the fresh test scenes.")
@click.option("--workdir", type=click.Path(file_okay=False), default=".", show_default=True)
def demo(size: int, seed: int, held_out_size: int, workdir: str) -> None:
    """Run the whole local pipeline on the embedded simulated scene and print where everything is."""
    import os

    from planet_sentinel.demo import DemoConfig, run_demo

    Path(workdir).mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    for line in run_demo(DemoConfig(size=size, seed=seed, held_out_size=held_out_size)):
        click.echo(line)


cli.add_command(kaggle)
cli.add_command(github)


def main() -> None:
    cli(prog_name="sentinel")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
