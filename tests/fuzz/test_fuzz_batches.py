"""Fuzzing the batch endpoints: malformed jobs, requests and input files are refused with a 4xx
in the caller's format, never a 5xx; jobs that are accepted end, every item answered."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.gateway_fixtures import gateway_settings
from tests.fakes.upstream import FakeUpstream
from tests.fuzz.strategies import bodies, json_values
from tests.fuzz.test_fuzz_endpoints import check

EXAMPLES = int(os.environ.get("TIERGATE_FUZZ_EXAMPLES", "300")) // 3
CUSTOM_IDS = st.one_of(st.sampled_from(["a", "b", "a-1", "x_2"]), json_values)


# Bodies are parsed and written again inside a job: keep their nesting within what orjson
# writes (254 levels; each nesting step is two).
DUMPABLE = 120


def _params(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("latin-1")


def _valid(text: str, model: str) -> dict[str, Any]:
    """A request both formats accept (``max_tokens`` is optional for OpenAI's)."""
    return {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": text}]}


@st.composite
def anthropic_jobs(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(bodies())  # not a job at all
    if kind == 1:  # valid, with any text: these run
        texts = draw(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=3))
        requests = [
            {"custom_id": f"r{i}", "params": _valid(text, "claude-haiku-4-5")}
            for i, text in enumerate(texts)
        ]
        return orjson.dumps({"requests": requests})
    requests = [
        {"custom_id": draw(CUSTOM_IDS), "params": _params(draw(bodies(max_nesting=DUMPABLE)))}
        for _ in range(draw(st.integers(0, 3)))
    ]
    return orjson.dumps({"requests": draw(st.one_of(st.just(requests), json_values))})


@st.composite
def input_files(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 5)) == 0:  # valid, with any text
        text = draw(st.text(min_size=1, max_size=30))
        return orjson.dumps(
            {
                "custom_id": "r",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": _valid(text, "gpt-5.4"),
            }
        )
    lines = []
    for _ in range(draw(st.integers(0, 3))):
        body = _params(draw(bodies(max_nesting=DUMPABLE)))
        line: Any = {
            "custom_id": draw(CUSTOM_IDS),
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": body,
        }
        if draw(st.integers(0, 4)) == 0:
            line = draw(json_values)
        lines.append(orjson.dumps(line))
    return b"\n".join(lines)


@pytest.mark.parametrize("batch_api", [False, True], ids=["live", "provider-batches"])
def test_fuzz_batch_endpoints(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    batch_api: bool,
) -> None:
    """With ``batch_api`` the items go through the fake upstreams' own batch APIs: whatever the
    gateway accepts, the provider's batch answers (or the item runs live)."""
    overrides: dict[str, Any] = {}
    if batch_api:
        settings_ = gateway_settings(anthropic_upstream, openai_upstream, Path("."))
        overrides["deployments"] = [
            {**d.model_dump(exclude_none=True), "batch_api": True} for d in settings_.deployments
        ]
        overrides["batch"] = {"poll_seconds": 0.05, "upstream_poll_seconds": 0.05}
    gateway = make_gateway(**overrides)
    seen: Counter[tuple[str, int]] = Counter()
    created: list[str] = []
    with httpx.Client(base_url=gateway, timeout=30) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(job=anthropic_jobs(), content=input_files())
        def run(job: bytes, content: bytes) -> None:
            response = check(client, "/v1/messages/batches", job)
            seen[("/v1/messages/batches", response.status_code)] += 1
            if response.status_code == 200:
                created.append("/v1/messages/batches/" + response.json()["id"])
            upload = client.post(
                "/v1/files", files={"file": ("in.jsonl", content)}, data={"purpose": "batch"}
            )
            assert upload.status_code == 200, upload.text
            create = {
                "input_file_id": upload.json()["id"],
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
            }
            response = check(client, "/v1/batches", orjson.dumps(create))
            seen[("/v1/batches", response.status_code)] += 1
            if response.status_code == 200:
                created.append("/v1/batches/" + response.json()["id"])

        run()
        kinds = {path.split("/")[2] for path in created}
        assert kinds == {"messages", "batches"}, created  # both formats accepted some jobs
        for path in created:  # accepted jobs end, every item answered
            deadline = time.monotonic() + 30
            while (batch := client.get(path).json()).get(
                "processing_status", batch.get("status")
            ) not in ("ended", "completed"):
                assert time.monotonic() < deadline, batch
                time.sleep(0.05)
            counts = batch["request_counts"]
            assert counts.get("processing", 0) == 0
            assert counts.get("errored", counts.get("failed")) == 0, batch
    if batch_api:  # the accepted items went through the providers' batch APIs
        assert anthropic_upstream.batches or openai_upstream.batches
    print(f"\nbatch fuzz: {sum(seen.values())} jobs, no 5xx")
    for (path, status), count in sorted(seen.items()):
        print(f"  {path:24} {status}  {count}")
    assert httpx.get(gateway + "/health").status_code == 200
