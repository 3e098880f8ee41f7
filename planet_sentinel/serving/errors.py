"""Every 4xx/5xx of the service as a JSON :class:`Problem` (a reason and a kind), counted by kind.

:func:`install_error_handlers` turns client errors (:class:`InputError`), request validation
errors and Starlette's HTTP errors (including FastAPI's body limit, a 413) into problems.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from planet_sentinel.serving.deps import metrics_of, settings_of
from planet_sentinel.serving.metrics import ServiceMetrics
from planet_sentinel.serving.schemas import Problem
from planet_sentinel.serving.uploads import InputError


def problem(status: int, kind: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(Problem(detail=detail, kind=kind).model_dump(), status_code=status, headers=headers)


def counted_problem(
    metrics: ServiceMetrics, status: int, kind: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A problem that also counts in ``sentinel_errors{kind}``."""
    metrics.errors.labels(kind=kind).inc()
    return problem(status, kind, detail, headers)


def not_ready(retry_after_s: int) -> JSONResponse:
    return problem(503, "not_ready", "no model loaded yet", {"Retry-After": str(retry_after_s)})


def saturated(metrics: ServiceMetrics, capacity: int, retry_after_s: int) -> JSONResponse:
    return counted_problem(
        metrics,
        503,
        "saturated",
        f"all {capacity} prediction slots are taken; retry in {retry_after_s} s",
        {"Retry-After": str(retry_after_s)},
    )


async def input_error(request: Request, exc: InputError) -> JSONResponse:
    return counted_problem(metrics_of(request), exc.status, exc.kind, exc.detail)


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return counted_problem(metrics_of(request), 422, "invalid_request", reasons)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    metrics = metrics_of(request)
    if exc.status_code == 413:
        limit = settings_of(request).max_request_mb
        return counted_problem(metrics, 413, "too_large", f"the request body is larger than the limit of {limit:g} MiB")
    kind = "invalid_request" if exc.status_code == 400 else "http"
    return counted_problem(metrics, exc.status_code, kind, str(exc.detail), getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InputError, input_error)  # type: ignore[arg-type]  # Starlette types handlers as taking Exception
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]  # as above
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]  # as above
