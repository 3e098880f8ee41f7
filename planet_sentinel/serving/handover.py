"""Serving on sockets bound here: a shared public port (SO_REUSEPORT) and a private probe port.

Used by ``sentinel serve --reuse-port/--probe-port``; planet_sentinel.serving.sockets says why.
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from fastapi import FastAPI

from planet_sentinel.errors import SentinelError
from planet_sentinel.serving.settings import ServeSettings
from planet_sentinel.serving.sockets import listener, steer_to_newest

log = logging.getLogger("planet_sentinel.serving")


class HandoverServer(uvicorn.Server):
    """uvicorn, plus: once its sockets accept, the public one takes the port's new connections."""

    def __init__(self, config: uvicorn.Config, public: socket.socket, reuse_port: bool) -> None:
        super().__init__(config)
        self.public, self.reuse_port = public, reuse_port

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.reuse_port:
            steered = steer_to_newest(self.public)
            log.info(
                "sharing port %s: %s",
                self.public.getsockname()[1],
                "new connections come here" if steered else "connections are spread by the kernel",
            )


def load_first(app: FastAPI) -> None:
    """Load the model before listening: an instance joining a serving port must answer at once."""
    holder = app.state.holder
    holder.refresh()
    if holder.current() is None:
        raise SentinelError(f"could not load the model {holder.spec}: {holder.status.last_error}")


def serve_on_sockets(
    app: FastAPI, settings: ServeSettings, reuse_port: bool, probe_port: int | None, log_level: str
) -> None:
    """Bind the public (and probe) sockets, load the model, then let uvicorn listen and serve."""
    try:
        public = listener(settings.host, settings.port, reuse_port)
    except OSError as exc:
        raise SentinelError(f"cannot bind {settings.host}:{settings.port}: {exc}") from exc
    sockets = [public]
    if probe_port is not None:
        try:
            sockets.append(listener(settings.host, probe_port))
        except OSError as exc:
            public.close()
            raise SentinelError(f"cannot bind the probe port {settings.host}:{probe_port}: {exc}") from exc
    try:
        if reuse_port:
            load_first(app)
        config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=30)
        HandoverServer(config, public, reuse_port).run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()
