"""What is deployed: the live instance and a short history, in one JSON file per state directory.

The file is replaced atomically, and a lock file serialises roll-outs, so two deploy jobs on the
same runner cannot interleave. The live instance is still checked against reality (is the
process or container there, does it answer) before it is trusted.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import write_text_atomic

STATE_FILE = "state.json"
HISTORY = 20


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/planet-sentinel/deploy`` (``~/.local/state/...``): outlives the job's
    workspace, which self-hosted runners clean between jobs."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "planet-sentinel" / "deploy"


@dataclass
class Instance:
    """One running service: a process id or a container name, its port and model version."""

    runtime: str
    ref: str
    host: str
    port: int
    version: str
    spec: str
    started_at: float = field(default_factory=time.time)
    #: Process runtime: the log file and the process start time (guards against pid reuse).
    log: str | None = None
    proc_start: str | None = None
    cwd: str | None = None
    #: Process runtime: started with ``--reuse-port`` (a successor can share the port) and the
    #: private port it also listens on, to check this very instance while another shares the port.
    reuse_port: bool = False
    probe_port: int | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    @property
    def probe_url(self) -> str:
        """Where this instance alone answers: its probe port if it has one, else its port."""
        return self.url if self.probe_port is None else self.url.rsplit(":", 1)[0] + f":{self.probe_port}"

    def describe(self) -> str:
        return f"{self.runtime} {self.ref} (v{self.version} on port {self.port})"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Instance:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class DeployState:
    active: Instance | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def record(self, event: dict[str, Any]) -> None:
        self.history = [*self.history, {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **event}][-HISTORY:]

    def to_dict(self) -> dict[str, Any]:
        return {"active": asdict(self.active) if self.active else None, "history": self.history}


def load_state(state_dir: Path) -> DeployState:
    path = state_dir / STATE_FILE
    if not path.exists():
        return DeployState()
    try:
        data = json.loads(path.read_text())
        active = Instance.from_dict(data["active"]) if data.get("active") else None
        return DeployState(active, list(data.get("history", [])))
    except (ValueError, KeyError, TypeError) as exc:
        raise SentinelError(f"{path}: unreadable deploy state ({exc}); fix or remove it") from exc


def save_state(state_dir: Path, state: DeployState) -> None:
    write_text_atomic(state_dir / STATE_FILE, json.dumps(state.to_dict(), indent=2) + "\n")


@contextmanager
def locked(state_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the state directory's lock; another roll-out in progress is an error, not a queue."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".lock").open("w") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    raise SentinelError(f"another deploy holds {state_dir / '.lock'}; try again when it ends") from exc
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
