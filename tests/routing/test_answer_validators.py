"""Answer checks (final answer, arithmetic) and the learned answer validator, as ladder
validators built from config, and the pure checks they rest on."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.routing.builders import CATALOG, answer, ask, policies
from tiergate.errors import ConfigError
from tiergate.routing.answer_checks import check_arithmetic, compute, final_answer, number
from tiergate.routing.learned import AnswerValidator, LearnedRouter, RouterFileError, fit_validator
from tiergate.routing.plan import Validator, Verdict


def validator(spec: dict[str, Any]) -> Validator:
    table, state = policies(
        {"lad": {"ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"], "validators": [spec]}}
    )
    (built,) = table["lad"](ask(model="lad"), CATALOG, state).validators
    return built


async def verdict(spec: dict[str, Any], text: str, question: str = "What is 2+2?") -> Verdict:
    return await validator(spec).check(ask(question), answer(text))


@pytest.mark.parametrize(
    "text, wrong",
    [
        ("3 x 60 = <<3*60=180>>180 meters, 180 x 3 = <<180*3=540>>540\n#### 540", ()),
        ("15 + 25 = 41 cups", ("15 + 25=41",)),
        ("<<2+2=5>>5", ("2+2=5",)),
        ("60/100 * $5 = $3 and 8 * $5 = $40", ()),
        ("50 * 20% = 10, and ($100 / $1000) * 100 = 10%", ()),
        ("17 / (1/4) = 17 \\* 4 = 68", ()),  # a chain: neither side is a result
        ("3150 + 1300 + 48 + 2 = 4490 pounds", ("3150 + 1300 + 48 + 2=4490",)),
        ("10 / 3 = 3.33", ()),  # rounded to the places it states
        ("no sums at all", ()),
    ],
)
def test_arithmetic_is_recomputed(text: str, wrong: tuple[str, ...]) -> None:
    assert check_arithmetic(text).wrong == wrong


def test_compute_refuses_anything_but_arithmetic() -> None:
    assert compute("2 x (3 + 4)") == 14.0
    assert compute("__import__('os')") is None
    assert compute("2 ** 99999") is None  # no power operator at all
    assert compute("1/0") is None
    assert number("$1,234.50") == 1234.5 and number("20%") == 0.2 and number("abc") is None


def test_final_answer_markers() -> None:
    assert final_answer("so 3 + 4 = 7\n#### 7") == "7"
    assert final_answer("thus \\boxed{42}") == "42"
    assert final_answer("The answer is 12 apples.") == "12 apples."
    assert final_answer("I think it is seven") is None


async def test_final_answer_and_arithmetic_validators() -> None:
    assert (await verdict({"type": "final_answer"}, "2 + 2 = 4\n#### 4")).ok
    missing = await verdict({"type": "final_answer"}, "2 + 2 = 4")
    assert not missing.ok and missing.reason == "no final answer stated"
    words = await verdict({"type": "final_answer", "numeric": True}, "The answer is four")
    assert not words.ok and "not a number" in words.reason
    assert (await verdict({"type": "arithmetic"}, "2 + 2 = 4")).ok
    bad = await verdict({"type": "arithmetic"}, "2 + 2 = <<2+2=5>>5\n#### 5")
    assert not bad.ok and "2+2=5" in bad.reason


def _worked(rng: random.Random, right: bool) -> tuple[str, str]:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    result = a * b if right else a * b + rng.randint(1, 9)
    tail = f"\n#### {result}" if right or rng.random() < 0.5 else ""
    return f"A box holds {a} rows of {b} eggs. How many eggs?", f"{a} * {b} = {result} eggs{tail}"


@pytest.fixture(scope="module")
def validator_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(3)
    rows = [_worked(rng, right=i % 3 != 0) for i in range(90)]
    cheap = np.array([0.0 if i % 3 == 0 else 1.0 for i in range(90)])
    model = fit_validator(
        [p for p, _ in rows],
        [a for _, a in rows],
        {"small": cheap, "big": np.ones(90)},
        cheap_model="small",
        strong_model="big",
    )
    path = tmp_path_factory.mktemp("validator") / "v.tgv"
    model.save(path)
    return path


async def test_answer_model_validator_escalates_wrong_sums(validator_file: Path) -> None:
    spec = {"type": "answer_model", "path": str(validator_file)}
    question = "A box holds 12 rows of 11 eggs. How many eggs?"
    assert (await verdict(spec, "12 * 11 = 132 eggs\n#### 132", question)).ok
    wrong = await verdict(spec, "12 * 11 = 135 eggs", question)
    assert not wrong.ok and wrong.reason.startswith("answer model score")
    loaded = AnswerValidator.load(validator_file)
    assert loaded.score(question, "12 * 11 = 135 eggs") > loaded.score(question, "12 * 11 = 132")


def test_answer_model_file_errors_name_the_key(validator_file: Path, tmp_path: Path) -> None:
    with pytest.raises(RouterFileError, match="holds a answer-validator, not a router"):
        LearnedRouter.load(validator_file)
    bogus = tmp_path / "nope.tgv"
    bogus.write_text("hello\n")
    with pytest.raises(ConfigError, match=r"validators\[0\]\.path: cannot load answer validator"):
        validator({"type": "answer_model", "path": str(bogus)})
