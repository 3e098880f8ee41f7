"""`sentinel site build`: a static site (GitHub Pages) of a workspace's maps and reports.

Modules, one job each: :mod:`.vendor` (Leaflet from npm, copied in: never a CDN), :mod:`.scan`
(which artefacts the workspace holds), :mod:`.imagery` (true-colour quicklooks in WGS 84 bounds),
:mod:`.layers` (the map's data: alerts, composites, region tiles, plots), :mod:`.runs` (one page
per output folder: drift, evaluation, model provenance, links), :mod:`.html` (the pages),
:mod:`.budget` (the size budget), :mod:`.build` (everything into a staging folder, then renamed).
"""

from __future__ import annotations

from planet_sentinel.site.build import SiteConfig, SiteResult, build_site

__all__ = ["SiteConfig", "SiteResult", "build_site"]
