"""Where and how to reach GitHub: the target (API base, token, repository), client pacing, and the
one place PyGithub and connection failures become one-line :class:`SentinelError`\\ s."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from planet_sentinel.errors import SentinelError
from planet_sentinel.github.compat import require_pygithub

if TYPE_CHECKING:
    from github.Repository import Repository

DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class GitHubTarget:
    """Where to talk to: API base, token and ``owner/name`` (flags, then the Actions environment)."""

    api_url: str
    token: str
    repo: str

    @classmethod
    def resolve(cls, api_url: str | None = None, repo: str | None = None, token: str | None = None) -> GitHubTarget:
        token = token or os.environ.get("GITHUB_TOKEN", "")
        if not token:
            raise SentinelError(
                "GITHUB_TOKEN is not set: export a token with issues: write and actions: write "
                "(in a workflow: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})"
            )
        repo = repo or os.environ.get("GITHUB_REPOSITORY", "")
        if not repo:
            raise SentinelError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise SentinelError(f"repository '{repo}' is not OWNER/NAME")
        api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        return cls(api_url, token, repo)


@contextmanager
def api_errors(what: str) -> Iterator[None]:
    """Turn PyGithub and connection failures into one-line SentinelErrors that say what failed."""
    import requests
    from github import GithubException

    try:
        yield
    except GithubException as exc:
        message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
        hint = {401: " (is GITHUB_TOKEN valid?)", 403: " (does the token have the permissions in docs/github.md?)"}
        raise SentinelError(f"GitHub {what}: HTTP {exc.status} {message}{hint.get(exc.status, '')}") from exc
    except requests.exceptions.RequestException as exc:
        raise SentinelError(f"GitHub {what}: cannot reach the API ({type(exc).__name__}: {exc})") from exc


class GitHubConfig(BaseModel):
    """Client pacing (section ``github``; env ``SENTINEL_GITHUB_<FIELD>``). PyGithub's defaults keep
    to GitHub's advice against secondary rate limits (a second between writes); the tests and the
    local emulator set them to 0."""

    seconds_between_requests: float = Field(0.25, ge=0)
    seconds_between_writes: float = Field(1.0, ge=0)
    timeout: float = Field(20.0, gt=0, description="seconds per HTTP request")
    retries: int = Field(2, ge=0, description="retries of failed requests (fail fast in a workflow)")


def connect(target: GitHubTarget, config: GitHubConfig | None = None) -> Repository:
    """The repository through PyGithub, paced and with few retries (a workflow should fail fast)."""
    require_pygithub()
    from github import Auth, Github

    from planet_sentinel.config import resolve

    config = config or resolve(GitHubConfig, "github")
    client = Github(
        base_url=target.api_url,
        auth=Auth.Token(target.token),
        timeout=int(config.timeout),
        retry=config.retries,
        seconds_between_requests=config.seconds_between_requests,
        seconds_between_writes=config.seconds_between_writes,
    )
    with api_errors(f"repository {target.repo}"):
        return client.get_repo(target.repo)
