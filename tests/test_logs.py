"""Progress lines are log records; the CLI sends them to stderr (quiet under SENTINEL_QUIET=1)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from planet_sentinel import logs
from planet_sentinel.cli import cli
from planet_sentinel.sources.gee.config import IngestConfig
from planet_sentinel.sources.gee.download import with_retries


def test_library_progress_is_a_log_record_of_its_module(caplog: pytest.LogCaptureFixture) -> None:
    cfg = IngestConfig(project="p", aoi="aoi.geojson", name="s", retries=1, backoff_s=0.01)
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("reset")
        return 7

    with caplog.at_level(logging.INFO, logger="planet_sentinel"):
        assert with_retries(flaky, "the window metadata", cfg, sleep=lambda _s: None) == 7
    [record] = [r for r in caplog.records if r.name == "planet_sentinel.sources.gee.download"]
    assert record.levelno == logging.INFO and record.getMessage().startswith(
        "the window metadata: HTTP ConnectionError"
    )


def test_to_stderr_writes_bare_lines_to_the_current_stderr_and_leaves_nothing_behind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    library = logging.getLogger(logs.LIBRARY)
    before = (list(library.handlers), library.level)
    with logs.to_stderr(logging.INFO), logs.to_stderr(logging.INFO):  # nested: still one line per record
        logging.getLogger("planet_sentinel.some.module").info("step %d", 1)
        logging.getLogger("planet_sentinel.some.module").debug("hidden")
    assert capsys.readouterr() == ("", "step 1\n")
    assert (list(library.handlers), library.level) == before
    logging.getLogger("planet_sentinel.some.module").info("after the block")
    assert capsys.readouterr().err == ""


def test_quiet_and_verbose_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTINEL_QUIET", raising=False)
    assert logs.level() == logging.INFO and logs.level(verbose=True) == logging.DEBUG
    monkeypatch.setenv("SENTINEL_QUIET", "1")
    assert logs.level() == logging.WARNING


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_progress_goes_to_stderr_unless_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet: bool) -> None:
    if quiet:
        monkeypatch.setenv("SENTINEL_QUIET", "1")
    else:
        monkeypatch.delenv("SENTINEL_QUIET", raising=False)
    args = ["simulate", "--name", "s", "--size", "256", "--out-dir", str(tmp_path), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["before"].endswith("s_before.tif"), "stdout holds only the result"
    said = "land cover: 256x256 px" in result.stderr and "done: loss" in result.stderr
    assert said is not quiet
    assert not logging.getLogger(logs.LIBRARY).handlers, "the handler lives only while the command runs"


def test_warnings_pass_under_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """SENTINEL_QUIET=1 hides progress lines, not warnings."""
    monkeypatch.setenv("SENTINEL_QUIET", "1")
    with logs.to_stderr(logs.level()):
        assert logging.getLogger("planet_sentinel.x").isEnabledFor(logging.WARNING)
        assert not logging.getLogger("planet_sentinel.x").isEnabledFor(logging.INFO)
