"""Hidden JSON markers in issue bodies: how the bot finds its own issues again.

Why one module: the drift episode (``github.episodes``) and the region period
(``github.region_issue``) both put one ``<!-- planet-sentinel:<kind> {json} -->`` line in the
issue body and read it back tolerantly, since people edit issue bodies: a missing, mangled or
non-object marker reads as "not one of ours", never as an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HiddenMarker:
    """The marker line of one ``kind`` of issue (an HTML comment: GitHub does not render it)."""

    kind: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The marker line with its JSON object as group 1 (``re`` caches the compiled pattern)."""
        return re.compile(rf"<!-- planet-sentinel:{re.escape(self.kind)} (\{{.*?\}}) -->")

    def write(self, info: Mapping[str, Any]) -> str:
        """The line to put in an issue body (keys sorted: the same info gives the same line)."""
        return f"<!-- planet-sentinel:{self.kind} {json.dumps(info, sort_keys=True)} -->"

    def read(self, body: str | None) -> dict[str, Any] | None:
        """The marker's object in ``body``, or None if there is none that parses as a JSON object."""
        match = self.pattern.search(body or "")
        if not match:
            return None
        try:
            info = json.loads(match.group(1))
        except json.JSONDecodeError:
            return None
        return info if isinstance(info, dict) else None
