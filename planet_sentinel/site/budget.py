"""The site's size budget: what a browser downloads to open it, checked at every build.

Why a budget: Pages serves the whole site on every visit's first load of a picture, and a
forest analyst in the field may be on a slow link. 5 MB holds the demo (two 1024 px WebP
composites, the plots, Leaflet) with room; quicklooks stay at 1024 px a side whatever the
region's size (:data:`planet_sentinel.site.imagery.MAX_SIDE`), so a 1,000 km² region opens in
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planet_sentinel.errors import SentinelError

#: The default budget of a whole site, in bytes.
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class SiteSize:
    bytes: int
    files: int
    largest: tuple[str, int]

    def describe(self) -> str:
        name, size = self.largest
        return f"{self.bytes / 1e6:.2f} MB in {self.files} files (largest {name}, {size / 1e3:.0f} kB)"


def measure(site: Path) -> SiteSize:
    sizes = {p.relative_to(site).as_posix(): p.stat().st_size for p in site.rglob("*") if p.is_file()}
    largest = max(sizes.items(), key=lambda kv: kv[1], default=("", 0))
    return SiteSize(sum(sizes.values()), len(sizes), largest)


def check_budget(site: Path, max_bytes: int) -> SiteSize:
    """The site's size; a :class:`SentinelError` naming the largest file when over ``max_bytes``."""
    size = measure(site)
    if size.bytes > max_bytes:
        raise SentinelError(
            f"the site is {size.describe()}, over its budget of {max_bytes / 1e6:.2f} MB: "
            "lower --max-side or raise --max-mb"
        )
    return size
