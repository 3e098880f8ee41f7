"""Build the site: scan the workspace, write the map, the run pages and the index into a staging
folder beside ``--out``, check the size budget, then rename it onto ``--out`` (a failed build
never loses the previous site: :func:`planet_sentinel.raster.atomic_directory`).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from pydantic import BaseModel, Field

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import atomic_directory
from planet_sentinel.site import html
from planet_sentinel.site.budget import DEFAULT_MAX_BYTES, SiteSize, check_budget
from planet_sentinel.site.check import check_links
from planet_sentinel.site.imagery import MAX_SIDE
from planet_sentinel.site.layers import (
    MapData,
    collect_alerts,
    collect_overlays,
    collect_plots,
    collect_tiles,
    write_map_data,
)
from planet_sentinel.site.runs import Links, write_run_pages
from planet_sentinel.site.scan import scan
from planet_sentinel.site.vendor import LEAFLET_PATH, copy_leaflet

STATIC = Path(__file__).parent / "static"
#: Marks a folder as a site this command built: only such a folder (or an empty one) is replaced.
MARKER = ".sentinel-site"
log = logging.getLogger(__name__)


class SiteConfig(BaseModel):
    """What the site is built from and how big it may get."""

    root: Path = Field(Path("."), description="The workspace: relative scene paths in artefacts resolve here.")
    sources: list[Path] = Field(
        default_factory=lambda: [Path("outputs"), Path("data")],
        description="Folders searched for artefacts (relative ones under root).",
    )
    max_side: int = Field(MAX_SIDE, ge=64, le=4096, description="Longest side of a quicklook, pixels.")
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0, description="Size budget of the whole site, bytes.")
    issue: str | None = Field(None, description="The issue the build belongs to: a number or a URL.")


@dataclass
class SiteResult:
    out: Path
    size: SiteSize
    alerts: int
    overlays: int
    tiles: int
    plots: int
    runs: list[str] = field(default_factory=list)
    #: The run pages' pictures, relative to the site's top (what issues and summaries show).
    pictures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        index = self.out / "index.html"
        return {
            "site": str(self.out),
            "size": self.size.describe(),
            "bytes": self.size.bytes,
            "alerts": self.alerts,
            "overlays": self.overlays,
            "tiles": self.tiles,
            "plots": self.plots,
            "runs": len(self.runs),
            "pages": self.runs,
            "pictures": self.pictures,
            "open": f"file://{index.resolve()}  (or: python -m http.server -d {self.out})",
        }


def build_site(out: Path, config: SiteConfig, env: Mapping[str, str] | None = None) -> SiteResult:
    """Build the site of ``config.root`` into ``out`` (replacing a previous one only on success)."""
    env = os.environ if env is None else env
    _refuse_foreign(out)
    root = config.root
    sources = [s if s.is_absolute() else root / s for s in config.sources]
    found = scan(sources)
    links = Links.from_env(env, config.issue)
    with atomic_directory(out, overwrite=True) as site:
        copy_leaflet(site)
        shutil.copytree(STATIC, site / "static")
        data = MapData(
            alerts=collect_alerts(found),
            overlays=collect_overlays(found, site, root, config.max_side),
            tiles=collect_tiles(found, root),
            plots=collect_plots(found),
            issue_url=links.issue_url,
        )
        write_map_data(data, site / "data" / "map.js")
        entries = write_run_pages(found, root, site, links)
        (site / "index.html").write_text(_index(data, entries, links))
        (site / ".nojekyll").write_text("")  # Pages serves the files as they are
        (site / MARKER).write_text("built by sentinel site build\n")
        check_links(site)
        size = check_budget(site, config.max_bytes)
        pictures = sorted(p.relative_to(site).as_posix() for p in (site / "runs").rglob("*.png"))
    log.info(f"site: {out}: {size.describe()}")
    counts = len(data.alerts), len(data.overlays), len(data.tiles), len(data.plots)
    return SiteResult(out, size, *counts, runs=[e["href"] for e in entries], pictures=pictures)


def _refuse_foreign(out: Path) -> None:
    """Never replace a folder that is not a site (``--out data`` would delete the data)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise SentinelError(f"{out} exists and is not a site built by `sentinel site build`; choose another --out")


def _index(data: MapData, entries: Sequence[Mapping[str, str]], links: Links) -> str:
    leaflet = LEAFLET_PATH
    head = f'<link rel="stylesheet" href="{leaflet}/leaflet.css">'
    rows = [(html.link(e["href"], e["name"]), escape(e["kinds"]), escape(e["drift"] or "–")) for e in entries]
    run = html.link(links.run_url, "workflow run") if links.run_url else "local build"
    body = f"""<div id="map" data-alerts="{len(data.alerts)}"></div>
<p class="legend"><span class="high">high</span> <span class="nominal">nominal</span> confidence; newer periods
are drawn stronger. Tiles: <span class="ok">ok</span> <span class="failed">failed / missing</span>.
Plots: <span class="loss">loss detected</span> <span class="clear">no loss</span>
<span class="unknown">unknown</span>. Built from {run}.</p>
<h2>Runs</h2>
{html.table(["output folder", "reports", "drift"], rows, raw=True) if rows else "<p>No reports in the workspace.</p>"}
<script src="{leaflet}/leaflet.js"></script>
<script src="data/map.js"></script>
<script src="static/map.js"></script>
"""
    return html.page("map", body, root="", head=head)
