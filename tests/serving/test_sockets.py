"""The shared public port: two sockets on one port, and new connections steered to the newest."""

from __future__ import annotations

import socket
import sys

import pytest

from planet_sentinel.serving.sockets import listener, steer_to_newest


def _accepting(servers: list[socket.socket], port: int, connections: int = 40) -> list[int]:
    """How many of ``connections`` new connections each listening socket received."""
    counts = [0] * len(servers)
    for _ in range(connections):
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    for i, server in enumerate(servers):
        server.setblocking(False)
        while True:
            try:
                conn, _ = server.accept()
            except BlockingIOError:
                break
            conn.close()
            counts[i] += 1
    return counts


def test_reuse_port_shares_and_a_plain_socket_does_not() -> None:
    first = listener("127.0.0.1", 0, reuse_port=True)
    port = first.getsockname()[1]
    first.listen(64)
    second = listener("127.0.0.1", port, reuse_port=True)
    second.listen(64)
    with pytest.raises(OSError):
        listener("127.0.0.1", port).listen()
    for sock in (first, second):
        sock.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="classic BPF reuse-port steering is Linux's")
def test_new_connections_go_to_the_newest_socket() -> None:
    old = listener("127.0.0.1", 0, reuse_port=True)
    port = old.getsockname()[1]
    old.listen(64)
    assert steer_to_newest(old)  # alone in its group: index 1 does not exist, the kernel's hash picks it
    assert _accepting([old], port, 10) == [10]
    new = listener("127.0.0.1", port, reuse_port=True)
    assert _accepting([old], port, 5) == [5]  # bound, not listening: gets nothing yet
    new.listen(64)
    assert steer_to_newest(new)
    assert _accepting([old, new], port) == [0, 40]
    old.close()  # its queue was empty: nothing reset; the port stays open
    assert _accepting([new], port) == [40]
    new.close()
