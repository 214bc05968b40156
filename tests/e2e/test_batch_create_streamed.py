"""Creating a batch reads its requests as they arrive and writes them to the store in chunks:
the gateway's memory stays bounded whatever the body's size, and a batch refused anywhere in
its body (a malformed request, a model the key may not use, too many requests) leaves no job
and no items behind, on both stores and in both wire formats."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Callable, Iterator
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


# About 24 MiB of requests, made while they are sent: the client holds one at a time.
_FILLER = "lorem ipsum dolor sit amet " * 220
_COUNT = 4_000


def _body() -> Iterator[bytes]:
    yield b'{"requests": ['
    for i in range(_COUNT):
        entry = request(f"r{i}", "claude-haiku-4-5", f"{i} {_FILLER}", temperature=0.5)
        yield (b"," if i else b"") + orjson.dumps(entry)
    yield b"]}"


def test_a_large_batch_is_created_with_memory_far_below_its_size(
    database_url: str | None, make_gateway: Callable[..., str]
) -> None:
    """Memory of every thread in this process, the gateway's included (it runs here), is
    traced while the body is sent; it used to peak at several times the body's size (the
    body, its parsed copy and every request written again as text)."""
    gateway = make_gateway(database_url=database_url, batch={"poll_seconds": 60})
    size = sum(len(piece) for piece in _body())
    assert size > 20 * 1024 * 1024
    tracemalloc.start()
    try:
        started = time.monotonic()
        made = httpx.post(
            gateway + "/v1/messages/batches",
            content=_body(),
            headers={"content-type": "application/json", "x-api-key": "x"},
            timeout=300,
        )
        took = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert made.status_code == 200, made.text
    assert made.json()["request_counts"]["processing"] == _COUNT
    print(
        f"\nbatch of {size / 2**20:.1f} MiB: created in {took:.1f} s, "
        f"peak traced memory {peak / 2**20:.1f} MiB"
    )
    assert peak < size / 2, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB body"
    sdk = anthropic_client(gateway)
    job = sdk.messages.batches.cancel(made.json()["id"])
    assert sum(job.request_counts.model_dump().values()) == _COUNT


def test_a_batch_from_a_large_input_file_is_created_with_memory_far_below_its_size(
    database_url: str | None, make_gateway: Callable[..., str], tmp_path: Path
) -> None:
    """The file is read back from the store a piece at a time, and its requests go into the
    job as they are read; they used to be held all at once before the job was made."""
    gateway = make_gateway(database_url=database_url, batch={"poll_seconds": 60})
    data = tmp_path / "in.jsonl"
    with data.open("wb") as out:
        for i in range(_COUNT):
            out.write(orjson.dumps(line(f"r{i}", "gpt-5.4", f"{i} {_FILLER}")) + b"\n")
    size = data.stat().st_size
    assert size > 20 * 1024 * 1024
    sdk = openai_client(gateway)
    with data.open("rb") as content:
        file_id = sdk.files.create(file=("in.jsonl", content), purpose="batch").id
    tracemalloc.start()
    try:
        made = sdk.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert made.request_counts is not None and made.request_counts.total == _COUNT
    assert peak < size / 2, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file"
    sdk.batches.cancel(made.id)
