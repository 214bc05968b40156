"""The systems under test: how to start each one pinned to its core, and how to call it.

Every target serves OpenAI ``POST /v1/chat/completions`` in front of the same fake upstream:
``direct`` is the upstream itself (the baseline "added latency" is measured against),
``passthrough`` the bare Python reference (aiohttp client; ``passthrough-httpx`` the same with
httpx, the client tiergate uses), ``tiergate`` the gateway with its default pipeline
(virtual key, the ``auto`` route, cost, SQLite request log), ``tiergate-2w`` the same with two
workers on both cores, ``litellm`` LiteLLM's proxy and ``portkey`` Portkey's Node gateway.
Peers come from ``bench/_work`` (see ``setup.sh``); nothing here imports them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

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

    def peak_rss_mb(self) -> float | None:
        """Peak resident memory (VmHWM) of the target's whole process tree, in MB."""
        if self.proc is None:
            return None
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
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


def _tiergate_key(data_dir: Path) -> str:
    """A fresh data dir with one virtual key, so the gateway checks keys (not open mode)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
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


def tiergate(name: str, port: int, upstream_url: str, workers: int, cores: str) -> Target:
    data_dir = WORK / f"{name}-data"
    key = _tiergate_key(data_dir)
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
