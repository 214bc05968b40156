"""Message Batches through the real gateway with the official ``anthropic`` SDK: each item runs
through routing, the key's allowance and budget, the executor and the request log, on both
stores; results, cancel, delete, tenancy and bad input as the SDK sees them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.gateway_fixtures import cli_report
from tests.e2e.test_tenancy import ADMIN, admin, new_key
from tests.fakes.script import Fail, FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream

USAGE = FakeUsage(input_tokens=1000, output_tokens=10)


def client(gateway: str, key: str = "x") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key=key, max_retries=0)


def request(custom_id: str, model: str, text: str, **params: Any) -> dict[str, Any]:
    body = {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": text}]}
    return {"custom_id": custom_id, "params": {**body, **params}}


def wait_ended(sdk: anthropic.Anthropic, batch_id: str, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        batch = sdk.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        assert time.monotonic() < deadline, batch
        time.sleep(0.05)


def first_call(upstream: FakeUpstream, seconds: float = 5) -> None:
    """Wait until the upstream has received a call (a batch item is running)."""
    deadline = time.monotonic() + seconds
    while not upstream.requests:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def errored(sdk: anthropic.Anthropic, batch_id: str) -> list[Any]:
    """The error objects of a batch's errored result lines, in order."""
    lines = list(sdk.messages.batches.results(batch_id))
    return [line.result.error.error for line in lines if line.result.type == "errored"]  # type: ignore[union-attr]


