"""DVC set-up: the data stages are versioned with DVC and pushed to a remote by configuration.

``sentinel init`` makes a checkout ready: ``dvc init`` if needed and a default remote. Without a
cloud account the remote is a local directory (outside the repository), which is enough for
``dvc push``/``dvc pull`` between checkouts on one machine and for the act runs in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from planet_sentinel.errors import SentinelError

REMOTE_NAME = "local"


def default_remote_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "planet-sentinel" / "dvc-remote"


def _dvc(repo: Path, *args: str) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SentinelError(f"`dvc {' '.join(args)}` failed: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout.strip()


def init_local_remote(repo: Path, remote: Path | None = None) -> list[str]:
    """Initialise DVC in ``repo`` if needed and make a local directory its default remote.

    The remote is written to ``.dvc/config.local`` (not committed): each machine names its own,
    while CI and production set theirs with ``dvc remote add`` in their own config.
    """
    lines = []
    if not (repo / ".dvc").is_dir():
        scm = (repo / ".git").exists()
        _dvc(repo, "init", *([] if scm else ["--no-scm"]))
        lines.append(f"initialised DVC in {repo}")
    remote = (remote or default_remote_dir()).resolve()
    remote.mkdir(parents=True, exist_ok=True)
    _dvc(repo, "remote", "add", "--local", "--force", "--default", REMOTE_NAME, str(remote))
    lines.append(f"default DVC remote '{REMOTE_NAME}' -> {remote} (in .dvc/config.local)")
    lines.append("next: `dvc repro` to build the data stages, `dvc push` to store them in the remote")
    return lines
