"""Listening sockets bound by ``sentinel serve`` itself, for a switch without downtime.

With ``SO_REUSEPORT`` (Linux >= 3.9, the BSDs) two processes can listen on the same port at
once: the kernel spreads new connections over both. A deploy starts the new version on the
public port *beside* the old one, waits until it is ready, then stops the old one gracefully, so
the port is never closed.

Two details make that really seamless:

* The socket is bound here but only listens once the model is loaded (uvicorn calls
  ``listen()`` when it starts serving), so no connection reaches an instance that would answer
  503 "not ready".
* Linux hands every socket of a reuse-port group its own queue of accepted-but-not-yet-taken
  connections; when a process closes its socket, the connections still in *its* queue are
  reset. So a joining instance steers all new connections to itself with a one-instruction
  classic BPF program (``SO_ATTACH_REUSEPORT_CBPF``: "always the newest socket"); the old one
  then only finishes what it already has, and its queue is empty when it closes.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys

#: From <asm-generic/socket.h>; Python's socket module does not export it.
SO_ATTACH_REUSEPORT_CBPF = 51
BPF_RET_K = 0x06  # BPF_RET | BPF_K: return a constant


def listener(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A bound TCP socket (not listening yet) on ``host:port``; with ``reuse_port`` it may share the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise OSError("this platform has no SO_REUSEPORT")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def steer_to_newest(sock: socket.socket) -> bool:
    """Send the port's new connections to the last socket that joined its reuse-port group.

    Call on a listening socket that has just joined a group of one (the old instance): the
    program returns index 1, this socket. When the old socket closes, index 1 no longer exists
    and the kernel falls back to its hash, i.e. to the one socket left. False where classic BPF
    for reuse-port groups is not available (not Linux); connections are then spread by hash.
    """
    if not sys.platform.startswith("linux"):
        return False
    program = (ctypes.c_ubyte * 8).from_buffer_copy(struct.pack("HBBI", BPF_RET_K, 0, 0, 1))
    fprog = struct.pack("HxxxxxxP" if struct.calcsize("P") == 8 else "HxxP", 1, ctypes.addressof(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
    except OSError:
        return False
    return True
