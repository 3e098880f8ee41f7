"""GET /model: the served model (name, version, alias, bands, metrics, data fingerprint)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from planet_sentinel.serving.deps import ServedModelDep, SettingsDep
from planet_sentinel.serving.errors import not_ready
from planet_sentinel.serving.schemas import ModelInfo, Problem

router = APIRouter()


@router.get(
    "/model",
    response_model=ModelInfo,
    summary="The served model: name, version, alias, bands, metrics, data fingerprint",
    responses={503: {"model": Problem}},
)
async def model(info: ServedModelDep, settings: SettingsDep) -> ModelInfo | JSONResponse:
    return not_ready(settings.retry_after_s) if info is None else info
