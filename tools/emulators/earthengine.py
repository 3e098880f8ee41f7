"""A local Earth Engine REST API: enough of it for the real earthengine-api client to ingest.

The client is initialised against it exactly as against Google (``ee.Initialize(credentials,
url=URL, project=P)``): it fetches the ``v1`` discovery document (generated for the methods
ingest uses, :mod:`tools.emulators.ee_discovery`; the client's default version), lists the
algorithms (the fixture shipped with the client), and then sends its real requests to
``/v1/...``; other API versions answer 404:

- ``projects.value.compute``: the ingest's window-metadata dictionary, answered from a
  synthetic catalogue (one image every 5 days in each window) and the simulated scene's clouds.
  The per-image parts (ids, dates, Cloud Score+ matches, which images still hold data after
  masking) are evaluated by :mod:`tools.emulators.ee_eval` with Earth Engine's documented rules
  (``linkCollection`` masks unmatched bands, ``If`` may evaluate both branches).
- ``projects.image.computePixels``: GeoTIFF bytes cut from a simulated scene
  (planet_sentinel.sources.synthetic) for the requested grid. The emulator cannot compute
  pixels from ee graphs; it reads which output is asked for from the ``planet_sentinel:role``
  property the graph sets, the bands from ``bandIds``, and refuses grids that are not on the
  scene's pixels. The masked collections are evaluated per image as for value.compute: an
  error there fails the request, and a window where no image holds data gives nodata.
- ``projects.image.export`` and ``projects.operations.get``: batch exports that run over a few
  polls; Cloud Storage destinations are written to an in-memory bucket served through the
  Cloud Storage JSON API (list + media download), Drive destinations are only recorded.
- ``/token``: an OAuth token endpoint for service-account keys (see :func:`service_account_key`).

Faults can be injected (:class:`Faults`): HTTP 429 for the first N pixel requests, a tile that
fails N times, windows with no images or no clear pixel, images without a Cloud Score+ match.
Every request is recorded in :attr:`EarthEngineEmulator.log`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tools.emulators import ee_errors, ee_eval, ee_exports, ee_http
from tools.emulators.ee_discovery import API_VERSION, discovery_document
from tools.emulators.ee_errors import EmulatorError
from tools.emulators.ee_graph import ROLE_PROPERTY, calls, constants, dictionary, expand, role_of, role_of_metadata
from tools.emulators.routing import Request, Response
from tools.emulators.server import EmulatorServer

REQUEST_LIMIT_BYTES = 48 * 1024**2
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
S2_COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"
CLOUD_SCORE_PLUS = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"
#: Bands of a COPERNICUS/S2_SR_HARMONIZED image (the L2A bands of its catalogue page; it only needs to cover what
#: graphs select) and of a Cloud Score+ image (cs, cs_cdf).
S2_BANDS = (
    *("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12"),
    *("AOT", "WVP", "SCL", "TCI_R", "TCI_G", "TCI_B", "MSK_CLDPRB", "MSK_SNWPRB", "QA10", "QA20", "QA60"),
)
CLOUD_SCORE_BANDS = ("cs", "cs_cdf")


# --------------------------------------------------------------------------------------------
# Test helpers: credentials and AOIs that match the emulator
# --------------------------------------------------------------------------------------------


def service_account_key(token_uri: str, email: str = "ingest@emulated-project.iam.gserviceaccount.com") -> str:
    """A freshly generated service-account key (JSON text) whose tokens come from ``token_uri``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "emulated-project",
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": email,
            "client_id": "1",
            "token_uri": token_uri,
        }
    )


