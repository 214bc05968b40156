"""Every built-in validator, passing and failing, built from config as the gateway builds it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routing.builders import CATALOG, answer, ask, deployments, policies
from tiergate.errors import ConfigError, ProviderError
from tiergate.routing.plan import Validator, ValidatorCall, Verdict
from tiergate.types import ChatRequest, ChatResponse, TextBlock, Usage

JUDGE_USAGE = Usage(input_tokens=20, output_tokens=1)


class FakeJudge:
    """A judge client that answers from a fixed list, records what it was asked, and reports
    one upstream call of ``JUDGE_USAGE`` per request (also for a reply that is an error)."""

    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.asked: list[ChatRequest] = []

    async def complete(
        self, request: ChatRequest, calls: list[ValidatorCall] | None = None
    ) -> ChatResponse:
        self.asked.append(request)
        if calls is not None:
            (deployment,) = deployments([request.model])[request.model]
            calls.append(ValidatorCall(CATALOG.resolve(request.model), deployment, JUDGE_USAGE))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResponse(id="judge", model=request.model, content=[TextBlock(reply)])


def validator(spec: dict[str, Any], judge: FakeJudge | None = None) -> Validator:
    table, state = policies(
        {"lad": {"ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"], "validators": [spec]}},
        judge=judge,
    )
    plan = table["lad"](ask(model="lad"), CATALOG, state)
    (built,) = plan.validators
    return built


async def verdict(spec: dict[str, Any], text: str, judge: FakeJudge | None = None) -> Verdict:
    return await validator(spec, judge).check(ask("Why is the sky blue?"), answer(text))


async def test_json() -> None:
    assert (await verdict({"type": "json"}, ' {"a": [1, 2]}\n')).ok
    bad = await verdict({"type": "json"}, '```json\n{"a": 1}\n```')
    assert not bad.ok and bad.reason.startswith("not valid JSON")


SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["billing", "bug"]}},
    "required": ["label"],
}


async def test_json_schema() -> None:
    spec = {"type": "json_schema", "schema": SCHEMA}
    assert (await verdict(spec, '{"label": "bug"}')).ok
    wrong = await verdict(spec, '{"label": "banana"}')
    assert not wrong.ok and wrong.reason.startswith("schema: label: 'banana' is not one of")
    missing = await verdict(spec, "{}")
    assert not missing.ok and "(root)" in missing.reason
    assert (await verdict(spec, "nope")).reason.startswith("not valid JSON")


async def test_regex_search_and_full() -> None:
    assert (await verdict({"type": "regex", "pattern": r"\d{3}"}, "code 123 here")).ok
    full = {"type": "regex", "pattern": r"\d{3}", "match": "full"}
    assert (await verdict(full, " 123\n")).ok
    failed = await verdict(full, "code 123 here")
    assert not failed.ok and failed.reason == r"does not match /\d{3}/"
    assert (await verdict({"type": "regex", "pattern": "YES", "ignore_case": True}, "yes")).ok


async def test_one_of_labels() -> None:
    spec = {"type": "one_of", "labels": ["billing", "bug", "feature", "other"]}
    assert (await verdict(spec, "  Billing.\n")).ok
    wrong = await verdict(spec, "I think it is billing")
    assert not wrong.ok and wrong.reason == "'i think it is billing' is not one of the labels"
    strict = {**spec, "case_sensitive": True}
    assert not (await verdict(strict, "Billing")).ok


async def test_max_length() -> None:
    assert (await verdict({"type": "max_length", "chars": 5}, "12345")).ok
    long = await verdict({"type": "max_length", "chars": 5}, "123456")
    assert not long.ok and long.reason == "6 chars over the limit of 5"


@pytest.mark.parametrize(
    ("target", "text", "ok", "reason"),
    [
        ("short_answer", "tiny", True, ""),
        (
            "short_answer",
            "far too long an answer",
            False,
            "tests.routing.checks:short_answer returned False",
        ),
        ("mentions_question", "Why? Rayleigh scattering", True, ""),
        ("mentions_question", "Rayleigh", False, "answer ignores the question"),
        ("async_nonempty", "x", True, ""),
        ("async_nonempty", "  ", False, "empty answer"),
        ("broken", "x", False, "tests.routing.checks:broken raised RuntimeError"),
        ("says_maybe", "x", False, "tests.routing.checks:says_maybe returned str, not bool"),
    ],
)
async def test_python_callable(target: str, text: str, ok: bool, reason: str) -> None:
    spec = {"type": "python", "callable": f"tests.routing.checks:{target}"}
    result = await verdict(spec, text)
    assert (result.ok, "" if result.ok else result.reason) == (ok, reason)


async def test_judge_passes_and_fails_on_its_reply() -> None:
    spec = {"type": "judge", "model": "claude-sonnet-4-6", "prompt": "Grade it. Say PASS or FAIL."}
    judge = FakeJudge("pass - correct", "FAIL: wrong colour\nmore text")
    built = validator(spec, judge)
    request, response = ask("Why is the sky blue?"), answer("Rayleigh scattering")
    assert (await built.check(request, response)).ok
    failed = await built.check(request, response)
    assert not failed.ok
    assert failed.reason == "judge claude-sonnet-4-6 said 'FAIL: wrong colour'"
    sent = judge.asked[0]
    assert sent.model == "claude-sonnet-4-6"
    assert sent.system[0].text == "Grade it. Say PASS or FAIL."
    assert "Why is the sky blue?" in sent.last_user_text()
    assert "<answer>\nRayleigh scattering\n</answer>" in sent.last_user_text()
    assert sent.max_tokens == 16


async def test_judge_custom_pass_word_and_failing_judge() -> None:
    spec = {"type": "judge", "model": "sonnet", "prompt": "p", "pass_if": "good"}
    judge = FakeJudge("GOOD", "PASS", ProviderError("overloaded", status=529, provider="anthropic"))
    built = validator(spec, judge)
    request, response = ask("q"), answer("a")
    assert (await built.check(request, response)).ok
    assert not (await built.check(request, response)).ok
    errored = await built.check(request, response)
    assert not errored.ok and errored.reason == "judge claude-sonnet-4-6 failed: overloaded"


async def test_a_verdict_reports_the_calls_its_validator_made() -> None:
    """Passing, failing or erroring, a judge's verdict carries its calls (the executor bills
    them to the graded request); a check that calls no model reports none and reserves
    nothing."""
    spec = {"type": "judge", "model": "sonnet", "prompt": "p"}
    judge = FakeJudge("PASS", "FAIL", ProviderError("overloaded", status=529, provider="x"))
    built = validator(spec, judge)
    request, response = ask("q"), answer("a")
    for _ in range(3):
        (call,) = (await built.check(request, response)).calls
        assert (call.model.id, call.deployment.name, call.usage) == (
            "claude-sonnet-4-6",
            "dep-claude-sonnet-4-6",
            JUDGE_USAGE,
        )
    ((model, usage),) = built.max_usage(100, 50)
    assert model.id == "claude-sonnet-4-6" and usage.output_tokens == 16
    local = validator({"type": "json"})
    assert (await local.check(request, answer("{}"))).calls == ()
    assert local.max_usage(100, 50) == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "regex", "pattern": "("}, "validators[0].pattern: not a valid regex"),
        ({"type": "json_schema", "schema": {"type": "nonsense"}}, "not a valid JSON Schema"),
        ({"type": "python", "callable": "tests.routing.nope:x"}, "cannot import module"),
        ({"type": "python", "callable": "tests.routing.checks:missing"}, "has no attribute"),
        ({"type": "python", "callable": "tests.routing.checks:NOT_CALLABLE"}, "not callable"),
        ({"type": "python", "callable": "no colon"}, "validators[0].python.callable"),
        ({"type": "max_length", "chars": 0}, "validators[0].max_length.chars"),
        ({"type": "one_of", "labels": []}, "validators[0].one_of.labels"),
        ({"type": "judge", "model": "sonet", "prompt": "p"}, "unknown model 'sonet'"),
        ({"type": "judge", "model": "sonnet", "prompt": "p"}, "needs a judge client"),
        ({"type": "shout"}, "validators[0]: Input tag 'shout'"),
        ({"type": "json", "strict": True}, "validators[0].json.strict: unknown key. Valid"),
    ],
)
def test_bad_validator_config_is_a_start_up_error(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        policies({"lad": {"ladder": ["haiku", "sonnet"], "validators": [spec]}})
    assert message in str(caught.value)
    assert str(caught.value).startswith("routes.lad")
