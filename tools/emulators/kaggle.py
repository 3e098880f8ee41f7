"""A local Kaggle API server for tests and debugging: the routes the kaggle 2.x client uses.

Wire protocol (as kagglesdk sends it): ``POST {base}/api/v1/{service}/{Method}`` with camelCase
JSON bodies and HTTP Basic auth (username + API key) or a Bearer API token; errors are JSON ``{"code", "message"}``
with the HTTP status. Blob uploads go to the ``createUrl`` handed out by StartBlobUpload, which
points back at this server (``PUT /upload/<token>``, with the resumable-upload probe
``Content-Range: bytes */N`` answered 308 or 200). Kernel outputs are served from
``GET /output/<session>/<file>`` (the signed URLs of the real service).

Pushed kernels really run: the script is executed with the emulator's Python in a subprocess,
on CPU (CUDA hidden), with the attached datasets' files under a fake ``/kaggle/input/<slug>``
and a fake ``/kaggle/working`` (SENTINEL_KAGGLE_INPUT / SENTINEL_KAGGLE_WORKING), and its real
outputs and log are served back. Like Kaggle, uploaded ``.zip`` archives are unpacked.

Fault injection: ``fail_uploads`` (answer that many blob PUTs with ``fail_status``),
``hang_kernels`` (kernels start a process that never finishes; only a cancel or the session
timeout stops it), ``forbid_hidden`` (answer 403 "Permission ... was denied", not 404, for a
dataset, kernel or session the caller cannot see, as Kaggle does: the official client's kernels
calls say 401/403 "most likely" means a wrong slug, Kaggle/kaggle-cli a430f0b
``src/kaggle/api/kaggle_api_extended.py`` ``kernels_status``), ``processing_polls`` (a new
dataset answers 403 to that many status polls, and refuses a new version with 403, until its
first version is processed: Kaggle/kagglehub 8b1fae8, "you get a 403 if you try uploading a new
version while the FIRST version is still being processed"). That commit only vouches for the
new-version refusal; the 403 to status polls is our assumption (its wait loop polls GetDataset
and retries on any exception, and kagglesdk's ``ApiGetDatasetStatusResponse.status`` is a
``DatabundleVersionStatus`` with in-progress values such as ``BLOBS_RECEIVED``, which Kaggle
might answer with 200 instead; the emulator answers only ``READY``).

CancelKernelSession of an unknown session answers 404/403 here; kagglesdk's
``ApiCancelKernelSessionResponse`` also has an ``error_message`` field (used here for a session
already finished), and which of the two Kaggle uses for an unknown id is not documented.

CancelKernelSession takes a kernel *session* id only (kagglesdk
``ApiCancelKernelSessionRequest.kernel_session_id``); any other number, a kernel id included, is
refused like an unknown resource. Sessions and kernels draw their ids from one counter, so a
kernel id is never a session id here. Every JSON reply is kept in ``replies`` (path, status,
body) so tests can parse it with kagglesdk's own response types.
"""

from __future__ import annotations

import base64
import email.utils
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tools.emulators.routing import HttpError, Request, Response, Router
from tools.emulators.server import EmulatorServer

DATASET_STATUSES = ("READY",)


class ApiError(HttpError):
    """Kaggle's error answer: ``{"code", "message"}`` with the HTTP status."""

    @property
    def code(self) -> int:
        return self.status

    def payload(self) -> dict[str, Any]:
        return {"code": self.status, "message": self.message}


@dataclass
class Session:
    id: int
    kernel: str  # owner/slug
    version: int
    directory: Path
    timeout_s: float | None
    status: str = "QUEUED"
    failure: str | None = None
    process: subprocess.Popen[bytes] | None = None
    started: float = field(default_factory=time.time)

    @property
    def log_path(self) -> Path:
        return self.directory / "log.txt"

    @property
    def working(self) -> Path:
        return self.directory / "working"


@dataclass
class Kernel:
    id: int
    ref: str
    sessions: list[Session] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


