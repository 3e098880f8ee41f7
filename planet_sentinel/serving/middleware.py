"""Per-request metrics, and refusals decided before a prediction's body is read.

A POST /predict whose declared body is over the limit gets 413, one arriving while the pool is
full 503 + Retry-After, without reading a byte of the body; every request is counted by route,
method and status, and timed.
"""

from __future__ import annotations

import time

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planet_sentinel.serving.errors import counted_problem, saturated
from planet_sentinel.serving.metrics import ServiceMetrics
from planet_sentinel.serving.pool import InferencePool
from planet_sentinel.serving.settings import ServeSettings


class ServiceMiddleware:
    """Per-request metrics; refuses predictions whose declared body is over the limit (413) or that arrive
    while the pool is full (503), before their body is read."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, pool: InferencePool, settings: ServeSettings) -> None:
        self.app, self.metrics, self.pool, self.settings = app, metrics, pool, settings

    def _refuse(self, scope: Scope) -> JSONResponse | None:
        """A 413 for a declared body over the limit, a 503 when the pool is full; None to go on."""
        if scope["method"] != "POST" or scope["path"] != "/predict":
            return None
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_request_bytes:
            return counted_problem(
                self.metrics,
                413,
                "too_large",
                f"the request body ({int(declared):,} bytes) is larger than the limit of "
                f"{self.settings.max_request_mb:g} MiB",
            )
        if self.pool.full():
            return saturated(self.metrics, self.pool.capacity, self.settings.retry_after_s)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        refusal = None
        try:
            refusal = self._refuse(scope)
            if refusal is not None:  # answered before a byte of the body is read
                await refusal(scope, receive, send_and_record)
                return
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or ("/predict" if refusal is not None else "unmatched")
            self.metrics.requests.labels(route=path, method=scope["method"], status=str(status["code"])).inc()
            self.metrics.latency.labels(route=path).observe(time.perf_counter() - start)
