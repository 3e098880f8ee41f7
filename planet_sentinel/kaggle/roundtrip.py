"""`sentinel kaggle train`: the whole round trip, ending in MLflow exactly like local training.

Read :func:`train_on_kaggle` top to bottom: it runs the steps below in order, each a small
function a reader can follow on its own (the cut of raster-vision's ``rv_pipeline.py``):

1. :func:`check` - everything refusable before any work: kernel template, credentials, chips, run dir;
2. :func:`open_session` and :func:`render` - the client, the owner, this run's kernel metadata;
3. :func:`pack` - wheel + chips + settings into the dataset bundle;
4. :func:`push` - upload the bundle as a dataset version, push the kernel with its deadline;
5. :func:`wait` - poll until the kernel ends; a failed run raises with its log tail;
6. :func:`fetch` - download and verify the outputs into the run directory;
7. :func:`register_result` - log and register as ``challenger`` (planet_sentinel.pipeline).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.kaggle.settings import KaggleConfig

if TYPE_CHECKING:
    from planet_sentinel.baseline import Baseline
    from planet_sentinel.chips import ChipStore
    from planet_sentinel.kaggle.entry import KaggleRunRecord
    from planet_sentinel.kaggle.packing import DatasetBundle
    from planet_sentinel.kaggle.remote import KernelRun
    from planet_sentinel.pipeline import Registration
    from planet_sentinel.train import TrainConfig, TrainResult

KERNEL_DIR = Path("kernels/siamese-unet")
log = logging.getLogger(__name__)
Sleep = Callable[[float], None]


def default_kernel_dir() -> Path:
    """kernels/siamese-unet of the checkout (or of the working directory)."""
    from planet_sentinel.kaggle.packing import source_root

    if (KERNEL_DIR / "kernel-metadata.json").is_file():
        return KERNEL_DIR
    try:
        return source_root() / KERNEL_DIR
    except SentinelError as exc:
        raise SentinelError(f"{KERNEL_DIR} not found; pass --kernel-dir") from exc


@dataclass(frozen=True)
class KernelTemplate:
    """A kernel directory: its script and the ``kernel-metadata.json`` template rendered per run."""

    directory: Path
    metadata: dict[str, Any]

    @classmethod
    def load(cls, kernel_dir: Path | None = None) -> KernelTemplate:
        directory = Path(kernel_dir) if kernel_dir else default_kernel_dir()
        path = directory / "kernel-metadata.json"
        if not path.is_file():
            raise SentinelError(f"{path}: no kernel metadata template")
        try:
            metadata = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SentinelError(f"{path}: not JSON ({exc})") from exc
        return cls(directory, metadata)


@dataclass(frozen=True)
class KaggleSession:
    """Our side of one round trip: the client (``kaggle.api.KaggleApi``), the owner, the settings,
    and how to wait (replaceable in tests)."""

    api: Any
    owner: str
    config: KaggleConfig
    sleep: Sleep


@dataclass
class KaggleOutcome:
    """What the round trip produced: the run over the downloaded outputs, where it ran, its record,
    and its registration (None with ``register=False``)."""

    result: TrainResult
    run: KernelRun
    dataset: str
    bundle_sha256: str
    record: KaggleRunRecord
    machine_shape: str
    registration: Registration | None = None

    def tags(self) -> dict[str, str]:
        """The MLflow tags that say where the model was trained."""
        return {
            "trained_on": "kaggle",
            "kaggle_kernel": self.run.ref,
            "kaggle_kernel_version": str(self.run.version),
            "kaggle_kernel_url": self.run.url,
            "kaggle_dataset": self.dataset,
            "kaggle_bundle_sha256": self.bundle_sha256,
            "kaggle_machine_shape": self.machine_shape,
        }

    def to_dict(self) -> dict[str, object]:
        """The summary `sentinel kaggle train` prints."""
        return {
            **self.result.to_dict(),
            "kernel": self.run.ref,
            "kernel_version": self.run.version,
            "kernel_url": self.run.url,
            "dataset": self.dataset,
            "bundle_sha256": self.bundle_sha256,
            "gpu": self.record.gpu,
            "amp": self.record.amp,
            "mean_epoch_seconds": self.record.mean_epoch_seconds,
            **(self.registration.to_dict() if self.registration else {}),
        }


def train_on_kaggle(
    data_dir: str | Path,
    run_dir: str | Path,
    train_config: TrainConfig,
    config: KaggleConfig | None = None,
    baseline: Baseline | None = None,
    register: bool = True,
    wheel: Path | None = None,
    kernel_dir: Path | None = None,
    endpoint: str | None = None,
    sleep: Sleep = time.sleep,
) -> KaggleOutcome:
    """Pack, upload, push, poll, fetch, verify, and (``register``) log + register as challenger.

    Fails with a SentinelError (KaggleRunError with the log tail for a failed run) before
    anything is registered; a failed MLflow step deletes its run (registry.training_run).
    """
    config = config or KaggleConfig()
    kernel, stores, run_dir = check(data_dir, run_dir, config, kernel_dir)
    session = open_session(config, endpoint, sleep)
    meta = render(session, kernel)
    with tempfile.TemporaryDirectory(prefix="sentinel-kaggle-") as tmp:
        work = Path(tmp)
        bundle = pack(session, stores, work, train_config, baseline, wheel)
        dataset, run = push(session, bundle, kernel, meta, work)
        wait(session, run)
        record = fetch(session, run, run_dir, bundle.manifest.fingerprint)
    outcome = KaggleOutcome(
        rebuild_result(run_dir, record),
        run,
        dataset,
        bundle.sha256,
        record,
        machine_shape=str(meta.get("machine_shape") or "cpu"),
    )
    if register:
        outcome.registration = register_result(outcome.result, run_dir, outcome.tags())
    return outcome


def check(
    data_dir: str | Path, run_dir: str | Path, config: KaggleConfig, kernel_dir: Path | None
) -> tuple[KernelTemplate, list[ChipStore], Path]:
    """What can be refused before any work (no client built, nothing uploaded): the kernel
    template, the credentials, the chips and a run directory that holds no run yet."""
    from planet_sentinel.kaggle import remote
    from planet_sentinel.kaggle.client import find_credentials
    from planet_sentinel.kaggle.entry import RUN_RECORD
    from planet_sentinel.kaggle.packing import check_chips

    kernel = KernelTemplate.load(kernel_dir)
    find_credentials()
    remote.render_metadata(kernel.metadata, config, config.owner or "owner")  # template errors
    stores = check_chips(data_dir)
    run_dir = Path(run_dir)
    if (run_dir / RUN_RECORD).exists():
        raise SentinelError(f"{run_dir} already holds a Kaggle run; choose another --run-dir")
    return kernel, stores, run_dir


def open_session(config: KaggleConfig, endpoint: str | None, sleep: Sleep) -> KaggleSession:
    """An authenticated client; the owner is the credentials' user unless the settings name one."""
    from planet_sentinel.kaggle.client import connect, username

    api = connect(endpoint)
    return KaggleSession(api, config.owner or username(api), config, sleep)


