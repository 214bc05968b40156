"""Uploads (OpenAI's Files API) stream to disk and into the store in pieces: a large file is
never held whole in memory, a file past the configured maximum is a 413, and what comes back
out is byte for byte what went in, on both stores (issue 19, item 8)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import orjson

from tests.e2e.test_batches_openai import client, jsonl, line, wait_done
from tests.fakes.upstream import FakeUpstream
from tests.support.peak_memory import measurable, peak_kib
from tests.support.serving import serving


def test_a_multi_piece_upload_comes_back_whole_and_runs_as_a_batch(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream, database_url: str | None
) -> None:
    gateway = make_gateway(database_url=database_url)
    sdk = client(gateway)
    filler = "y" * (900 * 1024)  # three lines of ~0.9 MiB: the file spans three pieces
    lines = [line(f"r{i}", "gpt-5.4", f"{i} {filler}") for i in range(3)]
    content = b"\n".join(orjson.dumps(entry) for entry in lines) + b"\n"
    uploaded = sdk.files.create(file=("big.jsonl", content), purpose="batch")
    assert uploaded.bytes == len(content) > 2 * 1024 * 1024
    assert sdk.files.content(uploaded.id).content == content
    batch = sdk.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = wait_done(sdk, batch.id, seconds=30)
    assert done.request_counts is not None and done.request_counts.completed == 3
    assert set(jsonl(sdk.files.content(done.output_file_id or "").text)) == {"r0", "r1", "r2"}
    sdk.files.delete(uploaded.id)
    listed = httpx.get(gateway + "/v1/files/" + uploaded.id)
    assert listed.status_code == 404


def test_an_upload_past_the_maximum_is_a_413_and_leaves_nothing(
    make_gateway: Callable[..., str],
) -> None:
    gateway = make_gateway(batch={"max_body_bytes": 1024 * 1024})
    sdk = client(gateway)
    try:
        sdk.files.create(file=("big.jsonl", b"x" * (3 * 1024 * 1024)), purpose="batch")
        raise AssertionError("accepted")
    except openai.APIStatusError as exc:
        assert exc.status_code == 413
    assert sdk.files.list().data == []
    small = sdk.files.create(file=("ok.jsonl", b"{}\n"), purpose="batch")
    assert sdk.files.content(small.id).content == b"{}\n"


def test_a_64_mib_upload_leaves_the_servers_peak_memory_near_its_baseline(
    tmp_path: Path,
) -> None:
    """It used to peak at about four times the file (body, parsed copy, stored copy)."""
    if not measurable():
        return
    data = tmp_path / "in.jsonl"
    with data.open("wb") as out:
        for n in range(256 * 1024):
            out.write(b'{"custom_id": "r%08d", "body": "%s"}\n' % (n, b"z" * 220))
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERGATE_")}
    env["TIERGATE_DATA_DIR"] = str(tmp_path)
    with (
        (tmp_path / "serve.log").open("wb") as log,
        serving(None, env, stderr=log) as (url, server),
    ):
        before = peak_kib(server.pid)
        with data.open("rb") as body:
            made = httpx.post(
                url + "/v1/files",
                data={"purpose": "batch"},
                files={"file": ("in.jsonl", body)},
                timeout=120,
            )
        assert made.status_code == 200, made.text
        assert made.json()["bytes"] == data.stat().st_size
        back = hashlib.sha256()
        with httpx.stream(
            "GET", f"{url}/v1/files/{made.json()['id']}/content", timeout=120
        ) as response:
            for piece in response.iter_bytes():
                back.update(piece)
        assert back.hexdigest() == digest
        grown_mib = (peak_kib(server.pid) - before) / 1024
        assert grown_mib < 32, f"peak memory grew by {grown_mib:.0f} MiB for a 64 MiB upload"
