"""A missing optional dependency names the extra that brings it (the service image has no fiona)."""

from __future__ import annotations

import subprocess
import sys


def test_missing_fiona_names_the_extra() -> None:
    code = """
import sys
sys.modules["fiona"] = None  # as in the service image
from planet_sentinel.errors import SentinelError
from planet_sentinel.extras import require
try:
    require("fiona", "vector", "writing FlatGeobuf alerts")
except SentinelError as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "writing FlatGeobuf alerts needs fiona, which this install lacks: pip install 'planet-sentinel[vector]'"
    )
