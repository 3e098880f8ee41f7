"""Every JSON answer of the Kaggle emulator, on every route our code uses, parses through the
kagglesdk response type the real client deserializes it with, with no field that type does not
have, and with the fields the client and our code read.

The route -> response type table is kagglesdk's own: each service client method is called with
a recorder in place of the HTTP client (``KaggleHttpClient.call(service, method, request,
response_type)`` is how kagglesdk/kaggle_http_client.py is used by every generated service), and
the answer is read with ``response_type.prepare_from`` -> ``from_json`` like ``_prepare_response``
does. ``KaggleObject.from_dict`` ignores unknown keys silently (kagglesdk/kaggle_object.py
``FieldMetadata.set_from_dict``), so unknown fields are checked here against ``_fields``.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.kaggle_fixtures are redefined as arguments
from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
import time
from pathlib import Path
from typing import Any

import pytest

from planet_sentinel.kaggle import packing, remote
from planet_sentinel.kaggle.client import connect
from planet_sentinel.kaggle.settings import KaggleConfig
from tests.kaggle_fixtures import USER, start_emulator
from tools.emulators.kaggle import KaggleEmulator

CONFIG = KaggleConfig(poll_seconds=0.05, max_poll_seconds=0.2, timeout_minutes=1, follow_log=False)

#: The routes our code reaches through the client, and the fields of each answer that the
#: client or planet_sentinel.kaggle reads (kaggle_api_extended.py of kaggle 2.2.5: upload_files /
#: _upload_blob read token + createUrl, dataset_create_* read status/error/url, kernels_push
#: returns the response whose ref/url/versionNumber/kernelId/error/invalidDatasetSources
#: remote.push_kernel reads, kernels_output reads files[].url/fileName and log).
READS: dict[str, set[str]] = {
    "security.OAuthService/IntrospectToken": {"active", "username"},
    "blobs.BlobApiService/StartBlobUpload": {"token", "createUrl"},
    "datasets.DatasetApiService/GetDatasetStatus": {"status"},
    "datasets.DatasetApiService/CreateDataset": {"status", "url"},
    "datasets.DatasetApiService/CreateDatasetVersion": {"status", "url"},
    "kernels.KernelsApiService/SaveKernel": {"ref", "url", "versionNumber", "kernelId"},
    "kernels.KernelsApiService/GetKernelSessionStatus": {"status"},
    "kernels.KernelsApiService/ListKernelSessionOutput": {"files", "log"},
    "kernels.KernelsApiService/CancelKernelSession": set(),
}
FILE_READS = {"url", "fileName"}  # ApiKernelSessionOutputFile, per listed file


class _Recorder:
    """Stands in for KaggleHttpClient: remembers which response type each route is read with."""

    def __init__(self) -> None:
        self.types: dict[str, type] = {}

    def call(self, service: str, method: str, request: Any, response_type: type) -> None:
        self.types[f"{service}/{method}"] = response_type


def kagglesdk_response_types() -> dict[str, type]:
    """route -> response type, from every generated service client in kagglesdk."""
    import kagglesdk

    recorder = _Recorder()
    for module_info in pkgutil.walk_packages(kagglesdk.__path__, "kagglesdk."):
        if ".services." not in module_info.name:
            continue
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not cls.__name__.endswith("Client"):
                continue
            client = cls(recorder)
            for name, method in inspect.getmembers(client, inspect.ismethod):
                if not name.startswith("_"):
                    method()  # each builds its default request and calls the recorder
    return recorder.types


def unknown_fields(cls: type, data: Any, where: str) -> list[str]:
    """Keys of ``data`` (recursively) that ``cls`` has no field for."""
    from kagglesdk.kaggle_object import KaggleObject, KaggleObjectSerializer, ListSerializer

    if not isinstance(data, dict):
        return [f"{where}: expected a JSON object for {cls.__name__}, got {type(data).__name__}"]
    fields = {field.json_name: field for field in cls._fields}
    problems = [f"{where}.{key}: not a field of {cls.__name__}" for key in data if key not in fields]
    for key, value in data.items():
        field = fields.get(key)
        if field is None or not (isinstance(field.field_type, type) and issubclass(field.field_type, KaggleObject)):
            continue
        if isinstance(field.serializer, KaggleObjectSerializer):
            problems += unknown_fields(field.field_type, value, f"{where}.{key}")
        elif isinstance(field.serializer, ListSerializer):
            for index, item in enumerate(value):
                problems += unknown_fields(field.field_type, item, f"{where}.{key}[{index}]")
    return problems


def _route(path: str) -> str:
    return path.split("?")[0].removeprefix("/api/v1/")


def exercise_every_route(
    emulator: KaggleEmulator, tmp_path: Path, chips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drive the real client through each route our code uses, answers of every kind included:
    token auth, absent dataset (error body), create, version, kernel push (ok and refused),
    status, outputs, logs, a refused and an accepted cancel."""
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "emulator-token")
    api = connect()  # IntrospectToken
    wheel = tmp_path / "planet_sentinel-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    bundle = packing.pack_dataset(packing.check_chips(chips), tmp_path / "ds", {"epochs": 1}, wheel)
    template = json.loads((Path(__file__).parents[1] / "kernels/siamese-unet/kernel-metadata.json").read_text())
    meta, _ = remote.render_metadata(template, CONFIG, USER)
    kernel_dir = tmp_path / "kernel"
    kernel_dir.mkdir()

    (kernel_dir / "train_kernel.py").write_text("print('hello')\n")
    with pytest.raises(remote.SentinelError, match="invalid dataset sources"):
        remote.push_kernel(api, kernel_dir, meta, tmp_path / "w0", 60)  # SaveKernel answering an error
    remote.push_dataset(api, bundle, USER, CONFIG, lambda _: None)  # create (after a 404)
    remote.push_dataset(api, bundle, USER, CONFIG, lambda _: None)  # version
    run = remote.push_kernel(api, kernel_dir, meta, tmp_path / "w1", 60)
    assert remote.wait_for_kernel(api, run, CONFIG, time.sleep)[0] == "complete"
    remote.log_tail(api, run, 5)
    with pytest.raises(remote.SentinelError, match="no run.json"):
        remote.fetch_outputs(api, run, tmp_path / "out", "fingerprint")

    (kernel_dir / "train_kernel.py").write_text("import time\ntime.sleep(60)\n")
    sleeper = remote.push_kernel(api, kernel_dir, meta, tmp_path / "w2", 60)
    session = emulator.kernels[sleeper.ref].sessions[-1]
    remote.cancel(api, dataclasses.replace(sleeper, session_id=session.id + 1000))  # refused: not a session
    assert remote.cancel(api, dataclasses.replace(sleeper, session_id=session.id)).endswith("sent")


