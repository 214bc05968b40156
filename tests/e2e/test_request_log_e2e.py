"""Every request through the gateway leaves exactly one row, with exact sums, on both stores;
a SIGTERM in the middle of load loses none."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.e2e.gateway_fixtures import cli_report
from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tiergate.store.backend import open_store


async def _fire(
    url: str, count: int, concurrency: int = 32, failures: list[str] | None = None
) -> list[int]:
    """Status of every request (0: the client saw a transport error); what went wrong with
    the others is appended to ``failures`` so a failing run says why."""
    statuses: list[int] = []
    failures = failures if failures is not None else []
    body = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}]}
    queue = iter(range(count))
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def worker() -> None:
            for _ in queue:
                try:
                    response = await client.post("/v1/chat/completions", json=body)
                    statuses.append(response.status_code)
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:300]}")
                except httpx.HTTPError as exc:
                    statuses.append(0)
                    failures.append(f"client: {exc!r}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def test_10000_requests_leave_10000_rows_with_exact_sums(
    make_gateway: Callable[..., str],
    openai_upstream: FakeUpstream,
    database_url: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    openai_upstream.default = Reply(text="ok", usage=FakeUsage(input_tokens=120, output_tokens=30))
    gateway = make_gateway(database_url=database_url)
    failures: list[str] = []
    statuses = asyncio.run(_fire(gateway, 10_000, failures=failures))
    assert statuses.count(200) == 10_000, failures[:5]
    summary = httpx.get(gateway + "/v1/tiergate/report").json()["totals"]
    assert summary["requests"] == 10_000
    # gpt-5.4: 120 x $2.50 + 30 x $15 per million = $0.00075 a request
    assert Decimal(str(summary["cost_usd"])) == Decimal("7.5")
    assert summary["input_tokens"] == 1_200_000
    data = json.loads(cli_report(["--json"], database_url, tmp_path, monkeypatch))
    assert data["requests"] == 10_000 and data["cost_usd"] == pytest.approx(7.5)


def _serve(config: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tiergate.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigterm_during_load_loses_no_row(
    openai_upstream: FakeUpstream, database_url: str | None, tmp_path: Path
) -> None:
    openai_upstream.default = Reply(text="ok", delay=0.002)
    config = tmp_path / "tiergate.yaml"
    config.write_text(
        "deployments:\n"
        "  - {name: o, model: gpt-5.4, provider: openai, "
        f"base_url: '{openai_upstream.url}/v1', api_key: k}}\n"
        "retry: {max_retries: 0}\n"
    )
    env = {**os.environ, "TIERGATE_DATA_DIR": str(tmp_path)}
    if database_url:
        env["TIERGATE_DATABASE_URL"] = database_url
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _serve(config, port, env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "/health", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise AssertionError(
                    server.stderr.read().decode() if server.stderr else "no start"
                ) from None
            time.sleep(0.05)

    async def load_then_terminate() -> list[int]:
        task = asyncio.create_task(_fire(url, 3000, concurrency=16))
        await asyncio.sleep(1.0)
        server.send_signal(signal.SIGTERM)
        return await task

    statuses = asyncio.run(load_then_terminate())
    # uvicorn shuts down gracefully, then re-raises the signal it captured.
    assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    served = statuses.count(200)
    assert 0 < served < 3000, "the SIGTERM must land in the middle of the load"

    async def count_rows() -> int:
        store_url = database_url or f"sqlite:///{tmp_path / 'tiergate.db'}"
        store = await open_store(store_url)
        try:
            ((rows,),) = await store.fetchall("SELECT count(*) FROM requests WHERE status = 200")
            return int(rows)
        finally:
            await store.aclose()

    assert asyncio.run(count_rows()) == served


def test_postgres_url_is_reachable_when_ci() -> None:
    """Guard: under CI the PostgreSQL half must really run."""
    url = os.environ.get("TIERGATE_TEST_DATABASE_URL")
    if os.environ.get("CI") != "true" and not url:
        pytest.skip("not CI")
    assert url, "CI must provide TIERGATE_TEST_DATABASE_URL"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
