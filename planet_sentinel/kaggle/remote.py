"""Talking to Kaggle through the official client: dataset upload, kernel push, poll, cancel, logs,
output download with checksum verification.

Every call goes through ``kaggle.api.KaggleApi`` (see ``client.connect``); nothing here builds
HTTP requests by hand except the session cancel, which KaggleApi does not wrap, so it is sent
through the same client's ``kernels_api_client.cancel_kernel_session`` - and only with a kernel
*session* id, which no Kaggle answer gives us today: a timed-out run stops itself at its
deadline instead (``planet_sentinel.kaggle.deadline``).

What a user cannot see, Kaggle answers with 403 as well as 404: the official client treats any
HTTP error of ``dataset_status`` as "no such dataset" (Kaggle/kaggle-cli a430f0b,
``src/kaggle/api/kaggle_api_extended.py`` ``dataset_create_new``: ``except HTTPError: found =
False``), kagglehub treats 403 like 404 for a model that is not there (Kaggle/kagglehub 5584faf,
``src/kagglehub/models_helpers.py`` ``create_model_if_missing``), and a dataset whose first
version is still being processed answers 403 (Kaggle/kagglehub 8b1fae8, "Add wait logic for
dataset_upload integration tests"). The kernels calls turn 401/403 into ``ValueError`` ("the most
likely cause is a wrong kernel slug", ``kernels_status``/``kernels_logs``/``kernels_output``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planet_sentinel.artefacts import ArtefactError
from planet_sentinel.errors import SentinelError
from planet_sentinel.kaggle.client import quiet_stdout
from planet_sentinel.kaggle.deadline import render_script, utc
from planet_sentinel.kaggle.entry import MODEL_FILE, RUN_RECORD, KaggleRunRecord
from planet_sentinel.kaggle.packing import DatasetBundle, sha256_file
from planet_sentinel.kaggle.settings import KaggleConfig

log = logging.getLogger(__name__)
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
    kernel_id: int  # the kernel's id (SaveKernel's kernelId): NOT a session id, never sent to CancelKernelSession
    url: str
    deadline: float = 0.0  # UTC seconds: when the kernel stops itself (if self_stopping)
    self_stopping: bool = False  # the pushed script carries the deadline
    session_timeout_s: int = 0  # Kaggle's own limit sent at push (the backstop)
    session_id: int | None = None  # a kernel session id, when one is known (no Kaggle answer gives one)

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


HIDDEN = (403, 404)  # what Kaggle answers for a resource the caller cannot see (or that is not there)


def dataset_lookup(api: Any, ref: str) -> int | None:
    """None when ``ref`` is visible to us, else the HTTP status Kaggle answered (403 or 404).

    401 (wrong credentials) and other failures raise a SentinelError."""
    import requests

    try:
        with quiet_stdout():
            api.dataset_status(ref)
        return None
    except requests.HTTPError as exc:
        code = _status_code(exc)
        if code in HIDDEN:
            return code
        raise _refusal(exc, f"looking up dataset {ref}") from exc
    except requests.RequestException as exc:
        raise SentinelError(f"looking up dataset {ref} failed: {exc}") from exc


def dataset_exists(api: Any, ref: str) -> bool:
    """Whether we can see ``ref``; 403 counts as absent, like the official client does."""
    return dataset_lookup(api, ref) is None


def push_dataset(
    api: Any, bundle: DatasetBundle, owner: str, config: KaggleConfig, sleep: Callable[[float], None]
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
    hidden = dataset_lookup(api, ref)
    exists = hidden is None
    log.info(f"{'adding a version to' if exists else 'creating'} Kaggle dataset {ref} ({bundle.size / 1024**2:.1f} MB)")
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
            log.info(f"upload attempt {attempt} failed ({exc}); retrying in {wait:.0f} s")
            sleep(wait)
            continue
        error = getattr(response, "error", None)
        if error:
            hint = (
                f" (its status look-up answered HTTP {hidden}: Kaggle answers so for a dataset whose first version "
                "it is still processing - retry in a few minutes - and for one of another account - choose another "
                "dataset_slug)"
                if hidden == 403
                else ""
            )
            raise SentinelError(f"Kaggle refused dataset {ref}: {error}{hint}")
        break
    wait_dataset_ready(api, ref, config, sleep)
    return ref


def wait_dataset_ready(api: Any, ref: str, config: KaggleConfig, sleep: Callable[[float], None]) -> None:
    """Poll until Kaggle has processed the upload. A dataset just created can answer 403 (or
    404) until its first version is processed, and a poll can fail in transit: both mean "not
    ready yet"; 401 (credentials) stops at once."""
    import requests

    deadline = time.monotonic() + 60 * config.dataset_ready_minutes
    wait = config.poll_seconds
    while True:
        try:
            with quiet_stdout():
                status = str(api.dataset_status(ref)).lower()
        except requests.HTTPError as exc:
            code = _status_code(exc)
            if code not in HIDDEN and not _transient(exc):
                raise _refusal(exc, f"status of dataset {ref}") from exc
            status = f"not visible yet (HTTP {code})"
        except requests.RequestException as exc:
            status = f"not reachable ({exc.__class__.__name__})"
        if status == "ready":
            log.info(f"dataset {ref} is ready")
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


