"""The built site checked before it replaces the previous one: every ``href``/``src`` of every page
is relative and lands on a file of the site.

Why at every build: Pages serves the site under ``/<repo>/`` and the issues link to its pages and
pictures, so a broken or absolute link is a broken report. Under act, where nothing is published,
this check is what the workflows' site step proves.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from planet_sentinel.errors import SentinelError

_TARGET = re.compile(r'(?:href|src)="([^"]*)"')
#: Links that leave the site on purpose (the workflow run, the issue) or carry no file.
_EXTERNAL = ("http://", "https://", "data:", "mailto:", "#")


def broken_links(site: Path) -> list[str]:
    """``page: target`` for each link of the site's pages that is absolute or lands on no file."""
    problems = []
    for page in sorted(site.rglob("*.html")):
        for target in _TARGET.findall(page.read_text()):
            if target.startswith(_EXTERNAL):
                continue
            name = page.relative_to(site).as_posix()
            path = unquote(urlsplit(target).path)
            if target.startswith("/") or urlsplit(target).scheme:
                problems.append(f"{name}: {target} (not relative: breaks under /<repo>/)")
            elif not (page.parent / path).resolve().is_file():
                problems.append(f"{name}: {target} (no such file)")
    return problems


def check_links(site: Path) -> None:
    """A :class:`SentinelError` listing the broken links, if any."""
    problems = broken_links(site)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise SentinelError(f"the site has {len(problems)} broken link(s): {shown}")
