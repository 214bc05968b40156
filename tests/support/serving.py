"""``tiergate serve`` as a process of its own on a free loopback port.

For the tests and benches that need a real process rather than an app in this one: signals
(SIGTERM, SIGKILL), several worker processes, a restart on the same store.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(
    config: Path | None,
    env: Mapping[str, str],
    *args: str,
    stderr: int | IO[bytes] = subprocess.PIPE,
    start_seconds: float = 30.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yields (base URL, process) once ``/health`` answers 200; ``config`` None serves without
    a config file (settings from ``env`` alone); ``args`` go after ``--port``
    (``"--workers", "2"``). Raises with the server's stderr (when piped) if it does not start
    within ``start_seconds``. On exit a process still running gets SIGTERM and is waited for."""
    port = free_port()
    server = subprocess.Popen(
        [
            *[sys.executable, "-m", "tiergate.cli", "serve"],
            *(["--config", str(config)] if config is not None else []),
            *["--port", str(port), *args],
        ],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                if server.poll() is None:
                    server.kill()
                    server.wait(timeout=30)
                piped = server.stderr if stderr == subprocess.PIPE else None
                detail = piped.read().decode() if piped is not None else ""
                raise RuntimeError(f"tiergate serve did not start on {url}\n{detail}")
            time.sleep(0.1)
        yield url, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
