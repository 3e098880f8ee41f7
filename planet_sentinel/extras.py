"""Optional dependencies, imported where they are used, with the install line when they are missing.

Why: the service image installs only what serving needs (no fiona, no pystac: about 55 MB of a
GDAL copy and STAC schemas), so a library piece that needs an extra says which, instead of an
ImportError from deep inside a command.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from planet_sentinel.errors import SentinelError


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """``module`` imported, or a SentinelError naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SentinelError(
            f"{purpose} needs {module}, which this install lacks: pip install 'planet-sentinel[{extra}]'"
        ) from exc
