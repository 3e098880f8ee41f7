"""POST /predict: two dates in, forest loss out, in the format the client asked for.

The route reads the request (format, band order, which files), takes a snapshot of the served
model, runs :func:`planet_sentinel.serving.inference.run_prediction` in the bounded pool and
shapes the answer; each failure is a :class:`Problem` with its kind.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import IO, Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from planet_sentinel.serving.deps import HolderDep, MetricsDep, PoolDep, SettingsDep
from planet_sentinel.serving.errors import counted_problem, not_ready, saturated
from planet_sentinel.serving.inference import PredictionOutput, run_prediction
from planet_sentinel.serving.metrics import ServiceMetrics
from planet_sentinel.serving.negotiation import band_order, choose_format
from planet_sentinel.serving.pool import InferencePool, Saturated, TimedOut
from planet_sentinel.serving.schemas import Prediction, Problem
from planet_sentinel.serving.settings import ServeSettings
from planet_sentinel.serving.uploads import InputError, check_filename

log = logging.getLogger("planet_sentinel.serving")

GEOTIFF = "image/tiff; application=geotiff"
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

router = APIRouter()


def chosen_uploads(
    file: UploadFile | None, before: UploadFile | None, after: UploadFile | None
) -> dict[str, IO[bytes]]:
    """The uploaded files by field: ``file``, or ``before`` and ``after`` (422 for any other mix)."""
    if file is not None and (before is not None or after is not None):
        raise InputError(422, "ambiguous_input", "send either 'file' (both dates stacked) or 'before' and 'after'")
    if file is not None:
        parts = {"file": file}
    elif before is not None and after is not None:
        parts = {"before": before, "after": after}
    else:
        missing = [k for k, v in (("before", before), ("after", after)) if v is None]
        raise InputError(
            422,
            "missing_field",
            f"missing {' and '.join(repr(m) for m in missing)}: send 'before' and 'after' GeoTIFFs, "
            "or one 'file' with both dates stacked",
        )
    for field, part in parts.items():
        check_filename(part.filename, field)
    return {field: part.file for field, part in parts.items()}


async def run_in_pool(
    pool: InferencePool, metrics: ServiceMetrics, settings: ServeSettings, job: Callable[[], PredictionOutput]
) -> PredictionOutput | JSONResponse:
    """The job's output, or the problem that stopped it (saturated, timed out, failed on the server)."""
    try:
        return await pool.run(job, settings.timeout_s)
    except Saturated:
        return saturated(metrics, pool.capacity, settings.retry_after_s)
    except TimedOut:
        limit = settings.timeout_s
        return counted_problem(metrics, 504, "timeout", f"the prediction took longer than the limit of {limit:g} s")
    except InputError:
        raise
    except Exception:  # a bug or an environment failure: logged in full, the client gets an id to quote
        request_id = uuid.uuid4().hex[:12]
        log.exception("prediction failed (request id %s)", request_id)
        return counted_problem(
            metrics,
            500,
            "internal",
            f"the prediction failed on the server (request id {request_id}; the service log has the details)",
            {"X-Request-ID": request_id},
        )


def answer(output: PredictionOutput, fmt: str, timings: dict[str, float]) -> Response:
    """The response in ``fmt``, with the model and the loss figures in headers whatever the format."""
    summary = output.summary
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


@router.post(
    "/predict",
    summary="Map forest loss between two dates",
    description=PREDICT_DESCRIPTION,
    response_model=Prediction,
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
    holder: HolderDep,
    pool: PoolDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File(description="Both dates stacked: before bands, then after.")] = None,
    before: Annotated[UploadFile | None, File(description="The earlier scene (GeoTIFF).")] = None,
    after: Annotated[UploadFile | None, File(description="The later scene, on the same grid.")] = None,
    format_field: Annotated[str | None, Form(alias="format", description="json|geojson|mask|probability")] = None,
    format_query: Annotated[
        str | None, Query(alias="format", description="json|geojson|mask|probability (overrides Accept)")
    ] = None,
    bands_field: Annotated[str | None, Form(alias="bands", description=BANDS_HELP)] = None,
    bands_query: Annotated[str | None, Query(alias="bands", description=BANDS_HELP)] = None,
) -> Response:
    started = time.perf_counter()
    fmt = choose_format(format_query or format_field, request.headers.get("accept"))
    order = band_order(bands_query, bands_field)
    uploads = chosen_uploads(file, before, after)
    loaded = holder.current()  # this request's snapshot: a swap from now on does not affect it
    if loaded is None:
        metrics.errors.labels(kind="not_ready").inc()
        return not_ready(settings.retry_after_s)
    queued = time.perf_counter()
    began: dict[str, float] = {}

    def job() -> PredictionOutput:
        began["at"] = time.perf_counter()
        return run_prediction(loaded, settings, uploads, fmt, order)

    output = await run_in_pool(pool, metrics, settings, job)
    if isinstance(output, Response):
        return output
    summary = output.summary
    metrics.predictions.labels(format=fmt).inc()
    metrics.pixels.inc(summary["grid"]["width"] * summary["grid"]["height"])
    timings = {
        "queue": round(began.get("at", queued) - queued, 4),
        **output.timings,
        **summary.get("timings_s", {}),
        "service_total": round(time.perf_counter() - started, 4),
    }
    return answer(output, fmt, timings)
