"""A byte relay between a listening socket and a target, so that a process in a network
namespace that has only loopback can reach one server outside it through a Unix socket (the
filesystem is shared, the network is not).

Used by the Claude Code end-to-end tests: ``python -m tests.support.relay netns PATH PORT --
COMMAND...`` brings ``lo`` up, listens on 127.0.0.1:PORT, relays every connection to the Unix
socket PATH and runs COMMAND; the test side relays PATH to the gateway's TCP port
(``UnixToTcp``). Nothing else is reachable from inside.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def serve(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    """Accept forever (daemon threads); each connection is piped both ways to ``connect()``."""

    def handle(client: socket.socket) -> None:
        try:
            upstream = connect()
        except OSError:
            client.close()
            return
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(client,), daemon=True).start()


class UnixToTcp:
    """Listen on a Unix socket path; relay each connection to 127.0.0.1:``port``."""

    def __init__(self, path: str, port: int) -> None:
        self.path = path
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(64)

        def connect() -> socket.socket:
            return socket.create_connection(("127.0.0.1", port))

        threading.Thread(target=serve, args=(self._listener, connect), daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def _netns_main(path: str, port: int, command: list[str]) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)

    def connect() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        return sock

    threading.Thread(target=serve, args=(listener, connect), daemon=True).start()
    return subprocess.run(command).returncode


if __name__ == "__main__":
    # python -m tests.support.relay netns PATH PORT -- COMMAND...
    args = sys.argv[1:]
    if len(args) < 5 or args[0] != "netns" or args[3] != "--":
        sys.exit("usage: python -m tests.support.relay netns PATH PORT -- COMMAND...")
    sys.exit(_netns_main(args[1], int(args[2]), args[4:]))
