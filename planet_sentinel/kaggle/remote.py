"""Talking to Kaggle through the official client: dataset upload, kernel push, poll, cancel, logs,
output download with checksum verification.

Every call goes through ``kaggle.api.KaggleApi`` (see ``client.connect``); nothing here builds
HTTP requests by hand except the session cancel, which KaggleApi does not wrap, so it is sent
through the same client's ``kernels_api_client.cancel_kernel_session``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.kaggle.bundle import DatasetBundle, sha256_file
from planet_sentinel.kaggle.client import quiet_stdout
from planet_sentinel.kaggle.entry import MODEL_FILE, RUN_RECORD, RUN_SCHEMA
from planet_sentinel.kaggle.settings import KaggleConfig

Say = Callable[[str], None]
MAX_SESSION_SECONDS = 12 * 3600  # Kaggle's longest session
TERMINAL = {"complete", "error", "cancel_acknowledged"}
INTERNET_WARNING = (
    "kernel metadata has enable_internet: true, but the kernel installs everything from the attached dataset "
    "and needs no internet; leave it false (internet needs a phone-verified account and lets a run depend on "
    "what the network serves that day)"
)


class KaggleRunError(SentinelError):
    """The kernel failed, timed out or returned unusable outputs; carries the log tail."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message + (f"\n--- last kernel log lines ---\n{log_tail}" if log_tail else ""))
        self.log_tail = log_tail


@dataclass(frozen=True)
class KernelRun:
    ref: str  # owner/slug
    version: int | None
    kernel_id: int
    url: str

    @property
    def versioned(self) -> str:
        return f"{self.ref}/{self.version}" if self.version else self.ref


