"""Creating a batch reads its requests as they arrive and writes them to the store in chunks:
the gateway's memory stays bounded whatever the body's size, and a batch refused anywhere in
its body (a malformed request, a model the key may not use, too many requests) leaves no job
and no items behind, on both stores and in both wire formats."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.e2e.test_batches import client as anthropic_client
from tests.e2e.test_batches import request
from tests.e2e.test_batches_openai import client as openai_client
from tests.e2e.test_batches_openai import line, upload
from tests.e2e.test_tenancy import ADMIN, new_key
from tests.fakes.upstream import FakeUpstream
from tests.support.peak_memory import measurable, peak_kib
from tests.support.serving import serving
from tiergate.store.backend import open_store
from tiergate.store.location import store_url

MANY = 3_500  # more than three of the store's 1,000-item chunks


def stored_items(database_url: str | None, data_dir: Path) -> tuple[int, int]:
    """(jobs, items) in the gateway's store, read directly."""

    async def count() -> tuple[int, int]:
        store = await open_store(store_url(database_url, str(data_dir)))
        try:
            [(jobs,)] = await store.fetchall("SELECT count(*) FROM batches", ())
            [(items,)] = await store.fetchall("SELECT count(*) FROM batch_items", ())
            return int(jobs), int(items)
        finally:
            await store.aclose()

    return asyncio.run(count())


def test_a_bad_request_late_in_a_large_batch_refuses_all_of_it_and_leaves_nothing(
    database_url: str | None, make_gateway: Callable[..., str], tmp_path: Path
) -> None:
    gateway = make_gateway(database_url=database_url, admin_key=ADMIN)
    key = new_key(gateway, tenant="acme", models=["gpt-5.4"])["key"]
    sdk = anthropic_client(gateway, key)
    good = [request(f"r{i}", "gpt-5.4", f"item {i}") for i in range(MANY)]
    cases: list[tuple[list[dict[str, Any]], type[Exception], str]] = [
        # the last request is malformed: the 3,499 before it were already checked and stored
        (
            [*good[:-1], {"custom_id": "last", "params": {"model": "gpt-5.4"}}],
            anthropic.BadRequestError,
            f"requests[{MANY - 1}].params: ",
        ),
        ([*good, good[7]], anthropic.BadRequestError, f"requests[{MANY}].custom_id: 'r7'"),
        # a model the key may not use, late in the body
        (
            [*good, request("late", "claude-haiku-4-5", "x")],
            anthropic.PermissionDeniedError,
            f"requests[{MANY}].params.model: ",
        ),
        # a malformed request outranks a forbidden model before it, as when checked whole
        (
            [request("early", "claude-haiku-4-5", "x"), *good, {"custom_id": "bad"}],
            anthropic.BadRequestError,
            f"requests[{MANY + 1}].params: ",
        ),
    ]
    for requests, refusal, named in cases:
        with pytest.raises(refusal) as caught:
            sdk.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        body: Any = caught.value.body  # type: ignore[attr-defined]
        assert body["error"]["message"].startswith(named), body
        assert list(sdk.messages.batches.list()) == []
        assert stored_items(database_url, tmp_path) == (0, 0)

    # More requests than a batch may hold, or more bytes: the same 413s, nothing stored.
    small = anthropic_client(
        make_gateway(
            database_url=database_url,
            batch={"max_requests": 1_500, "max_body_bytes": 1024 * 1024},
        ),
        key,
    )
    with pytest.raises(anthropic.APIStatusError) as too_many:
        small.messages.batches.create(requests=good)  # type: ignore[arg-type]
    assert too_many.value.status_code == 413
    assert f"requests: {MANY} requests; a batch holds at most 1500" in str(too_many.value)
    wordy = [*good[:1_000], request("long", "gpt-5.4", "x" * 1024 * 1024)]
    with pytest.raises(anthropic.APIStatusError) as too_large:
        small.messages.batches.create(requests=wordy)  # type: ignore[arg-type]
    assert too_large.value.status_code == 413
    assert "larger than the 1048576-byte limit" in str(too_large.value)
    assert stored_items(database_url, tmp_path) == (0, 0)

    # Not JSON, or not an object: refused as before, nothing stored.
    for raw, said in ((b'{"requests": [', "not valid JSON"), (b"[1, 2]", "must be a JSON object")):
        answer = httpx.post(
            gateway + "/v1/messages/batches", content=raw, headers={"x-api-key": key}
        )
        assert answer.status_code == 400 and said in answer.text, answer.text
    assert stored_items(database_url, tmp_path) == (0, 0)

    made = sdk.messages.batches.create(requests=good)  # type: ignore[arg-type]
    assert made.request_counts.processing == MANY
    assert stored_items(database_url, tmp_path) == (1, MANY)
    sdk.messages.batches.cancel(made.id)


