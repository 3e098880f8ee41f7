"""One prediction request, run on a worker thread: store, check, predict with the CLI's function, collect.

The prediction is :func:`planet_sentinel.predict.predict_scene` on the stored uploads, exactly
what ``sentinel predict`` runs, so the GeoTIFFs and numbers the service returns are the CLI's.
Everything happens in a private temporary directory that is removed before the answer is sent.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from planet_sentinel.bands import BandOrder, missing_bands
from planet_sentinel.errors import SentinelError
from planet_sentinel.serving.holder import LoadedModel
from planet_sentinel.serving.settings import ServeSettings
from planet_sentinel.serving.uploads import InputError, inspect_tiff, save_upload, split_stack

FORMATS = ("json", "geojson", "mask", "probability")


@dataclass
class PredictionOutput:
    """What a request gets back: the summary, the polygons, and the requested raster's bytes."""

    summary: dict[str, Any]
    geojson: dict[str, Any]
    raster: bytes | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _sanitise(message: str, names: dict[Path, str]) -> str:
    """Replace server-side temporary paths in a library message by the client's field names."""
    for path, field_name in names.items():
        message = message.replace(f"before {path}", f"'{field_name}'").replace(f"after {path}", f"'{field_name}'")
        message = message.replace(str(path), f"'{field_name}'")
    return message


def check_pair(
    loaded: LoadedModel, before: Path, after: Path, names: dict[Path, str], order: BandOrder | None = None
) -> None:
    """The scene contract, one grid, and the model's bands present: each failure a 422 with its reason.

    ``order`` is the client's ``bands``, for files without band descriptions.
    """
    from planet_sentinel.predict import input_bands
    from planet_sentinel.raster import check_scene, require_same_grid

    order = (order or BandOrder(option="bands", joiner="=")).with_example(loaded.bundle.bands)
    try:
        grid, bands = check_scene(before, order=order)
        after_grid, after_bands = check_scene(after, order=order)
    except SentinelError as exc:
        raise InputError(422, "invalid_scene", _sanitise(str(exc), names)) from exc
    if bands != after_bands:
        raise InputError(422, "band_mismatch", f"'before' has bands {list(bands)} but 'after' has {list(after_bands)}")
    try:
        require_same_grid(grid, after_grid, f"before {before}", f"after {after}")
    except SentinelError as exc:
        raise InputError(422, "grid_mismatch", _sanitise(str(exc), names)) from exc
    wanted = input_bands(loaded.bundle, True)
    missing = missing_bands(wanted, bands)
    if missing:
        raise InputError(
            422,
            "band_mismatch",
            f"the inputs have bands {list(bands)} but model {loaded.info.get('version') or ''} needs {wanted} "
            f"(missing {missing})",
        )


def run_prediction(
    loaded: LoadedModel,
    settings: ServeSettings,
    uploads: dict[str, IO[bytes]],
    fmt: str,
    order: BandOrder | None = None,
) -> PredictionOutput:
    """Store the uploads, check them, predict, and read back what ``fmt`` asks for.

    ``order``: the client's ``bands`` (the band order of files without band descriptions).
    """
    from rasterio.errors import RasterioError

    from planet_sentinel.predict import predict_scene

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sentinel-serve-") as tmp:
        work = Path(tmp)
        before, after = work / "before.tif", work / "after.tif"
        names = {before: "before", after: "after"}
        if "file" in uploads:
            stack = work / "stack.tif"
            names[stack] = "file"
            save_upload(uploads["file"], stack, "file")
            inspect_tiff(stack, "file", settings.max_samples)
            try:
                split_stack(stack, before, after, loaded.bundle.bands, order)
            except RasterioError as exc:
                raise InputError(422, "corrupt_tiff", f"'file' cannot be read: {_sanitise(str(exc), names)}") from exc
            stack.unlink()
        else:
            for path, key in ((before, "before"), (after, "after")):
                save_upload(uploads[key], path, key)
                inspect_tiff(path, key, settings.max_samples)
        check_pair(loaded, before, after, names, order)
        t1 = time.perf_counter()
        try:
            result = predict_scene(
                loaded.bundle,
                before,
                after,
                work / "out",
                name="upload",
                window=settings.window,
                overlap=settings.overlap,
                batch_size=settings.batch_size,
                min_area_ha=settings.min_area_ha,
                device=settings.device,
                engine="onnx" if loaded.bundle.engine == "onnx" else "torch",  # the holder chose at load time
                quicklook=False,  # a PNG nobody receives
                order=order,
            )
        except RasterioError as exc:
            raise InputError(422, "corrupt_tiff", f"pixel data cannot be read: {_sanitise(str(exc), names)}") from exc
        except SentinelError as exc:
            raise InputError(422, "invalid_input", _sanitise(str(exc), names)) from exc
        t2 = time.perf_counter()
        geojson = json.loads(result.geojson.read_text())
        raster = None
        if fmt == "mask":
            raster = result.loss.read_bytes()
        elif fmt == "probability":
            raster = result.probability.read_bytes()
    summary = {k: v for k, v in result.summary.items() if k not in ("before", "after", "name")}
    summary["model"] = {**loaded.info, "loaded_at": loaded.loaded_at}
    timings = {"upload": round(t1 - t0, 4), "predict": round(t2 - t1, 4), "collect": round(time.perf_counter() - t2, 4)}
    return PredictionOutput(summary, geojson, raster, timings)