def _status_code(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _transient(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    code = _status_code(exc)
    if code is not None:
        return code >= 500 or code == 429
    # KaggleApi reports a failed blob upload as ValueError("Upload unsuccessful: ...").
    return isinstance(exc, ValueError) and "Upload unsuccessful" in str(exc)


def _refusal(exc: BaseException, what: str) -> SentinelError:
    code = _status_code(exc)
    if code in (401, 403):
        return SentinelError(f"Kaggle refused {what} (HTTP {code}): check KAGGLE_USERNAME/KAGGLE_KEY ({exc})")
    return SentinelError(f"{what} failed: {exc}")


def dataset_title(slug: str) -> str:
    return slug.replace("-", " ").title()[:50]


def dataset_exists(api: Any, ref: str) -> bool:
    import requests

    try:
        with quiet_stdout():
            api.dataset_status(ref)
        return True
    except requests.HTTPError as exc:
        if _status_code(exc) == 404:
            return False
        raise _refusal(exc, f"looking up dataset {ref}") from exc


def push_dataset(
    api: Any, bundle: DatasetBundle, owner: str, config: KaggleConfig, say: Say, sleep: Callable[[float], None]
) -> str:
    """Create the dataset or add a version, retrying transient failures, then wait until Kaggle
    has processed it. Returns ``owner/slug``."""
    import requests

    ref = f"{owner}/{config.dataset_slug}"
    metadata = {
        "id": ref,
        "title": dataset_title(config.dataset_slug),
        "licenses": [{"name": "other"}],
        "description": f"planet_sentinel training bundle; {bundle.archive.name} sha256 {bundle.sha256}",
    }
    (bundle.folder / "dataset-metadata.json").write_text(json.dumps(metadata, indent=1))
    exists = dataset_exists(api, ref)
    say(f"{'adding a version to' if exists else 'creating'} Kaggle dataset {ref} ({bundle.size / 1024**2:.1f} MB)")
    for attempt in range(1, config.upload_attempts + 1):
        try:
            with quiet_stdout():
                if exists:
                    notes = f"bundle sha256 {bundle.sha256}"
                    response = api.dataset_create_version(str(bundle.folder), notes, quiet=True, dir_mode="skip")
                else:
                    response = api.dataset_create_new(
                        str(bundle.folder), public=not config.is_private, quiet=True, dir_mode="skip"
                    )
        except (requests.RequestException, ValueError) as exc:
            if not _transient(exc):
                raise _refusal(exc, f"uploading dataset {ref}") from exc
            if attempt == config.upload_attempts:
                raise SentinelError(f"uploading dataset {ref} failed after {attempt} attempts: {exc}") from exc
            wait = 2.0**attempt
            say(f"upload attempt {attempt} failed ({exc}); retrying in {wait:.0f} s")
            sleep(wait)
            continue
        error = getattr(response, "error", None)
        if error:
            raise SentinelError(f"Kaggle refused dataset {ref}: {error}")
        break
    wait_dataset_ready(api, ref, config, say, sleep)
    return ref


def wait_dataset_ready(api: Any, ref: str, config: KaggleConfig, say: Say, sleep: Callable[[float], None]) -> None:
    deadline = time.monotonic() + 60 * config.dataset_ready_minutes
    wait = config.poll_seconds
    while True:
        with quiet_stdout():
            status = str(api.dataset_status(ref)).lower()
        if status == "ready":
            say(f"dataset {ref} is ready")
            return
        if status in ("failed", "deleted"):
            raise SentinelError(f"Kaggle could not process dataset {ref} (status {status})")
        if time.monotonic() > deadline:
            raise SentinelError(f"dataset {ref} still '{status}' after {config.dataset_ready_minutes} min")
        sleep(wait)
        wait = min(wait * 1.5, config.max_poll_seconds)


def render_metadata(template: dict[str, Any], config: KaggleConfig, owner: str) -> tuple[dict[str, Any], list[str]]:
    """kernel-metadata.json for this run: the template with id, title, data source and machine
    filled in from the settings. Returns the metadata and warnings."""
    from planet_sentinel.kaggle.settings import KERNEL_SLUG_LENGTH, check_slug

    check_slug(config.kernel_slug, "kernel slug", KERNEL_SLUG_LENGTH)
    meta = dict(template)
    meta.update(
        id=f"{owner}/{config.kernel_slug}",
        title=dataset_title(config.kernel_slug),
        dataset_sources=[f"{owner}/{config.dataset_slug}"],
        enable_gpu=config.enable_gpu,
        is_private=config.is_private,
        language="python",
        kernel_type="script",
    )
    if config.enable_gpu:
        meta["machine_shape"] = config.machine_shape
    else:
        meta.pop("machine_shape", None)
    if config.enable_internet:
        meta["enable_internet"] = True
    meta.setdefault("enable_internet", False)
    warnings = [INTERNET_WARNING] if meta["enable_internet"] else []
    if not meta.get("code_file"):
        raise SentinelError("kernel-metadata.json template has no code_file")
    return meta, warnings


def push_kernel(api: Any, kernel_dir: Path, meta: dict[str, Any], work: Path, timeout_s: int) -> KernelRun:
    """Copy the kernel script next to the rendered metadata and push it (Kaggle starts it at once).

    ``timeout_s`` (plus a margin, capped at Kaggle's 12 h) is sent as the session timeout, so
    Kaggle stops the session itself even if our cancel never arrives."""
    import requests

    folder = work / "kernel"
    folder.mkdir(parents=True, exist_ok=True)
    code = kernel_dir / meta["code_file"]
    if not code.is_file():
        raise SentinelError(f"{code}: kernel script not found")
    shutil.copy2(code, folder / code.name)
    (folder / "kernel-metadata.json").write_text(json.dumps(meta, indent=1))
    try:
        with quiet_stdout():
            response = api.kernels_push(str(folder), timeout=str(min(int(timeout_s) + 600, MAX_SESSION_SECONDS)))
    except ValueError as exc:
        raise SentinelError(f"kernel metadata rejected: {exc}") from exc
    except requests.RequestException as exc:
        raise _refusal(exc, f"pushing kernel {meta['id']}") from exc
    if response.error:
        raise SentinelError(f"Kaggle refused kernel {meta['id']}: {response.error}")
    if response.invalid_dataset_sources:
        raise SentinelError(f"Kaggle does not know the dataset(s) {response.invalid_dataset_sources}")
    return KernelRun(meta["id"], response.version_number, int(response.kernel_id or 0), response.url)


def log_lines(api: Any, run: KernelRun) -> list[str]:
    """The kernel log so far, as lines ([] when Kaggle has none yet or cannot be reached)."""
    import requests

    try:
        with quiet_stdout():
            text = api.kernels_logs(run.versioned)
    except (requests.RequestException, ValueError):
        return []
    return parse_log(text).splitlines()


def log_tail(api: Any, run: KernelRun, lines: int) -> str:
    """The last ``lines`` lines of the kernel log ('' when there is none)."""
    return "\n".join(log_lines(api, run)[-lines:])


def parse_log(text: str) -> str:
    """Kaggle logs are JSON lists of {stream_name, time, data}; plain text passes through."""
    try:
        events = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text or ""
    if not isinstance(events, list):
        return text
    return "".join(str(e.get("data", "")) for e in events if isinstance(e, dict))


def cancel(api: Any, run: KernelRun) -> str:
    """Ask Kaggle to stop the session; returns what happened (never raises)."""
    import requests
    from kagglesdk.kernels.types.kernels_api_service import ApiCancelKernelSessionRequest

    request = ApiCancelKernelSessionRequest()
    request.kernel_session_id = run.kernel_id
    try:
        with api.build_kaggle_client() as kaggle:
            response = kaggle.kernels.kernels_api_client.cancel_kernel_session(request)
    except requests.RequestException as exc:
        return f"cancel failed ({exc}); Kaggle stops the session at its session timeout; or stop it at {run.url}"
    return f"cancel refused: {response.error_message}" if response.error_message else "cancel sent"


def wait_for_kernel(
    api: Any, run: KernelRun, config: KaggleConfig, say: Say, sleep: Callable[[float], None]
) -> tuple[str, str]:
    """Poll the status with backoff until it is terminal or the overall timeout passes (then
    cancel and raise). Returns (status, failure message)."""
    import requests

    deadline = time.monotonic() + 60 * config.timeout_minutes
    wait, last, failures, shown = config.poll_seconds, None, 0, 0
    while True:
        try:
            with quiet_stdout():
                response = api.kernels_status(run.versioned)
            status, message, failures = response.status.name.lower(), response.failure_message or "", 0
        except requests.RequestException as exc:
            if not _transient(exc):
                raise _refusal(exc, f"status of kernel {run.ref}") from exc
            failures += 1
            if failures > 5:
                raise SentinelError(f"lost contact with Kaggle while polling {run.ref}: {exc}") from exc
            status, message = last or "unknown", ""
        if status != last:
            say(f"kernel {run.versioned}: {status}")
            last = status
        if config.follow_log and status in ("running", "complete"):
            lines = log_lines(api, run)
            for line in lines[shown:]:
                if line.strip():
                    say(f"  | {line.rstrip()}")
            shown = max(shown, len(lines))
        if status in TERMINAL:
            return status, message
        if time.monotonic() > deadline:
            outcome = cancel(api, run)
            tail = log_tail(api, run, config.log_tail_lines)
            raise KaggleRunError(
                f"kernel {run.versioned} did not finish within {config.timeout_minutes} min (last status {status}); "
                f"{outcome}; nothing registered",
                tail,
            )
        sleep(min(wait, max(0.0, deadline - time.monotonic()) + 0.01))
        wait = min(wait * 1.5, config.max_poll_seconds)


def fetch_outputs(api: Any, run: KernelRun, dest: Path, fingerprint: str) -> dict[str, Any]:
    """Download the kernel's outputs into ``dest`` and verify them against its run record: the
    model file present, every checksum matching, trained on exactly the chips we sent."""
    import requests

    dest.mkdir(parents=True, exist_ok=True)
    try:
        with quiet_stdout():
            api.kernels_output(run.versioned, str(dest), force=True, quiet=True)
    except (requests.RequestException, ValueError) as exc:
        raise SentinelError(f"downloading the outputs of {run.versioned} failed: {exc}") from exc
    record_path = dest / RUN_RECORD
    if not record_path.is_file():
        raise SentinelError(f"kernel {run.versioned} output has no {RUN_RECORD}; rejected, nothing registered")
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as exc:
        raise SentinelError(f"kernel {run.versioned}: {RUN_RECORD} is not JSON ({exc}); rejected") from exc
    if record.get("schema") != RUN_SCHEMA:
        raise SentinelError(f"kernel {run.versioned}: {RUN_RECORD} has schema {record.get('schema')!r}; rejected")
    if not (dest / MODEL_FILE).is_file() or MODEL_FILE not in record.get("outputs", {}):
        raise SentinelError(
            f"kernel {run.versioned} output lacks the model file {MODEL_FILE}; rejected, nothing registered"
        )
    for name, meta in record["outputs"].items():
        path = dest / name
        if not path.is_file():
            raise SentinelError(f"kernel {run.versioned}: output {name} listed in {RUN_RECORD} was not downloaded")
        if sha256_file(path) != meta["sha256"]:
            raise SentinelError(f"kernel {run.versioned}: checksum of {name} does not match {RUN_RECORD}; rejected")
    if record.get("fingerprint") != fingerprint:
        raise SentinelError(
            f"kernel {run.versioned} trained on data with fingerprint {record.get('fingerprint')}, "
            f"not the uploaded chips ({fingerprint}); rejected"
        )
    return record
