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
import urllib.parse
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np

from tools.emulators import ee_eval
from tools.emulators.ee_discovery import API_VERSION, discovery_document
from tools.emulators.server import EmulatorServer

ROLE_PROPERTY = "planet_sentinel:role"
REQUEST_LIMIT_BYTES = 48 * 1024**2
_AFFINE_KEYS = ("scaleX", "shearX", "translateX", "shearY", "scaleY", "translateY")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_API = re.compile(r"^/(v[0-9][^/]*)/projects/([^/]+)/(.+)$")
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
# Reading serialised ee graphs
# --------------------------------------------------------------------------------------------


def expand(expression: dict[str, Any]) -> Any:
    """The expression as one nested tree: every ``valueReference`` replaced by its value."""
    values = expression["values"]

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(v) for v in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"valueReference"}:
            return resolve(values[node["valueReference"]])
        if "functionDefinitionValue" in node:
            fd = node["functionDefinitionValue"]
            return {"functionDefinitionValue": {**fd, "body": resolve(values[fd["body"]])}}
        return {k: resolve(v) for k, v in node.items()}

    return resolve(values[expression["result"]])


def calls(tree: Any, name: str) -> list[dict[str, Any]]:
    """Every invocation of algorithm ``name`` in an expanded tree (its ``arguments`` dicts)."""
    return [node["functionInvocationValue"].get("arguments", {}) for node in ee_eval.invocations(tree, name)]


