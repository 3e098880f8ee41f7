"""The HTTP API: health, readiness, model info, metrics, formats, and the CLI's results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from fastapi.testclient import TestClient
from rasterio.io import MemoryFile

from planet_sentinel.cli import cli
from tests.serving.conftest import serving


def pair(before: Path, after: Path) -> dict[str, tuple[str, bytes, str]]:
    return {
        "before": ("before.tif", before.read_bytes(), "image/tiff"),
        "after": ("after.tif", after.read_bytes(), "image/tiff"),
    }


def read_tiff(data: bytes) -> tuple[np.ndarray, dict]:
    with MemoryFile(data) as mem, mem.open() as ds:
        return ds.read(1), {"crs": ds.crs, "transform": ds.transform, "nodata": ds.nodata}


def stack(before: Path, after: Path, target: Path, descriptions: bool = True) -> Path:
    """Both dates in one file: the before bands, then the after bands."""
    with rasterio.open(before) as b, rasterio.open(after) as a:
        profile = {**b.profile, "count": b.count + a.count, "driver": "GTiff"}
        with rasterio.open(target, "w", **profile) as out:
            out.write(np.concatenate([b.read(), a.read()]))
            if descriptions:
                for i, name in enumerate(b.descriptions + a.descriptions, start=1):
                    out.set_band_description(i, name)
    return target


def test_health_ready_model_and_metrics(client_for: Callable[..., TestClient], model_file: Path) -> None:
    client = client_for()
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["registry"]["spec"] == str(model_file) and ready.json()["registry"]["last_error"] is None
    info = client.get("/model").json()
    for key in ("name", "version", "alias", "uri", "run_id", "fingerprint", "bands", "metrics", "threshold"):
        assert key in info, key
    assert info["bands"] == ["B02", "B03", "B04", "B08", "B11", "B12"] and len(info["fingerprint"]) == 16
    assert info["uri"] == str(model_file) and "val_f1" in info["metrics"]
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert f'sentinel_model_info{{alias="",fingerprint="{info["fingerprint"]}",name="",version=""}} 1.0' in text
    assert 'sentinel_http_requests_total{method="GET",route="/model",status="200"} 1.0' in text
    assert 'sentinel_http_request_duration_seconds_count{route="/ready"}' in text
    docs = client.get("/openapi.json").json()
    assert {"/health", "/ready", "/model", "/metrics", "/predict"} <= set(docs["paths"])
    body = docs["paths"]["/predict"]["post"]
    assert "curl -F file=@stack.tif" in body["description"]
    schema = docs["components"]["schemas"]["ModelInfo"]["properties"]
    assert schema["alias"]["examples"] == ["champion"]  # the docs carry examples
    assert client.get("/docs").status_code == 200


def test_not_ready_without_a_model(tmp_path: Path) -> None:
    with serving(model=str(tmp_path / "missing.pt")) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "no such model file" in ready.json()["registry"]["last_error"]
        model = client.get("/model")
        assert model.status_code == 503 and model.json()["kind"] == "not_ready"
        predict = client.post("/predict", files={"file": ("x.tif", b"II*\x00", "image/tiff")})
        assert predict.status_code == 503 and predict.headers["retry-after"] == "5"
        assert "sentinel_model_loaded 0.0" in client.get("/metrics").text


@pytest.mark.slow
def test_service_output_equals_cli_output(
    client_for: Callable[..., TestClient], model_file: Path, scene_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    before, after = scene_pair
    result = CliRunner().invoke(
        cli,
        ["predict", "--model", str(model_file), "--before", str(before), "--after", str(after)]
        + ["--out-dir", str(tmp_path / "cli"), "--name", "x", "--json"],
    )
    assert result.exit_code == 0, result.output
    cli_summary = json.loads((tmp_path / "cli" / "x_prediction.json").read_text())
    cli_geojson = json.loads((tmp_path / "cli" / "x_loss.geojson").read_text())
    with rasterio.open(tmp_path / "cli" / "x_loss.tif") as ds:
        cli_mask, cli_transform = ds.read(1), ds.transform
    with rasterio.open(tmp_path / "cli" / "x_probability.tif") as ds:
        cli_prob = ds.read(1)
    assert 0 < (cli_mask == 1).mean() and (cli_mask == 255).any() and len(np.unique(cli_prob)) > 10

    client = client_for()
    answer = client.post("/predict", files=pair(before, after))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["loss"]["features"] == cli_geojson["features"]
    for key in ("loss_area_ha", "loss_pixels_area_ha", "polygons", "changed_share", "unknown_share", "threshold"):
        assert body[key] == cli_summary[key], key
    assert body["grid"] == cli_summary["grid"] and body["model"]["fingerprint"] == cli_summary["model"]["fingerprint"]
    assert {"queue", "upload", "forward", "service_total"} <= set(body["timings_s"])
    assert "quicklook" not in body["timings_s"]  # the service skips the PNG it would not return

    mask = client.post("/predict", files=pair(before, after), headers={"Accept": "image/tiff"})
    assert mask.headers["content-type"] == "image/tiff; application=geotiff"
    served_mask, meta = read_tiff(mask.content)
    np.testing.assert_array_equal(served_mask, cli_mask)
    assert meta["transform"] == cli_transform and meta["crs"].to_epsg() == 32720
    assert mask.headers["x-loss-area-ha"] == str(cli_summary["loss_area_ha"])
    prob = client.post("/predict?format=probability", files=pair(before, after))
    np.testing.assert_array_equal(read_tiff(prob.content)[0], cli_prob)

    # the seed's curl example: both dates stacked in one `file`, named bands or none at all
    for named in (True, False):
        stacked = stack(before, after, tmp_path / f"stack{named}.tif", descriptions=named)
        one = client.post("/predict", files={"file": ("stack.tif", stacked.read_bytes(), "image/tiff")})
        assert one.status_code == 200, one.text
        assert one.json()["loss"]["features"] == cli_geojson["features"]
        assert one.json()["changed_share"] == cli_summary["changed_share"]


def test_formats_by_accept_and_format(client_for: Callable[..., TestClient], tmp_path: Path) -> None:
    from tests.test_predict import land_pair, write_pair

    before, after = write_pair(tmp_path, *land_pair(96, 80))
    client = client_for()
    geo = client.post("/predict", files=pair(before, after), headers={"Accept": "application/geo+json"})
    assert geo.headers["content-type"] == "application/geo+json" and geo.json()["type"] == "FeatureCollection"
    by_form = client.post("/predict", files=pair(before, after), data={"format": "mask"})
    assert read_tiff(by_form.content)[0].shape == (96, 80)
    probability = client.post(
        "/predict", files=pair(before, after), headers={"Accept": "image/tiff; profile=probability"}
    )
    assert read_tiff(probability.content)[1]["nodata"] == 255
    default = client.post("/predict", files=pair(before, after), headers={"Accept": "*/*"})
    assert default.headers["content-type"] == "application/json" and "loss" in default.json()
    bad = client.post("/predict?format=png", files=pair(before, after))
    assert bad.status_code == 422 and bad.json()["kind"] == "bad_format"
    html = client.post("/predict", files=pair(before, after), headers={"Accept": "text/html"})
    assert html.status_code == 406 and "application/json" in html.json()["detail"]
    text = client.get("/metrics").text
    assert 'sentinel_predictions_total{format="mask"} 1.0' in text
    assert 'sentinel_errors_total{kind="not_acceptable"} 1.0' in text


def test_predict_scene_without_quicklook(model_file: Path, scene_pair: tuple[Path, Path], tmp_path: Path) -> None:
    """The service's call: the same outputs as the CLI's, less the PNG."""
    from planet_sentinel.model_bundle import load_bundle
    from planet_sentinel.predict import predict_scene

    result = predict_scene(load_bundle(model_file), *scene_pair, tmp_path, name="x", quicklook=False)
    assert result.quicklook is None and result.to_dict()["quicklook"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "x_loss.geojson",
        "x_loss.tif",
        "x_prediction.json",
        "x_probability.tif",
    ]
    assert "quicklook" not in result.summary["timings_s"]


def test_files_without_band_descriptions(client_for: Callable[..., TestClient], tmp_path: Path) -> None:
    """gdal_merge-style files (no descriptions) need `bands`; a wrong count or a contradiction is refused."""
    from planet_sentinel.bands import DEFAULT_BANDS
    from tests.test_bands_order import unnamed_copy
    from tests.test_predict import land_pair, write_pair

    loss = np.zeros((64, 64), bool)
    loss[16:40, 8:32] = True
    named = write_pair(tmp_path, *land_pair(64, 64, loss))
    merged = [unnamed_copy(p, tmp_path / f"merged_{k}.tif") for p, k in zip(named, ("before", "after"), strict=True)]
    order = ",".join(DEFAULT_BANDS)
    client = client_for()
    reference = client.post("/predict", files=pair(*named))
    assert reference.status_code == 200, reference.text

    refused = client.post("/predict", files=pair(*merged))
    assert refused.status_code == 422 and refused.json()["kind"] == "invalid_scene"
    detail = refused.json()["detail"]
    assert "'before': band 1 of 6 has no band description" in detail and f"bands={order}" in detail
    assert "/tmp" not in detail and "--bands" not in detail  # the service's field, not the CLI's flag

    for how in ({"data": {"bands": order}}, {"params": {"bands": order}}):
        answer = client.post("/predict", files=pair(*merged), **how)
        assert answer.status_code == 200, answer.text
        assert answer.json()["loss"] == reference.json()["loss"] and answer.json()["changed_share"] > 0

    short = client.post("/predict", files=pair(*merged), data={"bands": "B02,B03,B04,B08"})
    assert short.status_code == 422 and "bands names 4 bands" in short.json()["detail"]
    assert "the file has 6" in short.json()["detail"]
    swapped = "B03,B02," + ",".join(DEFAULT_BANDS[2:])
    conflict = client.post("/predict", files=pair(*named), data={"bands": swapped})
    assert conflict.status_code == 422 and "contradict bands" in conflict.json()["detail"]
    unknown = client.post("/predict", files=pair(*merged), data={"bands": "B02,B99"})
    assert unknown.status_code == 422 and unknown.json()["kind"] == "bad_bands" and "B99" in unknown.json()["detail"]
    both = client.post("/predict", files=pair(*merged), data={"bands": order}, params={"bands": swapped})
    assert both.status_code == 422 and both.json()["kind"] == "bad_bands"

    # a stack in another band order than the model's, stated with `bands`, gives the same map
    permutation = [5, 0, 3, 1, 4, 2]
    with rasterio.open(named[0]) as b, rasterio.open(named[1]) as a:
        profile = {**b.profile, "count": 12, "driver": "GTiff"}
        data = np.concatenate([b.read()[permutation], a.read()[permutation]])
    with rasterio.open(tmp_path / "stack.tif", "w", **profile) as out:
        out.write(data)
    files = {"file": ("stack.tif", (tmp_path / "stack.tif").read_bytes(), "image/tiff")}
    stacked = client.post("/predict", files=files, data={"bands": ",".join(DEFAULT_BANDS[i] for i in permutation)})
    assert stacked.status_code == 200, stacked.text
    assert stacked.json()["loss"] == reference.json()["loss"]
    wrong = client.post("/predict", files=files, data={"bands": order[:-4]})
    assert wrong.status_code == 422 and "bands names 5 bands" in wrong.json()["detail"]
    assert "'file' has 12 bands, 6 per date" in wrong.json()["detail"]
