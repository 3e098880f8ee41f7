"""What every part of the GitHub emulator shares: the error type, handler types, pagination, timestamps,
the ``data:`` URI rule."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

from tools.emulators.routing import HttpError

BOT = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"

#: A ``data:`` URI (RFC 2397: ``data:[<mediatype>][;base64],<data>``). GitHub's sanitizer drops it
#: from rendered markdown, so the emulator refuses any issue or comment body that carries one
#: (a deliberate difference from GitHub, which stores it and shows nothing): a test then fails
#: wherever our code would post a picture nobody sees.
DATA_URI = re.compile(r"\bdata:(?:[a-z0-9.+-]+/[a-z0-9.+-]+)?(?:;[a-z0-9.+-]+(?:=[^;,\s]*)?)*,", re.IGNORECASE)


PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 100

#: A request's query (the last value of each parameter) and a route handler's answer: (status,
#: JSON payload or bytes or None for no body, extra headers).
Query = dict[str, str]
Answer = tuple[int, Any, dict[str, str]]


class ApiError(HttpError):
    """GitHub's error answer: ``basic-error``, or ``validation-error`` with ``errors``."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(status, message)
        self.errors = errors

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "message": self.message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(self.status),
        }
        if self.errors:
            payload["errors"] = self.errors
        return payload


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def refuse_data_uris(resource: str, text: Any) -> None:
    """422 if ``text`` holds a ``data:`` URI (see :data:`DATA_URI`)."""
    match = DATA_URI.search(text) if isinstance(text, str) else None
    if match:
        raise ApiError(
            422,
            f"Validation Failed: the {resource} body contains a data: URI ({match.group(0)[:40]}...), which GitHub "
            "strips from rendered markdown; link a picture by URL instead (planet_sentinel.github.pictures)",
            [{"resource": resource, "field": "body", "code": "invalid"}],
        )


def paginate(items: list[Any], query: Query, url: str) -> tuple[int, list[Any], dict[str, str]]:
    """A page of ``items`` with GitHub's ``Link`` header (next/last/first/prev), which PyGithub follows."""
    try:
        per_page = max(1, min(PER_PAGE_MAX, int(query.get("per_page", PER_PAGE_DEFAULT))))
        page = max(1, int(query.get("page", 1)))
    except ValueError:
        raise ApiError(422, "Validation Failed: page and per_page must be integers") from None
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]

    def link(p: int, rel: str) -> str:
        return f'<{url}?{urlencode({**query, "page": p, "per_page": per_page})}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return 200, chunk, ({"Link": ", ".join(links)} if links else {})
