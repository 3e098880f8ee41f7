"""The served model: alias checks, atomic swap under load, a registry that goes away, a replaced file."""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from pathlib import Path

import mlflow
import pytest

from planet_sentinel import registry
from planet_sentinel.registry import redact
from planet_sentinel.serving.holder import ModelHolder
from planet_sentinel.train import TrainResult
from tests.serving.conftest import register, serving, wait_ready
from tests.serving.test_app import pair
from tests.test_predict import land_pair, write_pair


def set_champion(version: str) -> None:
    mlflow.MlflowClient().set_registered_model_alias("planet-sentinel", "champion", version)


def wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_alias_moves_and_the_service_swaps_without_failing_requests(
    trained: TrainResult, mlflow_home: Path, tmp_path: Path
) -> None:
    set_champion(register(trained).version)
    before, after = write_pair(tmp_path, *land_pair(64, 64))
    with serving(model="models:/planet-sentinel@champion", reload_interval_s=0.2, workers=2) as client:
        info = wait_ready(client)["model"]
        assert (info["name"], info["version"], info["alias"]) == ("planet-sentinel", "1", "champion")
        assert info["uri"] == "models:/planet-sentinel@champion" and info["run_id"]

        results: list[tuple[int, str]] = []
        stop = threading.Event()

        def keep_predicting() -> None:
            while not stop.is_set():
                response = client.post("/predict", files=pair(before, after))
                version = response.json()["model"]["version"] if response.status_code == 200 else response.text
                results.append((response.status_code, version))

        threads = [threading.Thread(target=keep_predicting) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: len(results) >= 3, what="requests before the swap")
            second = register(trained)  # a new version while requests are in flight
            assert second.version == "2"
            set_champion("2")
            wait_for(lambda: client.get("/model").json()["version"] == "2", what="the swap")
            count = len(results)
            wait_for(lambda: len(results) >= count + 3, what="requests after the swap")
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert {status for status, _ in results} == {200}, results
        versions = [v for _, v in results]
        assert set(versions) == {"1", "2"} and versions[-1] == "2"
        status = client.get("/ready").json()["registry"]
        assert status["swaps"] == 2 and status["last_error"] is None
        metrics = client.get("/metrics").text
        assert "sentinel_model_version 2.0" in metrics
        assert 'sentinel_model_info{alias="champion"' in metrics and 'version="2"} 1.0' in metrics
        assert 'version="1"' not in metrics.split("sentinel_model_info")[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_registry_unreachable_keeps_serving(
    trained: TrainResult, mlflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_champion(register(trained).version)
    before, after = write_pair(tmp_path, *land_pair(64, 64))
    with serving(model="models:/planet-sentinel@champion", reload_interval_s=0.1) as client:
        assert wait_ready(client)["model"]["version"] == "1"
        # the registry goes away: nothing listens on its port any more (its URI carries a password)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://ci:s3cret-pw@127.0.0.1:{free_port()}")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        holder: ModelHolder = client.app.state.holder  # type: ignore[attr-defined]
        wait_for(lambda: holder.status.failures >= 2, what="failed registry checks")
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["model"]["version"] == "1"
        assert "Connection refused" in ready.json()["registry"]["last_error"]
        assert "s3cret-pw" not in ready.text and "127.0.0.1" in ready.json()["registry"]["last_error"]
        response = client.post("/predict", files=pair(before, after))
        assert response.status_code == 200 and response.json()["model"]["version"] == "1"
        assert "sentinel_model_check_failures" in client.get("/metrics").text
        assert "sentinel_model_check_failures 0.0" not in client.get("/metrics").text
        # it comes back, with the alias on a version that has disappeared: still serving v1
        store = f"sqlite:///{mlflow_home / 'mlflow.db'}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
        mlflow.MlflowClient(store).delete_registered_model_alias("planet-sentinel", "champion")
        failures = holder.status.failures
        wait_for(lambda: holder.status.failures > failures, what="a check of the missing alias")
        assert "alias 'champion'" in str(holder.status.last_error) and "sqlite" in str(holder.status.last_error)
        assert client.post("/predict", files=pair(before, after)).json()["model"]["version"] == "1"


def test_a_replaced_model_file_is_reloaded(model_file: Path, tmp_path: Path) -> None:
    served = tmp_path / "model_inference.pth"
    shutil.copyfile(model_file, served)
    holder = ModelHolder(str(served))
    assert holder.refresh() is True and holder.refresh() is False
    first = holder.current()
    assert first is not None and first.info["uri"] == str(served)
    served.write_bytes(b"half-written")  # a broken replacement: keep serving the good one
    assert holder.refresh() is False and holder.current() is first
    assert "not a readable model bundle" in str(holder.status.last_error)
    shutil.copyfile(model_file, served)
    assert holder.refresh() is True and holder.current() is not first and holder.status.swaps == 2


def test_registry_credentials_never_reach_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "https://ci:pa55@mlflow.example.org:5000/base?workspace=7&access_token=t0k"
    assert registry.display_uri(secret) == "https://mlflow.example.org:5000/base?workspace=7&access_token=***"
    assert registry.display_uri("sqlite:///mlflow.db") == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", secret)
    shown = redact(f"model does not resolve in {secret}: API request to http://u:p@h:1/api failed")
    assert "pa55" not in shown and "t0k" not in shown and "u:p@" not in shown
    assert "mlflow.example.org:5000" in shown and "http://h:1/api" in shown


def test_the_watch_survives_a_failing_check(
    model_file: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """refresh() never raises by design; if a bug makes it, the watch logs it and checks again (a
    dead watcher would never load or swap a model). The fault is injected: nothing real raises there."""
    real_refresh = ModelHolder.refresh
    calls: list[int] = []

    def fails_once(self: ModelHolder) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in the check")
        return real_refresh(self)

    monkeypatch.setattr(ModelHolder, "refresh", fails_once)
    with caplog.at_level(logging.ERROR, logger="planet_sentinel.serving"):
        with serving(model=str(model_file), reload_interval_s=0.1) as client:
            assert wait_ready(client)["ready"] is True
    assert len(calls) >= 2
    assert any("model check failed unexpectedly" in r.getMessage() for r in caplog.records)
