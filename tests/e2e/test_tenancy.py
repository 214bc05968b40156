"""Virtual keys, budgets, rate limits and isolation, through the real gateway."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.gateway_fixtures import unpriced_deployment
from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tests.support.serving import serving
from tiergate.store.backend import open_store

ADMIN = "admin-secret-for-tests"


def admin(gateway: str, method: str, path: str, **body: Any) -> httpx.Response:
    return httpx.request(
        method, gateway + path, json=body or None, headers={"authorization": f"Bearer {ADMIN}"}
    )


def new_key(gateway: str, **fields: Any) -> dict[str, Any]:
    response = admin(gateway, "POST", "/admin/keys", **fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def keyed(make_gateway: Callable[..., str]) -> str:
    return make_gateway(admin_key=ADMIN)


def chat(gateway: str, key: str, model: str = "gpt-5.4") -> openai.types.chat.ChatCompletion:
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=key, max_retries=0)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])


def test_open_mode_until_a_key_exists_then_keys_are_required(keyed: str) -> None:
    assert chat(keyed, "anything").choices[0].message.content
    key = new_key(keyed, tenant="acme")
    with pytest.raises(openai.AuthenticationError, match="invalid API key"):
        chat(keyed, "tg-wrong")
    missing = httpx.post(keyed + "/v1/chat/completions", json={"model": "gpt-5.4"})
    assert missing.status_code == 401 and "missing API key" in missing.text
    assert chat(keyed, key["key"]).choices[0].message.content
    # The Anthropic SDK sends the key as a bearer token too.
    client = anthropic.Anthropic(base_url=keyed, api_key=key["key"], max_retries=0)
    message = client.messages.create(
        model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    assert message.content


def test_count_tokens_needs_a_key_once_keys_exist(keyed: str) -> None:
    """It only estimates, but it parses whatever body it is given: once keys exist, a caller
    without one is refused like on every other model endpoint, in Anthropic's error shape."""
    body = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}
    key = new_key(keyed, tenant="acme")
    refused = httpx.post(keyed + "/v1/messages/count_tokens", json=body)
    assert refused.status_code == 401
    assert refused.json()["type"] == "error"
    assert refused.json()["error"]["type"] == "authentication_error"
    client = anthropic.Anthropic(base_url=keyed, api_key=key["key"], max_retries=0)
    assert client.messages.count_tokens(**body).input_tokens > 0  # type: ignore[arg-type]


def test_revoked_expired_and_rotated_keys(keyed: str) -> None:
    key = new_key(keyed, tenant="acme")
    assert chat(keyed, key["key"]).choices  # used first: its principal is remembered
    assert admin(keyed, "DELETE", f"/admin/keys/{key['id']}").status_code == 200
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        chat(keyed, key["key"])
    second = new_key(keyed, tenant="acme")
    rotated = admin(keyed, "POST", f"/admin/keys/{second['id']}/rotate").json()
    with pytest.raises(openai.AuthenticationError):
        chat(keyed, second["key"])
    assert chat(keyed, rotated["key"]).choices
    listed = admin(keyed, "GET", "/admin/keys").json()["data"]
    assert {k["id"] for k in listed} >= {key["id"], second["id"]}
    assert all("key" not in k and "hash" not in k for k in listed)


