"""Leaflet, installed from npm (``assets/package.json``, pinned by ``assets/package-lock.json``).

Why npm and a copy: the site and the service page must open with no network beyond their own
host (Pages, or 127.0.0.1 in the tests), so Leaflet's dist files travel inside the site and the
package; never a CDN.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from planet_sentinel.errors import SentinelError

ASSETS = Path(__file__).parent / "assets"
#: What `npm ci` installs the pinned Leaflet with.
NPM_COMMAND = "npm ci --no-audit --no-fund --prefix planet_sentinel/site/assets"
#: Leaflet's dist files the pages use (the source maps and ESM build stay behind).
FILES = ("leaflet.js", "leaflet.css", "images")
#: Where the pages find Leaflet, relative to the site's root (or the service's /static/).
LEAFLET_PATH = "vendor/leaflet"


def leaflet_dist() -> Path:
    """Leaflet's ``dist`` folder: ``$SENTINEL_LEAFLET_DIR`` or the npm install beside this package."""
    override = os.environ.get("SENTINEL_LEAFLET_DIR")
    dist = Path(override) if override else ASSETS / "node_modules" / "leaflet" / "dist"
    if not (dist / "leaflet.js").is_file():
        raise SentinelError(f"Leaflet is not installed ({dist / 'leaflet.js'} missing): run `{NPM_COMMAND}`")
    return dist


def copy_leaflet(site_root: Path) -> Path:
    """Copy Leaflet's dist files (and its licence) to ``<site_root>/vendor/leaflet``."""
    dist = leaflet_dist()
    target = site_root / LEAFLET_PATH
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        source = dist / name
        if source.is_dir():
            shutil.copytree(source, target / name, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / name)
    licence = dist.parent / "LICENSE"
    if licence.is_file():
        shutil.copy2(licence, target / "LICENSE")
    return target
