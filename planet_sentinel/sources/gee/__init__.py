"""Earth Engine ingest: Sentinel-2 composites and Hansen labels straight into ``data/raw``.

One module per job: :mod:`.catalog` (dataset ids), :mod:`.config` (settings), :mod:`.graph`
(ee graphs), :mod:`.plan` (grid, tiles, route), :mod:`.auth` (credentials), :mod:`.download`
(computePixels tiles and mosaic), :mod:`.export` (batch exports), :mod:`.ingest` (the whole run).
earthengine-api is imported only inside functions, so importing this package stays cheap.
"""

from __future__ import annotations

from planet_sentinel.sources.gee.config import ExportTarget, IngestConfig
from planet_sentinel.sources.gee.ingest import dry_run, ingest
from planet_sentinel.sources.gee.plan import Plan, make_plan

__all__ = ["ExportTarget", "IngestConfig", "Plan", "dry_run", "ingest", "make_plan"]
