"""What a workflow run says about itself (its page, its id and attempt), the time stamps we post,
and GitHub's size limit on what we post."""

from __future__ import annotations

import os
import time

MAX_BODY = 60_000  # GitHub refuses issue bodies and comments over 65 536 characters


def run_url_from_env() -> str | None:
    """This workflow run's page, from the variables every Actions job has."""
    server, repo, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run_id:
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return None


def run_key_from_env() -> str:
    """This run's id and attempt (a rerun is a new attempt), else a UTC time and a random suffix."""
    import secrets

    run_id, attempt = os.environ.get("GITHUB_RUN_ID"), os.environ.get("GITHUB_RUN_ATTEMPT", "1")
    if run_id:
        return f"{run_id}-{attempt}"
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"


def utc_now() -> str:
    """Now, as issue tables show it (minutes, UTC)."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def clip(text: str, limit: int = MAX_BODY) -> str:
    """``text`` cut to what GitHub accepts as an issue body or comment, saying that it was cut."""
    return text if len(text) <= limit else text[: limit - 60] + "\n\n…(truncated; the full report is in the run)\n"
