"""Schema-driven fuzzing of the chat endpoints and the id-taking ones, on both stores: never a
5xx, never a leaked secret, and every chat request logged.

The gateway has keys (with a budget, with rate limits, with neither) and an admin key, so the
budget and rate paths see every ``max_tokens``; requests carry one of those keys, none, or a
garbage ``Authorization`` (non-ASCII bytes included). CI runs a short pass;
``bench/fuzz/run.sh`` runs the 10,000-request campaign per store recorded in docs/security.md.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.upstream import FakeUpstream
from tests.fuzz.strategies import AUTH_KINDS, ID_PATHS, bodies, garbage_auth, ids
from tiergate.store.backend import open_store

EXAMPLES = int(os.environ.get("TIERGATE_FUZZ_EXAMPLES", "300"))
SECRETS = ("sk-ant-upstream-secret", "sk-openai-upstream-secret")
CHAT_PATHS = ["/v1/chat/completions", "/v1/messages"]
PATHS = [*CHAT_PATHS, "/v1/messages/count_tokens"]
ADMIN = "fuzz-admin-key"


def check(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    """POST ``body`` to ``path`` and check the answer (``checked``)."""
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    return checked(response, body)


def checked(response: httpx.Response, body: bytes) -> httpx.Response:
    """No 5xx, no secret, errors as JSON in the caller's format."""
    assert response.status_code < 500, (response.status_code, response.text, body[:2000])
    text = response.text + str(dict(response.headers))
    assert not any(secret in text for secret in (*SECRETS, ADMIN))
    if response.status_code >= 400:
        payload = response.json()  # errors are JSON in the caller's format
        assert "error" in payload
    return response


def logged_rows(url: str) -> int:
    async def count() -> int:
        store = await open_store(url)
        try:
            return int((await store.fetchall("SELECT count(*) FROM requests"))[0][0])
        finally:
            await store.aclose()

    return asyncio.run(count())


def test_fuzz_both_endpoints(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    database_url: str | None,
    tmp_path: Path,
) -> None:
    gateway = make_gateway(admin_key=ADMIN, database_url=database_url)
    auth = {"admin": b"Bearer " + ADMIN.encode(), "none": None}
    limits = {
        "budget": {"budget_usd": "1000000", "budget_period": "total"},
        "rate": {"rpm": 10**9, "tpm": 10**9},
        "plain": {},
    }
    for name, fields in limits.items():
        made = httpx.post(
            gateway + "/admin/keys",
            json={"tenant": f"t-{name}", **fields},
            headers={"authorization": f"Bearer {ADMIN}"},
        )
        assert made.status_code == 201, made.text
        auth[name] = b"Bearer " + made.json()["key"].encode()
    seen: Counter[tuple[str, int]] = Counter()
    chats = 0
    started = time.monotonic()
    with httpx.Client(base_url=gateway, timeout=30) as client:

        def headers(kind: str, garbage: bytes) -> list[tuple[bytes, bytes]]:
            value = garbage if kind == "garbage" else auth[kind]
            sent = [(b"content-type", b"application/json")]
            return sent + ([(b"authorization", value)] if value is not None else [])

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            path=st.sampled_from(PATHS),
            body=bodies(),
            kind=st.sampled_from(AUTH_KINDS),
            garbage=garbage_auth,
            id_path=st.sampled_from(ID_PATHS),
            some_id=ids,
            by_id=st.integers(0, 9),
        )
        def run(
            path: str,
            body: bytes,
            kind: str,
            garbage: bytes,
            id_path: str,
            some_id: str,
            by_id: int,
        ) -> None:
            nonlocal chats
            if by_id == 0:  # one in ten: an endpoint that takes an id
                method, template = id_path.split(" ", 1)
                target = template.format(quote(some_id, safe=""))
                response = client.request(method, target, headers=headers(kind, garbage))
                seen[(f"{method} {template}", checked(response, target.encode()).status_code)] += 1
                return
            response = client.post(path, content=body, headers=headers(kind, garbage))
            chats += path in CHAT_PATHS
            seen[(path, checked(response, body).status_code)] += 1

        run()
    elapsed = time.monotonic() - started
    total = sum(seen.values())
    store_url = database_url or f"sqlite:///{tmp_path / 'tiergate.db'}"
    deadline = time.monotonic() + 30
    while (rows := logged_rows(store_url)) < chats and time.monotonic() < deadline:
        time.sleep(0.2)
    store = "postgresql" if database_url else "sqlite"
    print(
        f"\nfuzz ({store}): {total} requests in {elapsed:.0f} s, no 5xx, no secret in any "
        f"response; {chats} chat requests, {rows} logged"
    )
    for (where, status), count in sorted(seen.items()):
        print(f"  {where:44} {status}  {count}")
    assert rows == chats
    assert httpx.get(gateway + "/health").status_code == 200
