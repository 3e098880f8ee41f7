"""GET /: a page where a person uploads two dates and sees the loss polygons on a map over the after image.

The page calls the same POST /predict as every client (its limits, its errors: shown in the page,
never as raw JSON). Leaflet and the page's script are served by the service itself
(``/static/``, Starlette's StaticFiles), never from a CDN, so the page works with no network beyond
the service. None of this is API: ``include_in_schema=False`` keeps the OpenAPI description
(tests/serving/openapi.json) as it is.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from planet_sentinel.errors import SentinelError

STATIC = Path(__file__).parent.parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse((STATIC / "page.html").read_text())


#: Response header of POST /page/overlay: the image's [[south, west], [north, east]] as JSON.
BOUNDS_HEADER = "X-Sentinel-Bounds"


@router.post("/page/overlay")
def overlay(image: Annotated[UploadFile, File()]) -> Response:
    """The after image as a WebP quicklook in WGS 84 (422 if unreadable), its bounds in a header.

    The picture travels as a file (``image/webp``; the page shows it through a ``blob:`` URL), never
    as a ``data:`` URI: the project's pictures are files, artifacts or pages everywhere."""
    from planet_sentinel.site.imagery import composite_overlay

    with tempfile.TemporaryDirectory(prefix="sentinel-page-") as tmp:
        scene, target = Path(tmp) / "after.tif", Path(tmp) / "after.webp"
        with scene.open("wb") as out:
            shutil.copyfileobj(image.file, out)
        try:
            shown = composite_overlay(scene, target, max_side=1024)
        # rasterio's RasterioIOError is an OSError, CRSError a ValueError; a missing band a SentinelError
        except (SentinelError, OSError, ValueError, KeyError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return JSONResponse({"detail": f"the after image cannot be shown: {detail}", "kind": "bad_image"}, 422)
        picture = target.read_bytes()
    south, west, north, east = shown.bounds
    bounds = json.dumps([[south, west], [north, east]])
    return Response(picture, media_type="image/webp", headers={BOUNDS_HEADER: bounds})


def mount_static(app: FastAPI) -> None:
    """``/static/page`` (the page's script and style) and ``/static/leaflet`` (Leaflet's npm dist files)."""
    from planet_sentinel.site.vendor import ASSETS

    app.mount("/static/page", StaticFiles(directory=STATIC), name="page-static")
    leaflet = ASSETS / "node_modules" / "leaflet" / "dist"
    app.mount("/static/leaflet", StaticFiles(directory=leaflet, check_dir=False), name="leaflet")
