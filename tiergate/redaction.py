"""Redaction for logged prompt and response bodies (bodies are off by default).

Replaces emails, phone numbers, payment card numbers (Luhn-checked, so order numbers survive)
and API keys / bearer tokens with placeholders before anything is written.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_KEY = re.compile(
    r"\b(?:sk-ant-[\w-]{8,}|sk-[\w-]{16,}|tg-[\w-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_\w{20,})"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[\w.~+/-]{8,}=*")
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{3})[\s.-]\d{3}[\s.-]\d{4}(?![\w])"
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()


def redact(text: str) -> str:
    text = _KEY.sub("[API_KEY]", text)
    text = _BEARER.sub("Bearer [API_KEY]", text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub("[PHONE]", text)
