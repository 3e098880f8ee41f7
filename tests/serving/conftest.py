"""Service fixtures: one tiny trained model per session, scenes to send, and an app factory."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from planet_sentinel import registry
from planet_sentinel.serving.app import create_app
from planet_sentinel.serving.settings import ServeSettings
from planet_sentinel.train import TrainConfig, TrainResult, train
from tests.test_registry import TINY


@pytest.fixture(scope="session")
def trained(simulated_chips: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """Five short epochs at base 4 on the simulated chips (about 2 s): a real model whose maps have
    structure (validation F1 about 0.88), trained once for every service test."""
    config = TrainConfig(**{**TINY, "epochs": 5, "lr": 0.01})
    return train(simulated_chips, tmp_path_factory.mktemp("service-model") / "run", config)


@pytest.fixture(scope="session")
def model_file(trained: TrainResult) -> Path:
    return trained.bundle_path


@pytest.fixture(scope="session")
def scene_pair(simulated_chips: Path) -> tuple[Path, Path]:
    """The simulated 512 px scene the chips came from (realistic: forest, clearings, clouds)."""
    raw = simulated_chips.parent / "raw"
    return raw / "tiny_before.tif", raw / "tiny_after.tif"


def register(result: TrainResult) -> registry.RegisteredVersion:
    """Register a trained model as a new version of planet-sentinel (alias challenger)."""
    with registry.training_run(run_name="service-test"):
        return registry.log_and_register(result)


@contextmanager
def serving(**overrides: Any) -> Iterator[TestClient]:
    """A TestClient on a fresh app (lifespan started: the model is loading or loaded)."""
    settings = ServeSettings(**{"reload_interval_s": 0, "workers": 1, "torch_threads": 1, **overrides})
    with TestClient(create_app(settings)) as client:
        yield client


def wait_ready(client: TestClient, timeout: float = 30.0) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/ready")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.05)
    raise AssertionError(f"service not ready after {timeout} s: {response.json()}")


@pytest.fixture
def client_for(model_file: Path) -> Iterator[Callable[..., TestClient]]:
    """Open ready TestClients serving the session's model file; closed at the end of the test."""
    opened: list[Any] = []

    def open_client(**overrides: Any) -> TestClient:
        cm = serving(**{"model": str(model_file), **overrides})
        client = cm.__enter__()
        opened.append(cm)
        wait_ready(client)
        return client

    yield open_client
    for cm in reversed(opened):
        cm.__exit__(None, None, None)


class GatedModel(torch.nn.Module):
    """A test-only wrapper of the served network: each forward pass waits until ``gate`` is set (so a
    prediction stays running for exactly as long as a test needs, on any machine), then runs the
    real network, or raises ``fail`` when it is set. It goes through the real pool and predictor."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.multiple = inner.multiple
        self.config = getattr(inner, "config", None)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.fail: Exception | None = None

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        self.entered.set()
        if not self.gate.wait(60):
            raise AssertionError("the test never opened the gate")
        if self.fail is not None:
            raise self.fail
        return self.inner(before, after)


def gate_model(client: TestClient) -> GatedModel:
    """Put a closed GatedModel around the model ``client``'s service has loaded."""
    loaded = client.app.state.holder.current()  # type: ignore[attr-defined]
    assert loaded is not None, "the service has no model yet"
    gated = GatedModel(loaded.bundle.model)
    loaded.bundle.model = gated
    return gated
