"""The official kaggle client (kaggle 2.x / kagglesdk), authenticated and pointed at its endpoint.

Credentials: ``KAGGLE_USERNAME`` + ``KAGGLE_KEY`` (as GitHub secrets in CI) or ``kaggle.json``
in ``~/.kaggle`` (or ``$KAGGLE_CONFIG_DIR``); a new-style API token in ``KAGGLE_API_TOKEN`` works
too (the client then asks Kaggle whose it is). ``KAGGLE_API_ENDPOINT`` points the client at
another server (the local emulator, tools/emulators/kaggle.py): kagglesdk itself only knows a
fixed set of hosts, so the endpoint is set on the client's HTTP layer, which then sends the
same requests (``POST {endpoint}/api/v1/{service}/{Method}``) it would send to Kaggle.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planet_sentinel.errors import SentinelError

ENDPOINT_ENV = "KAGGLE_API_ENDPOINT"
HELP = (
    "no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY (in GitHub: repository secrets of the same names), "
    "or save the kaggle.json from kaggle.com -> Settings -> API -> 'Create Legacy API Key' as ~/.kaggle/kaggle.json "
    "(chmod 600)"
)


@dataclass(frozen=True)
class Credentials:
    username: str | None  # None for an API token until Kaggle says whose it is
    source: str


def config_dirs() -> list[Path]:
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        return [Path(os.environ["KAGGLE_CONFIG_DIR"])]
    home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"
    return [home / ".kaggle", xdg]


def find_credentials() -> Credentials:
    """Who we are, or a SentinelError saying how to set credentials up (nothing is sent)."""
    user, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if os.environ.get("KAGGLE_API_TOKEN"):  # the client tries an access token first, so do we
        return Credentials(user, "KAGGLE_API_TOKEN")
    if user and key:
        return Credentials(user, "KAGGLE_USERNAME/KAGGLE_KEY")
    if user or key:
        missing = "KAGGLE_KEY" if user else "KAGGLE_USERNAME"
        raise SentinelError(f"{missing} is not set (KAGGLE_USERNAME and KAGGLE_KEY go together); {HELP}")
    for directory in config_dirs():
        path = directory / "kaggle.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text())
                return Credentials(str(data["username"]), str(path)) if data.get("key") else _bad(path)
            except (json.JSONDecodeError, KeyError, TypeError):
                _bad(path)
    raise SentinelError(HELP)


def _bad(path: Path) -> Credentials:
    raise SentinelError(f"{path}: not a kaggle.json with 'username' and 'key'; {HELP}")


def _api_class() -> type:
    # `import kaggle` authenticates at import time and may print help to stdout; keep stdout clean
    # for machine-readable output.
    with contextlib.redirect_stdout(sys.stderr):
        from kaggle.api.kaggle_api_extended import KaggleApi
    from kagglesdk.kaggle_env import KaggleEnv

    class EndpointKaggleApi(KaggleApi):  # type: ignore[misc]
        """KaggleApi whose HTTP client talks to ``endpoint`` when one is set."""

        endpoint: str | None = None

        def build_kaggle_client(self) -> Any:
            client = super().build_kaggle_client()
            if self.endpoint:
                http = client.http_client()
                http._env = KaggleEnv.LOCAL  # non-production layout: {endpoint}/api/v1/...
                http._endpoint = self.endpoint.rstrip("/")
            return client

    return EndpointKaggleApi


def connect(endpoint: str | None = None) -> Any:
    """An authenticated KaggleApi; ``endpoint`` (or env KAGGLE_API_ENDPOINT) overrides api.kaggle.com."""
    creds = find_credentials()
    api = _api_class()()
    api.endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            api.authenticate()
    except SystemExit as exc:
        raise SentinelError(f"Kaggle authentication failed ({creds.source}); {HELP}") from exc
    return api


def username(api: Any) -> str:
    """The account the client authenticated as."""
    name = api.get_config_value("username")
    if not name:
        raise SentinelError("the Kaggle client has no username; set KAGGLE_USERNAME or pass --owner")
    return str(name)


def quiet_stdout() -> contextlib.AbstractContextManager[Any]:
    """The client prints progress to stdout; send it to stderr (stdout is for results)."""
    return contextlib.redirect_stdout(sys.stderr)