def test_a_batch_runs_each_request_through_the_gateway_and_keeps_the_results(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    database_url: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway = make_gateway(
        database_url=database_url, routes={"auto": {"default": "claude-haiku-4-5"}}
    )
    anthropic_upstream.default = Reply(usage=USAGE)  # echo, with usage to price
    sdk = client(gateway)
    batch = sdk.messages.batches.create(
        requests=[
            request("ticket-1", "claude-haiku-4-5", "one"),
            request("ticket-2", "gpt-5.4", "two"),  # served by the OpenAI-format upstream
            request("ticket-3", "auto", "three"),  # a route name works as in /v1/messages
            request("ticket-4", "no-such-model", "four"),
        ]
    )
    assert batch.id.startswith("msgbatch_") and batch.type == "message_batch"
    assert batch.processing_status == "in_progress" and batch.results_url is None
    assert batch.request_counts.processing == 4

    done = wait_ended(sdk, batch.id)
    assert done.request_counts.model_dump() == {
        "processing": 0,
        "succeeded": 3,
        "errored": 1,
        "canceled": 0,
        "expired": 0,
    }
    assert done.ended_at is not None and done.results_url.endswith(f"/{batch.id}/results")

    results = {line.custom_id: line for line in sdk.messages.batches.results(batch.id)}
    assert sorted(results) == ["ticket-1", "ticket-2", "ticket-3", "ticket-4"]
    for custom_id, word in (("ticket-1", "one"), ("ticket-2", "two"), ("ticket-3", "three")):
        result = results[custom_id].result
        assert result.type == "succeeded", result
        assert result.message.content[0].text == f"echo: {word}"  # type: ignore[union-attr]
    assert results["ticket-1"].result.message.model == "claude-haiku-4-5"  # type: ignore[union-attr]
    failed = results["ticket-4"].result
    assert failed.type == "errored" and failed.error.error.type == "not_found_error"  # type: ignore[union-attr]
    assert "no-such-model" in failed.error.error.message  # type: ignore[union-attr]

    # Every item is a row of the request log, priced like any request; the line names it.
    report = httpx.get(gateway + "/v1/tiergate/report", headers={"x-api-key": "x"}).json()
    assert report["totals"]["requests"] == 4
    haiku = next(row for row in report["by_model"] if row["model"] == "claude-haiku-4-5")
    assert haiku["requests"] == 2 and haiku["cost_usd"] == pytest.approx(2 * 0.00105)
    assert haiku["p50_ms"] is None  # nobody waited on a batch item: no latency figure
    row_ids = {line.model_extra["tiergate"]["request_id"] for line in results.values()}  # type: ignore[index]
    assert len(row_ids) == 4 and all(r.startswith("req_") for r in row_ids)
    assert len(openai_upstream.requests) == 1 and len(anthropic_upstream.requests) == 2

    [job] = report["batches"]  # the report: progress and what the kept answers cost
    assert (job["id"], job["status"], job["requests"]) == (batch.id, "ended", 4)
    assert (job["succeeded"], job["errored"], job["queued"]) == (3, 1, 0)
    assert job["cost_usd"] == pytest.approx(report["totals"]["cost_usd"])  # all batch traffic
    assert job["cost_usd"] >= 2 * 0.00105

    printed = cli_report([], database_url, tmp_path, monkeypatch)  # the same, for people
    row = next(line for line in printed.splitlines() if batch.id in line)
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells[:6] == [batch.id, "ended", "4", "0", "3", "1"], row  # items, queued, done, failed

    metrics = httpx.get(gateway + "/metrics").text
    assert "tiergate_batch_completed_total 4.0" in metrics, metrics

    listed = [b.id for b in sdk.messages.batches.list()]
    assert listed == [batch.id]
    assert sdk.messages.batches.delete(batch.id).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.retrieve(batch.id)


def test_bad_batches_are_refused_at_once_naming_the_request(gateway: str) -> None:
    sdk = client(gateway)
    cases = [
        ([request("a", "gpt-5.4", "x"), request("a", "gpt-5.4", "y")], "requests[1].custom_id"),
        ([request("a b", "gpt-5.4", "x")], "requests[0].custom_id"),
        ([{"custom_id": "a", "params": {"model": "gpt-5.4"}}], "requests[0].params"),
        ([request("a", "gpt-5.4", "x", stream=True)], "requests[0].params.stream"),
        ([], "requests"),
    ]
    for requests, named in cases:
        with pytest.raises(anthropic.BadRequestError) as caught:
            sdk.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        assert caught.value.body["error"]["message"].startswith(named), caught.value.body  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.retrieve("msgbatch_nope")
    assert list(sdk.messages.batches.list()) == []  # nothing was created


def test_results_wait_for_the_end_and_cancel_stops_what_has_not_started(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    gateway = make_gateway(batch={"concurrency": 1})
    anthropic_upstream.script(Reply(delay=1.0))  # the first item runs while we cancel
    sdk = client(gateway)
    batch = sdk.messages.batches.create(
        requests=[request(f"r{i}", "claude-haiku-4-5", str(i)) for i in range(5)]
    )
    deadline = time.monotonic() + 5
    while not anthropic_upstream.requests:  # the first item has reached the upstream
        assert time.monotonic() < deadline
        time.sleep(0.01)
    early = httpx.get(f"{gateway}/v1/messages/batches/{batch.id}/results")
    assert early.status_code == 400 and "in_progress" in early.json()["error"]["message"]
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        sdk.messages.batches.results(batch.id)
    with pytest.raises(anthropic.BadRequestError, match="cancel it"):
        sdk.messages.batches.delete(batch.id)

    canceling = sdk.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    assert canceling.request_counts.canceled == 4 and canceling.request_counts.processing == 1

    done = wait_ended(sdk, batch.id)
    assert (done.request_counts.succeeded, done.request_counts.canceled) == (1, 4)
    kinds = {line.custom_id: line.result.type for line in sdk.messages.batches.results(batch.id)}
    assert kinds == {
        "r0": "succeeded",
        "r1": "canceled",
        "r2": "canceled",
        "r3": "canceled",
        "r4": "canceled",
    }
    assert len(anthropic_upstream.requests) == 1


def test_a_batch_runs_as_its_key_and_only_its_tenant_sees_it(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    gateway = make_gateway(admin_key=ADMIN, batch={"concurrency": 1})
    mine_key = new_key(gateway, tenant="acme")
    mine = mine_key["key"]
    theirs = new_key(gateway, tenant="globex")["key"]
    narrow = new_key(gateway, tenant="acme", models=["gpt-5.4"])["key"]

    with pytest.raises(anthropic.PermissionDeniedError, match=r"requests\[0\]\.params\.model"):
        client(gateway, narrow).messages.batches.create(
            requests=[request("a", "claude-haiku-4-5", "x")]
        )

    # The first item's answer is held long enough for the revocation below to land before the
    # next item is claimed, even on a loaded machine.
    anthropic_upstream.script(Reply(delay=3.0))
    batch = client(gateway, mine).messages.batches.create(
        requests=[request(f"r{i}", "claude-haiku-4-5", str(i)) for i in range(3)]
    )
    with pytest.raises(anthropic.NotFoundError):
        client(gateway, theirs).messages.batches.retrieve(batch.id)
    assert list(client(gateway, theirs).messages.batches.list()) == []
    assert [b.id for b in client(gateway, ADMIN).messages.batches.list()] == [batch.id]

    # Revoked while its batch runs: the items still queued fail as the key would.
    first_call(anthropic_upstream)
    assert admin(gateway, "DELETE", f"/admin/keys/{mine_key['id']}").status_code == 200
    done = wait_ended(client(gateway, ADMIN), batch.id)
    assert (done.request_counts.succeeded, done.request_counts.errored) == (1, 2)
    errors = errored(client(gateway, ADMIN), batch.id)
    assert [e.type for e in errors] == ["authentication_error"] * 2
    assert "revoked" in errors[0].message


def test_a_batch_made_while_open_stops_once_keys_exist(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    """Made with no key while the gateway ran open: after the first key is created its
    remaining items fail as an unauthenticated request would, instead of running unbudgeted."""
    gateway = make_gateway(admin_key=ADMIN, batch={"concurrency": 1})
    anthropic_upstream.script(Reply(delay=1.0))
    batch = client(gateway).messages.batches.create(
        requests=[request(f"r{i}", "claude-haiku-4-5", str(i)) for i in range(3)]
    )
    first_call(anthropic_upstream)  # the first item is running, open
    new_key(gateway, tenant="acme")
    done = wait_ended(client(gateway, ADMIN), batch.id)
    assert (done.request_counts.succeeded, done.request_counts.errored) == (1, 2)
    errors = errored(client(gateway, ADMIN), batch.id)
    assert [e.type for e in errors] == ["authentication_error"] * 2
    assert "ran open" in errors[0].message
    assert len(anthropic_upstream.requests) == 1


def test_a_failure_that_time_fixes_is_waited_out_and_the_item_runs_again(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    gateway = make_gateway(batch={"concurrency": 1, "max_tries": 2, "poll_seconds": 0.2})
    anthropic_upstream.script(
        Fail(429, retry_after=1),  # a: waits 1 s
        Fail(503, retry_after=1),  # b: waits 1 s
        Fail(503, retry_after=1),  # a again: its last try, so this is its result
    )  # then b again: answered
    sdk = client(gateway)
    batch = sdk.messages.batches.create(
        requests=[request("a", "claude-haiku-4-5", "one"), request("b", "claude-haiku-4-5", "two")]
    )
    done = wait_ended(sdk, batch.id)
    assert (done.request_counts.succeeded, done.request_counts.errored) == (1, 1)
    lines = {line.custom_id: line.result for line in sdk.messages.batches.results(batch.id)}
    assert lines["b"].message.content[0].text == "echo: two"  # type: ignore[union-attr]
    assert lines["a"].type == "errored" and lines["a"].error.error.type == "api_error"  # type: ignore[union-attr]
    assert len(anthropic_upstream.requests) == 4  # every try is a real call, and a logged one
    report = httpx.get(gateway + "/v1/tiergate/report").json()
    assert report["totals"]["requests"] == 4
    assert "tiergate_batch_deferred_total 2.0" in httpx.get(gateway + "/metrics").text


def test_a_bad_request_is_not_tried_again(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    gateway = make_gateway(batch={"max_tries": 5})
    anthropic_upstream.script(Fail(400, "prompt is too long"))
    sdk = client(gateway)
    batch = sdk.messages.batches.create(requests=[request("a", "claude-haiku-4-5", "one")])
    done = wait_ended(sdk, batch.id)
    assert done.request_counts.errored == 1 and len(anthropic_upstream.requests) == 1