def push_kernel(
    api: Any, kernel_dir: Path, meta: dict[str, Any], work: Path, timeout_s: float, grace_s: float = 600
) -> KernelRun:
    """Push the kernel script, with its deadline (now + ``timeout_s``) written into it, next to the
    rendered metadata (Kaggle starts it at once).

    ``timeout_s + grace_s`` (capped at Kaggle's 12 h) is sent as the session timeout: Kaggle's
    own stop for a kernel that does not stop itself (``kernels_push(timeout=...)`` becomes
    ``ApiSaveKernelRequest.session_timeout_seconds`` in the official client)."""
    import requests

    folder = work / "kernel"
    folder.mkdir(parents=True, exist_ok=True)
    code = kernel_dir / meta["code_file"]
    if not code.is_file():
        raise SentinelError(f"{code}: kernel script not found")
    deadline = time.time() + timeout_s
    text, self_stopping = render_script(code.read_text(), deadline)
    (folder / code.name).write_text(text)
    (folder / "kernel-metadata.json").write_text(json.dumps(meta, indent=1))
    session_timeout = min(math.ceil(timeout_s + grace_s), MAX_SESSION_SECONDS)
    try:
        with quiet_stdout():
            response = api.kernels_push(str(folder), timeout=str(session_timeout))
    except ValueError as exc:
        raise SentinelError(f"kernel metadata rejected: {exc}") from exc
    except requests.RequestException as exc:
        raise _refusal(exc, f"pushing kernel {meta['id']}") from exc
    if response.error:
        raise SentinelError(f"Kaggle refused kernel {meta['id']}: {response.error}")
    if response.invalid_dataset_sources:
        raise SentinelError(f"Kaggle does not know the dataset(s) {response.invalid_dataset_sources}")
    return KernelRun(
        meta["id"],
        response.version_number,
        int(response.kernel_id or 0),
        response.url,
        deadline=deadline,
        self_stopping=self_stopping,
        session_timeout_s=session_timeout,
    )


def check_kernel_ref(kernel: str) -> str:
    """``kernel`` if it reads owner/slug or owner/slug/version, else a SentinelError (so a
    ValueError of the client afterwards can only be its 401/403 one)."""
    from planet_sentinel.kaggle.settings import OWNER, SLUG

    parts = (kernel or "").split("/")
    version_ok = len(parts) == 2 or (len(parts) == 3 and parts[2].isdigit())
    if len(parts) not in (2, 3) or not OWNER.match(parts[0]) or not SLUG.match(parts[1]) or not version_ok:
        raise SentinelError(f"kernel {kernel!r}: expected owner/slug or owner/slug/version, e.g. alice/my-kernel/3")
    return kernel


def _kernel_refused(exc: ValueError, what: str) -> SentinelError:
    # The official client raises ValueError for 401/403 on the kernels calls (its message
    # talks about benchmark slugs); say what it means for us.
    return SentinelError(
        f"Kaggle refused {what} (HTTP 401/403): a wrong kernel slug, a private kernel of another account, or "
        f"credentials without access; check the slug and KAGGLE_USERNAME/KAGGLE_KEY ({exc})"
    )


def kernel_status(api: Any, kernel: str) -> tuple[str, str]:
    """(status, failure message) of ``kernel`` (owner/slug[/version]); a SentinelError when
    Kaggle refuses. Transient failures (5xx, dropped connections) raise requests' exceptions."""
    import requests

    check_kernel_ref(kernel)
    try:
        with quiet_stdout():
            response = api.kernels_status(kernel)
    except ValueError as exc:
        raise _kernel_refused(exc, f"the status of kernel {kernel}") from exc
    except requests.HTTPError as exc:
        if _transient(exc):
            raise
        raise _refusal(exc, f"status of kernel {kernel}") from exc
    return response.status.name.lower(), response.failure_message or ""


def kernel_log(api: Any, kernel: str) -> str:
    """The log text of ``kernel`` (owner/slug[/version]); a SentinelError when Kaggle refuses."""
    import requests

    check_kernel_ref(kernel)
    try:
        with quiet_stdout():
            return parse_log(api.kernels_logs(kernel))
    except ValueError as exc:
        raise _kernel_refused(exc, f"the log of kernel {kernel}") from exc
    except requests.RequestException as exc:
        raise _refusal(exc, f"log of kernel {kernel}") from exc


def log_lines(api: Any, run: KernelRun) -> list[str]:
    """The kernel log so far, as lines ([] when Kaggle has none yet or cannot be reached: the log only
    decorates another message). :func:`kernel_log` turns every refusal and transport error into a
    SentinelError."""
    try:
        return kernel_log(api, run.versioned).splitlines()
    except SentinelError:
        return []


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


