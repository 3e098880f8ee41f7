"""The HTTP base every emulator shares: one request handler and the life cycle (a ThreadingHTTPServer on
127.0.0.1 served from a daemon thread).

An emulator subclasses :class:`EmulatorServer` and implements ``respond`` (a parsed
:class:`~tools.emulators.routing.Request` in, a :class:`~tools.emulators.routing.Response` out,
usually through a :class:`~tools.emulators.routing.Router`); an
:class:`~tools.emulators.routing.HttpError` it raises becomes its error answer, and ``recorded``
keeps the exchange in the emulator's own record *before* the answer is written, so a client that
has its answer also finds it recorded.
"""

from __future__ import annotations

import io
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, Self

from tools.emulators.routing import HttpError, Request, Response


def read_body(rfile: io.BufferedIOBase, headers: Message) -> bytes:
    """The request body: ``Content-Length`` bytes, or the chunks of a chunked transfer."""
    if (headers.get("Transfer-Encoding") or "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(rfile.readline().strip() or b"0", 16)
            if size == 0:
                rfile.readline()
                return b"".join(chunks)
            chunks.append(rfile.read(size))
            rfile.readline()
    length = int(headers.get("Content-Length") or 0)
    return rfile.read(length) if length else b""


class _Handler(BaseHTTPRequestHandler):
    """Reads the request, asks the emulator, records, writes the answer."""

    emulator: ClassVar[EmulatorServer]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        return

    def serve(self) -> None:
        request = Request(self.command, self.path, self.headers, read_body(self.rfile, self.headers))
        response = self.emulator.answer(request)
        self.emulator.recorded(request, response)
        self.send_response(response.status)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)


def handler_for(emulator: EmulatorServer) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to ``emulator``, answering the methods it declares (others: 501)."""
    attributes: dict[str, object] = {"emulator": emulator, **{f"do_{m}": _Handler.serve for m in emulator.METHODS}}
    if emulator.SERVER_VERSION:
        attributes["server_version"] = emulator.SERVER_VERSION
    return type(f"{type(emulator).__name__}Handler", (_Handler,), attributes)


class EmulatorServer:
    """Base of the emulators: ``listen`` (port 0 picks a free one), then ``start`` or use as a context
    manager; ``url`` is what clients are pointed at ("" until listening)."""

    #: The HTTP methods served (http.server answers 501 to others).
    METHODS: ClassVar[tuple[str, ...]] = ("GET", "POST")
    #: The ``Server`` header's product (None: http.server's own).
    SERVER_VERSION: ClassVar[str | None] = None
    #: How often serve_forever checks for shutdown (how long ``stop`` may wait).
    POLL_INTERVAL_S: ClassVar[float] = 0.5

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _closed: bool = False

    # ------------------------------------------------------------------ what an emulator implements

    def respond(self, request: Request) -> Response:
        raise NotImplementedError

    def recorded(self, request: Request, response: Response) -> None:
        """Keep the exchange in the emulator's record (nothing by default)."""

    def failure(self, request: Request, exc: Exception) -> Response:
        """An emulator bug: answer 500 as a server would and keep serving."""
        answer = Response.json(500, {"message": f"emulator failure: {type(exc).__name__}: {exc}"})
        answer.error = f"{type(exc).__name__}: {exc}"
        return answer

    def answer(self, request: Request) -> Response:
        try:
            return self.respond(request)
        except HttpError as exc:
            return exc.response()
        except Exception as exc:  # noqa: BLE001 - reported to the client, the server keeps serving
            return self.failure(request, exc)

    # ------------------------------------------------------------------ life cycle

    def listen(self, host: str, port: int) -> None:
        self._server = ThreadingHTTPServer((host, port), handler_for(self))
        self._server.daemon_threads = True
        self._closed = False

    @property
    def listening(self) -> bool:
        return self._server is not None and not self._closed

    @property
    def url(self) -> str:
        if self._server is None:
            return ""
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> Self:
        """Serve from a daemon thread (once: starting a started emulator does nothing)."""
        if self._server is None or self._closed:
            raise RuntimeError(f"{type(self).__name__} is not listening")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(self.POLL_INTERVAL_S,), name=type(self).__name__, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        # shutdown() waits for serve_forever to notice, so it would block forever if never started.
        if self._server is None or self._closed:
            return
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._closed = True

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
