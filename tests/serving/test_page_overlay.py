"""The service page's after-image overlay travels as a WebP file with its bounds in a header, never as
a data: URI (GitHub strips those, and the project sends pictures as files everywhere)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from planet_sentinel.serving.app import create_app
from planet_sentinel.serving.routes.page import BOUNDS_HEADER
from planet_sentinel.serving.settings import ServeSettings
from tests.conftest import write_fake_scene


def test_overlay_is_a_webp_file_with_its_bounds(tmp_path: Path) -> None:
    scene = write_fake_scene(tmp_path, size=128)
    settings = ServeSettings.model_validate({"model": str(tmp_path / "missing.pt"), "reload_interval_s": 0})
    with TestClient(create_app(settings)) as client:
        files = {"image": ("after.tif", scene.after.read_bytes(), "image/tiff")}
        answer = client.post("/page/overlay", files=files)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "image/webp"
        assert answer.content[:4] == b"RIFF" and answer.content[8:12] == b"WEBP"
        assert b"data:" not in answer.content[:64]
        (south, west), (north, east) = json.loads(answer.headers[BOUNDS_HEADER])
        assert -90 <= south < north <= 90 and -180 <= west < east <= 180
        bad = client.post("/page/overlay", files={"image": ("x.tif", b"not a tiff", "image/tiff")})
        assert bad.status_code == 422 and "cannot be shown" in bad.json()["detail"]
