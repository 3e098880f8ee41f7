"""The site's HTML: one page shell, tables and links, every value escaped.

Why no template engine: the pages are a few tables and one map; ``html.escape`` on every value is
all the safety they need, and a dependency less. Links are relative (``root`` is the way back to
the site's top from the page), so the site works under any sub-path (Pages serves ``/<repo>/``)
and from ``file://``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

#: An empty icon: no /favicon.ico request (a 404 the browser would log as an error).
NO_FAVICON = '<link rel="icon" href="data:,">'


def page(title: str, body: str, root: str, head: str = "") -> str:
    """A whole page: ``root`` is the relative way to the site's top ("" or "../../")."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Planet Sentinel</title>
{NO_FAVICON}
<link rel="stylesheet" href="{root}static/site.css">
{head}
</head>
<body>
<header><a href="{root}index.html">Planet Sentinel</a> · {escape(title)}</header>
<main>
{body}
</main>
</body>
</html>
"""


def link(href: str | None, text: str) -> str:
    """``<a>`` when there is a target, else the text alone."""
    if not href:
        return escape(text)
    return f'<a href="{escape(href, quote=True)}">{escape(text)}</a>'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], raw: bool = False) -> str:
    """A table of escaped cells (``raw``: cells are already HTML)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if raw else escape(_text(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list of (label, HTML) pairs."""
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def image(src: str, alt: str) -> str:
    return f'<figure><img src="{escape(src, quote=True)}" alt="{escape(alt, quote=True)}" loading="lazy"></figure>'


def _text(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
