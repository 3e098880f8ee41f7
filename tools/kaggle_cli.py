"""`python -m tools kaggle`: Kaggle emulator: serve it for debugging by hand."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click


@click.group(name="kaggle")
def kaggle() -> None:
    """Kaggle emulator: serve it for debugging by hand."""


@kaggle.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, help="Port (default: a free one).")
@click.option("--root", type=click.Path(file_okay=False), help="State directory (default: a temporary one).")
@click.option("--username", default="sentinel", show_default=True, help="The only account it accepts.")
@click.option("--key", default="emulator-key", show_default=True, help="That account's API key.")
@click.option("--token", default="emulator-token", show_default=True, help="Its API token (KAGGLE_API_TOKEN).")
@click.option("--fail-uploads", type=int, default=0, show_default=True, help="Fail this many blob PUTs.")
@click.option("--fail-status", type=int, default=503, show_default=True, help="HTTP status of those failures.")
@click.option("--hang-kernels", is_flag=True, help="Kernels never finish (until cancelled or timed out).")
@click.option(
    "--forbid-hidden", is_flag=True, help="Answer 403 (as Kaggle does), not 404, for what the caller cannot see."
)
@click.option(
    "--processing-polls",
    type=int,
    default=0,
    show_default=True,
    help="A new dataset answers 403 to this many status polls (first version still processing).",
)
def serve(
    host: str,
    port: int,
    root: str | None,
    username: str,
    key: str,
    token: str,
    fail_uploads: int,
    fail_status: int,
    hang_kernels: bool,
    forbid_hidden: bool,
    processing_polls: int,
) -> None:
    """Run the emulator until Ctrl-C or SIGTERM; prints the environment to point `sentinel kaggle` at it."""
    import signal

    from tools.emulators.kaggle import KaggleEmulator

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # stop running kernels on `kill` too

    state = Path(root) if root else Path(tempfile.mkdtemp(prefix="kaggle-emulator-"))
    emulator = KaggleEmulator(
        state,
        username=username,
        key=key,
        token=token,
        host=host,
        port=port,
        fail_uploads=fail_uploads,
        fail_status=fail_status,
        hang_kernels=hang_kernels,
        forbid_hidden=forbid_hidden,
        processing_polls=processing_polls,
    )
    with emulator:
        click.echo(f"Kaggle emulator on {emulator.url} (state in {state})")
        click.echo(f"  export KAGGLE_API_ENDPOINT={emulator.url} KAGGLE_USERNAME={username} KAGGLE_KEY={key}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopped")
