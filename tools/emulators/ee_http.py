"""The HTTP face of the Earth Engine emulator: its routes, its error answers and its request log.

Routes (on the percent-decoded path): the discovery document (``/$discovery/rest?version=v1``),
the OAuth token endpoint (``/token``), the Cloud Storage JSON API's list and media download
(``[/download]/storage/v1/b/{bucket}/o[/{object}]``), the emulator's own record
(``/_emulator/requests``) and the Earth Engine REST API under ``/{version}/projects/{project}/``.
Errors are Google's JSON (:class:`~tools.emulators.ee_errors.EmulatorError`).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tools.emulators import ee_exports
from tools.emulators.ee_discovery import API_VERSION
from tools.emulators.ee_errors import EmulatorError
from tools.emulators.routing import Request, Response, Router

if TYPE_CHECKING:
    from tools.emulators.earthengine import EarthEngineEmulator

TIFF = "image/tiff"


def _authorise(emu: EarthEngineEmulator, request: Request, message: str) -> None:
    if emu.require_auth and request.bearer() not in emu.tokens:
        raise EmulatorError(401, message, "UNAUTHENTICATED")


# ---------------------------------------------------------------------- routes outside the API


def _discovery(emu: EarthEngineEmulator, request: Request) -> Response:
    request.label = "discovery"
    return Response.json(200, emu.discovery(request.query.get("version", [None])[0]))


def _token(emu: EarthEngineEmulator, request: Request) -> Response:
    request.label = "token"
    form = urllib.parse.parse_qs(request.body.decode())
    if "assertion" not in form and "refresh_token" not in form:
        raise EmulatorError(400, "invalid_grant: no assertion")
    token = "emulated-" + uuid.uuid4().hex
    emu.tokens.add(token)
    return Response.json(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})


def _requests(emu: EarthEngineEmulator, request: Request) -> Response:
    request.label = "emulator.requests"
    return Response(200, json.dumps(emu.snapshot(), default=str).encode())


_NO_STORAGE_ACCESS = "Anonymous caller does not have storage.objects.get access."


def _storage_list(emu: EarthEngineEmulator, request: Request, bucket: str) -> Response:
    _authorise(emu, request, _NO_STORAGE_ACCESS)
    request.label = "storage.list"
    return Response.json(200, ee_exports.list_objects(emu, bucket, request.query.get("prefix", [""])[0]))


def _storage_download(emu: EarthEngineEmulator, request: Request, bucket: str, name: str) -> Response:
    _authorise(emu, request, _NO_STORAGE_ACCESS)
    request.label = "storage.download"
    data = emu.buckets.get(bucket, {}).get(name)
    if data is None:
        raise EmulatorError(404, f"No such object: {bucket}/{name}", "NOT_FOUND")
    return Response(200, data, "application/octet-stream")


# ---------------------------------------------------------------------- the Earth Engine REST API


def _api(emu: EarthEngineEmulator, request: Request, version: str, project: str, rest: str) -> Response:
    _authorise(emu, request, "Request had invalid authentication credentials. Expected OAuth 2 access token.")
    if version != API_VERSION:
        # Google also serves v1beta and v1alpha; the emulator answers only the version the client
        # uses by default (ee/_cloud_api_utils.py VERSION), so a client talking to another version
        # is noticed here instead of in production.
        raise EmulatorError(404, f"emulator: API version {version} is not served (only {API_VERSION})", "NOT_FOUND")
    body = _json_object(request.body) if request.method == "POST" else {}
    if emu.keep_bodies and request.method == "POST":
        emu.bodies.append((rest, request.body))
    match = API_ROUTES.resolve(request.method, rest)
    if match is None or match.handler is None:
        raise EmulatorError(404, f"emulator: {request.method} {rest} is not emulated", "NOT_FOUND")
    label, handler = match.handler
    request.label = label
    return handler(emu, project, body, **match.params)


def _json_object(raw: bytes) -> dict[str, Any]:
    """A request message: a JSON object, else Google's 400 INVALID_ARGUMENT "Invalid JSON payload
    received." (as Google APIs answer it, e.g. googlecodelabs/feedback#441 for a syntax error and
    google-wallet/rest-samples#22, "Root element must be a message.", for a non-object)."""
    try:
        body = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EmulatorError(400, f"Invalid JSON payload received. {exc}") from exc
    if not isinstance(body, dict):
        raise EmulatorError(400, 'Invalid JSON payload received. Unknown name "": Root element must be a message.')
    return body