def constants(tree: Any) -> list[Any]:
    """Every ``constantValue`` in an expanded tree."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, dict):
            if "constantValue" in node:
                found.append(node["constantValue"])
            for v in node.values():
                walk(v)

    walk(tree)
    return found


def _dictionary(tree: Any) -> dict[str, Any]:
    """The entries of an ee.Dictionary node (a ``dictionaryValue`` or a ``Dictionary`` call)."""
    if not isinstance(tree, dict):
        return {}
    if "dictionaryValue" in tree:
        return tree["dictionaryValue"].get("values", {})
    inv = tree.get("functionInvocationValue", {})
    if inv.get("functionName") == "Dictionary":
        return _dictionary(inv.get("arguments", {}).get("input"))
    return {}


def role_of_metadata(tree: Any) -> str | None:
    """The window a metadata entry describes, from its ``planet_sentinel:role`` key."""
    value = _dictionary(tree).get(ROLE_PROPERTY, {})
    return value.get("constantValue") if isinstance(value, dict) else None


def role_of(tree: Any) -> str | None:
    """The output an expression computes, from ``Element.set(planet_sentinel:role, ...)``."""
    for args in calls(tree, "Element.set"):
        if args.get("key", {}).get("constantValue") == ROLE_PROPERTY:
            return args.get("value", {}).get("constantValue")
    return None


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
    from planet_sentinel.sources.synthetic import output_paths

    return output_paths(f"ee-source-{size}-{seed}", scene_dir)


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


class EmulatorError(Exception):
    def __init__(self, status: int, message: str, reason: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


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
        self.operations: dict[str, dict[str, Any]] = {}
        self.buckets: dict[str, dict[str, bytes]] = {}
        self.drive: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._tile_failures: dict[tuple[str, float, float], int] = {}
        self._pixel_requests = 0
        self._value_requests = 0
        self._load_scene()
        # Warm up (imports, GDAL drivers) so the first answers are not slower than the rest.
        self._geotiff(self.arrays["before"][:, :16, :16], self.grid.transform.c, self.grid.transform.f)
        self.listen("127.0.0.1", port, _handler(self))

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
            simulate_scene(SimulationConfig(name=name, size=self.size, seed=self.seed), self.scene_dir, overwrite=True)
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

        return (Path(ee.__file__).parent / "tests" / "algorithms.json").read_bytes()

    def _grid_args(self, body: dict[str, Any]) -> tuple[float, float, int, int]:
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

    def _export_grid(self, tree: Any) -> tuple[float, float, int, int]:
        """The grid ee.batch folds into an export's expression: reproject + clip to a pixel rectangle."""
        reprojects = calls(tree, "Image.reproject")
        rectangles = calls(tree, "GeometryConstructors.Rectangle")
        if not reprojects or not rectangles:
            raise EmulatorError(400, "emulator: exports need crs, crsTransform and dimensions")
        outer = reprojects[0]  # pre-order: the export's own reproject wraps the graph's
        crs = next((c for c in constants(outer["crs"]) if isinstance(c, str)), None)
        t = outer["crsTransform"]["constantValue"]
        c0, r0, width, height = (int(v) for v in constants(rectangles[0]["coordinates"])[0])
        body = {
            "grid": {
                "crsCode": crs,
                "dimensions": {"width": width - c0, "height": height - r0},
                "affineTransform": dict(zip(_AFFINE_KEYS, t, strict=True)),
            }
        }
        return self._grid_args(body)

    def _band_indexes(self, role: str, band_ids: list[str] | None, tree: Any) -> list[int] | None:
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
        x0, y0, width, height = self._grid_args(body)
        info = {"role": role, "tile": (x0, y0), "width": width, "height": height}
        band_idx = self._band_indexes(role, body.get("bandIds"), tree)
        nbands = 1 if role == "mask" else len(band_idx or self.bands)
        size = width * height * nbands * (1 if role == "mask" else 2)
        if size > REQUEST_LIMIT_BYTES:
            raise EmulatorError(
                400, f"Total request size ({size} bytes) must be less than or equal to {REQUEST_LIMIT_BYTES} bytes."
            )
        with self._lock:
            self._pixel_requests += 1
            if self._pixel_requests <= self.faults.rate_limited:
                raise EmulatorError(429, "Too many concurrent aggregations.", "RESOURCE_EXHAUSTED")
            key = (role, x0, y0)
            if key in self.faults.failing_tiles:
                seen = self._tile_failures.get(key, 0)
                if seen < self.faults.failing_tiles[key]:
                    self._tile_failures[key] = seen + 1
                    raise EmulatorError(500, "An internal error has occurred (emulated).", "INTERNAL")
        return self._geotiff(self._pixels(role, tree, (x0, y0, width, height), band_idx), x0, y0), info

    def _geotiff(self, data: np.ndarray, x0: float, y0: float) -> bytes:
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
            return mem.read()

    def compute_value(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._value_requests += 1
            if self._value_requests <= self.faults.metadata_rate_limited:
                raise EmulatorError(429, "Quota exceeded: too many requests per minute.", "RESOURCE_EXHAUSTED")
        tree = expand(body["expression"])
        entries = _dictionary(tree)
        if not entries or not all(role_of_metadata(sub) == role for role, sub in entries.items()):
            raise EmulatorError(400, "emulator: value.compute answers the ingest's window metadata only")
        return {"result": {role: self._window(role, sub) for role, sub in entries.items()}}

    def _window(self, role: str, tree: Any) -> dict[str, Any]:
        entries = _dictionary(tree)
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

    def _pixels(self, role: str, tree: Any, grid: tuple[float, float, int, int], band_idx: list[int] | None) -> Any:
        """The scene's pixels for ``role``, or nodata where the graph leaves a window without data."""
        holding = self._holding(role, tree)
        data = self._cut(role, *grid, band_idx)
        if role == "mask" and 0 in holding.values():
            data[:] = 255  # no clear observation in a window: unknown
        elif role != "mask" and holding.get(role) == 0:
            data[:] = 0
        return data

    def export_image(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        tree = expand(body["expression"])
        role = role_of(tree)
        if role is None:
            raise EmulatorError(400, "emulator: expression has no planet_sentinel:role")
        opts = body.get("fileExportOptions") or {}
        x0, y0, width, height = self._export_grid(tree)
        self._band_indexes(role, None, tree)
        op_id = uuid.uuid4().hex.upper()[:24]
        name = f"projects/{project}/operations/{op_id}"
        now = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        op = {
            "name": name,
            "metadata": {
                "@type": "type.googleapis.com/google.earthengine.v1.OperationMetadata",
                "state": "PENDING",
                "description": body.get("description", ""),
                "createTime": now,
                "updateTime": now,
                "type": "EXPORT_IMAGE",
                "progress": 0.0,
            },
            "done": False,
            "_polls": 0,
            "_role": role,
            "_tree": tree,
            "_grid": (x0, y0, width, height),
            "_opts": opts,
        }
        with self._lock:
            self.operations[name] = op
            if "driveDestination" in opts:
                self.drive.append({"operation": name, "role": role, **opts["driveDestination"]})
        return _public(op)

    def get_operation(self, name: str) -> dict[str, Any]:
        with self._lock:
            op = self.operations.get(name)
            if op is None:
                raise EmulatorError(404, f"Operation {name} not found.", "NOT_FOUND")
            op["_polls"] += 1
            meta = op["metadata"]
            if not op["done"]:
                if op["_polls"] >= self.faults.export_polls:
                    self._finish(op)
                else:
                    meta["state"] = "RUNNING"
                    meta["progress"] = op["_polls"] / self.faults.export_polls
            return _public(op)

    def _finish(self, op: dict[str, Any]) -> None:
        from affine import Affine
        from rasterio.io import MemoryFile

        opts = op["_opts"]
        x0, y0, width, height = op["_grid"]
        role = op["_role"]
        meta = op["metadata"]
        gcs = opts.get("cloudStorageDestination")
        band_idx = self._band_indexes(role, None, op["_tree"])
        try:
            data = self._pixels(role, op["_tree"], (x0, y0, width, height), band_idx)
        except EmulatorError as err:  # the task fails, as a batch task does, with the reason
            meta.update(state="FAILED", progress=1.0)
            op.update(done=True, error={"code": 3, "message": err.message})
            return
        if gcs:
            parts = max(1, min(self.faults.export_split, height))
            edges = np.linspace(0, height, parts + 1).astype(int)
            prefix = gcs["filenamePrefix"]
            bucket = self.buckets.setdefault(gcs["bucket"], {})
            uris = []
            for r0, r1 in zip(edges[:-1], edges[1:], strict=True):
                name = f"{prefix}.tif" if parts == 1 else f"{prefix}-{r0:010d}-{0:010d}.tif"
                res = self.grid.transform.a
                profile = dict(
                    driver="GTiff",
                    width=width,
                    height=int(r1 - r0),
                    count=data.shape[0],
                    dtype=data.dtype,
                    crs=self.grid.crs,
                    transform=Affine(res, 0, x0, 0, -res, y0 - r0 * res),
                )
                with MemoryFile() as mem:
                    with mem.open(**profile) as ds:
                        ds.write(data[:, r0:r1])
                    bucket[name] = mem.read()
                uris.append(f"https://console.developers.google.com/storage/browser/{gcs['bucket']}/{prefix}")
            meta["destinationUris"] = uris[:1]
        meta["state"] = "SUCCEEDED"
        meta["progress"] = 1.0
        op["done"] = True
        op["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}

    def list_objects(self, bucket: str, prefix: str) -> dict[str, Any]:
        objects = self.buckets.get(bucket, {})
        items = [
            {"kind": "storage#object", "name": n, "bucket": bucket, "size": str(len(b))}
            for n, b in sorted(objects.items())
            if n.startswith(prefix)
        ]
        return {"kind": "storage#objects", "items": items}

    def throttle(self, nbytes: int) -> None:
        """Hold an answer as long as a server computing and sending ``nbytes`` would."""
        delay = self.faults.latency_s
        if self.faults.throughput_mb_s > 0:
            delay += nbytes / (self.faults.throughput_mb_s * 1024**2)
        if delay > 0:
            time.sleep(delay)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.log.append(entry)

    def snapshot(self) -> dict[str, Any]:
        """The record of requests so far, with the kept bodies (as text)."""
        with self._lock:
            bodies = [{"method": m, "body": b.decode()} for m, b in self.bodies]
            return {"log": list(self.log), "bodies": bodies}

    def pixel_requests(self, status: int | None = 200) -> list[dict[str, Any]]:
        """Recorded computePixels requests (with ``status``, or all when None)."""
        return [e for e in self.log if e.get("method") == "computePixels" and (status is None or e["status"] == status)]


def _public(op: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in op.items() if not k.startswith("_")}


def _handler(emu: EarthEngineEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr access log
            pass

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj).encode())

        def _error(self, err: EmulatorError) -> None:
            self._json(err.status, {"error": {"code": err.status, "message": err.message, "status": err.reason}})

        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _authorised(self) -> bool:
            if not emu.require_auth:
                return True
            auth = self.headers.get("Authorization", "")
            return auth.startswith("Bearer ") and auth[7:] in emu.tokens

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._dispatch("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch("POST")

        def _dispatch(self, verb: str) -> None:
            started = time.perf_counter()
            parsed = urllib.parse.urlparse(self.path)
            path, query = urllib.parse.unquote(parsed.path), urllib.parse.parse_qs(parsed.query)
            raw = self._body() if verb == "POST" else b""
            entry: dict[str, Any] = {"verb": verb, "path": path, "method": None, "status": 200, "bytes": 0}
            try:
                payload, ctype, extra = self._route(verb, path, query, raw, entry)
                entry.update(extra)
                entry["bytes"] = len(payload)
                self._send(200, payload, ctype)
            except EmulatorError as err:
                entry["status"] = err.status
                entry["error"] = err.message
                self._error(err)
            except Exception as exc:  # an emulator bug: report it as the server would, keep serving
                entry["status"] = 500
                entry["error"] = f"{type(exc).__name__}: {exc}"
                self._error(EmulatorError(500, f"emulator failure: {type(exc).__name__}: {exc}", "INTERNAL"))
            entry["seconds"] = time.perf_counter() - started
            emu.record(entry)

        def _route(
            self, verb: str, path: str, query: dict[str, list[str]], raw: bytes, entry: dict[str, Any]
        ) -> tuple[bytes, str, dict[str, Any]]:
            js = "application/json"
            if path == "/$discovery/rest" and verb == "GET":
                entry["method"] = "discovery"
                return json.dumps(emu.discovery(query.get("version", [None])[0])).encode(), js, {}
            if path == "/token" and verb == "POST":
                entry["method"] = "token"
                form = urllib.parse.parse_qs(raw.decode())
                if "assertion" not in form and "refresh_token" not in form:
                    raise EmulatorError(400, "invalid_grant: no assertion")
                token = "emulated-" + uuid.uuid4().hex
                emu.tokens.add(token)
                return json.dumps({"access_token": token, "expires_in": 3600, "token_type": "Bearer"}).encode(), js, {}
            if path == "/_emulator/requests" and verb == "GET":
                entry["method"] = "emulator.requests"
                return json.dumps(emu.snapshot(), default=str).encode(), js, {}
            gcs = re.match(r"^(?:/download)?/storage/v1/b/([^/]+)/o(?:/(.+))?$", path)
            if gcs and verb == "GET":
                if not self._authorised():
                    raise EmulatorError(
                        401, "Anonymous caller does not have storage.objects.get access.", "UNAUTHENTICATED"
                    )
                bucket, obj = gcs.group(1), gcs.group(2)
                if obj is None:
                    entry["method"] = "storage.list"
                    return json.dumps(emu.list_objects(bucket, query.get("prefix", [""])[0])).encode(), js, {}
                entry["method"] = "storage.download"
                data = emu.buckets.get(bucket, {}).get(obj)
                if data is None:
                    raise EmulatorError(404, f"No such object: {bucket}/{obj}", "NOT_FOUND")
                return data, "application/octet-stream", {}
            api = _API.match(path)
            if not api:
                raise EmulatorError(404, f"emulator: no route for {verb} {path}", "NOT_FOUND")
            if not self._authorised():
                raise EmulatorError(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                    "UNAUTHENTICATED",
                )
            if api.group(1) != API_VERSION:
                # Google also serves v1beta and v1alpha; the emulator answers only the version the
                # client uses by default (ee/_cloud_api_utils.py VERSION), so a client talking to
                # another version is noticed here instead of in production.
                raise EmulatorError(
                    404, f"emulator: API version {api.group(1)} is not served (only {API_VERSION})", "NOT_FOUND"
                )
            project, rest = api.group(2), api.group(3)
            body = json.loads(raw or b"{}") if verb == "POST" else {}
            if emu.keep_bodies and verb == "POST":
                emu.bodies.append((rest, raw))
            if rest == "algorithms" and verb == "GET":
                entry["method"] = "algorithms.list"
                return emu.algorithms(), js, {}
            if rest == "value:compute" and verb == "POST":
                entry["method"] = "value.compute"
                return json.dumps(emu.compute_value(body)).encode(), js, {}
            if rest == "image:computePixels" and verb == "POST":
                entry["method"] = "computePixels"
                data, info = emu.compute_pixels(body)
                emu.throttle(len(data))
                return data, "image/tiff", info
            if rest == "image:export" and verb == "POST":
                entry["method"] = "image.export"
                op = emu.export_image(project, body)
                return json.dumps(op).encode(), js, {"operation": op["name"]}
            if rest.startswith("operations/") and verb == "GET":
                entry["method"] = "operations.get"
                return json.dumps(emu.get_operation(f"projects/{project}/{rest}")).encode(), js, {}
            raise EmulatorError(404, f"emulator: {verb} {rest} is not emulated", "NOT_FOUND")

    return Handler
