"""Which addresses this process listens on, and whether they are loopback.

Open mode (no virtual key yet: no authentication) is safe only where nobody else can connect.
What decides that is the socket actually bound, not the host the settings name: uvicorn's
workers and ``uvicorn --factory`` build the app from the environment, which need not carry the
``--host`` the server was started with. So the check reads the process's own listening
sockets, and each connection's local address (ASGI ``scope["server"]``).
"""

from __future__ import annotations

import os
import socket
import stat

from tiergate.gateway.auth import is_loopback

__all__ = ["listening_hosts", "non_loopback"]


def _descriptors() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc (macOS): look through the low descriptors
        return list(range(3, 1024))


def listening_hosts() -> list[str]:
    """The local address of every TCP socket this process listens on."""
    hosts: list[str] = []
    for fd in _descriptors():
        # Only sockets are copied: closing a copy of a file's descriptor would drop this
        # process's POSIX locks on that file (SQLite's among them).
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            copy = os.dup(fd)
        except OSError:
            continue
        try:
            sock = socket.socket(fileno=copy)
        except OSError:
            os.close(copy)
            continue
        with sock:
            try:
                if (
                    sock.family in (socket.AF_INET, socket.AF_INET6)
                    and sock.type == socket.SOCK_STREAM
                    and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                ):
                    hosts.append(str(sock.getsockname()[0]))
            except OSError:
                continue
    return hosts


def non_loopback() -> list[str]:
    """The listening addresses of this process that others can reach."""
    return [host for host in listening_hosts() if not is_loopback(host)]
