"""The model watch: check the alias (or file) periodically, off the event loop, and mirror it in metrics.

A failing check is logged and the watch goes on: a dead watcher would never swap again.
"""

from __future__ import annotations

import asyncio
import logging

from planet_sentinel.serving.deps import served_model
from planet_sentinel.serving.holder import ModelHolder
from planet_sentinel.serving.metrics import ServiceMetrics

log = logging.getLogger("planet_sentinel.serving")


def sync_model_metrics(holder: ModelHolder, metrics: ServiceMetrics) -> None:
    """The served model, swaps and failed checks as gauges."""
    metrics.set_model(served_model(holder))
    metrics.swaps.set(holder.status.swaps)
    metrics.check_failures.set(holder.status.failures)
    if holder.status.last_success:
        metrics.last_check.set(holder.status.last_success)


async def refresh_model(holder: ModelHolder, metrics: ServiceMetrics) -> bool:
    """Check the alias (or file) once, off the event loop; True when a new model was swapped in."""
    swapped = await asyncio.get_running_loop().run_in_executor(None, holder.refresh)
    sync_model_metrics(holder, metrics)
    return swapped


async def watch_model(holder: ModelHolder, metrics: ServiceMetrics, interval: float) -> None:
    """Check the model every ``interval`` s (every 5 s at most until one is loaded; 0: until then only)."""
    while True:
        try:
            await refresh_model(holder, metrics)
        except Exception:  # refresh never raises by design; a bug in it must not end the watch
            log.exception("model check failed unexpectedly; checking again")
        loaded = holder.current() is not None
        if loaded and interval == 0:
            return
        await asyncio.sleep(interval if loaded and interval else min(interval or 5.0, 5.0))
