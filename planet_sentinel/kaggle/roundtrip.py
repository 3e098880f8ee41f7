"""`sentinel kaggle train`: the whole round trip, ending in MLflow exactly like local training."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.kaggle.settings import KaggleConfig

if TYPE_CHECKING:
    from planet_sentinel.baseline import Baseline
    from planet_sentinel.kaggle.entry import KaggleRunRecord

KERNEL_DIR = Path("kernels/siamese-unet")


def default_kernel_dir() -> Path:
    """kernels/siamese-unet of the checkout (or of the working directory)."""
    from planet_sentinel.kaggle.bundle import source_root

    if (KERNEL_DIR / "kernel-metadata.json").is_file():
        return KERNEL_DIR
    try:
        return source_root() / KERNEL_DIR
    except SentinelError as exc:
        raise SentinelError(f"{KERNEL_DIR} not found; pass --kernel-dir") from exc


def rebuild_result(outputs: Path, record: KaggleRunRecord) -> Any:
    """A TrainResult over the downloaded outputs, so registration is the local code path."""
    from planet_sentinel.kaggle.entry import MODEL_FILE
    from planet_sentinel.train import TrainResult

    preview = outputs / "val_predictions.png"
    return TrainResult(
        run_dir=outputs,
        bundle_path=outputs / MODEL_FILE,
        checkpoint_path=outputs / MODEL_FILE,
        history=record.history,
        best=record.best or {},
        params=record.params or {},
        fingerprint=record.fingerprint or "",  # fetch_outputs checked it is the uploaded chips'
        preview_png=preview if preview.is_file() else None,
        device=record.device or "unknown",
        seconds=float(record.seconds or 0.0),
        extra=record.extra or {},
    )


def train_on_kaggle(
    data_dir: str | Path,
    run_dir: str | Path,
    train_config: Any,
    config: KaggleConfig | None = None,
    baseline: Baseline | None = None,
    register: bool = True,
    wheel: Path | None = None,
    kernel_dir: Path | None = None,
    endpoint: str | None = None,
    say: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Any, dict[str, Any]]:
    """Pack, upload, push, poll, fetch, verify, and (``register``) log + register as challenger.

    Returns the TrainResult over the downloaded outputs and a summary for printing.

    Fails with a SentinelError (KaggleRunError with the log tail for a failed run) before
    anything is registered; a failed MLflow step deletes its run (registry.training_run).
    """
    from planet_sentinel.kaggle import bundle as packing
    from planet_sentinel.kaggle import remote
    from planet_sentinel.kaggle.client import connect, find_credentials, username
    from planet_sentinel.kaggle.deadline import MARKER as DEADLINE_MARKER
    from planet_sentinel.kaggle.deadline import SAYING as DEADLINE_SAYING
    from planet_sentinel.kaggle.deadline import utc as deadline_utc
    from planet_sentinel.progress import say as default_say

    say = say or default_say
    config = config or KaggleConfig()
    kernel_dir = Path(kernel_dir) if kernel_dir else default_kernel_dir()
    template_path = kernel_dir / "kernel-metadata.json"
    if not template_path.is_file():
        raise SentinelError(f"{template_path}: no kernel metadata template")
    try:
        template = json.loads(template_path.read_text())
    except json.JSONDecodeError as exc:
        raise SentinelError(f"{template_path}: not JSON ({exc})") from exc
    find_credentials()  # a clear error before any work when there are none
    remote.render_metadata(template, config, config.owner or "owner")  # template errors before any work
    stores = packing.check_chips(data_dir)
    run_dir = Path(run_dir)
    if (run_dir / "run.json").exists():
        raise SentinelError(f"{run_dir} already holds a Kaggle run; choose another --run-dir")
    api = connect(endpoint)
    owner = config.owner or username(api)
    meta, warnings = remote.render_metadata(template, config, owner)
    for warning in warnings:
        say(f"warning: {warning}")

    with tempfile.TemporaryDirectory(prefix="sentinel-kaggle-") as tmp:
        work = Path(tmp)
        if wheel is None:
            say("building the planet_sentinel wheel")
            wheel = packing.build_wheel(work / "wheel")
        elif not Path(wheel).is_file():
            raise SentinelError(f"{wheel}: no such wheel")
        bundle = packing.pack_dataset(
            stores,
            work / "dataset",
            train_config.model_dump(),
            Path(wheel),
            baseline=baseline,
            max_bytes=config.max_dataset_bytes,
        )
        say(f"bundle {bundle.archive.name}: {bundle.size / 1024**2:.1f} MB, sha256 {bundle.sha256}")
        dataset = remote.push_dataset(api, bundle, owner, config, say, sleep)
        timeout_s, grace_s = 60 * config.timeout_minutes, 60 * config.stop_grace_minutes
        run = remote.push_kernel(api, kernel_dir, meta, work, timeout_s, grace_s)
        say(f"pushed kernel {run.ref} version {run.version}: {run.url}")
        if run.self_stopping:
            say(f"the kernel stops itself at {deadline_utc(run.deadline)} (timeout_minutes {config.timeout_minutes})")
        else:
            say(
                f"warning: {kernel_dir / meta['code_file']} has no `{DEADLINE_MARKER}` line, so it does not stop "
                f"itself at the timeout; Kaggle ends it at its session timeout ({run.session_timeout_s} s)"
            )
        try:
            status, failure = remote.wait_for_kernel(api, run, config, say, sleep)
        except KeyboardInterrupt:  # Ctrl-C or a cancelled CI job: say what stops the GPU session
            say(f"interrupted ({run.versioned}); {remote.cancel(api, run)}")
            raise
        if status != "complete":
            tail = remote.log_tail(api, run, config.log_tail_lines)
            reason = f"{status.upper()}" + (f": {failure}" if failure else "")
            if run.self_stopping and DEADLINE_SAYING in tail:
                reason += f" (it reached its deadline {deadline_utc(run.deadline)} and stopped itself)"
            raise remote.KaggleRunError(f"kernel {run.versioned} ended with {reason}; nothing registered", tail)
        staging = Path(tempfile.mkdtemp(prefix=".kaggle-outputs-", dir=_parent(run_dir)))
        record = remote.fetch_outputs(api, run, staging, bundle.manifest["fingerprint"])
        if run_dir.exists():
            for item in staging.iterdir():
                item.replace(run_dir / item.name)
            staging.rmdir()
        else:
            staging.replace(run_dir)

    result = rebuild_result(run_dir, record)
    tags = {
        "trained_on": "kaggle",
        "kaggle_kernel": run.ref,
        "kaggle_kernel_version": str(run.version),
        "kaggle_kernel_url": run.url,
        "kaggle_dataset": dataset,
        "kaggle_bundle_sha256": bundle.sha256,
        "kaggle_machine_shape": str(meta.get("machine_shape") or "cpu"),
    }
    info: dict[str, Any] = {
        **result.to_dict(),
        "kernel": run.ref,
        "kernel_version": run.version,
        "kernel_url": run.url,
        "dataset": dataset,
        "bundle_sha256": bundle.sha256,
        "gpu": record.gpu,
        "amp": record.amp,
        "mean_epoch_seconds": record.mean_epoch_seconds,
    }
    if register:
        info.update(register_result(result, run_dir, tags))
    return result, info


def _parent(run_dir: Path) -> Path:
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    return run_dir.parent


def register_result(result: Any, run_dir: Path, tags: dict[str, str]) -> dict[str, Any]:
    """Log and register like `sentinel train` (planet_sentinel.pipeline), with the kernel's record and logs."""
    from planet_sentinel.pipeline import register_trained

    artifacts = [p for p in (run_dir / "run.json", *run_dir.glob("*.log")) if p.is_file()]
    registration = register_trained(result, f"kaggle-{run_dir.name}", tags, artifacts, artifact_path="kaggle")
    return registration.to_dict()