async def test_expired_key(make_gateway: Callable[..., str], tmp_path: Path) -> None:
    gateway = make_gateway(admin_key=ADMIN)
    key = new_key(gateway, tenant="acme", expires_in_days=1)
    store = await open_store(f"sqlite:///{tmp_path / 'tiergate.db'}")
    await store.execute("UPDATE virtual_keys SET expires_ms = 1 WHERE id = ?", (key["id"],))
    await store.aclose()
    time.sleep(2.1)  # the key cache's TTL
    with pytest.raises(openai.AuthenticationError, match="expired"):
        await asyncio.to_thread(chat, gateway, key["key"])


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"budget_usd": "NaN"}, "budget_usd"),
        ({"budget_usd": "sNaN"}, "budget_usd"),
        ({"budget_usd": "Infinity"}, "budget_usd"),
        ({"budget_usd": 1e30}, "budget_usd"),
        ({"budget_usd": -5}, "budget_usd"),
        ({"budget_usd": True}, "budget_usd"),
        ({"rpm": 2**70}, "rpm"),
        ({"tpm": 0}, "tpm"),
        ({"expires_in_days": 10**12}, "expires_in_days"),
        ({"budget_usd": "1", "budget_period": "week"}, "budget_period"),
    ],
)
def test_a_key_with_impossible_limits_is_a_400_naming_the_field(
    keyed: str, fields: dict[str, Any], param: str
) -> None:
    """Values the store could not hold or that mean nothing (NaN, infinite, negative, past a
    billion dollars or a century) are refused up front, never a 500."""
    response = admin(keyed, "POST", "/admin/keys", tenant="acme", **fields)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_the_cli_refuses_an_impossible_budget_with_a_usage_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tiergate.cli.keys import keys

    env = {"TIERGATE_DATA_DIR": str(tmp_path)}
    for budget in ("abc", "NaN", "-5", "1e30"):
        result = CliRunner().invoke(
            keys, ["create", "--tenant", "t", "--budget-usd", budget], env=env
        )
        assert result.exit_code == 2 and "Invalid value for '--budget-usd'" in result.output
        assert isinstance(result.exception, SystemExit)  # a usage error, not a traceback
    made = CliRunner().invoke(keys, ["create", "--tenant", "t", "--budget-usd", "2.5"], env=env)
    assert made.exit_code == 0 and made.output.startswith("key_")


def test_a_key_with_a_budget_cannot_use_an_unpriced_model(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream
) -> None:
    """The catalog leaves some models unpriced on purpose; a budget cannot be kept on them, so
    a budgeted key is refused (403, saying how to fix it) while a key without one is served."""
    deployment = unpriced_deployment(openai_upstream)
    gateway = make_gateway(admin_key=ADMIN, deployments=[deployment])
    budgeted = new_key(gateway, tenant="acme", budget_usd="100", budget_period="day")
    unlimited = new_key(gateway, tenant="acme")
    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat(gateway, budgeted["key"], model="deepseek-v4-flash")
    assert "deepseek-v4-flash has no price" in str(refused.value)
    assert openai_upstream.requests == []
    assert chat(gateway, unlimited["key"], model="deepseek-v4-flash").choices[0].message.content


@pytest.mark.parametrize(
    ("period", "now", "seconds"),
    [
        ("day", (2026, 11, 30, 23, 59, 30), 30.0),
        ("month", (2026, 11, 30, 23, 59, 30), 30.0),
        ("month", (2026, 12, 31, 0, 0, 0), 86400.0),
        ("month", (2026, 2, 1, 0, 0, 0), 28 * 86400.0),
        ("total", (2026, 11, 30, 12, 0, 0), None),
    ],
)
def test_a_spent_budget_says_when_its_period_starts_again(
    period: str, now: tuple[int, ...], seconds: float | None
) -> None:
    from datetime import UTC, datetime

    from tiergate.tenancy.ledger import _seconds_to_next

    assert _seconds_to_next(period, datetime(*now, tzinfo=UTC)) == seconds


def test_model_outside_allowance_is_403(keyed: str) -> None:
    key = new_key(keyed, tenant="acme", models=["gpt-5.4"])
    assert chat(keyed, key["key"], "gpt-5.4").choices
    with pytest.raises(openai.PermissionDeniedError, match="may not use model"):
        chat(keyed, key["key"], "claude-haiku-4-5")


def test_rate_limit_at_its_boundary(keyed: str) -> None:
    key = new_key(keyed, tenant="acme", rpm=3)
    # Windows are calendar minutes: four calls that straddle one's end are in two windows.
    into_minute = time.time() % 60
    if into_minute > 50:
        time.sleep(60.2 - into_minute)
    for _ in range(3):
        chat(keyed, key["key"])
    with pytest.raises(openai.RateLimitError) as info:
        chat(keyed, key["key"])
    assert int(info.value.response.headers["retry-after"]) >= 1


