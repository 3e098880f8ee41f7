"""The FastAPI app: `create_app(settings)` wires the model holder, the inference pool and metrics.

Endpoints: GET /health (alive), GET /ready (a model is loaded), GET /model, GET /metrics
(Prometheus text), POST /predict (multipart ``before`` + ``after``, or one stacked ``file``;
the answer's format by ``format`` or ``Accept``). Every error is a JSON :class:`Problem` with a
reason and a kind; nothing a client sends can stop the service.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planet_sentinel.bands import BandOrder
from planet_sentinel.serving.holder import ModelHolder
from planet_sentinel.serving.inference import FORMATS, PredictionOutput, run_prediction
from planet_sentinel.serving.metrics import ServiceMetrics
from planet_sentinel.serving.pool import InferencePool, Saturated, TimedOut
from planet_sentinel.serving.schemas import Health, ModelInfo, Prediction, Problem, Ready, Registry
from planet_sentinel.serving.settings import ServeSettings, load_settings
from planet_sentinel.serving.uploads import InputError, check_filename

log = logging.getLogger("planet_sentinel.serving")

GEOTIFF = "image/tiff; application=geotiff"
ACCEPT_FORMATS = {
    "application/json": "json",
    "application/*": "json",
    "*/*": "json",
    "application/geo+json": "geojson",
    "image/tiff": "mask",
    "image/geotiff": "mask",
    "image/*": "mask",
}
PREDICT_DESCRIPTION = """Map forest loss between two dates.

Send **either** `before` and `after` (two GeoTIFFs on one grid, Sentinel-2 band names in the band
descriptions, uint16 reflectance x10000, nodata 0) **or** one `file` holding both dates stacked:
the before bands first, then the same bands of the after date (band descriptions naming each band,
or none at all when the stack is exactly the model's bands twice, in the model's order).

Files without band descriptions (most GIS exports: gdal_merge, QGIS, SNAP) need `bands` (form
field or query): the file's band order, e.g. `bands=B02,B03,B04,B08,B11,B12`, one name per band
of each date. Where descriptions exist they must agree with `bands`; a contradiction is refused.

The answer's format comes from `format` (query or form field) or else `Accept`:
`json` (`application/json`, the default): polygons, loss area, shares, model, timings;
`geojson` (`application/geo+json`): the polygons alone;
`mask` (`image/tiff`): the loss mask COG (0 no loss, 1 loss, 255 unknown);
`probability`: the probability COG (uint8 percent, 255 unknown).

