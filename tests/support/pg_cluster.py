"""A throwaway PostgreSQL cluster of one test's own, which the test may stop and start again
(an outage) without touching the shared server of ``.ci/postgres.sh``.

``initdb`` and ``pg_ctl`` come from Debian's ``/usr/lib/postgresql/*/bin``; as root they run
as the ``postgres`` user (the server refuses to run as root), in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PgCluster:
    """``with PgCluster() as pg``: initdb'd and started; ``pg.url``; ``stop()``/``start()``."""

    def __init__(self) -> None:
        bin_dir = _bin()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries: run .ci/postgres.sh once")
        self._bin = bin_dir
        self._root = Path(tempfile.mkdtemp(prefix="tiergate-own-pg-"))
        self._data = self._root / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def __enter__(self) -> PgCluster:
        if os.geteuid() == 0:
            shutil.chown(self._root, "postgres", "postgres")
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c synchronous_commit=off -k {self._root}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self._data),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "-l",
            str(self._root / "log"),
            "start",
        )

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, as in a crash or a failover."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self._root, ignore_errors=True)
