"""GitHub's own descriptions of its REST API and webhooks, to check the emulator against.

The npm packages pinned in ``package.json`` / ``package-lock.json`` here are
``@octokit/openapi`` (GitHub's REST OpenAPI 3.0 description, generated from
github/rest-api-description) and ``@octokit/openapi-webhooks`` (the webhook payload schemas,
OpenAPI 3.1). They are large (~420 MB installed), so they are installed, never committed:
``npm ci --prefix tools/schemas``. :func:`install` does that when they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REST_JSON = HERE / "node_modules/@octokit/openapi/generated/api.github.com.json"
WEBHOOKS_JSON = HERE / "node_modules/@octokit/openapi-webhooks/generated/api.github.com.json"


class NpmMissing(RuntimeError):
    """npm is not on PATH, so the pinned descriptions cannot be installed."""


class NpmFailed(RuntimeError):
    """``npm ci`` failed; the message carries the end of npm's own output (offline, bad lock...)."""


def install(timeout: float = 300) -> tuple[Path, Path]:
    """The two description files, installed from the lock file with ``npm ci`` if absent."""
    if not (REST_JSON.is_file() and WEBHOOKS_JSON.is_file()):
        npm = shutil.which("npm")
        if npm is None:
            raise NpmMissing("npm is not installed: it installs GitHub's pinned OpenAPI descriptions")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(HERE)],
            timeout=timeout,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-2000:]
            raise NpmFailed(f"`npm ci --prefix {HERE}` failed with status {done.returncode}:\n{tail}")
    return REST_JSON, WEBHOOKS_JSON