class KaggleEmulator(EmulatorServer):
    """The server and its state; use as a context manager or call start()/stop()."""

    METHODS = ("GET", "POST", "PUT")

    def __init__(
        self,
        root: str | Path,
        username: str = "sentinel",
        key: str = "emulator-key",
        token: str | None = "emulator-token",
        host: str = "127.0.0.1",
        port: int = 0,
        fail_uploads: int = 0,
        fail_status: int = 503,
        hang_kernels: bool = False,
        forbid_hidden: bool = False,
        processing_polls: int = 0,
        unpack_archives: bool = True,
        python: str = sys.executable,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.username, self.key, self.token = username, key, token
        self.fail_uploads, self.fail_status = fail_uploads, fail_status
        self.hang_kernels, self.unpack_archives, self.python = hang_kernels, unpack_archives, python
        self.forbid_hidden, self.processing_polls = forbid_hidden, processing_polls
        self.processing: dict[str, int] = {}  # dataset ref -> status polls left before its first version is ready
        self.lock = threading.RLock()
        self.ids = itertools.count(1)
        self.blobs: dict[str, dict[str, Any]] = {}
        self.datasets: dict[str, list[Path]] = {}
        self.kernels: dict[str, Kernel] = {}
        self.sessions: dict[int, Session] = {}
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status) for tests
        self.cancels: list[int] = []
        self.replies: list[tuple[str, int, Any]] = []  # (path, status, JSON body) for schema tests
        self.listen(host, port)

    def stop(self) -> None:
        super().stop()
        with self.lock:
            for session in self.sessions.values():
                if session.process is not None and session.process.poll() is None:
                    session.process.kill()
                    session.process.wait()

    # ------------------------------------------------------------------ HTTP, auth and dispatch

    def respond(self, request: Request) -> Response:
        match = ROUTES.resolve(request.method, request.path)
        if match is None or match.handler is None:
            if request.method == "POST":
                raise ApiError(404, f"no route {request.target}")
            return Response(404)
        return match.handler(self, request, **match.params)

    def failure(self, request: Request, exc: Exception) -> Response:
        return ApiError(500, f"emulator failure: {type(exc).__name__}: {exc}").response()

    def recorded(self, request: Request, response: Response) -> None:
        """``calls`` gets every exchange, ``replies`` every JSON answer (log streams excepted)."""
        self.calls.append((request.method, request.target, response.status))
        if response.data is not None:
            self.replies.append((request.target, response.status, response.data))

    def check_auth(self, header: str | None) -> None:
        if header and header.startswith("Bearer ") and self.token:
            if header[7:] != self.token:
                raise ApiError(401, "Unauthenticated: invalid or expired access token")
            return
        if not header or not header.startswith("Basic "):
            raise ApiError(401, "Unauthenticated: send your username and API key")
        try:
            user, _, key = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError as exc:
            raise ApiError(401, "malformed Authorization header") from exc
        if (user, key) != (self.username, self.key):
            raise ApiError(401, "Unauthenticated: wrong username or key")

    def hidden(self, what: str, permission: str | None = None) -> ApiError:
        """Not there, or not ours: 404, or 403 in ``forbid_hidden`` mode (Kaggle's answer). The
        wording is Kaggle's as quoted by the official client ("Permission 'kernels.get' was
        denied") and its issues ("403 - Forbidden - Permission 'datasets.update' was denied",
        Kaggle/kaggle-cli#642); where the permission's name is not known, none is made up."""
        if self.forbid_hidden:
            message = f"Permission '{permission}' was denied" if permission else f"{what}: permission denied"
            return ApiError(403, message)
        return ApiError(404, f"{what} not found")

    def rpc(self, service: str, method: str, body: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(
            self, f"_{service.split('.')[0]}_{method}", None
        )
        if handler is None:
            raise ApiError(404, f"{service}/{method} is not emulated")
        return handler(body)

    # ------------------------------------------------------------------ security

    def _security_IntrospectToken(self, body: dict[str, Any]) -> dict[str, Any]:
        active = bool(self.token) and body.get("token") == self.token
        return {"active": active, "username": self.username if active else ""}

    # ------------------------------------------------------------------ blobs

    def _blobs_StartBlobUpload(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name") or ""
        if not name or "/" in name:
            raise ApiError(400, f"invalid blob name {name!r}")
        token = uuid.uuid4().hex
        with self.lock:
            self.blobs[token] = {
                "name": name,
                "length": int(body.get("contentLength") or 0),
                "path": self.root / "blobs" / token,
                "complete": False,
            }
        return {"token": token, "createUrl": f"{self.url}/upload/{token}"}

    def upload(self, token: str, content_range: str, data: bytes) -> tuple[int, dict[str, str]]:
        blob = self.blobs.get(token)
        if blob is None:
            return 404, {}
        if content_range.startswith("bytes */"):  # resumable-upload status probe
            return (200 if blob["complete"] else 308), {}
        with self.lock:
            failing = self.fail_uploads > 0
            if failing:
                self.fail_uploads -= 1
        if failing:
            return self.fail_status, {}
        if len(data) != blob["length"]:
            return 400, {}
        blob["path"].parent.mkdir(parents=True, exist_ok=True)
        blob["path"].write_bytes(data)
        blob["complete"] = True
        return 200, {}

    # ------------------------------------------------------------------ datasets

    def _dataset_ref(self, owner: str, slug: str) -> str:
        if not owner or not slug:
            raise ApiError(400, "ownerSlug and datasetSlug are required")
        return f"{owner}/{slug}"

    def _processed(self, ref: str, permission: str, poll: bool = False) -> None:
        """Refuse a dataset that does not exist (:meth:`hidden`) or is still being processed
        (403 naming ``permission``); a status ``poll`` counts one of the processing polls down.
        Called with ``self.lock`` held."""
        if ref not in self.datasets:
            raise self.hidden(f"dataset {ref}", permission)
        if self.processing.get(ref, 0) > 0:
            if poll:
                self.processing[ref] -= 1
            raise ApiError(403, f"Permission '{permission}' was denied")

    def _datasets_GetDatasetStatus(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = self._dataset_ref(body.get("ownerSlug", ""), body.get("datasetSlug", ""))
        with self.lock:
            self._processed(ref, "datasets.get", poll=True)
        return {"status": "READY"}

    def _datasets_GetDataset(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = self._dataset_ref(body.get("ownerSlug", ""), body.get("datasetSlug", ""))
        if ref not in self.datasets or self.processing.get(ref, 0) > 0:
            raise self.hidden(f"dataset {ref}", "datasets.get")
        return {"ref": ref, "currentVersionNumber": len(self.datasets[ref])}

    def _datasets_CreateDataset(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = self._dataset_ref(body.get("ownerSlug", ""), body.get("slug", ""))
        if body.get("ownerSlug") != self.username:
            raise ApiError(403, f"{self.username} cannot create datasets for {body.get('ownerSlug')}")
        with self.lock:
            if ref in self.datasets:
                return {"ref": "", "url": "", "status": "error", "error": f"dataset {ref} already exists"}
            reply = self._new_version(ref, body.get("files") or [])
            if reply["status"] == "ok" and self.processing_polls:
                self.processing[ref] = self.processing_polls
            return reply

    def _datasets_CreateDatasetVersion(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = self._dataset_ref(body.get("ownerSlug", ""), body.get("datasetSlug", ""))
        with self.lock:
            self._processed(ref, "datasets.update")
            return self._new_version(ref, (body.get("body") or {}).get("files") or [])

    def _new_version(self, ref: str, files: list[dict[str, Any]]) -> dict[str, Any]:
        if not files:
            return {"ref": "", "url": "", "status": "error", "error": "a dataset version needs at least one file"}
        blobs = []
        for item in files:
            blob = self.blobs.get(item.get("token", ""))
            if blob is None or not blob["complete"]:
                return {"ref": "", "url": "", "status": "error", "error": f"unknown or incomplete blob {item}"}
            blobs.append(blob)
        version = len(self.datasets.get(ref, [])) + 1
        target = self.root / "datasets" / ref / f"v{version}"
        target.mkdir(parents=True)
        for blob in blobs:
            if self.unpack_archives and blob["name"].endswith(".zip"):
                with zipfile.ZipFile(blob["path"]) as zf:
                    zf.extractall(target / blob["name"][: -len(".zip")])
            else:
                shutil.copyfile(blob["path"], target / blob["name"])
        self.datasets.setdefault(ref, []).append(target)
        return {"ref": ref, "url": f"{self.url}/{ref}", "status": "ok", "error": ""}

    # ------------------------------------------------------------------ kernels

    def _kernels_SaveKernel(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = body.get("slug") or ""
        if not re.fullmatch(r"[A-Za-z0-9_-]+/[a-z0-9-]{5,50}", ref):
            raise ApiError(400, f"invalid kernel slug {ref!r}")
        if ref.split("/")[0] != self.username:
            raise ApiError(403, f"{self.username} cannot push kernels as {ref.split('/')[0]}")
        if body.get("language") != "python" or body.get("kernelType") != "script":
            raise ApiError(400, "the emulator runs python scripts only")
        if not body.get("text"):
            raise ApiError(400, "kernel text is empty")
        sources = body.get("datasetDataSources") or []
        invalid = [s for s in sources if s.split("/v")[0] not in self.datasets]
        if invalid:
            return {
                "ref": "",
                "url": "",
                "error": f"invalid dataset sources {invalid}",
                "invalidDatasetSources": invalid,
            }
        with self.lock:
            kernel = self.kernels.get(ref)
            if kernel is None:
                kernel = self.kernels[ref] = Kernel(next(self.ids), ref)
            kernel.metadata = {k: v for k, v in body.items() if k != "text"}
            session = Session(
                next(self.ids),
                ref,
                len(kernel.sessions) + 1,
                self.root / "sessions" / f"s{len(self.sessions) + 1}",
                body.get("sessionTimeoutSeconds"),
            )
            kernel.sessions.append(session)
            self.sessions[session.id] = session
        self._launch(session, body["text"], [self.datasets[s.split("/v")[0]][-1] for s in sources])
        return {
            "ref": f"/code/{ref}",
            "url": f"{self.url}/code/{ref}",
            "versionNumber": session.version,
            "kernelId": kernel.id,
            "error": "",
        }

    def _launch(self, session: Session, text: str, datasets: list[Path]) -> None:
        d = session.directory
        for sub in ("input", "working", "scratch", "src"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for dataset in datasets:
            _link_tree(dataset, d / "input" / dataset.parent.name)
        script = d / "src" / "script.py"
        script.write_text(text)
        env = {k: v for k, v in os.environ.items() if k not in ("KAGGLE_USERNAME", "KAGGLE_KEY")}
        env.update(
            SENTINEL_KAGGLE_INPUT=str(d / "input"),
            SENTINEL_KAGGLE_WORKING=str(session.working),
            SENTINEL_KAGGLE_SCRATCH=str(d / "scratch"),
            KAGGLE_KERNEL_RUN_TYPE="Batch",
            CUDA_VISIBLE_DEVICES="",
            PYTHONUNBUFFERED="1",
        )
        command = (
            [self.python, "-c", "import time; time.sleep(86400)"] if self.hang_kernels else [self.python, str(script)]
        )
        log = open(session.log_path, "wb")  # noqa: SIM115 - closed by the watcher thread
        session.process = subprocess.Popen(command, cwd=session.working, env=env, stdout=log, stderr=subprocess.STDOUT)
        session.status = "RUNNING"
        threading.Thread(target=self._watch, args=(session, log), daemon=True).start()

    def _watch(self, session: Session, log: IO[bytes]) -> None:
        assert session.process is not None
        try:
            code = session.process.wait(timeout=session.timeout_s)
        except subprocess.TimeoutExpired:
            session.process.kill()
            code = session.process.wait()
            session.failure = f"session exceeded its timeout of {session.timeout_s} s"
        log.close()
        with self.lock:
            if session.status in ("CANCEL_REQUESTED", "CANCEL_ACKNOWLEDGED"):
                session.status = "CANCEL_ACKNOWLEDGED"
            elif code == 0 and session.failure is None:
                session.status = "COMPLETE"
            else:
                session.status = "ERROR"
                session.failure = session.failure or f"the script exited with code {code}"

    def _session(self, body: dict[str, Any]) -> Session:
        ref = f"{body.get('userName', '')}/{body.get('kernelSlug', '')}"
        kernel = self.kernels.get(ref)
        if kernel is None or not kernel.sessions:
            raise self.hidden(f"kernel {ref}", "kernels.get")
        label = body.get("versionLabel")
        if not label:
            return kernel.sessions[-1]
        match = re.fullmatch(r"v(\d+)", label)
        if not match or not 1 <= int(match.group(1)) <= len(kernel.sessions):
            raise ApiError(404, f"kernel {ref} has no version {label}")
        return kernel.sessions[int(match.group(1)) - 1]

    def _kernels_GetKernelSessionStatus(self, body: dict[str, Any]) -> dict[str, Any]:
        session = self._session(body)
        reply: dict[str, Any] = {"status": session.status}
        if session.failure:
            reply["failureMessage"] = session.failure
        return reply

    def _kernels_ListKernelSessionOutput(self, body: dict[str, Any]) -> dict[str, Any]:
        session = self._session(body)
        files = []
        if session.status in ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED"):
            for path in sorted(p for p in session.working.rglob("*") if p.is_file()):
                name = path.relative_to(session.working).as_posix()
                files.append({"url": f"{self.url}/output/{session.id}/{name}", "fileName": name})
        return {"files": files, "log": self.log_json(session)}

    def _kernels_CancelKernelSession(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = int(body.get("kernelSessionId") or 0)
        with self.lock:
            self.cancels.append(wanted)
            session = self.sessions.get(wanted)
            if session is None:  # a kernel id, or any other number, is not a session: no fallback
                raise self.hidden(f"kernel session {wanted}")
            if session.status in ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED"):
                return {"errorMessage": f"session {session.id} already finished ({session.status})"}
            session.status = "CANCEL_REQUESTED"
            if session.process is not None:
                session.process.terminate()
        return {}

    def log_json(self, session: Session) -> str:
        """The log as Kaggle stores it: a JSON list of {stream_name, time, data} events."""
        text = session.log_path.read_text(errors="replace") if session.log_path.exists() else ""
        elapsed = round(time.time() - session.started, 3)
        return json.dumps([{"stream_name": "stdout", "time": elapsed, "data": line} for line in text.splitlines(True)])

    def output_file(self, session_id: int, name: str) -> Path | None:
        session = self.sessions.get(session_id)
        if session is None:
            return None
        path = (session.working / name).resolve()
        if session.working.resolve() not in path.parents or not path.is_file():
            return None
        return path


def _link_tree(source: Path, target: Path) -> None:
    """Mount a dataset version read-only-ish: hard links where possible, copies otherwise."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, dirs_exist_ok=True)


# ---------------------------------------------------------------------- HTTP routes


def _rpc(em: KaggleEmulator, request: Request, service: str, method: str) -> Response:
    em.check_auth(request.header("Authorization") or None)
    try:
        body = json.loads(request.body or b"{}")
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict):  # kagglesdk sends request objects; anything else is a client error
        raise ApiError(400, f"body is not a JSON object: {type(body).__name__}")
    return Response.json(200, em.rpc(service, method, body))


def _upload(em: KaggleEmulator, request: Request, token: str) -> Response:
    code, headers = em.upload(token, request.header("Content-Range"), request.body)
    return Response(code, headers=headers)


def _output(em: KaggleEmulator, request: Request, session: str, name: str) -> Response:
    path = em.output_file(int(session), name)
    if path is None:
        return Response(404)
    modified = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
    return Response(200, path.read_bytes(), "application/octet-stream", {"Last-Modified": modified})


def _log_stream(em: KaggleEmulator, request: Request, user: str, slug: str) -> Response:
    em.check_auth(request.header("Authorization") or None)
    label = re.search(r"versionLabel=(v\d+)", request.query_string)
    body = {"userName": user, "kernelSlug": slug, **({"versionLabel": label.group(1)} if label else {})}
    return Response(200, em.log_json(em._session(body)).encode())


Endpoint = Callable[..., Response]
ROUTES: Router[Endpoint] = Router()
ROUTES.add(r"/api/v1/kernels/logs/stream/{user}/{slug}", {"GET": _log_stream})
ROUTES.add(r"/api/v1/{service:[\w.]+}/{method:\w+}", {"POST": _rpc})
ROUTES.add(r"/upload/{token:\w+}", {"PUT": _upload})
ROUTES.add(r"/output/{session:\d+}/{name:.+}", {"GET": _output})