def render(session: KaggleSession, kernel: KernelTemplate) -> dict[str, Any]:
    """This run's kernel-metadata.json (its warnings said)."""
    from planet_sentinel.kaggle import remote

    meta, warnings = remote.render_metadata(kernel.metadata, session.config, session.owner)
    for warning in warnings:
        log.warning(f"warning: {warning}")
    return meta


def pack(
    session: KaggleSession,
    stores: list[ChipStore],
    work: Path,
    train_config: TrainConfig,
    baseline: Baseline | None,
    wheel: Path | None,
) -> DatasetBundle:
    """The dataset bundle in ``work/dataset``, with the given wheel or one built now."""
    from planet_sentinel.kaggle.packing import build_wheel, pack_dataset

    if wheel is None:
        log.info("building the planet_sentinel wheel")
        wheel = build_wheel(work / "wheel")
    elif not Path(wheel).is_file():
        raise SentinelError(f"{wheel}: no such wheel")
    bundle = pack_dataset(
        stores,
        work / "dataset",
        train_config.model_dump(),
        Path(wheel),
        baseline=baseline,
        max_bytes=session.config.max_dataset_bytes,
    )
    log.info(f"bundle {bundle.archive.name}: {bundle.size / 1024**2:.1f} MB, sha256 {bundle.sha256}")
    return bundle


