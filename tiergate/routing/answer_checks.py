"""Checks that read a model's answer: is a final answer there, does its arithmetic add up.

Pure text functions, shared by the ladder validators (``validators/answer.py``) and the
learned answer validator's features, so a rule means the same in both. Why these: a cheap
model's worked answer that states no final result, or whose own sums do not check out, is
wrong far more often than one that does (see docs/routing.md); both are cheap to verify.

Arithmetic is re-computed with a tiny evaluator over Python's ``ast`` (numbers, + - * / %
and parentheses only; never ``eval``), on two notations: calculator annotations
``<<48/2=24>>`` and inline equations such as ``3 x 60 = 180`` or ``$5 * 3 = $15``.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?%?"
_ANNOTATION = re.compile(r"<<([^=<>]{1,200})=([^<>]{1,40})>>")
_OPERAND = r"\(?\s*\$?\d[\d,]*(?:\.\d+)?%?\s*\)?"
_INLINE = re.compile(
    rf"(?<![\w.,])({_OPERAND}(?:\s*[-+*/x\u00d7\u00f7]\s*{_OPERAND})+)\s*=\s*({_NUMBER})(?![\d.,]*\s*[-+*/x\u00d7\u00f7(]\s*[\d($])(?!\d)"
)
_FINAL_MARKERS = (
    re.compile(r"####\s*(" + _NUMBER + r"|[^\n]{1,80})"),
    re.compile(r"\\boxed\{([^{}]{1,80})\}"),
    re.compile(r"\b(?:final answer|the answer is|answer:)\s*(?:is\s*)?:?\s*([^\n]{1,80})", re.I),
)
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}


def number(text: str) -> float | None:
    """``"$1,234.50"`` -> 1234.5, ``"20%"`` -> 0.2; None when it is not one number."""
    cleaned = text.strip().rstrip(".").replace(",", "").replace("$", "")
    percent = cleaned.endswith("%")
    try:
        value = float(cleaned.rstrip("%"))
    except ValueError:
        return None
    return value / 100.0 if percent else value


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ValueError("not a number")
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    raise ValueError("not plain arithmetic")


def compute(expression: str) -> float | None:
    """The value of a plain arithmetic expression, or None if it is anything else."""
    text = (
        expression.replace(",", "").replace("$", "").replace("\u00d7", "*").replace("\u00f7", "/")
    )
    text = re.sub(r"(?<=[\d)\s])x(?=[\s\d(])", "*", text)
    text = re.sub(r"(\d+(?:\.\d+)?)%", r"(\1/100)", text)
    try:
        return _evaluate(ast.parse(text.strip(), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def _agrees(value: float, stated_text: str) -> bool | None:
    stated = number(stated_text)
    if stated is None:
        return None
    digits = stated_text.split(".")[1] if "." in stated_text else ""
    places = len(re.sub(r"\D", "", digits))
    if "%" in stated_text:  # "x * 100 = 10%" and "x = 10%" (a fraction) both read right
        plain = stated_text.replace("%", "")
        return bool(_agrees(value, plain) or _agrees(value * 100.0, plain))
    tolerance = 0.5 * 10.0 ** (-places) + 1e-9 * max(1.0, abs(value))
    return round(value, places) == round(stated, places) or abs(value - stated) < tolerance


@dataclass(frozen=True)
class ArithmeticCheck:
    """How many equations in an answer were re-computed, and which ones were wrong."""

    checked: int
    wrong: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.wrong


def check_arithmetic(answer: str) -> ArithmeticCheck:
    """Re-compute every annotation and inline equation the answer states."""
    checked = 0
    wrong: list[str] = []
    plain = _ANNOTATION.sub(" ", answer.replace("\\*", "*"))  # markdown escapes "\\*"
    for pattern, text in ((_ANNOTATION, answer), (_INLINE, plain)):
        for match in pattern.finditer(text):
            value = compute(match.group(1))
            if value is None:
                continue
            agrees = _agrees(value, match.group(2))
            if agrees is None:
                continue
            checked += 1
            if not agrees:
                wrong.append(f"{match.group(1).strip()}={match.group(2).strip()}")
    return ArithmeticCheck(checked, tuple(wrong))


def final_answer(answer: str) -> str | None:
    """The stated final answer (after ``####``, in ``\\boxed{}``, after "the answer is"),
    or None when the answer never states one."""
    for pattern in _FINAL_MARKERS:
        matches = pattern.findall(answer)
        if matches and matches[-1].strip():
            return str(matches[-1]).strip()
    return None
