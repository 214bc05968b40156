"""Batch jobs through the provider's own batch API (``batch_api: true`` on a deployment): the
items a deployment would answer go to the fake upstream's batch API (Anthropic's Message
Batches, OpenAI's Files and Batch APIs) in one provider batch and come back priced at batch
rates; what the provider cannot answer runs live; cancel reaches the provider's batch; on both
stores, through both SDKs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.test_batches import client, request, wait_ended
from tests.e2e.test_batches_openai import client as openai_client
from tests.e2e.test_batches_openai import jsonl, line, upload, wait_done
from tests.e2e.test_tenancy import ADMIN, new_key
from tests.fakes.openai_batches import form_fields
from tests.fakes.script import Fail, FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream

USAGE = FakeUsage(input_tokens=1000, output_tokens=10)
HAIKU_LIVE = 1000 * 1e-6 + 10 * 5e-6  # $1 / $5 per million tokens
HAIKU_BATCH = HAIKU_LIVE / 2  # the catalog's batch table for claude-haiku-4-5


def relay_gateway(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    openai_batch_api: bool = False,
    **overrides: Any,
) -> str:
    deployments = [
        {
            "name": "anthropic-a",
            "model": "claude-haiku-4-5",
            "provider": "anthropic",
            "base_url": anthropic_upstream.url,
            "api_key": "sk-ant-upstream-secret",
            "batch_api": True,
        },
        {
            "name": "openai-a",
            "model": "gpt-5.4",
            "provider": "openai",
            "base_url": openai_upstream.url + "/v1",
            "api_key": "sk-openai-upstream-secret",
            "batch_api": openai_batch_api,
        },
    ]
    batch = {"poll_seconds": 0.05, "upstream_poll_seconds": 0.1, **overrides.pop("batch", {})}
    return make_gateway(deployments=deployments, batch=batch, **overrides)


def paths(upstream: FakeUpstream) -> list[str]:
    return [f"{r.method} {r.path}" for r in upstream.requests]


def deleted(upstream: FakeUpstream, count: int, seconds: float = 5) -> None:
    """Wait until the relay has deleted ``count`` provider objects (after storing answers)."""
    deadline = time.monotonic() + seconds
    while len(upstream.deleted) < count:
        assert time.monotonic() < deadline, upstream.deleted
        time.sleep(0.02)
    assert len(upstream.deleted) == count, upstream.deleted


def report(gateway: str) -> dict[str, Any]:
    response = httpx.get(gateway + "/v1/tiergate/report", headers={"x-api-key": ADMIN})
    return dict(response.json())


def test_items_go_in_one_provider_batch_at_half_price_and_what_it_cannot_answer_runs_live(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    database_url: str | None,
) -> None:
    gateway = relay_gateway(
        make_gateway,
        anthropic_upstream,
        openai_upstream,
        database_url=database_url,
        admin_key=ADMIN,
    )
    key = new_key(gateway, tenant="acme")["key"]
    anthropic_upstream.default = Reply(usage=USAGE)
    anthropic_upstream.script(Reply(usage=USAGE), Reply(usage=USAGE), Fail(529, "Overloaded"))
    sdk = client(gateway, key)
    batch = sdk.messages.batches.create(
        requests=[
            request("h1", "claude-haiku-4-5", "one"),
            request("h2", "claude-haiku-4-5", "two"),
            request("h3", "claude-haiku-4-5", "three"),  # overloaded in the provider's batch
            request("g1", "gpt-5.4", "four"),  # no batch_api: live
        ]
    )
    done = wait_ended(sdk, batch.id)
    assert done.request_counts.succeeded == 4, done

    sent = [r for r in anthropic_upstream.requests if r.path == "/v1/messages/batches"]
    assert len(sent) == 1 and sent[0].method == "POST"
    entries = sent[0].json["requests"]
    assert [e["custom_id"] for e in entries] == ["item-0", "item-1", "item-2"]
    assert entries[0]["params"]["messages"][0]["content"][0]["text"] == "one"
    assert entries[0]["params"]["max_tokens"] == 50
    assert sent[0].header("x-api-key") == "sk-ant-upstream-secret"
    assert paths(anthropic_upstream).count("POST /v1/messages") == 1  # h3, live, after
    assert any(p.endswith("/results") for p in paths(anthropic_upstream))
    deleted(anthropic_upstream, 1)  # the provider's copy, once the answers are stored
    assert anthropic_upstream.batches == {}
    assert len(openai_upstream.requests) == 1

    results = {r.custom_id: r.result for r in sdk.messages.batches.results(batch.id)}
    for custom_id, word in (("h1", "one"), ("h2", "two"), ("h3", "three")):
        assert results[custom_id].message.content[0].text == f"echo: {word}"  # type: ignore[union-attr]
    assert results["h1"].message.model == "claude-haiku-4-5"  # type: ignore[union-attr]

    summary = report(gateway)
    haiku = next(row for row in summary["by_model"] if row["model"] == "claude-haiku-4-5")
    assert haiku["requests"] == 3  # the overloaded try was not billed, so not logged
    assert haiku["cost_usd"] == pytest.approx(2 * HAIKU_BATCH + HAIKU_LIVE)
    by_tenant = {row["tenant"]: row["requests"] for row in summary["by_tenant"]}
    assert by_tenant == {"acme": 4}
    [job] = summary["batches"]
    assert job["succeeded"] == 4 and job["cost_usd"] == pytest.approx(summary["totals"]["cost_usd"])
    # Batch work is spend, not latency: every row names the job, no percentile counts it.
    assert {row["model"]: row["p50_ms"] for row in summary["by_model"]} == {
        "claude-haiku-4-5": None,
        "gpt-5.4": None,
    }
    metrics = httpx.get(gateway + "/metrics", headers={"x-api-key": ADMIN}).text
    assert 'tiergate_latency_seconds_count{model="claude-haiku-4-5",route="direct"} 0.0' in metrics
    assert "tiergate_batch_upstream_sent_total 3.0" in metrics
    assert "tiergate_batch_upstream_collected_total 1.0" in metrics


def test_an_invalid_request_is_its_result_and_a_key_with_a_budget_runs_live(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    gateway = relay_gateway(make_gateway, anthropic_upstream, openai_upstream, admin_key=ADMIN)
    anthropic_upstream.default = Reply(usage=USAGE)
    anthropic_upstream.script(Fail(400, "prompt is too long"), Reply(usage=USAGE))
    open_key = new_key(gateway, tenant="acme")["key"]
    batch = client(gateway, open_key).messages.batches.create(
        requests=[request("bad", "claude-haiku-4-5", "x"), request("ok", "claude-haiku-4-5", "y")]
    )
    done = wait_ended(client(gateway, open_key), batch.id)
    assert (done.request_counts.succeeded, done.request_counts.errored) == (1, 1)
    lines = {
        r.custom_id: r.result for r in client(gateway, open_key).messages.batches.results(batch.id)
    }
    assert lines["bad"].error.error.type == "invalid_request_error"  # type: ignore[union-attr]
    assert "prompt is too long" in lines["bad"].error.error.message  # type: ignore[union-attr]
    assert "POST /v1/messages" not in paths(anthropic_upstream)

    anthropic_upstream.reset()
    anthropic_upstream.default = Reply(usage=USAGE)
    budgeted = new_key(gateway, tenant="acme", budget_usd="10")["key"]
    batch = client(gateway, budgeted).messages.batches.create(
        requests=[request("a", "claude-haiku-4-5", "z")]
    )
    assert wait_ended(client(gateway, budgeted), batch.id).request_counts.succeeded == 1
    assert paths(anthropic_upstream) == ["POST /v1/messages"]  # live: its budget holds


def test_cancel_reaches_the_provider_batch(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    gateway = relay_gateway(make_gateway, anthropic_upstream, openai_upstream)
    anthropic_upstream.batch_looks_before_end = 10_000  # never ends on its own
    sdk = client(gateway)
    batch = sdk.messages.batches.create(
        requests=[request(f"r{i}", "claude-haiku-4-5", str(i)) for i in range(3)]
    )
    while not anthropic_upstream.batches:  # sent to the provider
        assert sdk.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    sdk.messages.batches.cancel(batch.id)
    done = wait_ended(sdk, batch.id)
    assert done.request_counts.canceled == 3
    assert any(p.endswith("/cancel") for p in paths(anthropic_upstream))
    assert "POST /v1/messages" not in paths(anthropic_upstream)


def test_an_answer_that_cannot_be_read_runs_its_item_live(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    from tests.fakes import anthropic_batches

    gateway = relay_gateway(make_gateway, anthropic_upstream, openai_upstream)
    anthropic_upstream.batch_looks_before_end = 10_000  # ended below, by hand
    anthropic_upstream.default = Reply(usage=USAGE)
    sdk = client(gateway)
    batch = sdk.messages.batches.create(requests=[request("a", "claude-haiku-4-5", "hi")])
    while not anthropic_upstream.batches:
        assert sdk.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    [upstream] = anthropic_upstream.batches.values()
    anthropic_batches._end(anthropic_upstream, upstream)
    upstream["results"][0]["result"]["message"] = {"type": "message", "content": "garbled"}
    done = wait_ended(sdk, batch.id)
    assert done.request_counts.succeeded == 1
    [line] = list(sdk.messages.batches.results(batch.id))
    assert line.result.message.content[0].text == "echo: hi"  # type: ignore[union-attr]
    assert paths(anthropic_upstream).count("POST /v1/messages") == 1  # answered live


def test_an_openai_batch_is_answered_by_the_anthropic_batch_api_in_openai_format(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    gateway = relay_gateway(make_gateway, anthropic_upstream, openai_upstream)
    anthropic_upstream.default = Reply(usage=USAGE)
    sdk = openai_client(gateway)
    file_id = upload(sdk, [line("a", "claude-haiku-4-5", "hello", max_tokens=20)])
    batch = sdk.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = wait_done(sdk, batch.id)
    assert done.status == "completed" and done.output_file_id
    out = jsonl(sdk.files.content(done.output_file_id).text)
    body = out["a"]["response"]["body"]
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "echo: hello"
    assert paths(anthropic_upstream)[0] == "POST /v1/messages/batches"
    assert "POST /v1/messages" not in paths(anthropic_upstream)


def test_an_openai_deployment_sends_items_through_the_openai_batch_api(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    database_url: str | None,
) -> None:
    gateway = relay_gateway(
        make_gateway,
        anthropic_upstream,
        openai_upstream,
        database_url=database_url,
        openai_batch_api=True,
    )
    openai_upstream.default = Reply(usage=USAGE)
    openai_upstream.script(
        Reply(usage=USAGE), Fail(400, "bad parameter"), Fail(500, "server melted")
    )  # then the live retry of the third: the default reply
    sdk = client(gateway)
    batch = sdk.messages.batches.create(  # an Anthropic-format job, answered by OpenAI
        requests=[request(f"g{i}", "gpt-5.4", f"w{i}") for i in range(3)]
    )
    done = wait_ended(sdk, batch.id)
    assert (done.request_counts.succeeded, done.request_counts.errored) == (2, 1), done

    sent = paths(openai_upstream)
    assert sent[:2] == ["POST /v1/files", "POST /v1/batches"]
    assert sent.count("POST /v1/chat/completions") == 1  # the server error, run live
    uploaded = openai_upstream.requests[0]
    assert uploaded.header("authorization") == "Bearer sk-openai-upstream-secret"
    content = form_fields(uploaded)["file"].get_payload(decode=True)
    first = json.loads(content.splitlines()[0])
    assert (first["custom_id"], first["url"]) == ("item-0", "/v1/chat/completions")
    assert first["body"]["model"] == "gpt-5.4" and first["body"]["max_completion_tokens"] == 50

    results = {r.custom_id: r.result for r in sdk.messages.batches.results(batch.id)}
    assert results["g0"].message.content[0].text == "echo: w0"  # type: ignore[union-attr]
    assert results["g2"].message.content[0].text == "echo: w2"  # type: ignore[union-attr]
    assert results["g1"].error.error.type == "invalid_request_error"  # type: ignore[union-attr]
    assert "bad parameter" in results["g1"].error.error.message  # type: ignore[union-attr]

    # Once stored, the provider's copies go: input, output and error files.
    deleted(openai_upstream, 3)
    assert openai_upstream.files == {}
    deletes = [p for p in paths(openai_upstream) if p.startswith("DELETE ")]
    assert deletes == ["DELETE /v1/files/" + f for f in openai_upstream.deleted]

    gpt = next(row for row in report(gateway)["by_model"] if row["model"] == "gpt-5.4")
    # g0 at the batch table ($1.25 / $7.50 per million), g2 live ($2.50 / $15), g1's 400 unbilled
    assert gpt["cost_usd"] == pytest.approx((1000 * 1.25 + 10 * 7.5 + 1000 * 2.5 + 10 * 15) * 1e-6)


def test_batch_api_is_refused_where_it_cannot_work(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    from tiergate.errors import ConfigError

    with pytest.raises(ConfigError, match=r"deployments\[0\]\.batch_api"):
        make_gateway(
            deployments=[
                {
                    "name": "b",
                    "model": "claude-haiku-4-5",
                    "provider": "anthropic",
                    "base_url": anthropic_upstream.url,
                    "byok": True,
                    "batch_api": True,
                }
            ]
        )
