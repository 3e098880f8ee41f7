"""Bounded concurrency: 503 + Retry-After when saturated, 504 past the time limit, and recovery."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planet_sentinel.serving.pool import InferencePool, Saturated, TimedOut
from tests.serving.conftest import gate_model
from tests.serving.test_app import pair
from tests.serving.test_model_swap import wait_for
from tests.test_predict import land_pair, write_pair


def test_saturated_service_answers_503_with_retry_after(client_for: Callable[..., TestClient], tmp_path: Path) -> None:
    # one worker, no waiting line; the model holds the first prediction until the test lets it go
    client = client_for(workers=1, queue=0, retry_after_s=3)
    pool: InferencePool = client.app.state.pool  # type: ignore[attr-defined]
    gated = gate_model(client)
    small = write_pair(tmp_path, *land_pair(64, 64))
    answers: list[int] = []
    first = threading.Thread(target=lambda: answers.append(client.post("/predict", files=pair(*small)).status_code))
    first.start()
    try:
        assert gated.entered.wait(30), "the first prediction never reached the model"
        refused = client.post("/predict", files=pair(*small))
        assert pool.admitted == 1 and pool.running == 1
        assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
        assert refused.json()["kind"] == "saturated" and "1 prediction slots" in refused.json()["detail"]
        assert client.get("/health").status_code == 200  # the event loop is free while a worker is busy
    finally:
        gated.gate.set()
        first.join(timeout=60)
    assert answers == [200]
    assert client.post("/predict", files=pair(*small)).status_code == 200  # capacity is back
    metrics = client.get("/metrics").text
    assert 'sentinel_errors_total{kind="saturated"} 1.0' in metrics
    assert 'sentinel_http_requests_total{method="POST",route="/predict",status="503"} 1.0' in metrics


def test_request_timeout_answers_504_and_frees_the_slot(client_for: Callable[..., TestClient], tmp_path: Path) -> None:
    client = client_for(workers=1, queue=0, timeout_s=0.5)
    pool: InferencePool = client.app.state.pool  # type: ignore[attr-defined]
    gated = gate_model(client)
    small = write_pair(tmp_path, *land_pair(64, 64))
    try:
        response = client.post("/predict", files=pair(*small))  # the model waits: past the limit on any machine
        assert response.status_code == 504 and response.json()["kind"] == "timeout" and "0.5 s" in response.text
        assert gated.entered.wait(30) and pool.admitted == 1  # its thread still predicts: the slot stays taken
        assert client.get("/ready").status_code == 200
    finally:
        gated.gate.set()
    wait_for(lambda: pool.admitted == 0, timeout=20, what="the timed-out job to finish")


def test_an_internal_failure_is_logged_with_an_id_the_client_gets(
    client_for: Callable[..., TestClient], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(workers=1, queue=0)
    gated = gate_model(client)
    gated.fail = RuntimeError("CUDA out of memory at /srv/secret/path")
    gated.gate.set()
    with caplog.at_level(logging.ERROR, logger="planet_sentinel.serving"):
        response = client.post("/predict", files=pair(*write_pair(tmp_path, *land_pair(64, 64))))
    assert response.status_code == 500 and response.json()["kind"] == "internal"
    request_id = response.headers["x-request-id"]
    assert request_id in response.json()["detail"] and "secret" not in response.text
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and "CUDA out of memory at /srv/secret/path" in str(logged[0].exc_info[1])
    assert client.post("/predict", files=pair(*write_pair(tmp_path, *land_pair(64, 64)))).status_code == 500
    assert 'sentinel_errors_total{kind="internal"} 2.0' in client.get("/metrics").text


def test_pool_admission_and_cancellation() -> None:
    """The pool on its own: admitted = running + waiting, a waiting job that times out is cancelled."""

    async def scenario() -> None:
        pool = InferencePool(workers=1, queue=1)
        release = threading.Event()
        ran: list[str] = []

        def blocker() -> str:
            release.wait(5)
            ran.append("blocker")
            return "done"

        first = asyncio.ensure_future(pool.run(blocker, timeout=10))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(pool.run(lambda: ran.append("never") or "x", timeout=0.1))
        await asyncio.sleep(0.01)
        assert pool.admitted == 2 and pool.full()
        with pytest.raises(Saturated):
            await pool.run(lambda: "third", timeout=1)
        with pytest.raises(TimedOut):
            await waiting
        assert pool.admitted == 1  # the waiting job was cancelled and gave its place back
        release.set()
        assert await first == "done"
        start = time.monotonic()
        while pool.admitted and time.monotonic() - start < 5:
            await asyncio.sleep(0.01)
        assert pool.admitted == 0 and ran == ["blocker"]
        pool.shutdown()

    asyncio.run(scenario())