def test_budget_is_enforced_with_a_clear_429(keyed: str, openai_upstream: FakeUpstream) -> None:
    # Estimate per call: 8 input tokens + 16 max_tokens at gpt-5.4 ($2.50/$15) = $0.00026;
    # real cost 5 x 2.5 + 16 x 15 = 252.5 µ$, so 4 calls fit and the fifth is refused.
    openai_upstream.default = Reply(text="ok", usage=FakeUsage(input_tokens=5, output_tokens=16))
    key = new_key(keyed, tenant="acme", budget_usd="0.0012", budget_period="day")
    client = openai.OpenAI(base_url=keyed + "/v1", api_key=key["key"], max_retries=0)
    statuses = []
    for _ in range(8):
        try:
            client.chat.completions.create(
                model="gpt-5.4", max_tokens=16, messages=[{"role": "user", "content": "x"}]
            )
            statuses.append(200)
        except openai.RateLimitError as exc:
            assert "budget" in str(exc)
            statuses.append(429)
    assert statuses.count(200) >= 3 and statuses[-1] == 429
    time.sleep(0.3)
    spend = admin(keyed, "GET", f"/admin/keys/{key['id']}/spend").json()
    assert Decimal(spend["spent_usd"]) <= Decimal("0.0012")
    assert Decimal(spend["reserved_usd"]) == 0


def test_tenant_reads_only_its_own_logs(keyed: str) -> None:
    acme = new_key(keyed, tenant="acme")
    other = new_key(keyed, tenant="other")
    chat(keyed, acme["key"])
    chat(keyed, other["key"])
    chat(keyed, other["key"])
    time.sleep(0.5)
    mine = httpx.get(
        keyed + "/v1/tiergate/report", headers={"authorization": f"Bearer {acme['key']}"}
    )
    assert mine.status_code == 200
    assert mine.json()["totals"]["requests"] == 1
    assert {t["tenant"] for t in mine.json()["by_tenant"]} == {"acme"}
    theirs = httpx.get(
        keyed + "/v1/tiergate/report?tenant=other",
        headers={"authorization": f"Bearer {acme['key']}"},
    )
    assert theirs.status_code == 403
    everything = admin(keyed, "GET", "/v1/tiergate/report").json()
    assert everything["totals"]["requests"] == 3
    assert admin(keyed, "GET", "/admin/keys").status_code == 200
    denied = httpx.get(keyed + "/admin/keys", headers={"authorization": f"Bearer {acme['key']}"})
    assert denied.status_code == 403


