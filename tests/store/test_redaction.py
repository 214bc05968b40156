"""Redaction of logged bodies (``tiergate.redaction``), and that bodies are off by default."""

from __future__ import annotations

from typing import Any

import pytest

from tiergate.redaction import redact
from tiergate.store.records import RequestRecord
from tiergate.store.request_log import RequestLog


@pytest.mark.parametrize(
    ("text", "secret", "placeholder"),
    [
        ("write to bob.smith+x@example.co.uk today", "bob.smith+x@example.co.uk", "[EMAIL]"),
        ("call +1 415-555-0134 now", "415-555-0134", "[PHONE]"),
        ("call (415) 555-0134 now", "555-0134", "[PHONE]"),
        ("card 4111 1111 1111 1111 exp", "4111 1111 1111 1111", "[CARD]"),
        ("card 5555-5555-5555-4444.", "5555-5555-5555-4444", "[CARD]"),
        ("amex 378282246310005", "378282246310005", "[CARD]"),
        ("key sk-ant-api03-abcdefghijklmnop_QR", "sk-ant-api03-abcdefghijklmnop_QR", "[API_KEY]"),
        (
            "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuv",
            "sk-proj-abcdefghijklmnopqrstuv",
            "[API_KEY]",
        ),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.abc-def_ghi", "eyJhbGciOi", "[API_KEY]"),
    ],
)
def test_secrets_become_placeholders(text: str, secret: str, placeholder: str) -> None:
    out = redact(text)
    assert secret not in out and placeholder in out


@pytest.mark.parametrize(
    "text",
    [
        "order 1234 5678 9012 3456 shipped",  # 16 digits failing the Luhn check
        "version 1.2.3 released 2025-11-24",
        "the sk- prefix alone is fine",
        "bearer of bad news",
    ],
)
def test_ordinary_text_survives(text: str) -> None:
    assert redact(text) == text


async def test_bodies_are_not_stored_unless_given(store: Any) -> None:
    """The log stores what the record carries: without body logging, the columns stay NULL."""
    log = RequestLog(store)
    await log.start()
    log.submit(RequestRecord(id="plain", ts_ms=0, latency_ms=1.0))
    log.submit(
        RequestRecord(
            id="bodies", ts_ms=0, latency_ms=1.0, prompt=redact("mail me: a@b.io"), response="ok"
        )
    )
    await log.aclose()
    rows = dict(
        (r[0], r[1:]) for r in await store.fetchall("SELECT id, prompt, response FROM requests")
    )
    assert rows == {"plain": (None, None), "bodies": ("mail me: [EMAIL]", "ok")}
