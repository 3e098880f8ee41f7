"""Where the library's progress lines go.

Library modules only log (``log = logging.getLogger(__name__)``; ``log.info`` for progress,
``log.warning`` for warnings) and never configure logging. An entry point (the `sentinel` CLI
group, the Kaggle kernel's ``kaggle.entry.run``, ``python -m tools``) sends the
``planet_sentinel`` logger to stderr for as long as it runs, one bare message a line, so stdout
stays clean for machine-readable output (``--json``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

LIBRARY = "planet_sentinel"


def level(verbose: bool = False) -> int:
    """DEBUG with ``verbose``, WARNING under SENTINEL_QUIET=1 (actions, servers, tests), else INFO."""
    if verbose:
        return logging.DEBUG
    return logging.WARNING if os.environ.get("SENTINEL_QUIET") == "1" else logging.INFO


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is when the record comes (as ``logging.lastResort`` does),
    so a stream swapped later (click's CliRunner, pytest's capsys) still gets the lines."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging's own contract: a failing handler reports, never raises
            self.handleError(record)


@contextmanager
def to_stderr(threshold: int, names: tuple[str, ...] = (LIBRARY,)) -> Iterator[None]:
    """Send the loggers ``names`` to stderr at ``threshold`` while the block runs, then restore them.

    Records still propagate to the root logger (a host application's handlers, pytest's caplog).
    Nested calls do not double the lines: a logger that already has a StderrHandler is left alone.
    """
    restore: list[tuple[logging.Logger, logging.Handler, int]] = []
    for name in names:
        logger = logging.getLogger(name)
        if any(isinstance(h, StderrHandler) for h in logger.handlers):
            continue
        handler: logging.Handler = StderrHandler()
        restore.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(threshold)
    try:
        yield
    finally:
        for logger, handler, previous in restore:
            logger.removeHandler(handler)
            logger.setLevel(previous)
