"""`sentinel kaggle`: Train on Kaggle GPUs: push the kernel, poll, fetch, register."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from planet_sentinel.commands.common import SentinelGroup, emit, json_option, training_options


@click.group(name="kaggle", cls=SentinelGroup)
def kaggle() -> None:
    """Train on Kaggle GPUs: push the kernel, poll, fetch, register.

    Credentials: KAGGLE_USERNAME and KAGGLE_KEY, or ~/.kaggle/kaggle.json. KAGGLE_API_ENDPOINT
    points the client at another server (the emulator: `python -m tools kaggle serve`).
    """


def run_kaggle_training(
    data_dir: str,
    baseline_path: str,
    run_dir: str | None,
    register: bool,
    train_options: dict[str, Any],
    kaggle_options: dict[str, Any] | None = None,
    wheel: str | None = None,
    kernel_dir: str | None = None,
) -> dict[str, Any]:
    """What `sentinel kaggle train` and `sentinel train --on kaggle` both run."""
    from planet_sentinel.config import resolve
    from planet_sentinel.kaggle.roundtrip import train_on_kaggle
    from planet_sentinel.kaggle.settings import KaggleConfig
    from planet_sentinel.pipeline import default_run_dir, optional_baseline
    from planet_sentinel.train import TrainConfig, publish_inference_copy

    outcome = train_on_kaggle(
        data_dir,
        run_dir or default_run_dir("kaggle-"),
        resolve(TrainConfig, "train", train_options),
        resolve(KaggleConfig, "kaggle", kaggle_options or {}),
        baseline=optional_baseline(baseline_path),
        register=register,
        wheel=Path(wheel) if wheel else None,
        kernel_dir=Path(kernel_dir) if kernel_dir else None,
    )
    return {**outcome.to_dict(), "model_inference": str(publish_inference_copy(outcome.result))}


@kaggle.command(name="train")
@training_options("Normalisation statistics (computed in the kernel from the chips if absent).")
@click.option("--owner", help="Kaggle user or organisation (default: the credentials' user).")
@click.option("--dataset-slug", help="Dataset that carries chips + wheel (default planet-sentinel-chips).")
@click.option("--kernel-slug", help="Kernel to push (default planet-sentinel-train).")
@click.option("--machine-shape", help="Kaggle accelerator, e.g. NvidiaTeslaT4 (default), NvidiaL4.")
@click.option("--gpu/--no-gpu", "enable_gpu", default=None, help="Ask Kaggle for a GPU (default yes).")
@click.option(
    "--timeout-minutes", type=float, help="The kernel stops itself this long after the push (docs/kaggle.md)."
)
@click.option("--poll-seconds", type=float, help="First wait between status polls (backs off to 2 min).")
@click.option("--run-dir", type=click.Path(file_okay=False), help="Where the outputs go (default runs/kaggle-<time>).")
@click.option("--wheel", type=click.Path(dir_okay=False), help="Ship this wheel instead of building one.")
@click.option("--kernel-dir", type=click.Path(file_okay=False), help="Kernel template (default kernels/siamese-unet).")
@click.option(
    "--register/--no-register", default=True, show_default=True, help="Log to MLflow and register as `challenger`."
)
@json_option
def kaggle_train(
    data_dir: str,
    baseline_path: str,
    run_dir: str | None,
    wheel: str | None,
    kernel_dir: str | None,
    register: bool,
    as_json: bool,
    owner: str | None,
    dataset_slug: str | None,
    kernel_slug: str | None,
    machine_shape: str | None,
    enable_gpu: bool | None,
    timeout_minutes: float | None,
    poll_seconds: float | None,
    **train_options: Any,
) -> None:
    """Train on a Kaggle GPU: upload chips + wheel, push the kernel, poll, fetch, register.

    Exit 0 with run_id/model_version when the model is registered as `challenger`; 1 with the
    reason (and the kernel log tail) when the kernel fails, reaches its deadline (it stops
    itself) or returns unusable outputs; nothing is registered then.
    """
    kaggle_options = {
        "owner": owner,
        "dataset_slug": dataset_slug,
        "kernel_slug": kernel_slug,
        "machine_shape": machine_shape,
        "enable_gpu": enable_gpu,
        "timeout_minutes": timeout_minutes,
        "poll_seconds": poll_seconds,
    }
    result = run_kaggle_training(
        data_dir, baseline_path, run_dir, register, train_options, kaggle_options, wheel, kernel_dir
    )
    emit(result, as_json)


@kaggle.command(name="status")
@click.argument("kernel")
@json_option
def kaggle_status(kernel: str, as_json: bool) -> None:
    """Status of a kernel run (KERNEL = owner/slug or owner/slug/version)."""
    import requests

    from planet_sentinel.errors import SentinelError
    from planet_sentinel.kaggle.client import connect
    from planet_sentinel.kaggle.remote import kernel_status

    try:
        status, failure = kernel_status(connect(), kernel)
    except requests.RequestException as exc:
        raise SentinelError(f"status of kernel {kernel} failed: {exc}") from exc
    emit({"kernel": kernel, "status": status, "failure": failure}, as_json)


@kaggle.command(name="logs")
@click.argument("kernel")
@click.option("--tail", type=int, default=0, help="Only the last N lines.")
def kaggle_logs(kernel: str, tail: int) -> None:
    """Print a kernel run's log (KERNEL = owner/slug or owner/slug/version)."""
    from planet_sentinel.kaggle.client import connect
    from planet_sentinel.kaggle.remote import kernel_log

    lines = kernel_log(connect(), kernel).splitlines()
    click.echo("\n".join(lines[-tail:] if tail else lines))
