"""The systems under test: how to start each one pinned to its core, and how to call it.

Every target serves OpenAI ``POST /v1/chat/completions`` in front of the same fake upstream:
``direct`` is the upstream itself (the baseline "added latency" is measured against),
``passthrough`` the bare Python reference (aiohttp client; ``passthrough-httpx`` the same with
httpx, the client tiergate uses), ``tiergate`` the gateway with its default pipeline
(virtual key, the ``auto`` route, cost, SQLite request log), ``tiergate-1m`` the same started
on a request log already holding 1,000,000 rows (issue 5), ``tiergate-2w`` the same with two
workers on both cores, ``litellm`` LiteLLM's proxy and ``portkey`` Portkey's Node gateway.
Peers come from ``bench/_work`` (see ``setup.sh``); nothing here imports them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench" / "_work"
VENV_PY = ROOT / ".venv" / "bin" / "python"

PROMPT = [{"role": "user", "content": "Classify this ticket: my invoice is wrong."}]


@dataclass
class Target:
    name: str
    port: int
    cmd: list[str] = field(default_factory=list)  # empty: not a process we start (direct)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    model: str = "fake"
    headers: dict[str, str] = field(default_factory=dict)
    health: str = "/health"
    cores: str = "0"
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    data_dir: Path | None = None  # tiergate's TIERGATE_DATA_DIR (its SQLite request log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    def body(self, stream: bool) -> str:
        import json

        payload: dict[str, object] = {"model": self.model, "messages": PROMPT, "max_tokens": 64}
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        return json.dumps(payload, separators=(",", ":"))

    def all_headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", **self.headers}

    def start(self, logs: Path) -> None:
        if not self.cmd:
            return
        self.log = logs / f"{self.name}.log"
        env = {**os.environ, **self.env}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["taskset", "-c", self.cores, *self.cmd],
                cwd=self.cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}{self.health}", timeout=2
                ) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not healthy after {timeout:.0f}s; see {self.log}")

    def _processes(self) -> list[Any]:
        """The target's process and all its descendants (psutil), or [] once it has gone."""
        if self.proc is None:
            return []
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def peak_rss_mb(self) -> float | None:
        """Peak resident memory (VmHWM) of the target's whole process tree, in MB."""
        procs = self._processes()
        if not procs:
            return None
        total = 0
        for proc in procs:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        return total / 1024

    def cpu_seconds(self) -> float | None:
        """User + system CPU time used so far by the target's whole process tree: CPU per
        request is steadier than requests/s on a shared machine, where a neighbour's load
        lowers throughput but barely changes the work each request takes."""
        procs = self._processes()
        if not procs:
            return None
        import psutil

        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def upstream(port: int, core: str) -> Target:
    return Target(
        "upstream", port, [str(VENV_PY), str(HERE / "upstream.py"), "--port", str(port)], cores=core
    )


def direct(upstream_port: int) -> Target:
    return Target("direct", upstream_port, headers={"Authorization": "Bearer sk-bench"})


def passthrough(port: int, upstream_url: str, client: str, name: str = "passthrough") -> Target:
    return Target(
        name,
        port,
        [
            str(VENV_PY),
            str(HERE / "passthrough.py"),
            "--port",
            str(port),
            "--upstream",
            upstream_url,
            "--client",
            client,
        ],
        headers={"Authorization": "Bearer sk-bench"},
    )


def seeded_log(rows: int) -> Path:
    """A SQLite store holding ``rows`` request-log rows, seeded once and cached under
    ``bench/_work`` (keyed by row count): seeding a million rows takes minutes, copying seconds.

    Rows come from ``bench/store/report_1m.py`` (the real ``RequestLog``, varied tenants, routes,
    models, attempts). Seeding goes to a ``.partial`` directory (``seed`` resumes from the rows
    already there) and is renamed into place only when complete, WAL checkpointed into the file.
    """
    done = WORK / f"log-template-{rows}"
    db = done / "tiergate.db"
    if db.exists():
        return db
    partial = WORK / f"log-template-{rows}.partial"
    partial.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "bench" / "store"))
    from report_1m import seed  # imports tiergate: only the venv runner ever gets here

    print(
        f"seeding a {rows:,}-row request log into {partial} (cached for later runs)",
        file=sys.stderr,
        flush=True,
    )
    seconds = asyncio.run(seed(f"sqlite:///{partial / 'tiergate.db'}", rows))
    with sqlite3.connect(partial / "tiergate.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (count,) = conn.execute("SELECT count(*) FROM requests").fetchone()
    if count != rows:
        raise RuntimeError(f"seeded log holds {count:,} rows, expected {rows:,}")
    print(f"seeded {rows:,} rows in {seconds:.0f} s", file=sys.stderr, flush=True)
    partial.rename(done)
    return db


def count_log_rows(data_dir: Path) -> int | None:
    """Rows in the request log of a tiergate data dir (None: no log there)."""
    db = data_dir / "tiergate.db"
    if not db.exists():
        return None
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM requests").fetchone()[0])


def _tiergate_key(data_dir: Path, template: Path | None = None) -> str:
    """A fresh data dir with one virtual key, so the gateway checks keys (not open mode);
    with ``template`` (a ``tiergate.db``), that store is copied in first."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    if template is not None:
        for path in template.parent.glob("tiergate.db*"):  # the db, and -wal/-shm if present
            shutil.copy2(path, data_dir / path.name)
    done = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "tiergate"),
            "keys",
            "create",
            "--tenant",
            "bench",
            "--name",
            "bench",
        ],
        env={**os.environ, "TIERGATE_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def tiergate(
    name: str, port: int, upstream_url: str, workers: int, cores: str, log_rows: int = 0
) -> Target:
    """``tiergate serve`` on a fresh data dir; ``log_rows`` > 0 starts it on a request log
    already holding that many rows (the seeded template, copied)."""
    data_dir = WORK / f"{name}-data"
    key = _tiergate_key(data_dir, seeded_log(log_rows) if log_rows else None)
    cmd = [
        str(ROOT / ".venv" / "bin" / "tiergate"),
        "serve",
        "--config",
        str(HERE / "tiergate.yaml"),
        "--port",
        str(port),
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return Target(
        name,
        port,
        cmd,
        env={"TIERGATE_DATA_DIR": str(data_dir), "BENCH_UPSTREAM": upstream_url},
        model="auto",
        headers={"Authorization": f"Bearer {key}"},
        cores=cores,
        data_dir=data_dir,
    )


def litellm(port: int, upstream_url: str) -> Target:
    exe = WORK / "litellm-venv" / "bin" / "litellm"
    if not exe.exists():
        raise RuntimeError("LiteLLM is not installed: run bench/gateway/setup.sh")
    return Target(
        "litellm",
        port,
        [
            str(exe),
            "--config",
            str(HERE / "litellm.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        env={
            "BENCH_UPSTREAM_V1": upstream_url + "/v1",
            "LITELLM_LOG": "ERROR",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        },
        headers={"Authorization": "Bearer sk-bench-master"},
        health="/health/liveliness",
    )


def portkey(port: int, upstream_url: str) -> Target:
    script = WORK / "portkey" / "node_modules" / "@portkey-ai/gateway/build/start-server.js"
    if not script.exists():
        raise RuntimeError("Portkey is not installed: run bench/gateway/setup.sh")
    return Target(
        "portkey",
        port,
        ["node", str(script), f"--port={port}", "--headless"],
        cwd=WORK / "portkey",
        headers={
            "Authorization": "Bearer sk-bench-upstream",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream_url + "/v1",
        },
        health="/",
    )
