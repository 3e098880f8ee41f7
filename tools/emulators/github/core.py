"""What every part of the GitHub emulator shares: the error type, timestamps, the ``data:`` URI rule."""

from __future__ import annotations

import re
import time
from typing import Any

BOT = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"

#: A ``data:`` URI (RFC 2397: ``data:[<mediatype>][;base64],<data>``). GitHub's sanitizer drops it
#: from rendered markdown, so the emulator refuses any issue or comment body that carries one
#: (a deliberate difference from GitHub, which stores it and shows nothing): a test then fails
#: wherever our code would post a picture nobody sees.
DATA_URI = re.compile(r"\bdata:(?:[a-z0-9.+-]+/[a-z0-9.+-]+)?(?:;[a-z0-9.+-]+(?:=[^;,\s]*)?)*,", re.IGNORECASE)


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


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
