"""`sentinel serve` as a real process on a free port: the seed's curl example, limits over a real socket."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.test_app import stack
from tests.serving.test_model_swap import free_port

SENTINEL = str(Path(sys.executable).parent / "sentinel")


@pytest.fixture(scope="module")
def server(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "SENTINEL_SERVE_MAX_REQUEST_MB": "8"}  # settings from the environment too
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [SENTINEL, "serve", "--model", str(model_file), "--port", str(port), "--reload-interval-s", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sentinel serve did not become ready:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # graceful: uvicorn finishes, then exits by the signal it got
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()
    assert "Application shutdown complete" in log.read_text()


@pytest.mark.slow
def test_seed_curl_example(server: str, scene_pair: tuple[Path, Path], tmp_path: Path) -> None:
    stacked = stack(*scene_pair, tmp_path / "stack.tif")
    if shutil.which("curl"):
        # an absolute path after @: curl sends only the base name (stack.tif), which the service accepts
        # (a filename with a path separator would be refused, see test_bad_input.py)
        out = subprocess.run(
            ["curl", "-sS", "-F", f"file=@{stacked}", f"{server}/predict"],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        ).stdout
        body = json.loads(out)
    else:
        body = httpx.post(f"{server}/predict", files={"file": stacked.open("rb")}, timeout=60).json()
    assert body["loss"]["type"] == "FeatureCollection" and body["polygons"] == len(body["loss"]["features"])
    assert body["model"]["fingerprint"] and 0 < body["changed_share"] < 1 and 0 < body["unknown_share"] < 1
    assert httpx.get(f"{server}/model").json()["bands"] == ["B02", "B03", "B04", "B08", "B11", "B12"]
    assert "sentinel_predictions_total" in httpx.get(f"{server}/metrics").text


def _request_head(length: str | None) -> bytes:
    head = "POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=zzz\r\n"
    head += f"Content-Length: {length}\r\n" if length else "Transfer-Encoding: chunked\r\n"
    return (head + "\r\n").encode()


def _response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 20:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body[body.index(b"{") : body.rindex(b"}") + 1])


def test_size_limit_is_enforced_while_reading(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    # a declared 100 GB body is refused before a byte of it is sent
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request_head(str(100 * 1024**3)))
        status, body = _response(sock)
    assert status == 413 and body["kind"] == "too_large" and "8 MiB" in body["detail"]
    # a chunked body without a declared length is cut off once it passes the limit (8 MiB here)
    sent = 0
    chunk = b"x" * 65536
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request_head(None))
        part = b'--zzz\r\nContent-Disposition: form-data; name="before"; filename="b.tif"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        try:
            while sent < 64 * 1024**2 and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, body = _response(sock)
    assert status == 413 and body["kind"] == "too_large"
    assert sent < 24 * 1024**2, f"the server read {sent} bytes before refusing"
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}


def test_reuse_port_needs_a_model_and_a_shareable_port(server: str, tmp_path: Path) -> None:
    """--reuse-port joins a serving port only with a model loaded, and only where the port is shareable."""
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a model")
    port = free_port()
    proc = subprocess.run(
        [SENTINEL, "serve", "--model", str(broken), "--port", str(port), "--reuse-port", "--reload-interval-s", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "could not load the model" in proc.stderr and str(broken) in proc.stderr
    taken = int(server.rsplit(":", 1)[1])  # the module's server did not set SO_REUSEPORT: no sharing
    proc = subprocess.run(
        [SENTINEL, "serve", "--model", str(broken), "--port", str(taken), "--reuse-port"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and f"cannot bind 127.0.0.1:{taken}" in proc.stderr
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