```
curl -F file=@stack.tif http://127.0.0.1:8000/predict
curl -F before=@x_before.tif -F after=@x_after.tif -o loss.tif 'http://127.0.0.1:8000/predict?format=mask'
curl -F before=@merged_before.tif -F after=@merged_after.tif -F bands=B02,B03,B04,B08,B11,B12 http://127.0.0.1:8000/predict
```
"""


BANDS_HELP = "Band order of files without band descriptions, e.g. B02,B03,B04,B08,B11,B12 (one name per band per date)."


def band_order(query: str | None, field: str | None) -> BandOrder:
    """The band order a client stated with ``bands`` (query or form field; both must agree), 422 if invalid."""
    if query and field and query != field:
        raise InputError(422, "bad_bands", f"bands is {query!r} in the query but {field!r} in the form; send one")
    try:
        return BandOrder.parse(query or field, option="bands", joiner="=")
    except ValueError as exc:
        raise InputError(422, "bad_bands", str(exc)) from exc


def problem(status: int, kind: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(Problem(detail=detail, kind=kind).model_dump(), status_code=status, headers=headers)


def choose_format(explicit: str | None, accept: str | None) -> str:
    """``format`` if given, else the first media type of ``Accept`` we can produce, else JSON."""
    if explicit:
        if explicit not in FORMATS:
            raise InputError(422, "bad_format", f"format '{explicit}' is not one of {list(FORMATS)}")
        return explicit
    if not accept or not accept.strip():
        return "json"
    for item in accept.split(","):
        media, *params = [p.strip().lower() for p in item.split(";")]
        if "q=0" in params:
            continue
        if media in ACCEPT_FORMATS:
            fmt = ACCEPT_FORMATS[media]
            return "probability" if fmt == "mask" and "profile=probability" in params else fmt
    raise InputError(
        406,
        "not_acceptable",
        f"cannot answer in {accept!r}; try application/json, application/geo+json or image/tiff",
    )


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
            self.metrics.errors.labels(kind="too_large").inc()
            return problem(
                413,
                "too_large",
                f"the request body ({int(declared):,} bytes) is larger than the limit of "
                f"{self.settings.max_request_mb:g} MiB",
            )
        if self.pool.full():
            self.metrics.errors.labels(kind="saturated").inc()
            retry = self.settings.retry_after_s
            return problem(
                503,
                "saturated",
                f"all {self.pool.capacity} prediction slots are taken; retry in {retry} s",
                {"Retry-After": str(retry)},
            )
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


def _model_info(app: FastAPI) -> dict[str, Any] | None:
    loaded = app.state.holder.current()
    return None if loaded is None else {**loaded.info, "loaded_at": loaded.loaded_at}


def _sync_model_metrics(app: FastAPI) -> None:
    holder, metrics = app.state.holder, app.state.metrics
    metrics.set_model(_model_info(app))
    metrics.swaps.set(holder.status.swaps)
    metrics.check_failures.set(holder.status.failures)
    if holder.status.last_success:
        metrics.last_check.set(holder.status.last_success)


async def refresh_model(app: FastAPI) -> bool:
    """Check the alias (or file) once, off the event loop; True when a new model was swapped in."""
    swapped = await asyncio.get_running_loop().run_in_executor(None, app.state.holder.refresh)
    _sync_model_metrics(app)
    return swapped


async def _watch_model(app: FastAPI, interval: float) -> None:
    """Check the model every ``interval`` s (every 5 s at most until one is loaded; 0: until then
    only). A failing check is logged and the watch goes on: a dead watcher would never swap again."""
    while True:
        try:
            await refresh_model(app)
        except Exception:  # refresh never raises by design; a bug in it must not end the watch
            log.exception("model check failed unexpectedly; checking again")
        loaded = app.state.holder.current() is not None
        if loaded and interval == 0:
            return
        await asyncio.sleep(interval if loaded and interval else min(interval or 5.0, 5.0))


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The service for ``settings`` (default: resolved from SENTINEL_SERVE_* and params.yaml)."""
    settings = settings or load_settings()
    holder = ModelHolder(settings.model)
    pool = InferencePool(settings.workers, settings.queue, settings.threads_per_worker())
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watcher = asyncio.create_task(_watch_model(app, settings.reload_interval_s))
        try:
            yield
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)

    app = FastAPI(
        title="Planet Sentinel",
        summary="Forest loss from Sentinel-2 image pairs",
        description="Send two Sentinel-2 scenes, get a map of forest loss back. See POST /predict.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings, app.state.holder, app.state.pool, app.state.metrics = settings, holder, pool, metrics
    app.add_middleware(ServiceMiddleware, metrics=metrics, pool=pool, settings=settings)

    @app.exception_handler(InputError)
    async def input_error(_: Request, exc: InputError) -> JSONResponse:
        metrics.errors.labels(kind=exc.kind).inc()
        return problem(exc.status, exc.kind, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        metrics.errors.labels(kind="invalid_request").inc()
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return problem(422, "invalid_request", reasons)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:
            metrics.errors.labels(kind="too_large").inc()
            return problem(
                413, "too_large", f"the request body is larger than the limit of {settings.max_request_mb:g} MiB"
            )
        kind = "invalid_request" if exc.status_code == 400 else "http"
        metrics.errors.labels(kind=kind).inc()
        return problem(exc.status_code, kind, str(exc.detail), getattr(exc, "headers", None))

    @app.get("/health", response_model=Health, summary="The process is alive")
    async def health() -> Health:
        return Health(status="ok")

    @app.get(
        "/ready",
        response_model=Ready,
        summary="A model is loaded (503 until then)",
        responses={503: {"model": Ready, "description": "No model loaded yet."}},
    )
    async def ready() -> JSONResponse:
        info = _model_info(app)
        status = holder.status
        body = Ready(
            ready=info is not None,
            model=ModelInfo(**info) if info else None,
            registry=Registry(
                spec=holder.spec,
                last_check=status.last_check,
                last_success=status.last_success,
                last_error=status.last_error,
                failures=status.failures,
                swaps=status.swaps,
            ),
        )
        return JSONResponse(body.model_dump(), status_code=200 if info else 503)

    @app.get(
        "/model",
        response_model=ModelInfo,
        summary="The served model: name, version, alias, bands, metrics, data fingerprint",
        responses={503: {"model": Problem}},
    )
    async def model() -> Any:
        info = _model_info(app)
        if info is None:
            return problem(503, "not_ready", "no model loaded yet", {"Retry-After": str(settings.retry_after_s)})
        return ModelInfo(**info)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        metrics.admitted.set(pool.admitted)
        metrics.running.set(pool.running)
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.post(
        "/predict",
        summary="Map forest loss between two dates",
        description=PREDICT_DESCRIPTION,
        response_model=Prediction,
        max_body_size=settings.max_request_bytes,
        responses={
            200: {
                "content": {
                    "application/geo+json": {},
                    "image/tiff": {"schema": {"type": "string", "format": "binary"}},
                },
                "description": "JSON summary with polygons (default), GeoJSON, or a GeoTIFF mask/probability.",
            },
            406: {"model": Problem},
            413: {"model": Problem, "description": "Body over the size limit, or a TIFF declaring too many pixels."},
            415: {"model": Problem, "description": "Not a TIFF."},
            422: {"model": Problem, "description": "Corrupt TIFF, wrong bands, different grids, missing field..."},
            503: {"model": Problem, "description": "No model yet, or saturated (see Retry-After)."},
            504: {"model": Problem, "description": "Over the per-request time limit."},
        },
    )
    async def predict(
        request: Request,
        file: Annotated[UploadFile | None, File(description="Both dates stacked: before bands, then after.")] = None,
        before: Annotated[UploadFile | None, File(description="The earlier scene (GeoTIFF).")] = None,
        after: Annotated[UploadFile | None, File(description="The later scene, on the same grid.")] = None,
        format_field: Annotated[str | None, Form(alias="format", description="json|geojson|mask|probability")] = None,
        format_query: Annotated[
            str | None, Query(alias="format", description="json|geojson|mask|probability (overrides Accept)")
        ] = None,
        bands_field: Annotated[str | None, Form(alias="bands", description=BANDS_HELP)] = None,
        bands_query: Annotated[str | None, Query(alias="bands", description=BANDS_HELP)] = None,
    ) -> Any:
        started = time.perf_counter()
        fmt = choose_format(format_query or format_field, request.headers.get("accept"))
        order = band_order(bands_query, bands_field)
        if file is not None and (before is not None or after is not None):
            raise InputError(422, "ambiguous_input", "send either 'file' (both dates stacked) or 'before' and 'after'")
        if file is None:
            missing = [k for k, v in (("before", before), ("after", after)) if v is None]
            if missing:
                raise InputError(
                    422,
                    "missing_field",
                    f"missing {' and '.join(repr(m) for m in missing)}: send 'before' and 'after' GeoTIFFs, "
                    "or one 'file' with both dates stacked",
                )
            parts = {"before": before, "after": after}
        else:
            parts = {"file": file}
        for field, part in parts.items():
            check_filename(part.filename, field)  # type: ignore[union-attr]
        uploads = {field: part.file for field, part in parts.items()}  # type: ignore[union-attr]
        loaded = holder.current()  # this request's snapshot: a swap from now on does not affect it
        if loaded is None:
            metrics.errors.labels(kind="not_ready").inc()
            return problem(503, "not_ready", "no model loaded yet", {"Retry-After": str(settings.retry_after_s)})
        queued = time.perf_counter()
        began: dict[str, float] = {}

        def job() -> PredictionOutput:
            began["at"] = time.perf_counter()
            return run_prediction(loaded, settings, uploads, fmt, order)

        try:
            output = await pool.run(job, settings.timeout_s)
        except Saturated:
            metrics.errors.labels(kind="saturated").inc()
            return problem(
                503,
                "saturated",
                f"all {pool.capacity} prediction slots are taken; retry in {settings.retry_after_s} s",
                {"Retry-After": str(settings.retry_after_s)},
            )
        except TimedOut:
            metrics.errors.labels(kind="timeout").inc()
            return problem(504, "timeout", f"the prediction took longer than the limit of {settings.timeout_s:g} s")
        except InputError:
            raise
        except Exception:  # a bug or an environment failure: logged in full, the client gets an id to quote
            request_id = uuid.uuid4().hex[:12]
            log.exception("prediction failed (request id %s)", request_id)
            metrics.errors.labels(kind="internal").inc()
            return problem(
                500,
                "internal",
                f"the prediction failed on the server (request id {request_id}; the service log has the details)",
                {"X-Request-ID": request_id},
            )
        summary = output.summary
        metrics.predictions.labels(format=fmt).inc()
        metrics.pixels.inc(summary["grid"]["width"] * summary["grid"]["height"])
        timings = {
            "queue": round(began.get("at", queued) - queued, 4),
            **output.timings,
            **summary.get("timings_s", {}),
            "service_total": round(time.perf_counter() - started, 4),
        }
        model = summary["model"]
        headers = {
            "X-Model-Name": str(model.get("name") or ""),
            "X-Model-Version": str(model.get("version") or ""),
            "X-Model-Alias": str(model.get("alias") or ""),
            "X-Loss-Area-Ha": str(summary["loss_area_ha"]),
            "X-Changed-Share": str(summary["changed_share"]),
            "X-Unknown-Share": str(summary["unknown_share"]),
        }
        if fmt in ("mask", "probability"):
            headers["Content-Disposition"] = f'attachment; filename="{"loss" if fmt == "mask" else "probability"}.tif"'
            return Response(output.raster, media_type=GEOTIFF, headers=headers)
        if fmt == "geojson":
            return JSONResponse(output.geojson, media_type="application/geo+json", headers=headers)
        body = {**summary, "loss": output.geojson, "timings_s": timings}
        return JSONResponse(Prediction(**body).model_dump(), headers=headers)

    return app
