"""Schema-driven fuzzing of both chat endpoints: never a 5xx, never a leaked secret.

CI runs a short pass; ``bench/fuzz/run.py`` runs the 10,000-request campaign recorded in
docs/security.md.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.upstream import FakeUpstream
from tests.fuzz.strategies import bodies

EXAMPLES = int(os.environ.get("TIERGATE_FUZZ_EXAMPLES", "300"))
SECRETS = ("sk-ant-upstream-secret", "sk-openai-upstream-secret")
PATHS = ["/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens"]


def check(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, (response.status_code, response.text, body)
    text = response.text + str(dict(response.headers))
    assert not any(secret in text for secret in SECRETS)
    if response.status_code >= 400:
        payload = response.json()  # errors are JSON in the caller's format
        assert "error" in payload
    return response


def test_fuzz_both_endpoints(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    gateway = make_gateway()
    seen: Counter[tuple[str, int]] = Counter()
    with httpx.Client(base_url=gateway, timeout=30) as client:

        @settings(
            max_examples=EXAMPLES, deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        @given(path=st.sampled_from(PATHS), body=bodies())
        def run(path: str, body: bytes) -> None:
            seen[(path, check(client, path, body).status_code)] += 1

        run()
    total = sum(seen.values())
    print(f"\nfuzz: {total} requests, no 5xx, no secret in any response")
    for (path, status), count in sorted(seen.items()):
        print(f"  {path:28} {status}  {count}")
    assert httpx.get(gateway + "/health").status_code == 200
