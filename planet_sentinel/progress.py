"""Progress bars for long stages: a tqdm bar on a terminal, periodic lines in CI logs.

Progress *lines* are log records (``planet_sentinel.logs``); this module only draws bars.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def bar(total: int | None, desc: str, unit: str = "it", **kwargs: Any) -> Any:
    """A tqdm progress bar on stderr; quiet under SENTINEL_QUIET=1.

    In a non-interactive log (GitHub Actions, DVC) the bar redraws at most every 5 s, so the log
    gets periodic lines instead of thousands of carriage returns.
    """
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        mininterval=0.2 if interactive else 5.0,
        disable=os.environ.get("SENTINEL_QUIET") == "1",
        dynamic_ncols=interactive,
        **kwargs,
    )
