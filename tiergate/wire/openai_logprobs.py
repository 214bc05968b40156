"""Log probabilities in OpenAI's wire shape, both ways.

Chat Completions puts them beside the message (``choices[i].logprobs``) and beside each stream
delta, as ``{"content": [entry, ...], "refusal": null}`` (or the reverse for a refusal), where
an entry is ``{"token", "logprob", "bytes", "top_logprobs": [entry without top_logprobs]}``.
Upstreams send them when the request asked (``logprobs``, ``top_logprobs``, which reach an
OpenAI-format upstream unchanged); the decoder is lenient with vendors' variations (an entry
it cannot read is skipped, a missing list is None) because logprobs are an extra, never a
reason to fail an answer.
"""

from __future__ import annotations

from typing import Any

from tiergate.types import TokenLogprob


def decode_logprobs(raw: Any, refusal: bool = False) -> list[TokenLogprob] | None:
    """``choices[i].logprobs`` -> tokens: its ``refusal`` list for a refusal, else ``content``."""
    if not isinstance(raw, dict):
        return None
    entries = raw.get("refusal" if refusal else "content")
    if not isinstance(entries, list):
        return None
    return [token for token in map(_token, entries) if token is not None]


def _token(entry: Any, nested: bool = True) -> TokenLogprob | None:
    if not isinstance(entry, dict):
        return None
    token, logprob = entry.get("token"), entry.get("logprob")
    if not isinstance(token, str) or isinstance(logprob, bool):
        return None
    if not isinstance(logprob, int | float):
        return None
    raw_bytes = entry.get("bytes")
    data = (
        raw_bytes
        if isinstance(raw_bytes, list) and all(type(b) is int for b in raw_bytes)
        else None
    )
    top: list[TokenLogprob] = []
    alternatives = entry.get("top_logprobs") if nested else None
    if isinstance(alternatives, list):
        top = [t for t in (_token(a, nested=False) for a in alternatives) if t is not None]
    return TokenLogprob(token, float(logprob), data, top)


def encode_logprobs(
    tokens: list[TokenLogprob] | None, refusal: bool = False
) -> dict[str, Any] | None:
    """Tokens -> ``choices[i].logprobs`` (None stays null: the answer came without them)."""
    if tokens is None:
        return None
    entries = [_entry(token) for token in tokens]
    return (
        {"content": None, "refusal": entries} if refusal else {"content": entries, "refusal": None}
    )


def _entry(token: TokenLogprob, nested: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"token": token.token, "logprob": token.logprob, "bytes": token.bytes}
    if nested:
        entry["top_logprobs"] = [_entry(t, nested=False) for t in token.top]
    return entry
