"""OpenAI's Batch and Files APIs through the real gateway with the official ``openai`` SDK:
upload, create, poll, output and error files, cancel, and bad input, on both stores."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import openai
import orjson
import pytest

from tests.e2e.test_tenancy import ADMIN, new_key
from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream

USAGE = FakeUsage(input_tokens=1000, output_tokens=10)


def client(gateway: str, key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway + "/v1", api_key=key, max_retries=0)


def line(custom_id: str, model: str, text: str, **body: Any) -> dict[str, Any]:
    request = {"model": model, "messages": [{"role": "user", "content": text}], **body}
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": request,
    }


def upload(sdk: openai.OpenAI, lines: list[dict[str, Any]]) -> str:
    content = b"\n".join(orjson.dumps(entry) for entry in lines) + b"\n"
    return sdk.files.create(file=("batch.jsonl", content), purpose="batch").id


def wait_done(sdk: openai.OpenAI, batch_id: str, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        batch = sdk.batches.retrieve(batch_id)
        if batch.status in ("completed", "cancelled", "expired", "failed"):
            return batch
        assert time.monotonic() < deadline, batch
        time.sleep(0.05)


def jsonl(text: str) -> dict[str, dict[str, Any]]:
    return {entry["custom_id"]: entry for entry in map(orjson.loads, text.splitlines())}


def test_a_batch_from_an_uploaded_file_answers_into_output_and_error_files(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    database_url: str | None,
) -> None:
    gateway = make_gateway(database_url=database_url)
    openai_upstream.default = Reply(usage=USAGE)
    sdk = client(gateway)
    file_id = upload(
        sdk,
        [
            line("a", "gpt-5.4", "one"),
            line("b", "claude-haiku-4-5", "two"),  # served by the Anthropic-format upstream
            line("c", "no-such-model", "three"),
        ],
    )
    assert sdk.files.retrieve(file_id).purpose == "batch"
    batch = sdk.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert batch.status == "in_progress" and batch.metadata == {"job": "nightly"}

    done = wait_done(sdk, batch.id)
    assert done.status == "completed" and done.completed_at is not None
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (3, 2)
    assert done.request_counts.failed == 1
    assert done.output_file_id and done.error_file_id

    output_file = sdk.files.content(done.output_file_id)
    assert sdk.files.retrieve(done.output_file_id).bytes == len(output_file.content)
    output = jsonl(output_file.text)
    assert sorted(output) == ["a", "b"]
    for custom_id, word in (("a", "one"), ("b", "two")):
        response = output[custom_id]["response"]
        assert response["status_code"] == 200 and output[custom_id]["error"] is None
        assert response["body"]["object"] == "chat.completion"
        assert response["body"]["choices"][0]["message"]["content"] == f"echo: {word}"
        assert response["request_id"].startswith("req_")
    errors = jsonl(sdk.files.content(done.error_file_id).text)
    assert list(errors) == ["c"]
    assert errors["c"]["response"]["status_code"] == 404
    assert "no-such-model" in errors["c"]["response"]["body"]["error"]["message"]
    assert len(openai_upstream.requests) == 1 and len(anthropic_upstream.requests) == 1

    assert [b.id for b in sdk.batches.list()] == [batch.id]
    assert file_id in [f.id for f in sdk.files.list()]
    assert sdk.files.delete(file_id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(file_id)


def test_bad_input_files_and_batches_are_refused_at_once(gateway: str) -> None:
    sdk = client(gateway)
    cases = [
        ([line("a", "gpt-5.4", "x"), line("a", "gpt-5.4", "y")], "input file line 2: custom_id"),
        ([line("a", "gpt-5.4", "x"), {"custom_id": "b"}], "input file line 2: method and url"),
        ([{**line("a", "gpt-5.4", "x"), "body": {"model": "gpt-5.4"}}], "input file line 1: body"),
        ([line("a", "gpt-5.4", "x", stream=True)], "input file line 1: body.stream"),
    ]
    for lines, named in cases:
        file_id = upload(sdk, lines)
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.batches.create(
                input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        assert caught.value.body["message"].startswith(named), caught.value.body  # type: ignore[index]
    good = upload(sdk, [line("a", "gpt-5.4", "x")])
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        sdk.batches.create(input_file_id=good, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(openai.NotFoundError, match="no such file"):
        sdk.batches.create(
            input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError, match="purpose"):
        sdk.files.create(file=("x.jsonl", b"{}"), purpose="fine-tune")
    assert list(sdk.batches.list()) == []


def test_cancel_sends_unstarted_requests_to_the_error_file(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream
) -> None:
    gateway = make_gateway(batch={"concurrency": 1})
    openai_upstream.script(Reply(delay=1.0))
    sdk = client(gateway)
    file_id = upload(sdk, [line(f"r{i}", "gpt-5.4", str(i)) for i in range(4)])
    batch = sdk.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    deadline = time.monotonic() + 5
    while not openai_upstream.requests:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert sdk.batches.cancel(batch.id).status == "cancelling"
    done = wait_done(sdk, batch.id)
    assert done.status == "cancelled" and done.cancelled_at is not None
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 3)
    errors = jsonl(sdk.files.content(done.error_file_id or "").text)
    assert sorted(errors) == ["r1", "r2", "r3"]
    assert {e["error"]["code"] for e in errors.values()} == {"batch_cancelled"}
    assert list(jsonl(sdk.files.content(done.output_file_id or "").text)) == ["r0"]


def test_files_and_batches_belong_to_their_tenant(make_gateway: Callable[..., str]) -> None:
    gateway = make_gateway(admin_key=ADMIN)
    mine = client(gateway, new_key(gateway, tenant="acme")["key"])
    theirs = client(gateway, new_key(gateway, tenant="globex")["key"])
    file_id = upload(mine, [line("a", "gpt-5.4", "x")])
    with pytest.raises(openai.NotFoundError):
        theirs.files.content(file_id)
    with pytest.raises(openai.NotFoundError):
        theirs.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    batch = mine.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    with pytest.raises(openai.NotFoundError):
        theirs.batches.retrieve(batch.id)
    done = wait_done(mine, batch.id)
    with pytest.raises(openai.NotFoundError):
        theirs.files.content(done.output_file_id or "")
    assert list(theirs.batches.list()) == [] and list(theirs.files.list()) == []

    narrow = client(gateway, new_key(gateway, tenant="acme", models=["gpt-5.4"])["key"])
    mixed = upload(narrow, [line("a", "gpt-5.4", "x"), line("b", "claude-haiku-4-5", "y")])
    with pytest.raises(openai.PermissionDeniedError, match="input file request 2"):
        narrow.batches.create(
            input_file_id=mixed, endpoint="/v1/chat/completions", completion_window="24h"
        )
