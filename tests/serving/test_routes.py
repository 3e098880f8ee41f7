"""The app as routers with dependencies: the same OpenAPI document, state per app, dependencies a test can override."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from planet_sentinel.serving.app import create_app
from planet_sentinel.serving.deps import get_served_model
from planet_sentinel.serving.schemas import ModelInfo
from planet_sentinel.serving.settings import ServeSettings

SNAPSHOT = Path(__file__).with_name("openapi.json")


def settings(tmp_path: Path, **overrides: object) -> ServeSettings:
    values = {"model": str(tmp_path / "missing.pt"), "reload_interval_s": 0, "workers": 1, "torch_threads": 1}
    return ServeSettings.model_validate({**values, **overrides})


def test_openapi_document_is_the_published_one(tmp_path: Path) -> None:
    """Paths, parameters, descriptions and response models as clients know them (written by the
    service before it was split into routers). If a change is meant, rewrite the snapshot with
    ``json.dump(create_app().openapi(), f, indent=1, sort_keys=True)`` and say so in the changelog."""
    document = json.loads(json.dumps(create_app(settings(tmp_path)).openapi()))
    assert document == json.loads(SNAPSHOT.read_text())


def test_each_app_has_its_own_state(tmp_path: Path) -> None:
    """Settings and metrics live on each app's state: two apps in one process do not mix them."""
    with (
        TestClient(create_app(settings(tmp_path, retry_after_s=7))) as first,
        TestClient(create_app(settings(tmp_path, retry_after_s=9))) as second,
    ):
        assert first.get("/model").headers["retry-after"] == "7"
        assert second.get("/model").headers["retry-after"] == "9"
        first.get("/model")
        counted = 'sentinel_http_requests_total{method="GET",route="/model",status="503"}'
        assert f"{counted} 2.0" in first.get("/metrics").text
        assert f"{counted} 1.0" in second.get("/metrics").text


def test_routes_take_the_served_model_as_a_dependency(tmp_path: Path) -> None:
    """A dependency is the seam: overriding it changes what /model and /ready see, nothing else is patched."""
    app = create_app(settings(tmp_path))
    info = ModelInfo(name="planet-sentinel", version="4", bands=["B04", "B08"], chip_size=64, threshold=0.5)

    async def served() -> ModelInfo:
        return info

    app.dependency_overrides[get_served_model] = served
    with TestClient(app) as client:
        model = client.get("/model")
        assert model.status_code == 200 and model.json()["version"] == "4"
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["model"]["bands"] == ["B04", "B08"]
