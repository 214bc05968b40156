"""An upstream that refuses the gateway's own provider key: a 502 that says so, never a 401.

Passed on as it was, an upstream 401 made the caller's SDK raise ``AuthenticationError``: the
caller's gateway key looked wrong, while the key at fault was the gateway's, in its config.
Only a key the caller sent itself (a ``byok`` deployment) is the caller's to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.upstream import FakeUpstream

MESSAGES: Any = [{"role": "user", "content": "hello"}]
SAID = "refused the gateway's own credentials"


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("upstream_format", ["anthropic", "openai"])
def test_upstream_refusing_the_gateways_key_is_a_502_in_the_openai_format(
    gateway: str,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    status: int,
    upstream_format: str,
) -> None:
    upstream = anthropic_upstream if upstream_format == "anthropic" else openai_upstream
    model = "claude-haiku-4-5" if upstream_format == "anthropic" else "gpt-5.4"
    upstream.fail(status, "invalid x-api-key").fail(status, "invalid x-api-key")
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.InternalServerError) as plain:
        client.chat.completions.create(model=model, messages=MESSAGES)
    assert plain.value.status_code == 502
    body: Any = plain.value.body
    assert body["type"] == "server_error"  # OpenAI's name for an api_error
    assert SAID in body["message"] and f"HTTP {status}: invalid x-api-key" in body["message"]
    with pytest.raises(openai.InternalServerError) as streamed:
        list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True))
    assert streamed.value.status_code == 502 and SAID in str(streamed.value)


@pytest.mark.parametrize("status", [401, 403])
def test_upstream_refusing_the_gateways_key_is_a_502_in_the_anthropic_format(
    gateway: str, anthropic_upstream: FakeUpstream, status: int
) -> None:
    anthropic_upstream.fail(status, "invalid x-api-key").fail(status, "invalid x-api-key")
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as plain:
        client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES)
    assert plain.value.status_code == 502
    body: Any = plain.value.body
    assert body["type"] == "error" and body["error"]["type"] == "api_error"
    assert SAID in body["error"]["message"]
    with (
        pytest.raises(anthropic.InternalServerError) as streamed,
        client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES) as stream,
    ):
        list(stream.text_stream)
    assert streamed.value.status_code == 502


def test_a_refused_key_still_fails_over_to_the_next_deployment(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    """The 502 is what the client sees; for the executor it is still the deployment's key
    refused, so the model's next deployment answers, and the log keeps the upstream's 401."""
    deployments = [
        {
            "name": "bad-key",
            "model": "claude-haiku-4-5",
            "provider": "anthropic",
            "base_url": anthropic_upstream.url,
            "api_key": "k1",
        },
        {
            "name": "good-key",
            "model": "claude-haiku-4-5",
            "provider": "anthropic",
            "base_url": anthropic_upstream.url,
            "api_key": "k2",
        },
    ]
    base = make_gateway(deployments=deployments)
    anthropic_upstream.fail(401, "invalid x-api-key").reply("from the good key")
    client = anthropic.Anthropic(base_url=base, api_key="x", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES
    )
    assert raw.parse().content[0].text == "from the good key"  # type: ignore[union-attr]
    assert raw.headers["x-tiergate-deployment"] == "good-key"
    assert raw.headers["x-tiergate-attempts"] == "2"


def test_the_callers_own_provider_key_refused_stays_a_401(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream
) -> None:
    """On a ``byok`` deployment the key is the caller's (``x-provider-api-key``): its refusal
    is the caller's to fix, so it stays a 401."""
    deployments = [
        {
            "name": "theirs",
            "model": "gpt-5.4",
            "provider": "openai",
            "base_url": openai_upstream.url + "/v1",
            "byok": True,
        },
    ]
    base = make_gateway(deployments=deployments)
    openai_upstream.fail(401, "Incorrect API key provided")
    client = openai.OpenAI(
        base_url=base + "/v1",
        api_key="x",
        max_retries=0,
        default_headers={"x-provider-api-key": "sk-caller-own"},
    )
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="gpt-5.4", messages=MESSAGES)
    assert refused.value.status_code == 401
    assert SAID not in str(refused.value)
