"""One exception type for every failure a user can fix, so every surface can report it."""

from __future__ import annotations

from pathlib import Path


class SentinelError(Exception):
    """A problem with the user's input or environment, with a message that says what to do.

    The CLI prints the message and exits non-zero; the service maps it to a 4xx response.
    """


def require_file(path: str | Path, kind: str) -> Path:
    """``path`` as a Path if it is an existing file; otherwise a SentinelError naming ``kind``."""
    p = Path(path)
    if not p.exists():
        raise SentinelError(f"{p}: no such file")
    if p.is_dir():
        raise SentinelError(f"{p}: is a directory, expected a {kind} file")
    return p
