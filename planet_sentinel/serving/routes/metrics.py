"""GET /metrics: the app's Prometheus metrics, with the inference pool's load read at scrape time."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from planet_sentinel.serving.deps import MetricsDep, PoolDep

router = APIRouter()


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(metrics: MetricsDep, pool: PoolDep) -> Response:
    metrics.admitted.set(pool.admitted)
    metrics.running.set(pool.running)
    return Response(metrics.render(), media_type=metrics.content_type)
