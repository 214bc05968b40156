"""SIGKILL under load, then a restart, on both stores: the budget a killed gateway held is
free again (the key works, nothing stays reserved), and the batch items it was running run
again at once (not after their 60 s lease) and are answered, logged and billed once each."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from decimal import Decimal
from pathlib import Path

import anthropic
import httpx

from tests.e2e.test_tenancy import ADMIN, admin, new_key
from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tests.support.serving import serving
from tiergate.store.backend import open_store

# gpt-5.4 at $2.50 / $15 per million: 5 tokens in and 50 out cost $0.0007625; the worst case
# held (the input as estimated, 8 tokens, and 50 max_tokens out) is $0.00077.
COST, WORST = Decimal("0.0007625"), Decimal("0.00077")
BODY = {"model": "gpt-5.4", "max_tokens": 50, "messages": [{"role": "user", "content": "x"}]}


def _config(tmp_path: Path, upstream: FakeUpstream) -> Path:
    config = tmp_path / "tiergate.yaml"
    config.write_text(
        "deployments:\n"
        f"  - {{name: o, model: gpt-5.4, provider: openai, base_url: '{upstream.url}/v1', "
        "api_key: k}\n"
        "retry: {max_retries: 0}\n"
        "batch: {concurrency: 2, lease_seconds: 60, poll_seconds: 0.1}\n"
    )
    return config


def _env(tmp_path: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "TIERGATE_DATA_DIR": str(tmp_path), "TIERGATE_ADMIN_KEY": ADMIN}
    if database_url:
        env["TIERGATE_DATABASE_URL"] = database_url
    return env


def _spend(url: str, key_id: str) -> tuple[Decimal, Decimal]:
    spend = admin(url, "GET", f"/admin/keys/{key_id}/spend").json()
    return Decimal(spend["spent_usd"]), Decimal(spend["reserved_usd"])


async def _fire(url: str, key: str, count: int) -> list[int]:
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def one() -> int:
            try:
                response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
            except httpx.HTTPError:
                return 0
            return response.status_code

        return list(await asyncio.gather(*(one() for _ in range(count))))


def test_sigkill_under_load_leaves_no_reservation_held_after_restart(
    openai_upstream: FakeUpstream, database_url: str | None, tmp_path: Path
) -> None:
    openai_upstream.default = Reply(
        text="ok", usage=FakeUsage(input_tokens=5, output_tokens=50), delay=3.0
    )
    config, env = _config(tmp_path, openai_upstream), _env(tmp_path, database_url)
    with serving(config, env) as (url, server):
        # Room for four requests in flight, not five.
        key = new_key(
            url, tenant="acme", budget_usd=str(WORST * 4 + WORST / 2), budget_period="total"
        )

        async def load_then_kill() -> list[int]:
            load = asyncio.ensure_future(_fire(url, key["key"], 12))
            deadline = time.monotonic() + 5
            while len(openai_upstream.requests) < 4:
                assert time.monotonic() < deadline, "the load never reached the upstream"
                await asyncio.sleep(0.02)
            assert (await asyncio.to_thread(_spend, url, key["id"]))[1] == WORST * 4
            server.send_signal(signal.SIGKILL)
            return await load

        statuses = asyncio.run(load_then_kill())
        assert server.wait(timeout=10) == -signal.SIGKILL
        assert 200 not in statuses  # the four admitted were in flight when killed
    openai_upstream.default = Reply(text="ok", usage=FakeUsage(input_tokens=5, output_tokens=50))
    with serving(config, env) as (url, _):
        assert _spend(url, key["id"]) == (0, 0)
        assert asyncio.run(_fire(url, key["key"], 4)) == [200] * 4


def test_batch_items_running_at_a_sigkill_are_answered_and_billed_once(
    openai_upstream: FakeUpstream, database_url: str | None, tmp_path: Path
) -> None:
    openai_upstream.default = Reply(
        text="ok", usage=FakeUsage(input_tokens=5, output_tokens=50), delay=1.0
    )
    config, env = _config(tmp_path, openai_upstream), _env(tmp_path, database_url)
    with serving(config, env) as (url, server):
        key = new_key(url, tenant="acme", budget_usd="1", budget_period="total")
        sdk = anthropic.Anthropic(base_url=url, api_key=key["key"], max_retries=0)
        batch = sdk.messages.batches.create(
            requests=[{"custom_id": f"c{i}", "params": BODY} for i in range(6)]  # type: ignore[misc]
        )
        deadline = time.monotonic() + 10
        while sdk.messages.batches.retrieve(batch.id).request_counts.succeeded < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.4)  # their log rows are written (a kill loses the last 0.2 s of them)
        while len(openai_upstream.requests) < 4:  # two more running now
            assert time.monotonic() < deadline
            time.sleep(0.02)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    with serving(config, env) as (url, _):
        sdk = anthropic.Anthropic(base_url=url, api_key=key["key"], max_retries=0)
        deadline = time.monotonic() + 30
        while sdk.messages.batches.retrieve(batch.id).processing_status != "ended":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        lines = list(sdk.messages.batches.results(batch.id))
        assert sorted(line.custom_id for line in lines) == [f"c{i}" for i in range(6)]
        assert {line.result.type for line in lines} == {"succeeded"}
        time.sleep(0.5)  # the last log rows and settlements
        spent, reserved = _spend(url, key["id"])

    async def logged() -> list[tuple[object, ...]]:
        store = await open_store(database_url or f"sqlite:///{tmp_path / 'tiergate.db'}")
        try:
            return await store.fetchall(
                "SELECT request_id, count(*) FROM batch_items WHERE batch_id = ? "
                "GROUP BY request_id",
                (batch.id,),
            ) + await store.fetchall(
                "SELECT id, count(*) FROM requests WHERE batch_id = ? GROUP BY id", (batch.id,)
            )
        finally:
            await store.aclose()

    rows = asyncio.run(logged())
    item_ids, log_ids = {r[0] for r in rows[:6]}, {r[0] for r in rows[6:]}
    assert len(rows) == 12 and item_ids == log_ids  # one log row per item, the one it names
    # Each item billed once, at its real cost (5 in, 50 out): the runs killed were not billed.
    assert (spent, reserved) == (6 * COST, 0)
