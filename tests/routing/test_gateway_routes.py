"""Routes through a real gateway on loopback, with the official SDKs and the fake upstreams.

The gateway serves ``claude-haiku-4-5`` and ``claude-sonnet-4-6`` from the fake Anthropic API
and ``gpt-5.4`` from the fake OpenAI API (``tests/e2e/gateway_fixtures.py``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.gateway_fixtures import (
    make_gateway,  # noqa: F401  (pytest fixture)
    unpriced_deployment,
)
from tests.fakes.script import Fail, FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tests.support.log_rows import logged

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()
ROUTES: dict[str, Any] = {
    "auto": {
        "rules": [
            {"when": {"task": ["classification", "extraction"]}, "use": "claude-haiku-4-5"},
            {"when": {"has_images": True}, "use": "claude-sonnet-4-6"},
        ],
        "default": "gpt-5.4",
    },
    "support-triage": {
        "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"],
        "validators": [{"type": "one_of", "labels": ["billing", "bug", "feature", "other"]}],
    },
}


def test_task_header_routes_classification_to_the_cheap_model(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
) -> None:
    anthropic_upstream.reply("spam")
    client = openai.OpenAI(base_url=make_gateway(routes=ROUTES) + "/v1", api_key="x")
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Is this spam? WIN A PRIZE"}],
        extra_headers={"x-tiergate-task": "classification"},
    )
    assert raw.parse().choices[0].message.content == "spam"
    assert raw.headers["x-tiergate-model"] == "claude-haiku-4-5"
    assert raw.headers["x-tiergate-route"] == "auto"
    assert raw.headers["x-tiergate-reason"] == "rule 1 (task=classification) -> claude-haiku-4-5"
    assert anthropic_upstream.last.json["model"] == "claude-haiku-4-5-20251001"


def test_metadata_task_and_image_routing_with_the_anthropic_sdk(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    client = anthropic.Anthropic(base_url=make_gateway(routes=ROUTES), api_key="x")
    image: dict[str, Any] = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    question: list[Any] = [
        {"role": "user", "content": [image, {"type": "text", "text": "what is it?"}]}
    ]
    raw = client.messages.with_raw_response.create(model="auto", max_tokens=64, messages=question)
    assert raw.headers["x-tiergate-model"] == "claude-sonnet-4-6"
    assert raw.headers["x-tiergate-reason"] == "rule 2 (images) -> claude-sonnet-4-6"

    plain = client.messages.with_raw_response.create(
        model="auto", max_tokens=64, messages=[{"role": "user", "content": "write a haiku"}]
    )
    assert plain.headers["x-tiergate-model"] == "gpt-5.4"
    assert plain.headers["x-tiergate-reason"] == "no rule matched, default -> gpt-5.4"
    assert openai_upstream.last.json["model"] == "gpt-5.4"


def test_ladder_through_the_gateway_reports_tier_and_attempts(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
) -> None:
    usage = FakeUsage(input_tokens=10, output_tokens=5)
    anthropic_upstream.reply("It sounds like billing to me.", usage=usage)
    anthropic_upstream.reply("billing", usage=usage)
    client = anthropic.Anthropic(base_url=make_gateway(routes=ROUTES), api_key="x")
    raw = client.messages.with_raw_response.create(
        model="support-triage",
        max_tokens=16,
        messages=[{"role": "user", "content": "I was charged twice"}],
    )
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "billing"
    assert raw.headers["x-tiergate-model"] == "claude-sonnet-4-6"
    assert raw.headers["x-tiergate-tier"] == "1"
    assert raw.headers["x-tiergate-attempts"] == "2"
    assert raw.headers["x-tiergate-route"] == "support-triage"
    # Both attempts are billed (10 tokens in, 5 out each, on Haiku and on Sonnet):
    # (10 x 1 + 5 x 5) + (10 x 3 + 5 x 15) = 35 + 105 = 140 micro-dollars.
    assert raw.headers["x-tiergate-cost-usd"] == "0.000140"


def test_streaming_ladder_through_the_gateway(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
) -> None:
    anthropic_upstream.reply("no idea").reply("bug")
    client = anthropic.Anthropic(base_url=make_gateway(routes=ROUTES), api_key="x")
    with client.messages.stream(
        model="support-triage",
        max_tokens=16,
        messages=[{"role": "user", "content": "the app crashes"}],
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == "bug"
    first, second = anthropic_upstream.requests
    assert not first.json.get("stream") and second.json["stream"] is True


def test_unservable_request_is_a_400_in_the_callers_format(
    make_gateway: Callable[..., str],  # noqa: F811
) -> None:
    client = openai.OpenAI(base_url=make_gateway(routes=ROUTES) + "/v1", api_key="x")
    try:
        client.chat.completions.create(
            model="auto",
            max_tokens=900_000,
            messages=[{"role": "user", "content": "write a very long book"}],
        )
    except openai.BadRequestError as exc:
        assert "no model on this route can serve the request" in str(exc)
    else:
        raise AssertionError("expected a 400")


MONEY = "cost_pusd, baseline_pusd, attempts"
JUDGED: dict[str, Any] = {
    "judged": {
        "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"],
        "validators": [
            {"type": "judge", "model": "claude-haiku-4-5", "prompt": "Answer PASS or FAIL."}
        ],
    }
}


def test_a_judges_calls_are_billed_and_logged_with_the_request_it_grades(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    """Haiku answers, the judge (Haiku too) says FAIL, Sonnet answers: the bill holds all
    three calls. Then a passing answer: both calls billed, and the baseline (Sonnet, the
    default) prices the answer's usage, not the judge's."""
    answer, verdict = FakeUsage(input_tokens=10, output_tokens=5), FakeUsage(20, 1)
    base = make_gateway(routes=JUDGED)
    client = anthropic.Anthropic(base_url=base, api_key="x")
    question: Any = [{"role": "user", "content": "I was charged twice"}]

    anthropic_upstream.reply("maybe billing?", usage=answer).reply("FAIL", usage=verdict)
    anthropic_upstream.reply("billing", usage=answer)
    raw = client.messages.with_raw_response.create(model="judged", max_tokens=16, messages=question)
    assert raw.headers["x-tiergate-model"] == "claude-sonnet-4-6"
    assert raw.headers["x-tiergate-attempts"] == "3"
    # Haiku (10 x 1 + 5 x 5) + judge on Haiku (20 x 1 + 1 x 5) + Sonnet (10 x 3 + 5 x 15)
    # = 35 + 25 + 105 = 165 micro-dollars.
    assert raw.headers["x-tiergate-cost-usd"] == "0.000165"
    row, attempts = logged(tmp_path, raw.headers["x-tiergate-request-id"], MONEY)
    assert row == (165_000_000, 105_000_000, 3)
    assert [(a[0], a[1], a[2], a[3], a[5], a[6], a[7]) for a in attempts] == [
        (1, 0, "claude-haiku-4-5", "validator_failed", 10, 5, 35_000_000),
        (2, 0, "claude-haiku-4-5", "judge", 20, 1, 25_000_000),
        (3, 1, "claude-sonnet-4-6", "ok", 10, 5, 105_000_000),
    ]

    anthropic_upstream.reply("billing", usage=answer).reply("PASS", usage=verdict)
    passed = client.messages.with_raw_response.create(
        model="judged", max_tokens=16, messages=question
    )
    assert passed.parse().content[0].type == "text"
    assert passed.headers["x-tiergate-model"] == "claude-haiku-4-5"
    assert passed.headers["x-tiergate-cost-usd"] == "0.000060"
    row, attempts = logged(tmp_path, passed.headers["x-tiergate-request-id"], MONEY)
    assert row == (60_000_000, 105_000_000, 2)
    assert [(a[0], a[3]) for a in attempts] == [(1, "ok"), (2, "judge")]
    # The report's tiers keep the judge's calls apart from the answers they graded.
    import httpx

    tiers = httpx.get(base + "/v1/tiergate/report").json()["tiers"]
    rows = {(r["tier"], r["model"], r["role"]): r for r in tiers}
    graded, judge = rows[(0, "claude-haiku-4-5", "answer")], rows[(0, "claude-haiku-4-5", "judge")]
    assert (graded["attempts"], graded["escalated"]) == (2, 1)
    assert (judge["attempts"], judge["escalated"]) == (2, 0)


def test_the_reports_escalation_rate_counts_later_rungs_not_retries_or_judges(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    """Three requests: a retry on one model (529, then an answer), a judged first rung that
    passes, and a judged first rung that fails and escalates. Only the last escalated."""
    import httpx

    judged = {
        "graded": {
            "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"],
            "validators": [{"type": "judge", "model": "gpt-5.4", "prompt": "PASS or FAIL"}],
        }
    }
    base = make_gateway(routes=judged, retry={"max_retries": 1, "backoff_base": 0})
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
    question: Any = [{"role": "user", "content": "hi"}]
    anthropic_upstream.script(Fail(529, "overloaded"), Reply("after a retry"))
    retried = client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5", messages=question
    )
    assert retried.headers["x-tiergate-attempts"] == "2"
    anthropic_upstream.reply("a fine answer")
    openai_upstream.reply("PASS")
    client.chat.completions.create(model="graded", messages=question)
    anthropic_upstream.reply("a poor answer").reply("a better answer")
    openai_upstream.reply("FAIL")
    escalated = client.chat.completions.with_raw_response.create(model="graded", messages=question)
    assert escalated.headers["x-tiergate-tier"] == "1"
    totals: dict[str, Any] = {}
    for _ in range(100):  # the log is written in batches, a moment after the answers
        totals = httpx.get(base + "/v1/tiergate/report").json()["totals"]
        if totals["requests"] == 3:
            break
        time.sleep(0.05)
    assert totals["requests"] == 3
    assert totals["escalation_rate"] == pytest.approx(1 / 3)


def test_a_report_span_too_long_to_mean_anything_is_a_400(
    make_gateway: Callable[..., str],  # noqa: F811
) -> None:
    import httpx

    base = make_gateway()
    for span in ("99999999999d", "9" * 400 + "d"):
        answer = httpx.get(base + "/v1/tiergate/report", params={"since": span})
        assert answer.status_code == 400, answer.text
    assert httpx.get(base + "/v1/tiergate/report", params={"since": "36500d"}).status_code == 200


def test_an_unpriced_model_adds_no_spend_and_no_savings_to_the_report(
    make_gateway: Callable[..., str],  # noqa: F811
    openai_upstream: FakeUpstream,
) -> None:
    """Its cost is unknown, so its baseline must not count as money saved either."""
    import httpx

    deployment = unpriced_deployment(openai_upstream)
    base = make_gateway(deployments=[deployment])
    openai_upstream.reply("ok", usage=FakeUsage(input_tokens=1000, output_tokens=100))
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="deepseek-v4-flash", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-tiergate-cost-usd"] == "unpriced"
    totals: dict[str, Any] = {}
    for _ in range(100):
        totals = httpx.get(base + "/v1/tiergate/report").json()["totals"]
        if totals["requests"] == 1:
            break
        time.sleep(0.05)
    assert totals["unpriced_requests"] == 1
    # no spend, and no saving either: the report says "no baseline" (None), not $0 saved
    assert (totals["cost_usd"], totals["baseline_usd"], totals["savings_usd"]) == (0, None, None)
