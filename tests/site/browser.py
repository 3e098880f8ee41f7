"""Headless Debian chromium through selenium, and a static server that serves a folder under /repo/.

Why a sub-path: GitHub Pages serves a project site under ``/<repo>/``, so a link that starts with
``/`` would break there; serving the site under ``/repo/`` in the test catches it. Requests are
read from chromium's performance log (DevTools ``Network.requestWillBeSent`` events) and console
messages from its browser log (goog:loggingPrefs, chromedriver's capability).
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

INSTALL = "apt-get install -y chromium chromium-driver && pip install selenium"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def require_chromium() -> None:
    """Skip (with the install command) where chromium, its driver or selenium is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip(f"selenium is not installed: {INSTALL}")
    if CHROMIUM is None or DRIVER is None:
        pytest.skip(f"chromium or chromedriver is not installed: {INSTALL}")


class _SubPathHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``directory`` under ``/repo/`` only (anything else is a 404, as on Pages)."""

    prefix = "/repo/"

    def translate_path(self, path: str) -> str:
        url = urlsplit(path).path
        if not url.startswith(self.prefix):
            return str(Path(self.directory) / "\0missing")
        return super().translate_path("/" + url[len(self.prefix) :])

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@contextmanager
def serve_under_repo(directory: Path) -> Iterator[str]:
    """``http://127.0.0.1:<port>/repo/``, serving ``directory``, for as long as the block runs."""
    handler = functools.partial(_SubPathHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repo/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium that logs the console and the network, closed after the block."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root (CI containers)
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--window-size=1000,800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(DRIVER)))
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """Console messages at SEVERE (errors, failed loads) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page requested since the last call (DevTools Network.requestWillBeSent)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def foreign(urls: list[str]) -> list[str]:
    """URLs that leave 127.0.0.1 (``data:`` and ``blob:`` stay inside the page)."""
    return [u for u in urls if not u.startswith(("http://127.0.0.1:", "data:", "blob:", "about:"))]


def screenshot_variance(driver: Any, target: Path, element_id: str = "map") -> float:
    """Write a screenshot of the element (the map) to ``target``; its grey-level variance (about 0 when blank)."""
    from PIL import Image

    png = driver.find_element("id", element_id).screenshot_as_png
    target.write_bytes(png)
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float32)
    return float(grey.var())


def wait_for(driver: Any, script: str, timeout: float = 10) -> Any:
    """Poll ``return <script>`` until it is truthy; its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(f"return {script}"))
