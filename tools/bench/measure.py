"""Helpers shared by the benchmarks: run a phase in a fresh process and collect its figures."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    Read from /proc/self/status (VmHWM), which starts afresh at exec; ru_maxrss would carry over
    the peak of the parent that forked this process.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_phase(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m module args`` in a fresh process and parse its last stdout line as JSON,
    so each phase's peak memory is its own."""
    env = {**os.environ, "SENTINEL_QUIET": "1"}
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def default_workdir(name: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "planet-sentinel" / "bench" / name