def aoi_over(grid: Any, col0: int, row0: int, col1: int, row1: int) -> dict[str, Any]:
    """A GeoJSON AOI (EPSG:4326) over the pixels [col0, col1) x [row0, row1) of ``grid``."""
    from rasterio.warp import transform

    t = grid.transform
    corners = [t * (c, r) for c, r in ((col0, row0), (col1, row0), (col1, row1), (col0, row1))]
    lons, lats = transform(grid.crs, "EPSG:4326", [x for x, _ in corners], [y for _, y in corners])
    ring = [[round(x, 9), round(y, 9)] for x, y in zip(lons, lats, strict=True)]
    polygon = {"type": "Polygon", "coordinates": [ring + ring[:1]]}
    return {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": polygon}]}


def source_paths(scene_dir: str | Path, size: int, seed: int) -> dict[str, Path]:
    """Where the emulator keeps (and reuses) its simulated source scene."""
    from planet_sentinel.workspace import SceneFiles

    return SceneFiles(Path(scene_dir), f"ee-source-{size}-{seed}", "simulation").paths()


@dataclass
class Faults:
    """Failures to inject.

    Attributes:
        rate_limited: the first N computePixels requests get HTTP 429.
        metadata_rate_limited: the first N value.compute requests get HTTP 429.
        failing_tiles: (role, translateX, translateY) -> how many times that tile answers HTTP 500.
        empty_windows: metadata roles ('before'/'after') with no image at all.
        cloudy_windows: metadata roles whose images have no clear pixel after masking.
        unscored: role ('before'/'after') -> how many of the window's first images have no Cloud
            Score+ match (more than the window holds: none has).
        export_polls: polls an export operation takes to finish.
        export_split: split exported images into this many files (row bands), as Earth Engine does
            for big images.
        latency_s, throughput_mb_s: make each computePixels answer take ``latency_s`` plus its size
            at ``throughput_mb_s`` (0: as fast as possible), like a server computing the pixels.
    """

    rate_limited: int = 0
    metadata_rate_limited: int = 0
    failing_tiles: dict[tuple[str, float, float], int] = field(default_factory=dict)
    empty_windows: set[str] = field(default_factory=set)
    cloudy_windows: set[str] = field(default_factory=set)
    unscored: dict[str, int] = field(default_factory=dict)
    export_polls: int = 2
    export_split: int = 1
    latency_s: float = 0.0
    throughput_mb_s: float = 0.0


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class EarthEngineEmulator(EmulatorServer):
    """Earth Engine REST API over a simulated scene, on 127.0.0.1 (ephemeral port by default).

    Args:
        scene_dir: folder for the simulated scene (created and simulated if empty).
        size: simulated scene side in pixels; seed: its seed.
        faults: failures to inject.
        require_auth: refuse API calls without a Bearer token from ``/token``.
        port: 0 for an ephemeral port.
    """

    def __init__(
        self,
        scene_dir: str | Path,
        size: int = 512,
        seed: int = 3,
        faults: Faults | None = None,
        require_auth: bool = True,
        port: int = 0,
        keep_bodies: bool = False,
    ) -> None:
        self.scene_dir = Path(scene_dir)
        self.size, self.seed = size, seed
        self.faults = faults or Faults()
        self.require_auth = require_auth
        self.keep_bodies = keep_bodies
        self.log: list[dict[str, Any]] = []
        self.bodies: list[tuple[str, bytes]] = []
        self.tokens: set[str] = set()
        self.operations: dict[str, ee_exports.Export] = {}
        self.buckets: dict[str, dict[str, bytes]] = {}
        self.drive: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._tile_failures: dict[tuple[str, float, float], int] = {}
        self._pixel_requests = 0
        self._value_requests = 0
        self._load_scene()
        # Warm up (imports, GDAL drivers) so the first answers are not slower than the rest.
        self.geotiff(self.arrays["before"][:, :16, :16], self.grid.transform.c, self.grid.transform.f)
        self.listen("127.0.0.1", port)

    def environ(self, key: bool = True) -> dict[str, str]:
        """Environment variables that point planet_sentinel (and Google's clients) here."""
        env = {"EARTHENGINE_API_URL": self.url, "STORAGE_EMULATOR_HOST": self.url}
        if key:
            env["EARTHENGINE_SERVICE_ACCOUNT_KEY"] = service_account_key(f"{self.url}/token")
        return env

    # -- the scene -----------------------------------------------------------------------------

    def _load_scene(self) -> None:
        import rasterio

        from planet_sentinel.raster import Grid, band_names
        from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene

        paths = source_paths(self.scene_dir, self.size, self.seed)
        if not all(paths[k].exists() for k in ("before", "after", "mask", "summary_json")):
            name = f"ee-source-{self.size}-{self.seed}"
            config = SimulationConfig.model_validate({"name": name, "size": self.size, "seed": self.seed})
            simulate_scene(config, self.scene_dir, overwrite=True)
        self.arrays: dict[str, np.ndarray] = {}
        for role in ("before", "after", "mask"):
            with rasterio.open(paths[role]) as ds:
                self.arrays[role] = ds.read()
                if role == "before":
                    self.grid = Grid.of(ds)
                    self.bands = band_names(ds)
        summary = json.loads(paths["summary_json"].read_text())
        self.hidden_share = float(summary.get("hidden_share", 0.0))
        self.paths = paths

    def aoi(self, col0: int, row0: int, col1: int, row1: int) -> dict[str, Any]:
        """A GeoJSON AOI (EPSG:4326) over the scene pixels [col0, col1) x [row0, row1)."""
        return aoi_over(self.grid, col0, row0, col1, row1)

    def expected(self, role: str, grid: Any) -> np.ndarray:
        """What the emulator serves for ``role`` on ``grid`` (nodata outside the scene)."""
        return self._cut(role, grid.transform.c, grid.transform.f, grid.width, grid.height, None)

    def _cut(self, role: str, x0: float, y0: float, width: int, height: int, band_idx: list[int] | None) -> np.ndarray:
        src = self.arrays[role] if band_idx is None else self.arrays[role][band_idx]
        fill = 255 if role == "mask" else 0
        out = np.full((src.shape[0], height, width), fill, dtype=src.dtype)
        t = self.grid.transform
        col = (x0 - t.c) / t.a
        row = (y0 - t.f) / t.e
        if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
            raise EmulatorError(400, f"grid origin ({x0}, {y0}) is not on the source pixel grid")
        col, row = round(col), round(row)
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + width, self.grid.width), min(row + height, self.grid.height)
        if c1 > c0 and r1 > r0:
            out[:, r0 - row : r1 - row, c0 - col : c1 - col] = src[:, r0:r1, c0:c1]
        return out

    # -- API methods ---------------------------------------------------------------------------

    def discovery(self, version: str | None) -> dict[str, Any]:
        if version != API_VERSION:
            raise EmulatorError(404, f"emulator: no discovery document for version {version!r}", "NOT_FOUND")
        return discovery_document(self.url + "/")

    def algorithms(self) -> bytes:
        import ee

        fixture: bytes = (Path(ee.__file__).parent / "tests" / "algorithms.json").read_bytes()
        return fixture

    def grid_args(self, body: dict[str, Any]) -> tuple[float, float, int, int]:
        grid = body.get("grid") or {}
        dims = grid.get("dimensions") or {}
        aff = grid.get("affineTransform") or {}
        crs = grid.get("crsCode")
        if crs is None or crs.upper() != self.grid.crs.to_string().upper():
            raise EmulatorError(400, f"emulator serves {self.grid.crs.to_string()} only, got crsCode {crs!r}")
        res = self.grid.transform.a
        if aff.get("scaleX") != res or aff.get("scaleY") != -res or aff.get("shearX", 0) or aff.get("shearY", 0):
            raise EmulatorError(400, f"emulator serves a north-up {res:g} m grid only, got {aff}")
        return float(aff["translateX"]), float(aff["translateY"]), int(dims["width"]), int(dims["height"])

    def band_indexes(self, role: str, band_ids: list[str] | None, tree: Any) -> list[int] | None:
        if role == "mask":
            return None
        if not band_ids:
            selected = [c for c in calls(tree, "Image.select")]
            band_ids = next(
                (
                    a["bandSelectors"]["constantValue"]
                    for a in selected
                    if "constantValue" in a.get("bandSelectors", {})
                ),
                None,
            )
        if not band_ids:
            return None
        from planet_sentinel.bands import canonical

        idx = []
        for b in band_ids:
            name = canonical(b)
            if name not in self.bands:
                raise EmulatorError(
                    400, f"Image.select: Pattern '{b}' did not match any bands (emulated scene has {list(self.bands)})."
                )
            idx.append(self.bands.index(name))
        return idx

    def compute_pixels(self, body: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
        tree = expand(body["expression"])
        role = role_of(tree)
        if role not in ("before", "after", "mask"):
            raise EmulatorError(
                400, "emulator: expression has no planet_sentinel:role; it serves the ingest graphs only"
            )
        if body.get("fileFormat") not in ("GEO_TIFF", None):
            raise EmulatorError(400, f"emulator serves GEO_TIFF only, got {body.get('fileFormat')}")
        x0, y0, width, height = self.grid_args(body)
        info = {"role": role, "tile": (x0, y0), "width": width, "height": height}
        band_idx = self.band_indexes(role, body.get("bandIds"), tree)
        nbands = 1 if role == "mask" else len(band_idx or self.bands)
        size = width * height * nbands * (1 if role == "mask" else 2)
        if size > REQUEST_LIMIT_BYTES:
            raise EmulatorError(
                400, f"Total request size ({size} bytes) must be less than or equal to {REQUEST_LIMIT_BYTES} bytes."
            )
        with self.lock:
            self._pixel_requests += 1
            if self._pixel_requests <= self.faults.rate_limited:
                raise EmulatorError(429, "Too many concurrent aggregations.", "RESOURCE_EXHAUSTED")
            key = (role, x0, y0)
            if key in self.faults.failing_tiles:
                seen = self._tile_failures.get(key, 0)
                if seen < self.faults.failing_tiles[key]:
                    self._tile_failures[key] = seen + 1
                    raise EmulatorError(500, "An internal error has occurred (emulated).", "INTERNAL")
        return self.geotiff(self.pixels(role, tree, (x0, y0, width, height), band_idx), x0, y0), info

    def geotiff(self, data: np.ndarray, x0: float, y0: float) -> bytes:
        """GeoTIFF bytes of (bands, rows, cols) pixels whose top-left corner is (x0, y0)."""
        from affine import Affine
        from rasterio.io import MemoryFile

        res = self.grid.transform.a
        profile = dict(
            driver="GTiff",
            width=data.shape[2],
            height=data.shape[1],
            count=data.shape[0],
            dtype=data.dtype,
            crs=self.grid.crs,
            transform=Affine(res, 0, x0, 0, -res, y0),
        )
        with MemoryFile() as mem:
            with mem.open(**profile) as ds:
                ds.write(data)
            tiff: bytes = mem.read()
            return tiff

    def compute_value(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._value_requests += 1
            if self._value_requests <= self.faults.metadata_rate_limited:
                raise EmulatorError(429, "Quota exceeded: too many requests per minute.", "RESOURCE_EXHAUSTED")
        tree = expand(body["expression"])
        entries = dictionary(tree)
        if not entries or not all(role_of_metadata(sub) == role for role, sub in entries.items()):
            raise EmulatorError(400, "emulator: value.compute answers the ingest's window metadata only")
        return {"result": {role: self._window(role, sub) for role, sub in entries.items()}}

    def _window(self, role: str, tree: Any) -> dict[str, Any]:
        entries = dictionary(tree)
        missing = {"ids", "times", "cloudy_pixel_percentage", "has_cloud_score", "clear"} - set(entries)
        if missing:
            raise EmulatorError(400, f"emulator: the {role} metadata has no {sorted(missing)}")
        values = {k: self._evaluate(role, entries[k]) for k in sorted(set(entries) - {"clear", ROLE_PROPERTY})}
        holding = self._holding(role, entries["clear"])[role]
        cloudy = role in self.faults.cloudy_windows
        clear_share = 0.0 if (cloudy or not holding) else round(1.0 - self.hidden_share, 4)
        return {
            ROLE_PROPERTY: role,
            **values,
            "clear": {"clear_mean": holding * clear_share, "clear_share": clear_share},
        }

    def catalogue(self, role: str, tree: Any) -> ee_eval.Catalogue:
        """The images of the window whose date range ``tree`` filters on: one every 5 days.

        Sentinel-2 images carry ``system:index``, ``system:time_start`` and
        ``CLOUDY_PIXEL_PERCENTAGE``; Cloud Score+ holds an image with the same ``system:index`` for
        each, except the first ``faults.unscored[role]``.
        """
        dates = sorted({c for c in constants(tree) if isinstance(c, str) and _DATE.match(c)})
        if len(dates) < 2:
            raise EmulatorError(400, f"emulator: no date range found for {role}")
        start, end = dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])
        s2: list[ee_eval.Img] = []
        scored: list[ee_eval.Img] = []
        day = start + dt.timedelta(days=2)
        rng = np.random.default_rng(zlib.crc32(f"{role}{dates[0]}".encode()))
        while day < end and role not in self.faults.empty_windows:
            when = dt.datetime(day.year, day.month, day.day, 14, 0, 49, tzinfo=dt.timezone.utc)
            stamp = when.strftime("%Y%m%dT%H%M%S")
            ident = {"system:index": f"{stamp}_{stamp}_T20LMQ", "system:time_start": int(when.timestamp() * 1000)}
            props = {**ident, "CLOUDY_PIXEL_PERCENTAGE": round(float(rng.uniform(0, 80)), 2)}
            s2.append(ee_eval.Img(dict.fromkeys(S2_BANDS, ee_eval.DATA), props))
            if len(s2) > self.faults.unscored.get(role, 0):
                scored.append(ee_eval.Img(dict.fromkeys(CLOUD_SCORE_BANDS, ee_eval.DATA), dict(ident)))
            day += dt.timedelta(days=5)
        return ee_eval.Catalogue({S2_COLLECTION: s2, CLOUD_SCORE_PLUS: scored})

    def _evaluate(self, role: str, tree: Any) -> Any:
        try:
            return ee_eval.Evaluator(self.catalogue(role, tree)).evaluate(tree)
        except ee_eval.EvalError as exc:
            raise EmulatorError(400, str(exc)) from exc

    def _holding(self, role: str, tree: Any) -> dict[str, int]:
        """Per window: how many images still hold data after the graph's per-image masking.

        The windows are the outermost ``Collection.map`` nodes of ``tree`` (the masked
        collections); the label graph has two, the earlier one is ``before``.
        """
        maps = ee_eval.invocations(tree, "Collection.map", nested=False)
        if not maps:
            raise EmulatorError(400, f"emulator: no per-image collection in the {role} graph")
        if role == "mask":
            maps = sorted(maps, key=lambda m: min(c for c in constants(m) if isinstance(c, str) and _DATE.match(c)))
            roles = ["before", "after"][: len(maps)]
        else:
            roles = [role] * len(maps)
        holding: dict[str, int] = {}
        for window, node in zip(roles, maps, strict=False):
            count = sum(1 for image in self._evaluate(window, node) if image.contributes())
            holding[window] = min(count, holding.get(window, count))
        return holding

    def pixels(self, role: str, tree: Any, grid: tuple[float, float, int, int], band_idx: list[int] | None) -> Any:
        """The scene's pixels for ``role``, or nodata where the graph leaves a window without data."""
        holding = self._holding(role, tree)
        data = self._cut(role, *grid, band_idx)
        if role == "mask" and 0 in holding.values():
            data[:] = 255  # no clear observation in a window: unknown
        elif role != "mask" and holding.get(role) == 0:
            data[:] = 0
        return data

    def throttle(self, nbytes: int) -> None:
        """Hold an answer as long as a server computing and sending ``nbytes`` would."""
        delay = self.faults.latency_s
        if self.faults.throughput_mb_s > 0:
            delay += nbytes / (self.faults.throughput_mb_s * 1024**2)
        if delay > 0:
            time.sleep(delay)

    # -- HTTP (tools.emulators.ee_http) -------------------------------------------------------

    def respond(self, request: Request) -> Response:
        return ee_http.respond(self, request)

    def failure(self, request: Request, exc: Exception) -> Response:
        return ee_errors.failure(exc)

    def recorded(self, request: Request, response: Response) -> None:
        with self.lock:
            self.log.append(ee_http.log_entry(request, response))

    def snapshot(self) -> dict[str, Any]:
        """The record of requests so far, with the kept bodies (as text)."""
        with self.lock:
            bodies = [{"method": m, "body": b.decode()} for m, b in self.bodies]
            return {"log": list(self.log), "bodies": bodies}

    def pixel_requests(self, status: int | None = 200) -> list[dict[str, Any]]:
        """Recorded computePixels requests (with ``status``, or all when None)."""
        return [e for e in self.log if e.get("method") == "computePixels" and (status is None or e["status"] == status)]
