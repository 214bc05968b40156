"""Errors reach each SDK as its own exception class; bad input never gives a 500 or a hang."""

from __future__ import annotations

import socket
import time

import anthropic
import httpx
import openai
import pytest

from tests.fakes.script import Fail, Reply
from tests.fakes.upstream import FakeUpstream

OPENAI_CLASSES = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    413: openai.APIStatusError,
    429: openai.RateLimitError,
    500: openai.InternalServerError,
    502: openai.InternalServerError,
    503: openai.InternalServerError,
    529: openai.InternalServerError,
}
ANTHROPIC_CLASSES = {
    400: anthropic.BadRequestError,
    401: anthropic.AuthenticationError,
    403: anthropic.PermissionDeniedError,
    404: anthropic.NotFoundError,
    413: anthropic.RequestTooLargeError,
    429: anthropic.RateLimitError,
    500: anthropic.InternalServerError,
    502: anthropic.InternalServerError,
    503: anthropic.ServiceUnavailableError
    if hasattr(anthropic, "ServiceUnavailableError")
    else anthropic.InternalServerError,
    529: anthropic.OverloadedError,
}

# An upstream refusing the gateway's own key is the gateway's fault, not the caller's key:
# tests/e2e/test_upstream_credentials.py.
CLIENT_STATUS = {401: 502, 403: 502}


@pytest.mark.parametrize("status", sorted(OPENAI_CLASSES))
@pytest.mark.parametrize("upstream_format", ["anthropic", "openai"])
def test_upstream_error_reaches_openai_sdk_as_its_class(
    gateway: str,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    status: int,
    upstream_format: str,
) -> None:
    upstream = anthropic_upstream if upstream_format == "anthropic" else openai_upstream
    model = "claude-haiku-4-5" if upstream_format == "anthropic" else "gpt-5.4"
    upstream.script(Fail(status, "scripted failure", retry_after=3 if status == 429 else None))
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    seen = CLIENT_STATUS.get(status, status)
    with pytest.raises(OPENAI_CLASSES[seen]) as info:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == seen
    assert info.value.response.headers["x-tiergate-request-id"]
    if status == 429:
        assert info.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize("status", sorted(ANTHROPIC_CLASSES))
@pytest.mark.parametrize("upstream_format", ["anthropic", "openai"])
def test_upstream_error_reaches_anthropic_sdk_as_its_class(
    gateway: str,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    status: int,
    upstream_format: str,
) -> None:
    upstream = anthropic_upstream if upstream_format == "anthropic" else openai_upstream
    model = "claude-haiku-4-5" if upstream_format == "anthropic" else "gpt-5.4"
    upstream.script(Fail(status, "scripted failure", retry_after=2 if status == 429 else None))
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    seen = CLIENT_STATUS.get(status, status)
    with pytest.raises(ANTHROPIC_CLASSES[seen]) as info:
        client.messages.create(
            model=model, max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == seen
    if status == 429:
        assert info.value.response.headers["retry-after"] == "2"


def test_streaming_error_before_first_event_is_an_http_error(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.script(Fail(529, "overloaded"))
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    with (
        pytest.raises(anthropic.OverloadedError),
        client.messages.stream(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        list(stream.text_stream)


def test_error_mid_stream_becomes_an_error_event(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.script(Reply(text="a b c d e f", error_after=4))
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        list(stream.text_stream)


def test_upstream_dying_mid_stream_is_not_passed_off_as_complete(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.script(Reply(text="a b c d e f g h", die_after=3))
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIError):
        list(
            client.chat.completions.create(
                model="gpt-5.4", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )


# --- bad input from the client ---------------------------------------------------------------

BAD_BODIES = [
    (b"{not json", "JSON"),
    (b"[]", ""),
    (b'{"model": "gpt-5.4"}', "messages"),
    (b'{"model": "gpt-5.4", "messages": "hi"}', "messages"),
    (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', "model"),
    (b'{"model": "gpt-5.4", "messages": [{"role": "wizard", "content": "x"}]}', "role"),
]


@pytest.mark.parametrize(("body", "mentions"), BAD_BODIES)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_malformed_requests_get_a_400_in_the_callers_format(
    gateway: str, body: bytes, mentions: str, path: str
) -> None:
    response = httpx.post(
        gateway + path, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    payload = response.json()
    if path == "/v1/messages":
        assert payload["type"] == "error"
        assert payload["error"]["type"] == "invalid_request_error"
        message = payload["error"]["message"]
    else:
        assert payload["error"]["type"] == "invalid_request_error"
        message = payload["error"]["message"]
    assert mentions.lower() in message.lower()


def test_unknown_model_is_404_naming_it(gateway: str) -> None:
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert "no-such-model" in str(info.value)
    client_a = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        client_a.messages.create(
            model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )


def test_oversized_body_is_413(make_gateway: object) -> None:
    gateway = make_gateway(limits={"max_body_bytes": 10_000})  # type: ignore[operator]
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    with pytest.raises(anthropic.RequestTooLargeError):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=5,
            messages=[{"role": "user", "content": "x" * 20_000}],
        )


def test_unknown_path_and_wrong_method(gateway: str) -> None:
    assert httpx.get(gateway + "/v1/nothing").status_code == 404
    assert httpx.get(gateway + "/v1/chat/completions").status_code in (404, 405)
    assert httpx.get(gateway + "/health").json()["status"] == "ok"


def test_client_disconnect_mid_stream_is_a_clean_stop(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.script(Reply(text=" ".join(["word"] * 200), chunk_delay=0.02))
    host, port = gateway.removeprefix("http://").split(":")
    body = (
        b'{"model":"claude-haiku-4-5","max_tokens":500,"stream":true,'
        b'"messages":[{"role":"user","content":"long"}]}'
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        first = sock.recv(4096)
        assert b"200" in first.split(b"\r\n")[0]
    # The gateway keeps serving, promptly.
    started = time.monotonic()
    anthropic_upstream.reply("still here")
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    message = client.messages.create(
        model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    assert message.content[0].text == "still here"  # type: ignore[union-attr]
    assert time.monotonic() - started < 2
