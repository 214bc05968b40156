"""Fake models of known quality: answer right with a scripted probability per prompt type.

A ``ScriptedQuality`` is set as a ``FakeUpstream.responder``. Every prompt of an evaluation set
made by ``make_tasks`` carries its type (``[easy]``, ``[hard]``...) and has one right answer
(a code word). A model answers right when the prompt's difficulty (a hash of the prompt, the
same for every model) falls below the model's accuracy for that type, so the same prompt
always gets the same answer (a rerun, or a resumed run, sees the same figures) and the
expected quality of every model is known exactly.

Judge models read the gateway's judge prompts (``tiergate.evaluation.judge``): the question
and the answer(s) between tags. A scripted judge knows the answer key, so it grades right
unless its own script says otherwise: ``unsure`` (a middle score, or in a pairwise comparison
a preference for whichever answer is shown first) and ``wrong`` (the verdict flipped), each
with a probability, again by hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.script import FakeUsage, Reply, Step

_KIND = re.compile(r"^\[(\w+)\]")
_TAG = r"<{0}>\n?(.*?)\n?</{0}>"


@dataclass(frozen=True)
class Task:
    id: str
    kind: str
    prompt: str
    answer: str

    def line(self, **extra: Any) -> str:
        return json.dumps(
            {
                "id": self.id,
                "prompt": self.prompt,
                "reference": self.answer,
                "kind": self.kind,
                **extra,
            }
        )


def make_tasks(count: int, kinds: tuple[str, ...] = ("easy", "hard"), seed: int = 0) -> list[Task]:
    """``count`` prompts, the types taking turns; each asks for a code word it also names."""
    tasks = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        code = "C" + _digest(f"{seed}:{i}")[:6].upper()
        topic = ("ledger", "invoice", "refund", "shipment", "warranty", "login")[i % 6]
        prompt = f"[{kind}] Case {i} about a {topic}: reply with the case code {code} only."
        tasks.append(Task(f"t{i}", kind, prompt, code))
    return tasks


def unit(*parts: str) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    return int(_digest("|".join(parts))[:12], 16) / float(16**12)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class JudgeScript:
    unsure: float = 0.0  # share of verdicts the judge hedges on
    wrong: float = 0.0  # share of (confident) verdicts flipped


@dataclass
class ScriptedQuality:
    """``accuracy[model][kind]``: the probability that ``model`` answers a ``kind`` prompt
    right; ``judges[model]``: how a judge model grades. Prompts not in ``tasks`` are echoed."""

    tasks: list[Task]
    accuracy: dict[str, dict[str, float]]
    judges: dict[str, JudgeScript] = field(default_factory=dict)
    output_tokens: int = 12
    delay: float = 0.0  # seconds before each answer starts

    def __post_init__(self) -> None:
        self._by_prompt = {task.prompt: task for task in self.tasks}

    def expected(self, model: str, tasks: list[Task] | None = None) -> float:
        """The scripted quality of ``model`` over ``tasks`` (default: all)."""
        chosen = tasks if tasks is not None else self.tasks
        return sum(self.accuracy[model][t.kind] for t in chosen) / len(chosen)

    def right(self, model: str, task: Task) -> bool:
        """Each prompt has one difficulty, the same for every model (a prompt hard for one is
        hard for all, as with real models): a model is right when its accuracy exceeds it."""
        return unit(task.prompt) < self.accuracy[model][task.kind]

    def __call__(self, body: dict[str, Any]) -> Step:
        model = self._name(str(body.get("model", "")))
        text = _user_text(body)
        if "<question>" in text and model in self.judges:
            return self._reply(self._judge(model, text), text)
        task = self._by_prompt.get(text)
        if task is None or model not in self.accuracy:
            return Reply()
        answer = task.answer if self.right(model, task) else "W" + _digest(model + text)[:6]
        return self._reply(f"The case code is {answer}.", text)

    def _name(self, sent: str) -> str:
        """The scripted name of the model the gateway asked for (it may send a snapshot id,
        e.g. ``claude-haiku-4-5-20251001`` for ``claude-haiku-4-5``)."""
        for name in (*self.accuracy, *self.judges):
            if sent == name or sent.startswith(name + "-"):
                return name
        return sent

    def _reply(self, text: str, prompt: str) -> Reply:
        usage = FakeUsage(input_tokens=max(1, len(prompt) // 4), output_tokens=self.output_tokens)
        return Reply(text=text, usage=usage, delay=self.delay)

    def _correct(self, question: str, answer: str) -> bool:
        task = self._by_prompt.get(question)
        return task is not None and task.answer in answer

    def _judge(self, model: str, text: str) -> str:
        script = self.judges[model]
        question = _tag("question", text)
        u = unit("judge", model, text)
        if "<answer_a>" in text:
            first, second = _tag("answer_a", text), _tag("answer_b", text)
            a, b = self._correct(question, first), self._correct(question, second)
            verdict = "A" if a and not b else "B" if b and not a else "tie"
            if u < script.unsure:
                verdict = "A"  # position bias: the first answer shown wins
            elif u < script.unsure + script.wrong:
                verdict = {"A": "B", "B": "A", "tie": "A"}[verdict]
            return json.dumps({"winner": verdict, "reason": "scripted"})
        good = self._correct(question, _tag("answer", text))
        if u < script.unsure:
            score = 5
        else:
            if u < script.unsure + script.wrong:
                good = not good
            score = 9 if good else 2
        return json.dumps({"score": score, "reason": "scripted"})


def _tag(name: str, text: str) -> str:
    match = re.search(_TAG.format(name), text, re.S)
    return match.group(1) if match else ""


def _user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


def kind_of(prompt: str) -> str | None:
    match = _KIND.match(prompt)
    return match.group(1) if match else None
