"""The life cycle every emulator shares: a ThreadingHTTPServer on 127.0.0.1 served from a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

S = TypeVar("S", bound="EmulatorServer")


class EmulatorServer:
    """Base of the emulators: ``listen`` in ``__init__`` (port 0 picks a free one), then ``start``
    or use as a context manager; ``url`` is what clients are pointed at."""

    _server: ThreadingHTTPServer
    _thread: threading.Thread | None = None

    def listen(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self: S) -> S:
        self._thread = threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        # shutdown() waits for serve_forever to notice, so it would block forever if never started.
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