def stopping(run: KernelRun) -> str:
    """What stops the session when we cannot: the kernel's deadline and Kaggle's session timeout."""
    if not run.self_stopping:
        own = "its script does not stop itself; "
    elif time.time() < run.deadline:
        own = f"the kernel stops itself at its deadline {utc(run.deadline)}; "
    else:
        own = f"it did not stop itself at its deadline {utc(run.deadline)}; "
    return f"{own}Kaggle ends the session at its session timeout ({run.session_timeout_s} s); or stop it at {run.url}"


def cancel(api: Any, run: KernelRun) -> str:
    """Ask Kaggle to stop the session when we know its session id; returns what happened
    (never raises). CancelKernelSession takes a kernel *session* id
    (``ApiCancelKernelSessionRequest.kernel_session_id``); SaveKernel's kernel id is another
    number, so without a session id nothing is sent."""
    import requests
    from kagglesdk.kernels.types.kernels_api_service import ApiCancelKernelSessionRequest

    if run.session_id is None:
        return f"no kernel session id to cancel (Kaggle's push answer has none); {stopping(run)}"
    request = ApiCancelKernelSessionRequest()
    request.kernel_session_id = run.session_id
    try:
        with api.build_kaggle_client() as kaggle:
            response = kaggle.kernels.kernels_api_client.cancel_kernel_session(request)
    except requests.RequestException as exc:
        return f"cancel of session {run.session_id} failed ({exc}); {stopping(run)}"
    if response.error_message:
        return f"cancel of session {run.session_id} refused: {response.error_message}; {stopping(run)}"
    return f"cancel of session {run.session_id} sent"


def wait_for_kernel(api: Any, run: KernelRun, config: KaggleConfig, sleep: Callable[[float], None]) -> tuple[str, str]:
    """Poll the status with backoff until it is terminal, or until ``stop_grace_minutes`` after
    the kernel's deadline (then cancel if we can, and raise). Returns (status, failure message).

    By then a kernel that carries its deadline has stopped itself (ERROR, exit 124, log tail
    saying so); one that did not is ended by Kaggle's session timeout."""
    import requests

    give_up = time.monotonic() + (run.deadline - time.time()) + 60 * config.stop_grace_minutes
    wait, last, failures, shown = config.poll_seconds, None, 0, 0
    while True:
        try:
            status, message = kernel_status(api, run.versioned)
            failures = 0
        except requests.RequestException as exc:
            failures += 1
            if failures > 5:
                raise SentinelError(f"lost contact with Kaggle while polling {run.ref}: {exc}") from exc
            status, message = last or "unknown", ""
        if status != last:
            log.info(f"kernel {run.versioned}: {status}")
            last = status
        if config.follow_log and status in ("running", "complete"):
            lines = log_lines(api, run)
            for line in lines[shown:]:
                if line.strip():
                    log.info(f"  | {line.rstrip()}")
            shown = max(shown, len(lines))
        if status in TERMINAL:
            return status, message
        if time.monotonic() > give_up:
            outcome = cancel(api, run)
            tail = log_tail(api, run, config.log_tail_lines)
            raise KaggleRunError(
                f"kernel {run.versioned} still {status} {config.stop_grace_minutes} min after its deadline "
                f"{utc(run.deadline)} (timeout_minutes {config.timeout_minutes}); {outcome}; nothing registered",
                tail,
            )
        sleep(min(wait, max(0.0, give_up - time.monotonic()) + 0.01))
        wait = min(wait * 1.5, config.max_poll_seconds)


def fetch_outputs(api: Any, run: KernelRun, dest: Path, fingerprint: str) -> KaggleRunRecord:
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
        record = KaggleRunRecord.load(record_path)
    except ArtefactError as exc:
        raise SentinelError(f"kernel {run.versioned}: {exc}; rejected, nothing registered") from exc
    if record.status != "complete":
        raise SentinelError(
            f"kernel {run.versioned}: {RUN_RECORD} has status {record.status!r} "
            f"(after {record.epochs_completed} epoch(s)); rejected, nothing registered"
        )
    if not (dest / MODEL_FILE).is_file() or MODEL_FILE not in record.outputs:
        raise SentinelError(
            f"kernel {run.versioned} output lacks the model file {MODEL_FILE}; rejected, nothing registered"
        )
    for name, meta in record.outputs.items():
        path = dest / name
        if not path.is_file():
            raise SentinelError(f"kernel {run.versioned}: output {name} listed in {RUN_RECORD} was not downloaded")
        if sha256_file(path) != meta.sha256:
            raise SentinelError(f"kernel {run.versioned}: checksum of {name} does not match {RUN_RECORD}; rejected")
    if record.fingerprint != fingerprint:
        raise SentinelError(
            f"kernel {run.versioned} trained on data with fingerprint {record.fingerprint}, "
            f"not the uploaded chips ({fingerprint}); rejected"
        )
    return record