def test_every_emulator_answer_parses_with_kagglesdk_types(
    simulated_chips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    types = kagglesdk_response_types()
    assert types["kernels.KernelsApiService/SaveKernel"].__name__ == "ApiSaveKernelResponse"  # the table is real
    emulator = start_emulator(tmp_path / "emu", monkeypatch)
    try:
        exercise_every_route(emulator, tmp_path, simulated_chips, monkeypatch)
    finally:
        emulator.stop()

    seen: set[str] = set()
    problems: list[str] = []
    for path, status, body in emulator.replies:
        route = _route(path)
        if status >= 400:  # kagglesdk's _prepare_response reads code and message of an error body
            if set(body) != {"code", "message"} or body["code"] != status or not isinstance(body["message"], str):
                problems.append(f"{route} {status}: error body {body} is not {{code, message}}")
            continue
        if route not in types:
            problems.append(f"{route}: not a kagglesdk route")
            continue
        seen.add(route)
        problems += unknown_fields(types[route], body, route)
        response_type = types[route]
        parsed = response_type.prepare_from(_FakeResponse(json.dumps(body)))  # what the client itself does
        missing = {name for name in READS.get(route, set()) if name not in body}
        if route.endswith("/SaveKernel") and body.get("error"):
            missing -= {"versionNumber", "kernelId"}  # a refused push has no version
        if missing:
            problems.append(f"{route}: answer lacks {sorted(missing)}, which the client reads")
        for item in body.get("files", []) if route.endswith("/ListKernelSessionOutput") else []:
            if FILE_READS - set(item):
                problems.append(f"{route}: a listed file lacks {sorted(FILE_READS - set(item))}")
        assert isinstance(parsed, response_type)
    assert not problems, "\n".join(problems)
    assert seen >= set(READS), f"routes not exercised: {sorted(set(READS) - seen)}"
    refused_cancels = [s for p, s, _ in emulator.replies if p.endswith("/CancelKernelSession") and s >= 400]
    assert refused_cancels == [404], "a number that is not a session id is refused"


def test_unknown_fields_are_caught() -> None:
    """The checker itself: a field kagglesdk does not have, also inside a list, is reported."""
    types = kagglesdk_response_types()
    listing = types["kernels.KernelsApiService/ListKernelSessionOutput"]
    assert unknown_fields(listing, {"files": [{"url": "u", "fileName": "f"}], "log": ""}, "r") == []
    assert unknown_fields(listing, {"files": [{"url": "u", "name": "f"}]}, "r") == [
        "r.files[0].name: not a field of ApiKernelSessionOutputFile"
    ]
    status = types["kernels.KernelsApiService/GetKernelSessionStatus"]
    assert unknown_fields(status, {"status": "RUNNING", "kernelSessionId": 3}, "r") == [
        "r.kernelSessionId: not a field of ApiGetKernelSessionStatusResponse"
    ]


@dataclasses.dataclass
class _FakeResponse:
    """What ``KaggleObject.prepare_from`` reads of a requests.Response: its text."""

    text: str
