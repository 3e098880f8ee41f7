"""Helpers shared by the benchmarks: run a phase in a fresh process, read memory from /proc, sample
it while a phase runs, and print the JSON line with its goal."""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def status_mb(field: str, pid: int | str = "self") -> float:
    """A memory figure (``VmRSS``, ``VmHWM``, ``RssAnon``...) of a process from /proc/PID/status, in MiB;
    NaN where the field (or /proc) is missing."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    Read from /proc/self/status (VmHWM), which starts afresh at exec; ru_maxrss would carry over
    the peak of the parent that forked this process.
    """
    peak = status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if math.isnan(peak) else peak


class Sampler:
    """Calls ``read`` on entry and then every ``interval`` seconds on a thread until exit (and once
    more at exit if ``final``); the readings are in ``samples``."""

    def __init__(self, read: Callable[[], float], interval: float, final: bool = True) -> None:
        self.read, self.interval, self.final = read, interval, final
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self.samples.append(self.read())
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(self.read())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.final:
            self.samples.append(self.read())

    @property
    def peak(self) -> float:
        return max(self.samples)


def run_phase(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m module args`` in a fresh process and parse its last stdout line as JSON,
    so each phase's peak memory is its own."""
    env = {**os.environ, "SENTINEL_QUIET": "1"}
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def phase_main(phases: Mapping[str, Callable[..., Mapping[str, Any]]]) -> None:
    """The ``__main__`` of a benchmark module: ``python -m MODULE PHASE ARGS...`` prints the phase's figures."""
    phase, *rest = sys.argv[1:]
    print(json.dumps(phases[phase](*rest)))


def emit(
    result: dict[str, Any],
    at_most: Mapping[str, float],
    at_least: Mapping[str, float] | None = None,
    exact: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Add the goal and whether the result meets it, print the JSON line, return it.

    ``exact`` gives figures to compare in place of the rounded ones the result shows."""
    at_least = at_least or {}
    value = {**result, **(exact or {})}
    result["goal"] = {**at_least, **at_most}
    result["meets_goal"] = all(value[k] >= v for k, v in at_least.items()) and all(
        value[k] <= v for k, v in at_most.items()
    )
    print(json.dumps(result))
    return result


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then kill after a minute: a benchmark never leaves a server behind."""
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def default_workdir(name: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "planet-sentinel" / "bench" / name
