"""User validator callables for the ``python`` validator tests (imported by name from config)."""

from __future__ import annotations

import asyncio

from tiergate.routing.plan import Verdict
from tiergate.types import ChatRequest, ChatResponse


def short_answer(request: ChatRequest, response: ChatResponse) -> bool:
    return len(response.text()) < 10


def mentions_question(request: ChatRequest, response: ChatResponse) -> tuple[bool, str]:
    ok = request.last_user_text().split()[0].lower() in response.text().lower()
    return ok, "answer ignores the question"


async def async_nonempty(request: ChatRequest, response: ChatResponse) -> Verdict:
    await asyncio.sleep(0)
    return Verdict(bool(response.text().strip()), "empty answer")


def broken(request: ChatRequest, response: ChatResponse) -> bool:
    raise RuntimeError("bug in the user's check")


def says_maybe(request: ChatRequest, response: ChatResponse) -> str:
    return "maybe"


NOT_CALLABLE = 42
