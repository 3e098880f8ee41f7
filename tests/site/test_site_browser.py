"""The built site in headless chromium, served under /repo/ like GitHub Pages: the map draws every
alert, its layers switch, nothing is logged as an error, nothing is fetched from outside 127.0.0.1,
and the screenshot is a real render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planet_sentinel.site import SiteConfig, build_site
from tests.site.browser import (
    chromium,
    console_errors,
    foreign,
    requested_urls,
    require_chromium,
    screenshot_variance,
    serve_under_repo,
    wait_for,
)
from tests.site.workspace import FakeWorkspace, make_workspace


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeWorkspace, Path]:
    require_chromium()
    root = tmp_path_factory.mktemp("workspace")
    workspace = make_workspace(root)
    build_site(root / "site", SiteConfig(root=root), env={})
    return workspace, root / "site"


def _toggle(driver: Any, label: str) -> None:
    """Click the layer control's checkbox whose label starts with ``label``."""
    driver.execute_script(
        "const l = [...document.querySelectorAll('.leaflet-control-layers label')]"
        ".find(e => e.textContent.trim().startsWith(arguments[0])); l.querySelector('input').click();",
        label,
    )


def _count(driver: Any, selector: str) -> int:
    return int(driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector))


def test_the_map_shows_every_alert_and_its_layers_switch(built: tuple[FakeWorkspace, Path], tmp_path: Path) -> None:
    workspace, site = built
    with serve_under_repo(site) as base, chromium() as driver:
        driver.get(base + "index.html")
        wait_for(driver, "document.getElementById('map').dataset.ready")
        assert _count(driver, "path.alert") == workspace.alerts == 4
        assert _count(driver, "path.alert-high") == 1  # the 95 % block; the others are below 0.9
        assert _count(driver, "path.tile") == workspace.tiles and _count(driver, "path.tile-failed") == 1
        assert _count(driver, "img.composite-after") == 1 and _count(driver, "img.composite-before") == 0
        wait_for(driver, "document.querySelector('img.composite-after').complete")
        variance = screenshot_variance(driver, tmp_path / "site-map.png")
        assert variance > 200, f"the map looks blank (grey variance {variance:.0f})"

        _toggle(driver, "demo: before")
        _toggle(driver, "demo: after")
        _toggle(driver, "alerts")
        assert _count(driver, "img.composite-before") == 1 and _count(driver, "img.composite-after") == 0
        assert _count(driver, "path.alert") == 0
        _toggle(driver, "alerts")
        click = "document.querySelector('path.alert-high').dispatchEvent(new MouseEvent('click', {bubbles: true}))"
        driver.execute_script(click)
        popup = wait_for(driver, "document.querySelector('.leaflet-popup-content')?.textContent")
        assert "observed2024-01-31 → 2024-03-31" in popup and "confidencehigh" in popup, popup
        assert "modelplanet-sentinel v7" in popup and " ha" in popup

        driver.get(base + "runs/outputs-demo-evaluation/index.html")
        wait_for(driver, "document.readyState === 'complete'")
        assert "0.75" in driver.find_element("tag name", "table").text
        assert console_errors(driver) == []
        urls = requested_urls(driver)
    assert any(u.endswith("/repo/vendor/leaflet/leaflet.js") for u in urls)
    assert foreign(urls) == [], "requests left 127.0.0.1"
