"""The container engine CLI (docker or podman), used the same way by deploy and by tools/container.

Both engines take the same ``build``/``run``/``inspect``/``rm`` arguments for what we need, so one
thin wrapper over the real binary serves both. Extra arguments for ``run`` come from
``SENTINEL_CONTAINER_RUN_ARGS`` (shell words); podman gets ulimits and ``--init`` by default,
because rootful podman under a restricted parent (CI sandboxes, nested containers) cannot raise
rlimits to its defaults, and ``--init`` reaps zombies and forwards signals to uvicorn.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from planet_sentinel.errors import SentinelError

ENGINES = ("docker", "podman")
PODMAN_RUN_ARGS = ("--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768", "--init")


@dataclass(frozen=True)
class Engine:
    """A working container engine: its name, binary and the extra ``run`` arguments."""

    name: str
    binary: str
    run_args: tuple[str, ...] = ()
    global_args: tuple[str, ...] = ()

    def command(self, *args: str) -> list[str]:
        return [self.binary, *self.global_args, *args]

    def run(
        self, *args: str, check: bool = True, timeout: float | None = 600, capture: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``<engine> args``; with ``check`` a failure raises SentinelError with stderr's tail."""
        try:
            proc = subprocess.run(
                self.command(*args),
                capture_output=capture,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SentinelError(f"{self.name} {args[0]} timed out after {timeout:.0f} s") from exc
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
            raise SentinelError(f"{self.name} {' '.join(args[:2])} failed (exit {proc.returncode}): {' | '.join(tail)}")
        return proc

    def image_exists(self, image: str) -> bool:
        return self.run("image", "inspect", image, check=False, timeout=60).returncode == 0

    def ensure_image(self, image: str) -> str:
        """The image, pulled if it is not present locally; 'present' or 'pulled'."""
        if self.image_exists(image):
            return "present"
        self.run("pull", image, timeout=1800)
        return "pulled"


def _works(binary: str) -> bool:
    try:
        return subprocess.run([binary, "info"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def default_run_args(name: str) -> tuple[str, ...]:
    text = os.environ.get("SENTINEL_CONTAINER_RUN_ARGS")
    if text is not None:
        return tuple(shlex.split(text))
    return PODMAN_RUN_ARGS if name == "podman" else ()


def detect_engine(preferred: str | None = None, candidates: Sequence[str] = ENGINES) -> Engine:
    """The first engine whose ``info`` succeeds (a docker client without a daemon does not count).

    ``preferred`` (docker or podman) is the only one tried when given.
    """
    names = [preferred] if preferred else list(candidates)
    tried = []
    for name in names:
        if name not in ENGINES:
            raise SentinelError(f"unknown container engine {name!r}: use one of {', '.join(ENGINES)}")
        binary = shutil.which(name)
        if binary is None:
            tried.append(f"{name}: not installed")
            continue
        if not _works(binary):
            tried.append(f"{name}: `{name} info` fails (is the daemon/service running?)")
            continue
        global_args = tuple(shlex.split(os.environ.get("SENTINEL_CONTAINER_GLOBAL_ARGS", "")))
        return Engine(name, binary, default_run_args(name), global_args)
    raise SentinelError("no working container engine: " + "; ".join(tried))
