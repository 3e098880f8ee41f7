"""The kernel's own wall-clock deadline: how a timed-out Kaggle run stops using GPU quota.

Nothing on our side can stop a Kaggle session reliably: CancelKernelSession wants a kernel
*session* id, and no answer of the API gives one (kagglesdk 0.1.38,
``kernels/types/kernels_api_service.py``: ``ApiSaveKernelResponse`` carries ``kernelId`` and
``versionNumber``, ``ApiGetKernelSessionStatusResponse`` only ``status`` and
``failureMessage``; the official client never cancels, Kaggle/kaggle-cli a430f0b
``src/kaggle/api/kaggle_api_extended.py``), and Kaggle documents no environment variable that
tells a running kernel its session id. So the kernel stops itself:

- ``render_script`` writes the deadline (UTC seconds) into the pushed script, on the line
  marked ``# sentinel:deadline``, when the kernel is pushed;
- ``Watchdog`` (started by ``entry.run``) writes a ``timed_out`` run record and ends the
  process at that time, whatever the training is doing; a kernel that starts after its
  deadline (queued too long) ends at once;
- Kaggle's own session timeout (``sessionTimeoutSeconds`` sent at push, the client's
  ``kernels_push(timeout=...)``) is the backstop for a kernel that cannot run Python any more.

Standard library only: this runs inside the kernel.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKER = "# sentinel:deadline"
#: Exit status of a kernel that stopped at its deadline (as coreutils ``timeout`` uses).
EXIT_CODE = 124
#: In the log line of a kernel that stopped at its deadline (the caller looks for it in the log tail).
SAYING = "the kernel stops itself"
_LINE = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*(?::[^=\n]*)?=[^\n]*" + re.escape(MARKER) + r"[^\n]*$", re.MULTILINE)


def utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def render_script(text: str, deadline: float) -> tuple[str, bool]:
    """``text`` with its ``# sentinel:deadline`` assignment set to ``deadline``; False when the
    script has no such line (it then does not stop itself)."""
    found = False

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        found = True
        return f"{match.group('name')} = {deadline!r}  {MARKER} ({utc(deadline)}, set at push)"

    rendered = _LINE.sub(replace, text, count=1)
    return rendered, found


class Watchdog:
    """Ends the process at ``deadline`` after writing a ``timed_out`` run record to ``working``.

    ``epoch_done`` is a training callback, so the record says how far training got. ``disarm``
    (under the same lock as the firing) makes sure a run that finishes in time is never cut
    off while it writes its own outputs."""

    def __init__(
        self,
        deadline: float,
        working: Path,
        record: dict[str, Any],
        record_name: str,
        exit: Callable[[int], Any] = os._exit,  # noqa: A002 - the process exit, replaceable in tests
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.deadline, self.working, self.record, self.record_name = deadline, Path(working), record, record_name
        self.exit, self.clock = exit, clock
        self.history: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.armed = True
        self.timer: threading.Timer | None = None

    def epoch_done(self, epoch: int, metrics: dict[str, float]) -> None:
        self.history.append({"epoch": epoch, **metrics})

    def start(self) -> Watchdog:
        """Fire now if the deadline has passed, else at the deadline (from a daemon thread)."""
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            self.fire()
            return self
        print(f"deadline {utc(self.deadline)}: training has {remaining:.0f} s", flush=True)
        self.timer = threading.Timer(remaining, self.fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def disarm(self) -> bool:
        """Stop the watchdog; False if it has already fired (the process is ending)."""
        with self.lock:
            fired = not self.armed
            self.armed = False
        if self.timer is not None:
            self.timer.cancel()
        return not fired

    def fire(self) -> None:
        with self.lock:
            if not self.armed:
                return
            self.armed = False
            now = self.clock()
            record = {
                **self.record,
                "status": "timed_out",
                "deadline": utc(self.deadline),
                "stopped": utc(now),
                "epochs_completed": len(self.history),
                "history": self.history,
                "outputs": {},
            }
            self.working.mkdir(parents=True, exist_ok=True)
            target = self.working / self.record_name
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(json.dumps(record, indent=1))
            tmp.replace(target)
            print(
                f"deadline {utc(self.deadline)} reached after {len(self.history)} epoch(s): {SAYING} "
                f"(exit {EXIT_CODE}, {self.record_name} status timed_out); nothing is registered",
                file=sys.stderr,
                flush=True,
            )
            sys.stdout.flush()
        self.exit(EXIT_CODE)
