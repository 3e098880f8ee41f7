"""The service's page (GET /) in headless chromium against uvicorn on 127.0.0.1 with a tiny model:
two GeoTIFFs uploaded, the loss polygons drawn over the after image with the totals; a refused
upload shows the service's reason in the page; Leaflet comes from the service itself."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from planet_sentinel.serving.app import create_app
from planet_sentinel.serving.settings import ServeSettings
from tests.serving.conftest import model_file, scene_pair, trained  # noqa: F401 (session fixtures)
from tests.site.browser import (
    chromium,
    console_errors,
    foreign,
    requested_urls,
    require_chromium,
    screenshot_variance,
    wait_for,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def service(model_file: Path) -> Iterator[str]:  # noqa: F811 (the fixture imported above)
    """uvicorn serving the session's tiny model on a free port, ready."""
    import httpx
    import uvicorn

    require_chromium()
    port = _free_port()
    settings = ServeSettings(model=str(model_file), reload_interval_s=0, workers=1, torch_threads=1)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "ready").status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    else:
        raise AssertionError("the service did not become ready")
    yield base
    server.should_exit = True
    thread.join(10)


def _submit(driver: Any, files: dict[str, Path]) -> str:
    driver.execute_script("document.getElementById('map').dataset.done = ''")
    for name in ("before", "after", "file"):
        driver.execute_script(f"document.querySelector('input[name={name}]').value = ''")
    for name, path in files.items():
        driver.find_element("css selector", f"input[name={name}]").send_keys(str(path))
    driver.find_element("css selector", "#upload button").click()
    return str(wait_for(driver, "document.getElementById('map').dataset.done", timeout=30))


def test_the_page_maps_a_prediction_and_shows_errors(
    service: str,
    scene_pair: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    before, after = scene_pair
    with chromium() as driver:
        driver.get(service)
        wait_for(driver, "document.getElementById('map').dataset.ready")
        assert _submit(driver, {"before": before, "after": after}) == "true"
        polygons = int(driver.execute_script("return document.getElementById('map').dataset.polygons"))
        assert polygons > 0
        assert driver.execute_script("return document.querySelectorAll('path.loss').length") == polygons
        assert driver.execute_script("return document.querySelectorAll('img.after-image').length") == 1
        totals = driver.find_element("id", "totals").text
        assert f"{polygons} loss polygons" in totals and " ha" in totals
        wait_for(driver, "document.querySelector('img.after-image').complete")
        variance = screenshot_variance(driver, tmp_path / "service-map.png")
        assert variance > 200, f"the map looks blank (grey variance {variance:.0f})"
        assert console_errors(driver) == []
        urls = requested_urls(driver)
        assert service + "static/leaflet/leaflet.js" in urls and foreign(urls) == []

        assert _submit(driver, {"before": before}) == "error"
        error = driver.find_element("id", "error").text
        assert "missing 'after'" in error and "(422)" in error and "{" not in error