def push(
    session: KaggleSession, bundle: DatasetBundle, kernel: KernelTemplate, meta: dict[str, Any], work: Path
) -> tuple[str, KernelRun]:
    """Upload the bundle as a dataset version, then push the kernel (Kaggle starts it at once).
    Returns the dataset ``owner/slug`` and the kernel run; says when the kernel stops itself."""
    from planet_sentinel.kaggle import remote
    from planet_sentinel.kaggle.deadline import MARKER, utc

    config = session.config
    dataset = remote.push_dataset(session.api, bundle, session.owner, config, session.sleep)
    timeout_s, grace_s = 60 * config.timeout_minutes, 60 * config.stop_grace_minutes
    run = remote.push_kernel(session.api, kernel.directory, meta, work, timeout_s, grace_s)
    log.info(f"pushed kernel {run.ref} version {run.version}: {run.url}")
    if run.self_stopping:
        log.info(f"the kernel stops itself at {utc(run.deadline)} (timeout_minutes {config.timeout_minutes})")
    else:
        log.info(
            f"warning: {kernel.directory / meta['code_file']} has no `{MARKER}` line, so it does not stop "
            f"itself at the timeout; Kaggle ends it at its session timeout ({run.session_timeout_s} s)"
        )
    return dataset, run


def wait(session: KaggleSession, run: KernelRun) -> None:
    """Poll until the kernel ends; anything but ``complete`` raises a KaggleRunError with the log tail."""
    from planet_sentinel.kaggle import remote
    from planet_sentinel.kaggle.deadline import SAYING, utc

    try:
        status, failure = remote.wait_for_kernel(session.api, run, session.config, session.sleep)
    except KeyboardInterrupt:  # Ctrl-C or a cancelled CI job: say what stops the GPU session
        log.info(f"interrupted ({run.versioned}); {remote.cancel(session.api, run)}")
        raise
    if status == "complete":
        return
    tail = remote.log_tail(session.api, run, session.config.log_tail_lines)
    reason = f"{status.upper()}" + (f": {failure}" if failure else "")
    if run.self_stopping and SAYING in tail:
        reason += f" (it reached its deadline {utc(run.deadline)} and stopped itself)"
    raise remote.KaggleRunError(f"kernel {run.versioned} ended with {reason}; nothing registered", tail)


def fetch(session: KaggleSession, run: KernelRun, run_dir: Path, fingerprint: str) -> KaggleRunRecord:
    """Download the outputs beside ``run_dir``, verify them, and only then move them into it, so
    rejected outputs never become a run directory (and leave no staging folder behind)."""
    from planet_sentinel.kaggle.remote import fetch_outputs

    run_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".kaggle-outputs-", dir=run_dir.parent))
    try:
        record = fetch_outputs(session.api, run, staging, fingerprint)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if run_dir.exists():
        for item in staging.iterdir():
            item.replace(run_dir / item.name)
        staging.rmdir()
    else:
        staging.replace(run_dir)
    return record


def rebuild_result(outputs: Path, record: KaggleRunRecord) -> TrainResult:
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


def register_result(result: TrainResult, run_dir: Path, tags: dict[str, str]) -> Registration:
    """Log and register like `sentinel train` (planet_sentinel.pipeline), with the kernel's record and logs."""
    from planet_sentinel.kaggle.entry import RUN_RECORD
    from planet_sentinel.pipeline import register_trained

    artifacts = [p for p in (run_dir / RUN_RECORD, *run_dir.glob("*.log")) if p.is_file()]
    return register_trained(result, f"kaggle-{run_dir.name}", tags, artifacts, artifact_path="kaggle")
