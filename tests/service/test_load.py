"""Bounded concurrency: 503 + Retry-After when saturated, 504 past the time limit, and recovery."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planet_sentinel.serving.pool import InferencePool, Saturated, TimedOut
from tests.service.test_app import pair
from tests.service.test_model_swap import wait_for
from tests.test_predict import land_pair, write_pair


def test_saturated_service_answers_503_with_retry_after(
    client_for: Callable[..., TestClient], scene_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    # one worker, no waiting line; small windows with a wide overlap make each prediction slow (~1 s)
    client = client_for(workers=1, queue=0, window=128, overlap=64, retry_after_s=3)
    pool: InferencePool = client.app.state.pool  # type: ignore[attr-defined]
    answers: list[int] = []
    first = threading.Thread(
        target=lambda: answers.append(client.post("/predict", files=pair(*scene_pair)).status_code)
    )
    first.start()
    wait_for(lambda: pool.admitted == 1, timeout=10, what="the first prediction to start")
    refused = client.post("/predict", files=pair(*scene_pair))
    assert pool.admitted == 1, "the first prediction must still be running for this test to mean anything"
    assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
    assert refused.json()["kind"] == "saturated" and "1 prediction slots" in refused.json()["detail"]
    assert client.get("/health").status_code == 200  # the event loop is free while the CPU works
    first.join()
    assert answers == [200]
    small = write_pair(tmp_path, *land_pair(64, 64))
    assert client.post("/predict", files=pair(*small)).status_code == 200  # capacity is back
    metrics = client.get("/metrics").text
    assert 'sentinel_errors_total{kind="saturated"} 1.0' in metrics
    assert 'sentinel_http_requests_total{method="POST",route="/predict",status="503"} 1.0' in metrics


def test_request_timeout_answers_504_and_frees_the_slot(
    client_for: Callable[..., TestClient], scene_pair: tuple[Path, Path]
) -> None:
    client = client_for(workers=1, queue=0, timeout_s=0.05)
    pool: InferencePool = client.app.state.pool  # type: ignore[attr-defined]
    response = client.post("/predict", files=pair(*scene_pair))
    assert response.status_code == 504 and response.json()["kind"] == "timeout" and "0.05 s" in response.text
    assert client.get("/ready").status_code == 200
    wait_for(lambda: pool.admitted == 0, timeout=20, what="the timed-out job to finish")


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