def test_a_bad_line_late_in_a_large_input_file_refuses_the_batch_and_leaves_nothing(
    database_url: str | None, make_gateway: Callable[..., str], tmp_path: Path
) -> None:
    gateway = make_gateway(database_url=database_url, admin_key=ADMIN)
    sdk = openai_client(gateway, new_key(gateway, tenant="acme", models=["gpt-5.4"])["key"])
    good = [line(f"r{i}", "gpt-5.4", f"item {i}") for i in range(MANY)]
    cases: list[tuple[list[dict[str, Any]], type[Exception], str]] = [
        ([*good, {"custom_id": "late"}], openai.BadRequestError, f"input file line {MANY + 1}"),
        (
            [*good, line("late", "claude-haiku-4-5", "x")],
            openai.PermissionDeniedError,
            f"input file request {MANY + 1}",
        ),
    ]
    for lines, refusal, named in cases:
        file_id = upload(sdk, lines)
        with pytest.raises(refusal) as caught:
            sdk.batches.create(
                input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        body: Any = caught.value.body  # type: ignore[attr-defined]
        assert body["message"].startswith(named), body
        assert list(sdk.batches.list()) == []
        assert stored_items(database_url, tmp_path) == (0, 0)
    made = sdk.batches.create(
        input_file_id=upload(sdk, good), endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert made.request_counts is not None and made.request_counts.total == MANY
    assert stored_items(database_url, tmp_path) == (1, MANY)
    sdk.batches.cancel(made.id)


# About 64 MiB of requests, made while they are sent: the client holds one at a time.
_FILLER = "lorem ipsum dolor sit amet " * 220
_COUNT = 11_000


def _body() -> Iterator[bytes]:
    yield b'{"requests": ['
    for i in range(_COUNT):
        entry = request(f"r{i}", "claude-haiku-4-5", f"{i} {_FILLER}", temperature=0.5)
        yield (b"," if i else b"") + orjson.dumps(entry)
    yield b"]}"


_HEADERS = {"content-type": "application/json", "x-api-key": "x"}


@contextmanager
def _gateway_process(
    tmp_path: Path,
    database_url: str | None,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> Iterator[tuple[str, int]]:
    """A gateway in a process of its own, so that its peak memory is its alone: (URL, pid)."""
    config = tmp_path / "tiergate.yaml"
    config.write_text(
        "deployments:\n"
        f"  - {{name: a, model: claude-haiku-4-5, provider: anthropic, "
        f"base_url: '{anthropic_upstream.url}', api_key: k}}\n"
        f"  - {{name: o, model: gpt-5.4, provider: openai, "
        f"base_url: '{openai_upstream.url}/v1', api_key: k}}\n"
        "batch: {poll_seconds: 60}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERGATE_")}
    env["TIERGATE_DATA_DIR"] = str(tmp_path)
    if database_url:
        env["TIERGATE_DATABASE_URL"] = database_url
    with (tmp_path / "serve.log").open("ab") as log, serving(config, env, stderr=log) as served:
        url, server = served
        yield url, server.pid


def test_a_large_batch_is_created_with_memory_far_below_its_size(
    database_url: str | None,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    """The gateway's peak memory grows by far less than the body while it is sent: the body is
    never held whole, parsed whole, nor every request written again as text at once."""
    if not measurable():
        return
    size = sum(len(piece) for piece in _body())
    assert size > 60 * 1024 * 1024
    with _gateway_process(tmp_path, database_url, anthropic_upstream, openai_upstream) as (
        gateway,
        pid,
    ):
        before = peak_kib(pid)
        started = time.monotonic()
        made = httpx.post(
            gateway + "/v1/messages/batches",
            content=_body(),
            headers=_HEADERS,
            timeout=300,
        )
        took = time.monotonic() - started
        grown = (peak_kib(pid) - before) * 1024
        assert made.status_code == 200, made.text
        assert made.json()["request_counts"]["processing"] == _COUNT
        print(
            f"\nbatch of {size / 2**20:.1f} MiB: created in {took:.1f} s, "
            f"peak memory grew by {grown / 2**20:.1f} MiB"
        )
        assert grown < size / 2, f"grew {grown / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB body"
        sdk = anthropic_client(gateway)
        job = sdk.messages.batches.cancel(made.json()["id"])
        assert sum(job.request_counts.model_dump().values()) == _COUNT


def test_a_batch_from_a_large_input_file_is_created_with_memory_far_below_its_size(
    database_url: str | None,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    """The file is read back from the store a piece at a time, and its requests go into the
    job as they are read, never all held at once before the job is made."""
    if not measurable():
        return
    data = tmp_path / "in.jsonl"
    with data.open("wb") as out:
        for i in range(_COUNT):
            out.write(orjson.dumps(line(f"r{i}", "gpt-5.4", f"{i} {_FILLER}")) + b"\n")
    size = data.stat().st_size
    assert size > 60 * 1024 * 1024
    with (
        _gateway_process(tmp_path, database_url, anthropic_upstream, openai_upstream) as (
            gateway,
            _,
        ),
        data.open("rb") as content,
    ):
        uploaded = openai_client(gateway).files.create(file=("in.jsonl", content), purpose="batch")
    # A fresh process reads the file from the store: the upload's memory is not in its peak.
    with _gateway_process(tmp_path, database_url, anthropic_upstream, openai_upstream) as (
        gateway,
        pid,
    ):
        sdk = openai_client(gateway)
        before = peak_kib(pid)
        made = sdk.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        grown = (peak_kib(pid) - before) * 1024
        assert made.request_counts is not None and made.request_counts.total == _COUNT
        print(
            f"\ninput file of {size / 2**20:.1f} MiB: peak memory grew by {grown / 2**20:.1f} MiB"
        )
        assert grown < size / 2, f"grew {grown / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file"
        sdk.batches.cancel(made.id)
