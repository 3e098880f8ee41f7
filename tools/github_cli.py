"""`python -m tools github`: GitHub REST emulator: serve it, inspect what it received, act as a user.

python -m tools github serve --port 8765 --state .github-emulator.json
export GITHUB_API_URL=http://127.0.0.1:8765 GITHUB_TOKEN=x GITHUB_REPOSITORY=octo-org/planet-sentinel
sentinel github report-drift --report outputs/monitor
python -m tools github event comment --issue 1 --user wes-writer --body /approve-retrain --out event.json
GITHUB_EVENT_PATH=event.json sentinel github approve
python -m tools github show --state .github-emulator.json
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import click

DEFAULT_STATE = ".github-emulator.json"


@click.group(name="github")
def github() -> None:
    """GitHub REST emulator: serve it, inspect what it received, act as a user."""


@github.command()
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: a free one).")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False),
    default=DEFAULT_STATE,
    show_default=True,
    help="JSON state: loaded if it exists (seeded otherwise), rewritten after every change.",
)
@click.option("--repo", help="Seed this OWNER/NAME instead of octo-org/planet-sentinel (new state only).")
@click.option("--url-file", type=click.Path(dir_okay=False), help="Write the base URL here once listening.")
def serve(port: int, state_file: str, repo: str | None, url_file: str | None) -> None:
    """Serve the emulator until interrupted; prints the base URL and the seeded tokens."""
    from tools.emulators.github import GitHubEmulator, default_state

    path = Path(state_file)
    state = None if path.exists() else (default_state(repo) if repo else default_state())
    emulator = GitHubEmulator(state, state_file=path)
    url = emulator.start(port).url
    if url_file:
        Path(url_file).write_text(url + "\n")
    click.echo(f"GitHub emulator on {url} (state {path})")
    click.echo(f"repositories: {', '.join(emulator.state['repos'])}")
    click.echo("tokens (any other token acts as github-actions[bot]):")
    for token, login in emulator.state["tokens"].items():
        role = next(iter(r["collaborators"].get(login, "none") for r in emulator.state["repos"].values()))
        click.echo(f"  {token:<24} {login} ({role})")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


def _state(state_file: str | None, url: str | None) -> dict[str, Any]:
    if url:
        with urlopen(f"{url.rstrip('/')}/_emulator/state", timeout=10) as response:  # noqa: S310 - local emulator
            state: dict[str, Any] = json.load(response)
            return state
    path = Path(state_file or DEFAULT_STATE)
    if not path.exists():
        raise click.ClickException(f"{path}: no emulator state (start `python -m tools github serve` first)")
    saved: dict[str, Any] = json.loads(path.read_text())
    return saved


@github.command()
@click.option("--state", "state_file", type=click.Path(dir_okay=False), help=f"State file (default {DEFAULT_STATE}).")
@click.option("--url", help="Ask a running emulator instead of reading the file.")
@click.option("--requests/--no-requests", "show_requests", default=True, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Dump the whole state as JSON.")
def show(state_file: str | None, url: str | None, show_requests: bool, as_json: bool) -> None:
    """Dump what the emulator recorded: issues with labels and comments, dispatches, requests."""
    state = _state(state_file, url)
    if as_json:
        click.echo(json.dumps(state, indent=1))
        return
    for name, repo in state["repos"].items():
        click.echo(f"== {name}")
        for issue in repo["issues"]:
            labels = ",".join(repo["labels"][k]["name"] for k in issue["labels"]) or "-"
            click.echo(f"#{issue['number']} [{issue['state']}] {issue['title']}  labels: {labels}")
            for comment in issue["comments"]:
                first = (comment["body"].strip().splitlines() or [""])[0][:100]
                click.echo(f"    {comment['user']}: {first}")
        for d in repo["dispatches"]:
            click.echo(f"dispatch {d['workflow']}@{d['ref']} inputs={json.dumps(d['inputs'])} by {d['actor']}")
    if show_requests:
        click.echo(f"== {len(state['requests'])} requests")
        for r in state["requests"]:
            click.echo(f"{r['status']} {r['method']:<6} {r['path']} ({r['user']})")


@github.command()
@click.argument("kind", type=click.Choice(["comment", "label"]))
@click.option("--url", required=True, help="Base URL of the running emulator.")
@click.option("--issue", type=int, required=True)
@click.option("--user", required=True, help="Login acting (e.g. wes-writer, rita-reader).")
@click.option("--body", default="/approve-retrain", show_default=True, help="Comment text (kind comment).")
@click.option("--label", default="retrain-approved", show_default=True, help="Label name (kind label).")
@click.option("--repo", default="octo-org/planet-sentinel", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Webhook payload file to write.")
def event(kind: str, url: str, issue: int, user: str, body: str, label: str, repo: str, out: str) -> None:
    """Act as a user on the emulator (comment or label) and write the webhook payload a workflow
    would get in $GITHUB_EVENT_PATH (event name: issue_comment or issues)."""
    name = "issue_comment" if kind == "comment" else "issues"
    data = {"repo": repo, "issue": issue, "user": user, "body": body, "label": label}
    request = Request(
        f"{url.rstrip('/')}/_emulator/events/{name}",
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urlopen(request, timeout=10) as response:  # noqa: S310 - local emulator
        payload = json.load(response)
    Path(out).write_text(json.dumps(payload, indent=1))
    click.echo(f"{name} payload for #{issue} by {user} written to {out}")