def _algorithms(emu: EarthEngineEmulator, project: str, body: dict[str, Any]) -> Response:
    return Response(200, emu.algorithms())


def _compute_value(emu: EarthEngineEmulator, project: str, body: dict[str, Any]) -> Response:
    return Response.json(200, emu.compute_value(body))


def _compute_pixels(emu: EarthEngineEmulator, project: str, body: dict[str, Any]) -> Response:
    data, info = emu.compute_pixels(body)
    emu.throttle(len(data))
    return Response(200, data, TIFF, info=info)


def _export(emu: EarthEngineEmulator, project: str, body: dict[str, Any]) -> Response:
    op = ee_exports.export_image(emu, project, body)
    return Response(200, json.dumps(op).encode(), info={"operation": op["name"]})


def _operation(emu: EarthEngineEmulator, project: str, body: dict[str, Any], name: str) -> Response:
    return Response.json(200, ee_exports.get_operation(emu, f"projects/{project}/operations/{name}"))


Endpoint = Callable[..., Response]
ROUTES: Router[Endpoint] = Router()
ROUTES.add("/$discovery/rest", {"GET": _discovery})
ROUTES.add("/token", {"POST": _token})
ROUTES.add("/_emulator/requests", {"GET": _requests})
for _prefix in ("", "/download"):
    ROUTES.add(_prefix + "/storage/v1/b/{bucket}/o", {"GET": _storage_list})
    ROUTES.add(_prefix + "/storage/v1/b/{bucket}/o/{name:.+}", {"GET": _storage_download})
ROUTES.add("/{version:v[0-9][^/]*}/projects/{project}/{rest:.+}", {"GET": _api, "POST": _api})

#: The API's methods under ``projects/{project}/``: (name in the request log, handler).
API_ROUTES: Router[tuple[str, Endpoint]] = Router()
API_ROUTES.add("algorithms", {"GET": ("algorithms.list", _algorithms)})
API_ROUTES.add("value:compute", {"POST": ("value.compute", _compute_value)})
API_ROUTES.add("image:computePixels", {"POST": ("computePixels", _compute_pixels)})
API_ROUTES.add("image:export", {"POST": ("image.export", _export)})
API_ROUTES.add("operations/{name:.*}", {"GET": ("operations.get", _operation)})


def respond(emu: EarthEngineEmulator, request: Request) -> Response:
    path = urllib.parse.unquote(request.path)
    match = ROUTES.resolve(request.method, path)
    if match is None or match.handler is None:
        raise EmulatorError(404, f"emulator: no route for {request.method} {path}", "NOT_FOUND")
    return match.handler(emu, request, **match.params)


def log_entry(request: Request, response: Response) -> dict[str, Any]:
    """One line of :attr:`EarthEngineEmulator.log`: verb, decoded path, API method, status, bytes
    (of a successful answer), what the endpoint reported (``info``), the error, seconds spent."""
    entry: dict[str, Any] = {
        "verb": request.method,
        "path": urllib.parse.unquote(request.path),
        "method": request.label,
        "status": response.status,
        "bytes": len(response.body) if response.error is None else 0,
        **response.info,
    }
    if response.error is not None:
        entry["error"] = response.error
    entry["seconds"] = time.perf_counter() - request.received
    return entry
