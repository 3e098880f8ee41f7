"""Typed dependencies of the routes: the app's settings, model holder, inference pool and metrics.

Each lives on ``app.state`` (set once by :func:`planet_sentinel.serving.app.create_app`; no module
globals, so two apps in one process share nothing) and reaches a route as an ``Annotated[...,
Depends()]`` parameter, the pattern of full-stack-fastapi-template ``backend/app/api/deps.py``
(github.com/fastapi/full-stack-fastapi-template, commit 68adb40). The getters are ``async``:
FastAPI runs a plain ``def`` dependency in its thread pool, a hop per request for a lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from planet_sentinel.serving.holder import ModelHolder
from planet_sentinel.serving.metrics import ServiceMetrics
from planet_sentinel.serving.pool import InferencePool
from planet_sentinel.serving.schemas import ModelInfo
from planet_sentinel.serving.settings import ServeSettings


def settings_of(connection: HTTPConnection) -> ServeSettings:
    """The app's settings (also for exception handlers, which take no dependencies)."""
    settings: ServeSettings = connection.app.state.settings
    return settings


def metrics_of(connection: HTTPConnection) -> ServiceMetrics:
    """The app's metrics (also for exception handlers, which take no dependencies)."""
    metrics: ServiceMetrics = connection.app.state.metrics
    return metrics


def served_model(holder: ModelHolder) -> ModelInfo | None:
    """What ``holder`` serves now, with when it was loaded; None before a model is loaded."""
    loaded = holder.current()
    return None if loaded is None else ModelInfo.model_validate({**loaded.info, "loaded_at": loaded.loaded_at})


async def get_settings(connection: HTTPConnection) -> ServeSettings:
    return settings_of(connection)


async def get_metrics(connection: HTTPConnection) -> ServiceMetrics:
    return metrics_of(connection)


async def get_holder(connection: HTTPConnection) -> ModelHolder:
    holder: ModelHolder = connection.app.state.holder
    return holder


async def get_pool(connection: HTTPConnection) -> InferencePool:
    pool: InferencePool = connection.app.state.pool
    return pool


SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
PoolDep = Annotated[InferencePool, Depends(get_pool)]


async def get_served_model(holder: HolderDep) -> ModelInfo | None:
    return served_model(holder)


ServedModelDep = Annotated[ModelInfo | None, Depends(get_served_model)]