def test_secrets_never_leak_into_responses_errors_or_logs(
    keyed: str, openai_upstream: FakeUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key(keyed, tenant="acme")
    secrets_ = [key["key"], "sk-openai-upstream-secret", "sk-ant-upstream-secret", ADMIN]
    # An upstream that echoes the key it was given in its error, as OpenAI's 401 does.
    openai_upstream.fail(401, "Incorrect API key provided: sk-openai-upstream-secret")
    seen: list[str] = []
    for attempt in range(3):
        try:
            chat(keyed, key["key"] if attempt else "tg-not-a-key")
        except openai.APIStatusError as exc:
            seen.append(exc.response.text + str(dict(exc.response.headers)))
    seen.append(admin(keyed, "GET", "/admin/keys").text)
    seen.append(httpx.get(keyed + "/dashboard").text)
    seen.append(admin(keyed, "GET", "/v1/tiergate/report").text)
    seen.append(httpx.get(keyed + "/metrics", headers={"authorization": f"Bearer {ADMIN}"}).text)
    seen.append(caplog.text)
    time.sleep(0.5)
    seen.append((tmp_path / "tiergate.db").read_bytes().decode("latin-1"))
    for text in seen:
        for secret in secrets_:
            assert secret not in text


# --- budgets under concurrency, two worker processes, both stores -----------------------------


def test_64_concurrent_requests_never_overspend_with_two_workers(
    openai_upstream: FakeUpstream, database_url: str | None, tmp_path: Path
) -> None:
    openai_upstream.default = Reply(
        text="ok", usage=FakeUsage(input_tokens=5, output_tokens=50), delay=0.02
    )
    config = tmp_path / "tiergate.yaml"
    config.write_text(
        "deployments:\n"
        f"  - {{name: o, model: gpt-5.4, provider: openai, base_url: '{openai_upstream.url}/v1', "
        "api_key: k}\n"
        "retry: {max_retries: 0}\n"
    )
    env = {**os.environ, "TIERGATE_DATA_DIR": str(tmp_path), "TIERGATE_ADMIN_KEY": ADMIN}
    if database_url:
        env["TIERGATE_DATABASE_URL"] = database_url
    with serving(config, env, "--workers", "2") as (url, _):
        # Worst case per call: 8 input (estimated) + 50 max_tokens at $2.50/$15 per million =
        # $0.00077, so 10 calls are admitted at once.
        budget = Decimal("0.008")
        key = new_key(url, tenant="acme", budget_usd=str(budget), budget_period="total")

        async def fire() -> list[int]:
            body = {
                "model": "gpt-5.4",
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "x"}],
            }
            headers = {"authorization": f"Bearer {key['key']}"}
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                responses = await asyncio.gather(
                    *(
                        client.post("/v1/chat/completions", json=body, headers=headers)
                        for _ in range(64)
                    )
                )
            return [r.status_code for r in responses]

        statuses = asyncio.run(fire())
        assert set(statuses) <= {200, 429}
        assert statuses.count(429) > 0
        assert statuses.count(200) >= int(budget / Decimal("0.0007625"))
        time.sleep(1.0)
        spend = admin(url, "GET", f"/admin/keys/{key['id']}/spend").json()
        assert Decimal(spend["spent_usd"]) <= budget
        assert Decimal(spend["reserved_usd"]) == 0
        # Real cost per call: 5 x $2.50 + 50 x $15 per million = $0.0007625; spend is what was
        # served.
        assert Decimal(spend["spent_usd"]) == statuses.count(200) * Decimal("0.0007625")


def test_serving_open_off_loopback_is_refused_with_a_message_not_a_traceback(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TIERGATE_DATA_DIR": str(tmp_path)}
    env.pop("TIERGATE_CONFIG", None)
    env.pop("TIERGATE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "tiergate.cli", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "no virtual keys exist" in done.stderr and "tiergate keys create" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_budget_reserves_the_judges_calls_too(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    """Haiku answers first, a judge on Sonnet (up to 1,000 tokens of verdict) grades it, Sonnet
    answers if it fails. The two answers' worst case is ~$0.00035, the judge's ~$0.0152: a
    $0.01 budget covers the answers but not the judge, so the request is refused up front
    rather than overrunning the budget by the judge's call; $0.02 covers all three."""
    routes = {
        "judged": {
            "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"],
            "validators": [
                {
                    "type": "judge",
                    "model": "claude-sonnet-4-6",
                    "prompt": "Answer PASS or FAIL.",
                    "max_tokens": 1000,
                }
            ],
        }
    }
    gateway = make_gateway(admin_key=ADMIN, routes=routes)
    tight = new_key(gateway, tenant="acme", budget_usd="0.01", budget_period="day")
    enough = new_key(gateway, tenant="acme", budget_usd="0.02", budget_period="day")

    def ask(key: str) -> anthropic.types.Message:
        client = anthropic.Anthropic(base_url=gateway, api_key=key, max_retries=0)
        question: Any = [{"role": "user", "content": "x"}]
        return client.messages.create(model="judged", max_tokens=16, messages=question)

    with pytest.raises(anthropic.RateLimitError, match="budget"):
        ask(tight["key"])
    assert anthropic_upstream.requests == []  # refused before any call
    anthropic_upstream.reply("ok", usage=FakeUsage(8, 2)).reply("PASS", usage=FakeUsage(60, 1))
    assert ask(enough["key"]).content[0].type == "text"
    time.sleep(0.3)
    spend = admin(gateway, "GET", f"/admin/keys/{enough['id']}/spend").json()
    # Haiku 8 x 1 + 2 x 5, the judge on Sonnet 60 x 3 + 1 x 15: 213 micro-dollars.
    assert Decimal(spend["spent_usd"]) == Decimal("0.000213")
    assert Decimal(spend["reserved_usd"]) == 0
