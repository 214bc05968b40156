"""A PostgreSQL outage (the test's own server, stopped and started again): keyed requests get
a fast 503 with ``retry-after`` in the caller's wire format, never a 500 or a hang, and full
service is back within seconds of the database."""

from __future__ import annotations

import time
from collections.abc import Callable

import anthropic
import httpx
import openai
import pytest

from tests.e2e.test_tenancy import ADMIN, new_key
from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tests.support.pg_cluster import PgCluster

BODY = {"model": "gpt-5.4", "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}


def _openai(url: str, key: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"}
    return httpx.post(url + "/v1/chat/completions", json=BODY, headers=headers, timeout=5)


def _anthropic(url: str, key: str) -> httpx.Response:
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    return httpx.post(url + "/v1/messages", json=BODY, headers=headers, timeout=5)


def test_a_postgres_outage_gets_fast_503s_and_service_back_within_seconds(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream, own_postgres: PgCluster
) -> None:
    openai_upstream.default = Reply(text="ok", usage=FakeUsage(input_tokens=5, output_tokens=5))
    url = make_gateway(database_url=own_postgres.url, admin_key=ADMIN)
    # A budget puts the store on every request's path (its reservation), not only the key's.
    key = new_key(url, tenant="acme", budget_usd="10", budget_period="day")["key"]
    assert _openai(url, key).status_code == 200

    own_postgres.stop()
    seen: list[tuple[str, int, float]] = []
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        for name, call, secret in (
            ("openai", _openai, key),
            ("anthropic", _anthropic, key),
            ("unknown key", _openai, "tg-never-seen"),
        ):
            started = time.monotonic()
            response = call(url, secret)
            seen.append((name, response.status_code, time.monotonic() - started))
            assert response.status_code == 503, (name, response.text)
            assert int(response.headers["retry-after"]) >= 1
            error = response.json()
            if name == "anthropic":
                assert error["type"] == "error" and error["error"]["type"] == "overloaded_error"
            else:
                assert "database" in error["error"]["message"]
        time.sleep(0.1)
    assert max(elapsed for _, _, elapsed in seen) < 1.0, seen  # answered, not waited out
    # The SDKs see their own error classes.
    with pytest.raises(openai.InternalServerError):
        openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0).chat.completions.create(
            model="gpt-5.4", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.InternalServerError):
        anthropic.Anthropic(base_url=url, api_key=key, max_retries=0).messages.create(
            model="gpt-5.4", max_tokens=20, messages=[{"role": "user", "content": "x"}]
        )

    own_postgres.start()
    back = time.monotonic()
    while _openai(url, key).status_code != 200:
        assert time.monotonic() - back < 5, "service not back within 5 s of the database"
        time.sleep(0.1)
    assert _anthropic(url, key).status_code == 200
    spend = httpx.get(url + "/v1/tiergate/report", headers={"authorization": f"Bearer {ADMIN}"})
    assert spend.status_code == 200
