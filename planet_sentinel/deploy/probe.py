"""HTTP checks of a running service: alive, ready, which model, and a real smoke prediction.

A deployment is only trusted after the new instance answers ``/ready`` *and* predicts a small
simulated scene pair through ``POST /predict`` (the same path real clients use), so a model that
loads but cannot predict (wrong bands, broken weights) never receives traffic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planet_sentinel.bands import DEFAULT_BANDS
from planet_sentinel.errors import SentinelError

SMOKE_SIZE = 256
SMOKE_SEED = 4242
#: The bands of the simulated smoke pair (the simulator writes the default band set).
SMOKE_BANDS = DEFAULT_BANDS


class ProbeError(SentinelError):
    """A service check failed; the message says which and why."""


def _client(timeout: float) -> Any:
    import httpx

    return httpx.Client(timeout=timeout, trust_env=False)


def get_json(url: str, path: str, timeout: float = 10.0) -> tuple[int, Any]:
    """Status code and JSON body (None when the body is not JSON) of ``GET url+path``."""
    import httpx

    try:
        with _client(timeout) as client:
            response = client.get(url.rstrip("/") + path)
    except httpx.HTTPError as exc:
        raise ProbeError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code, body


def is_healthy(url: str, timeout: float = 3.0) -> bool:
    """True when ``/health`` answers 200."""
    try:
        return get_json(url, "/health", timeout)[0] == 200
    except ProbeError:
        return False


def wait_ready(
    url: str,
    timeout: float,
    alive: Callable[[], str | None] | None = None,
    interval: float = 0.5,
) -> dict[str, Any]:
    """Poll ``/ready`` until it answers 200; returns its JSON.

    ``alive`` returns None while the instance runs, or why it stopped (a crashed process or an
    exited container), so a failure is reported at once instead of after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if alive is not None:
            dead = alive()
            if dead:
                raise ProbeError(f"instance stopped before it was ready: {dead}")
        try:
            status, body = get_json(url, "/ready", timeout=5.0)
            if status == 200:
                return body if isinstance(body, dict) else {}
            load_error = load_failure(body)
            if load_error:
                raise ProbeError(f"the service could not load its model: {load_error}")
            last = f"/ready answered {status}: {body}"
        except ProbeError as exc:
            if "could not load" in str(exc):
                raise
            last = str(exc)
        time.sleep(interval)
    raise ProbeError(f"not ready after {timeout:.0f} s ({last})")


def load_failure(ready_body: Any) -> str | None:
    """The model-loading error a 503 /ready answer reports (``registry.last_error``), if any.

    A new instance that could not load its model will not become ready by waiting; a deploy
    fails at once with the reason instead of after the whole timeout.
    """
    if not isinstance(ready_body, dict) or ready_body.get("ready") is not False:
        return None
    registry = ready_body.get("registry")
    if isinstance(registry, dict) and registry.get("last_error"):
        return str(registry["last_error"])
    return None


def running_model(url: str) -> dict[str, Any]:
    """GET /model: the served model's name, version, alias, fingerprint, bands..."""
    status, body = get_json(url, "/model")
    if status != 200 or not isinstance(body, dict):
        raise ProbeError(f"/model answered {status}: {body}")
    return body


@dataclass(frozen=True)
class SmokePair:
    before: Path
    after: Path


def smoke_pair(directory: str | Path) -> SmokePair:
    """A small simulated scene pair (cached in ``directory``): realistic pixels, known grid."""
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene

    directory = Path(directory)
    before, after = directory / "smoke_before.tif", directory / "smoke_after.tif"
    if not (before.exists() and after.exists()):
        config = SimulationConfig(name="smoke", size=SMOKE_SIZE, seed=SMOKE_SEED)
        scene = simulate_scene(config, directory, overwrite=True)
        before, after = scene.before, scene.after
    return SmokePair(before, after)


def smoke_predict(url: str, pair: SmokePair, timeout: float = 120.0) -> dict[str, Any]:
    """POST the pair to ``/predict`` as multipart and check the JSON answer; returns it."""
    import httpx

    try:
        with _client(timeout) as client, pair.before.open("rb") as b, pair.after.open("rb") as a:
            response = client.post(
                url.rstrip("/") + "/predict",
                files={
                    "before": (pair.before.name, b, "image/tiff"),
                    "after": (pair.after.name, a, "image/tiff"),
                },
                headers={"Accept": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise ProbeError(f"POST /predict: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise ProbeError(f"POST /predict answered {response.status_code}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise ProbeError(f"POST /predict did not answer JSON: {response.text[:200]}") from exc
    if not isinstance(body, dict):
        raise ProbeError(f"POST /predict answered {type(body).__name__}, not an object")
    return body
