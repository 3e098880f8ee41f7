"""Earth Engine credentials and session set-up.

Two ways in, tried in order:

1. ``EARTHENGINE_SERVICE_ACCOUNT_KEY``: a service-account key, as JSON text (how a GitHub
   Actions secret arrives) or a path to the key file. The account needs the Earth Engine
   Resource Viewer role (or Writer for exports) on ``--project``.
2. The credentials ``earthengine authenticate`` stored under ~/.config/earthengine (or
   Application Default Credentials from ``gcloud auth application-default login``).

``EARTHENGINE_API_URL`` points the real client at another endpoint (the local emulator).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from planet_sentinel.errors import SentinelError

KEY_ENV = "EARTHENGINE_SERVICE_ACCOUNT_KEY"
URL_ENV = "EARTHENGINE_API_URL"

NO_PROJECT = (
    "no Google Cloud project: pass --project (the Cloud project registered for Earth Engine, "
    "https://code.earthengine.google.com/register) or set SENTINEL_INGEST_PROJECT"
)
NO_CREDENTIALS = (
    "no Earth Engine credentials: set {env} to a service-account key (JSON text or a file path; in "
    "GitHub Actions a repository secret of that name) or run `earthengine authenticate` once on this "
    "machine. See docs/earthengine.md."
)


def require_ee() -> Any:
    """The ``ee`` module, or a clear error when the ``gee`` extra is not installed."""
    try:
        import ee
    except ImportError as exc:
        raise SentinelError(
            f"earthengine-api is not installed ({exc}); install it with `pip install 'planet-sentinel[gee]'`"
        ) from exc
    return ee


class Transport:
    """The httplib2-style transport the ee client calls, over one pooled requests session.

    Passed to ``ee.Initialize(http_transport=...)`` so every request gets our timeout (and the
    connection pool is sized for the tiles in flight) without rebuilding the API resource.
    """

    def __init__(self, timeout_s: float, pool: int = 32) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.timeout_s = timeout_s
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
        redirections: int | None = None,
        connection_type: Any = None,
    ) -> tuple[Any, bytes]:
        import httplib2
        import requests

        try:
            resp = self.session.request(method, uri, data=body, headers=headers, timeout=self.timeout_s)
        except requests.exceptions.Timeout as exc:
            raise TimeoutError(f"no answer from {uri.split('?')[0]} in {self.timeout_s:g} s") from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise ConnectionError(str(exc)) from exc
        info = dict(resp.headers)
        info["status"] = str(resp.status_code)
        return httplib2.Response(info), resp.content


def _key_info(raw: str) -> dict[str, Any]:
    text = raw.strip()
    if not text.startswith("{"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise SentinelError(f"{KEY_ENV} is neither key JSON nor an existing key file ({path})")
        text = path.read_text()
    try:
        info: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SentinelError(f"{KEY_ENV} is not valid JSON ({exc.msg} at char {exc.pos})") from exc
    missing = [k for k in ("type", "client_email", "private_key", "token_uri") if k not in info]
    if info.get("type") != "service_account" or missing:
        raise SentinelError(
            f"{KEY_ENV} is not a service-account key (type {info.get('type')!r}, missing {missing}); "
            "create one with `gcloud iam service-accounts keys create key.json --iam-account=...`"
        )
    return info


def credentials() -> tuple[Any, str]:
    """The credentials to use and where they came from."""
    import ee
    from google.oauth2 import service_account

    raw = os.environ.get(KEY_ENV, "")
    if raw.strip():
        info = _key_info(raw)
        try:
            creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=ee.oauth.SCOPES
            )  # google-auth ships no annotations for this constructor
        except ValueError as exc:
            raise SentinelError(f"{KEY_ENV}: the key cannot be loaded ({exc})") from exc
        return creds, f"service account {info['client_email']} ({KEY_ENV})"
    try:
        return ee.data.get_persistent_credentials(), "earthengine authenticate credentials"
    except ee.EEException as exc:
        raise SentinelError(NO_CREDENTIALS.format(env=KEY_ENV)) from exc


def connect(project: str | None, url: str | None = None, timeout_s: float = 300.0) -> str:
    """Initialise the ee client for ``project`` (at ``url`` or $EARTHENGINE_API_URL); say how.

    Client-side retries are switched off: the download retries tiles itself, with backoff and
    progress, and knows which tile failed.
    """
    import ee

    if not project:
        raise SentinelError(NO_PROJECT)
    creds, how = credentials()
    url = url or os.environ.get(URL_ENV) or None
    ee.Reset()
    try:
        ee.Initialize(creds, url=url.rstrip("/") if url else None, project=project, http_transport=Transport(timeout_s))
    except ee.EEException as exc:
        raise SentinelError(f"Earth Engine refused the session for project {project!r}: {exc}") from exc
    except Exception as exc:  # transport errors: DNS, refused connection, TLS, token endpoint
        where = url or "the Earth Engine API"
        raise SentinelError(f"cannot reach {where} to start a session ({type(exc).__name__}: {exc})") from exc
    ee.data.setMaxRetries(0)
    return f"{how}, project {project}" + (f", endpoint {url}" if url else "")
