"""Probes: GET /health (the process is alive) and GET /ready (a model is loaded)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from planet_sentinel.serving.deps import HolderDep, ServedModelDep
from planet_sentinel.serving.schemas import Health, Ready, Registry

router = APIRouter()


@router.get("/health", response_model=Health, summary="The process is alive")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    summary="A model is loaded (503 until then)",
    responses={503: {"model": Ready, "description": "No model loaded yet."}},
)
async def ready(holder: HolderDep, info: ServedModelDep) -> JSONResponse:
    registry = Registry.model_validate({**asdict(holder.status), "spec": holder.spec})  # the check, less its history
    body = Ready(ready=info is not None, model=info, registry=registry)
    return JSONResponse(body.model_dump(), status_code=200 if info else 503)
