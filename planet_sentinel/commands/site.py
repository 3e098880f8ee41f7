"""`sentinel site build`: the workspace's maps and reports as a static site (for GitHub Pages)."""

from __future__ import annotations

from pathlib import Path

import click

from planet_sentinel.commands.common import emit, json_option


@click.group()
def site() -> None:
    """The static site of a workspace: a map of the alerts and composites, a page per run (docs/site.md)."""


@site.command("build")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder of the site (replaced whole).")
@click.option(
    "--root", type=click.Path(exists=True, file_okay=False), help="The workspace [default: the current folder]."
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Folder searched for artefacts, repeatable (relative: under --root) [default: outputs and data].",
)
@click.option("--max-side", type=int, help="Longest side of a composite's quicklook, pixels [default: 1024].")
@click.option("--max-mb", type=float, help="Size budget of the whole site, MB [default: 5].")
@click.option("--issue", help="The issue the build belongs to: a number of $GITHUB_REPOSITORY or a URL.")
@json_option
def build(
    out: str,
    root: str | None,
    sources: tuple[str, ...],
    max_side: int | None,
    max_mb: float | None,
    issue: str | None,
    as_json: bool,
) -> None:
    """Build the site into --out: index.html (the map), runs/<folder>/index.html, Leaflet, the quicklooks.

    Static files with relative links: it opens from file://, any web server, or GitHub Pages
    under /<repo>/. The build prints its size and fails, keeping the previous site, over budget.
    """
    from planet_sentinel.config import resolve
    from planet_sentinel.site import SiteConfig, build_site

    flags = {
        "root": root,
        "sources": list(sources) or None,
        "max_side": max_side,
        "max_bytes": None if max_mb is None else int(max_mb * 1024 * 1024),
        "issue": issue,
    }
    config = resolve(SiteConfig, "site", flags)
    emit(build_site(Path(out), config).summary(), as_json)
