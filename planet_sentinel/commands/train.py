"""`sentinel train`: train the Siamese U-Net here or on a Kaggle GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from planet_sentinel.commands.common import emit, json_option, training_options


@click.command()
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
        emit(run_kaggle_training(data_dir, baseline_path, run_dir, register, options), as_json)
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
    emit({**result.to_dict(), **result_info, "model_inference": str(inference)}, as_json)
