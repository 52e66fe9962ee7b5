"""Ports on loopback for servers that must be told their port up front."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999): a server's port chosen from that range can
# be taken while the server restarts, by some client's outgoing connection, or by a
# reconnecting client connecting to itself (TCP simultaneous open).
SERVER_PORTS = range(20_000, 32_000)


def free_port() -> int:
    """Any free port (the kernel's choice, from the ephemeral range)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_port() -> int:
    """A free port outside the ephemeral range, for a server that will be restarted."""
    for _ in range(100):
        port = random.choice(SERVER_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free port below the ephemeral range")
