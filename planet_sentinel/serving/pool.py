"""Bounded CPU inference off the event loop.

``workers`` threads predict; at most ``queue`` more jobs wait. Beyond that :meth:`submit` refuses
at once (the app answers 503 + Retry-After) instead of growing an unbounded queue. A timed-out
request gets its answer immediately, but its job keeps its place until the thread finishes (a
thread cannot be killed), so admission always reflects the real CPU load; a job still waiting
when its request times out is cancelled and frees its place at once.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Saturated(Exception):
    """Every worker is busy and the waiting line is full."""


class TimedOut(Exception):
    """The job did not finish within the request's time limit."""


def _init_worker(threads: int) -> None:
    """PyTorch's intra-op threads, when the model runs on PyTorch (workers start at the first job,
    after the model is loaded). ONNX Runtime gets its thread count in its session options."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


class InferencePool:
    """A fixed thread pool with a bounded number of admitted jobs (running + waiting)."""

    def __init__(self, workers: int, queue: int, threads_per_worker: int = 1) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="predict",
            initializer=_init_worker,
            initargs=(threads_per_worker,),
        )
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0

    @property
    def admitted(self) -> int:
        """Jobs running or waiting."""
        return self._admitted

    @property
    def running(self) -> int:
        return self._running

    def full(self) -> bool:
        return self._admitted >= self.capacity

    def _release(self, _: Future[T]) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, fn: Callable[[], T], timeout: float) -> T:
        """Run ``fn`` on a worker; raise :class:`Saturated` when full, :class:`TimedOut` after ``timeout`` s."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise Saturated
            self._admitted += 1

        def job() -> T:
            with self._lock:
                self._running += 1
            try:
                return fn()
            finally:
                with self._lock:
                    self._running -= 1

        future = self._executor.submit(job)
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError as exc:
            future.cancel()  # only succeeds while it is still waiting
            raise TimedOut from exc

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
