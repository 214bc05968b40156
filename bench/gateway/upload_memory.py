"""Peak memory of the gateway while it takes one large upload (OpenAI Files API).

Starts ``tiergate serve`` (one process, SQLite in a temporary data dir, one deployment whose
upstream is a closed port: nothing is answered), writes a JSONL batch input file of SIZE_MB to
disk, uploads it with httpx streaming from the file, and prints the server's peak resident
memory (``VmHWM``) before and after the upload; with ``--batch``, also after creating a batch
from the file. docs/security.md records the figures.

    python bench/gateway/upload_memory.py [SIZE_MB] [--batch] [--two]   (default 200)

``--two`` sends two uploads of the file at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    size_mb = int(args[0]) if args else 200
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "tiergate.yaml"
        config.write_text(
            "deployments:\n  - {name: o, model: gpt-5.4, provider: openai, "
            "base_url: 'http://127.0.0.1:9/v1', api_key: k}\n"
            "batch: {concurrency: 1, max_requests: 10000000, max_body_bytes: 1073741824}\n"
        )
        path = Path(tmp) / "input.jsonl"
        line = (
            b'{"custom_id": "r%09d", "method": "POST", "url": "/v1/chat/completions", "body": '
            b'{"model": "gpt-5.4", "messages": [{"role": "user", "content": "'
            + b"x" * 120
            + b'"}]}}\n'
        )
        with path.open("wb") as out:
            n = 0
            while out.tell() < size_mb * 1024 * 1024:
                out.write(line % n)
                n += 1
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIERGATE_")}
        env["TIERGATE_DATA_DIR"] = tmp
        server = subprocess.Popen(
            [
                *[sys.executable, "-m", "tiergate.cli", "serve", "--config", str(config)],
                *["--port", str(port)],
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start")
                time.sleep(0.2)
            httpx.get(url + "/v1/files", timeout=10)
            before = peak_kib(server.pid)
            started = time.monotonic()

            def send() -> httpx.Response:
                with path.open("rb") as body:
                    return httpx.post(
                        url + "/v1/files",
                        data={"purpose": "batch"},
                        files={"file": ("input.jsonl", body)},
                        timeout=600,
                    )

            if "--two" in sys.argv:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(2) as pool:
                    response, other = pool.map(lambda _: send(), range(2))
                assert other.status_code == 200, other.text
            else:
                response = send()
            took = time.monotonic() - started
            after = peak_kib(server.pid)
            stored = response.json().get("bytes")
            print(
                f"upload of {path.stat().st_size / 2**20:.0f} MiB ({n:,} lines): HTTP "
                f"{response.status_code} in {took:.1f} s, {stored:,} bytes stored"
            )
            assert stored == path.stat().st_size
            if "--batch" in sys.argv:
                started = time.monotonic()
                batch = httpx.post(
                    url + "/v1/batches",
                    json={
                        "input_file_id": response.json()["id"],
                        "endpoint": "/v1/chat/completions",
                        "completion_window": "24h",
                    },
                    timeout=1200,
                )
                took = time.monotonic() - started
                print(
                    f"batch from it: HTTP {batch.status_code} in {took:.1f} s, server peak "
                    f"RSS {peak_kib(server.pid) / 1024:.0f} MiB"
                )
            print(
                f"server peak RSS: {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB "
                f"after (+{(after - before) / 1024:.0f} MiB)"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
