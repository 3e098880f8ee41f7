"""The README's screenshot of a built site's map, in headless chromium (the tests' browser helper).

    sentinel demo && python -m tests.site.screenshot site docs/img/site-map.png

Serves the site under /repo/ from 127.0.0.1 as the browser tests do, waits for the map and the
after composite, and writes the map element, downscaled to at most 1200 px wide, as an optimised PNG.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from tests.site.browser import chromium, console_errors, foreign, requested_urls, serve_under_repo, wait_for

WIDTH, HEIGHT = 1400, 1000
MAX_WIDTH = 1200
MAX_BYTES = 300 * 1024


def screenshot(site: Path, target: Path) -> int:
    """Write ``target``; its size in bytes. Fails on console errors or requests off 127.0.0.1."""
    from PIL import Image

    with serve_under_repo(site) as url, chromium() as driver:
        driver.set_window_size(WIDTH, HEIGHT)
        driver.get(url + "index.html")
        wait_for(driver, "document.getElementById('map').dataset.ready", timeout=30)
        wait_for(driver, "document.querySelector('img.composite-after')?.complete", timeout=30)
        png = driver.find_element("id", "map").screenshot_as_png
        problems = console_errors(driver) + foreign(requested_urls(driver))
    if problems:
        raise SystemExit(f"the page is not clean: {problems}")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > MAX_WIDTH:
        image = image.resize((MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)), Image.Resampling.LANCZOS)
    for colours in (256, 128, 64):  # a palette PNG: the map's flat colours survive, the bytes shrink
        buffer = io.BytesIO()
        image.quantize(colours, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
        if buffer.tell() <= MAX_BYTES:
            break
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    return buffer.tell()


if __name__ == "__main__":
    site_dir, out = (Path(arg) for arg in sys.argv[1:3])
    print(f"{out}: {screenshot(site_dir, out) / 1024:.0f} KB")
