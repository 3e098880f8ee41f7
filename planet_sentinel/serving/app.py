"""The FastAPI app: `create_app(settings)` puts the model holder, the inference pool and metrics on
``app.state``, includes the routers and starts the model watch.

Endpoints (one router each, in :mod:`planet_sentinel.serving.routes`): GET /health (alive),
GET /ready (a model is loaded), GET /model, GET /metrics (Prometheus text), POST /predict
(multipart ``before`` + ``after``, or one stacked ``file``; the answer's format by ``format`` or
``Accept``). Every error is a JSON :class:`~planet_sentinel.serving.schemas.Problem` with a
reason and a kind (:mod:`planet_sentinel.serving.errors`); nothing a client sends can stop the
service. Routes get what they need as typed dependencies (:mod:`planet_sentinel.serving.deps`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from planet_sentinel.serving.errors import install_error_handlers
from planet_sentinel.serving.holder import ModelHolder
from planet_sentinel.serving.metrics import ServiceMetrics
from planet_sentinel.serving.middleware import ServiceMiddleware
from planet_sentinel.serving.pool import InferencePool
from planet_sentinel.serving.routes import include_routes
from planet_sentinel.serving.settings import ServeSettings, load_settings
from planet_sentinel.serving.watch import watch_model


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Watch the model while the app runs; on shutdown stop the watch, then let running predictions finish."""
    settings: ServeSettings = app.state.settings
    pool: InferencePool = app.state.pool
    watcher = asyncio.create_task(watch_model(app.state.holder, app.state.metrics, settings.reload_interval_s))
    try:
        yield
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The service for ``settings`` (default: resolved from SENTINEL_SERVE_* and params.yaml)."""
    settings = settings or load_settings()
    holder = ModelHolder(settings.model, settings.engine, settings.device, settings.threads_per_worker())
    pool = InferencePool(settings.workers, settings.queue, settings.threads_per_worker())
    metrics = ServiceMetrics()
    app = FastAPI(
        title="Planet Sentinel",
        summary="Forest loss from Sentinel-2 image pairs",
        description="Send two Sentinel-2 scenes, get a map of forest loss back. See POST /predict.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings, app.state.holder, app.state.pool, app.state.metrics = settings, holder, pool, metrics
    app.add_middleware(ServiceMiddleware, metrics=metrics, pool=pool, settings=settings)
    install_error_handlers(app)
    include_routes(app, settings.max_request_bytes)
    return app
