"""The service's endpoints, one router per concern, included by :func:`include_routes`.

As in full-stack-fastapi-template ``backend/app/api/main.py``: each module holds an ``APIRouter``
and the app only includes them. The request body limit is set where /predict is included: it is
the app's setting, and only predictions carry a body.
"""

from __future__ import annotations

from fastapi import FastAPI

from planet_sentinel.serving.routes import health, metrics, model, page, predict


def include_routes(app: FastAPI, max_request_bytes: int) -> None:
    """Mount every router on ``app``; request bodies of /predict are cut at ``max_request_bytes`` (413)."""
    app.include_router(health.router)
    app.include_router(model.router)
    app.include_router(metrics.router)
    # FastAPI's include-level limit, enforced while the body is read (fastapi/routing.py,
    # _RouterIncludeContext.for_include; https://fastapi.tiangolo.com/advanced/request-body-limits/)
    app.include_router(predict.router, max_body_size=max_request_bytes)
    app.include_router(page.router, max_body_size=max_request_bytes)
    page.mount_static(app)
