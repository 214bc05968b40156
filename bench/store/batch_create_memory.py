"""What creating one large batch costs the gateway in memory and time, in both wire formats.

A gateway runs in this process on loopback (SQLite in a temporary directory, upstreams that
are never called: the job is canceled once made). An Anthropic Message Batch body of about
``--mib`` MiB is sent from a generator (the client holds one request at a time), then the
same requests as an OpenAI input file, uploaded, and a batch created from it. For each it
prints the seconds the create took and the peak memory ``tracemalloc`` traced meanwhile, in
every thread of the process, the gateway's included. ``--no-trace`` times without tracing
(tracing slows allocation).

    .venv/bin/python bench/store/batch_create_memory.py [--mib 23] [--no-trace]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson

from tests.support.server import serve_app
from tiergate.config import load_settings
from tiergate.server.factory import create_app

FILLER = "lorem ipsum dolor sit amet " * 220  # about 6 KB per request
PER_MIB = 4000 / 23.2


def anthropic_body(count: int) -> Iterator[bytes]:
    yield b'{"requests": ['
    for i in range(count):
        params = {
            "model": "claude-haiku-4-5",
            "max_tokens": 50,
            "temperature": 0.5,
            "messages": [{"role": "user", "content": f"{i} {FILLER}"}],
        }
        yield (b"," if i else b"") + orjson.dumps({"custom_id": f"r{i}", "params": params})
    yield b"]}"


def openai_line(i: int) -> bytes:
    body = {"model": "gpt-5.4", "messages": [{"role": "user", "content": f"{i} {FILLER}"}]}
    line = {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
    return orjson.dumps(line) + b"\n"


class Measure:
    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.seconds = 0.0
        self.peak_mib = 0.0

    def __enter__(self) -> Measure:
        if self.trace:
            tracemalloc.start()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.started
        if self.trace:
            self.peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()

    def __str__(self) -> str:
        peak = f", peak traced memory {self.peak_mib:.1f} MiB" if self.trace else ""
        return f"{self.seconds:.2f} s{peak}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=float, default=23.2)
    parser.add_argument("--no-trace", action="store_true")
    args = parser.parse_args()
    count = int(args.mib * PER_MIB)
    trace = not args.no_trace
    with tempfile.TemporaryDirectory() as tmp:
        nowhere = "http://127.0.0.1:9"
        settings = load_settings(
            None,
            env={},
            overrides={
                "deployments": [
                    {
                        "name": "a",
                        "model": "claude-haiku-4-5",
                        "provider": "anthropic",
                        "base_url": nowhere,
                        "api_key": "k",
                    },
                    {
                        "name": "o",
                        "model": "gpt-5.4",
                        "provider": "openai",
                        "base_url": nowhere + "/v1",
                        "api_key": "k",
                    },
                ],
                "data_dir": tmp,
                "batch": {
                    "concurrency": 1,
                    "poll_seconds": 600,
                    "max_body_bytes": 1 << 30,
                    "max_requests": 1_000_000,
                },
            },
        )
        with serve_app(create_app(settings)) as url:
            size = sum(map(len, anthropic_body(count)))
            with Measure(trace) as made:
                answer = httpx.post(
                    url + "/v1/messages/batches",
                    content=anthropic_body(count),
                    headers={"content-type": "application/json"},
                    timeout=600,
                )
            assert answer.status_code == 200, answer.text[:300]
            httpx.post(f"{url}/v1/messages/batches/{answer.json()['id']}/cancel")
            print(f"Anthropic body, {size / 2**20:.1f} MiB, {count} requests: {made}")

            path = Path(tmp) / "in.jsonl"
            with path.open("wb") as out:
                for i in range(count):
                    out.write(openai_line(i))
            sdk = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=600)
            with path.open("rb") as content:
                file_id = sdk.files.create(file=("in.jsonl", content), purpose="batch").id
            with Measure(trace) as made:
                batch = sdk.batches.create(
                    input_file_id=file_id,
                    endpoint="/v1/chat/completions",
                    completion_window="24h",
                )
            sdk.batches.cancel(batch.id)
            mib = path.stat().st_size / 2**20
            print(f"OpenAI input file, {mib:.1f} MiB, {count} requests: {made}")


if __name__ == "__main__":
    main()
