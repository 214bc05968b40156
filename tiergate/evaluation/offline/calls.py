"""One model call of an evaluation, and the results file that makes a run resumable.

Every answer (and every judge's verdict, which is an answer too) goes through a ``Caller``:
the gateway's pipeline in ``tiergate.gateway.evaluation_calls``, or anything else with the same
shape (a shadow grader reusing the judge passes its own). ``RecordedCalls`` wraps a caller
with the results file: a call already answered in an earlier run of the same evaluation is
read back instead of sent, so a run that was stopped, killed or ran out of budget continues
where it was and pays for no answer twice.

The file is JSON lines, appended and flushed after every call (a killed process loses nothing
the kernel was handed). Before a call goes out a ``sent`` line is written; a ``sent`` without
its answer means the process died (SIGKILL, power) while that call was in flight: it is sent
again, and ``resent`` counts such calls so the report can say so. A clean stop (SIGINT,
SIGTERM, the budget) waits for the calls in flight, so it leaves none behind.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson

__all__ = [
    "Answer",
    "Caller",
    "RecordedCalls",
    "ResultsFileError",
    "call_key",
    "read_header",
]


@dataclass(frozen=True, slots=True)
class Answer:
    """What a call returned: the text (empty when it failed), the HTTP status the same request
    would have got, its price (None: unpriced) and latency, the request-log row that holds it
    and the model that answered (a route names the model it chose)."""

    text: str
    status: int = 200
    cost_usd: Decimal | None = None
    latency_ms: float = 0.0
    request_id: str | None = None
    answered_by: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_usd"] = None if self.cost_usd is None else str(self.cost_usd)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        cost = data.get("cost_usd")
        return cls(
            text=data.get("text") or "",
            status=int(data.get("status", 200)),
            cost_usd=None if cost is None else Decimal(cost),
            latency_ms=float(data.get("latency_ms", 0.0)),
            request_id=data.get("request_id"),
            answered_by=data.get("answered_by"),
            error=data.get("error"),
        )


# (model or route, messages, max_tokens) -> Answer; never raises for a failed request.
Caller = Callable[[str, list[dict[str, Any]], int | None], Awaitable[Answer]]


def call_key(model: str, messages: list[dict[str, Any]], max_tokens: int | None) -> str:
    """Identifies a call by what it sends: the same call in a resumed run has the same key."""
    body = orjson.dumps([model, messages, max_tokens], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()[:24]


class ResultsFileError(ValueError):
    """The results file belongs to another evaluation (other data, models or scorer)."""


# Failures that passing time may fix are not kept: a resumed run asks again.
_TRANSIENT = frozenset({408, 429, 499, 500, 502, 503, 504, 529})


def read_header(path: str | Path) -> dict[str, Any] | None:
    """The header of an existing results file (None when there is none yet)."""
    try:
        with Path(path).open("rb") as handle:
            first = handle.readline()
    except FileNotFoundError:
        return None
    line = _parse(first) if first else None
    return line if line is not None and line.get("kind") == "header" else None


class RecordedCalls:
    """A ``Caller`` that keeps every answer in the results file and never pays for one twice."""

    def __init__(self, path: str | Path, header: dict[str, Any], call: Caller) -> None:
        self.path = Path(path)
        self._call = call
        self._answers: dict[str, Answer] = {}
        self._sent: set[str] = set()
        self.resumed = 0  # answers read back from an earlier run
        self.resent = 0  # calls that were in flight when an earlier run was killed
        self.paid = Decimal(0)  # what this process spent
        self.earlier = Decimal(0)  # what earlier runs of this evaluation spent
        self.calls = 0  # calls this process sent
        self._open(header)
        self._file: IO[bytes] = self.path.open("ab")

    def _open(self, header: dict[str, Any]) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(orjson.dumps({"kind": "header", **header}) + b"\n")
            return
        lines = self.path.read_bytes().splitlines()
        first = _parse(lines[0]) if lines else None
        if first is None or first.get("kind") != "header":
            raise ResultsFileError(f"{self.path} is not an evaluation results file")
        for field in ("data",):  # answers are kept by content: other models may be added
            if first.get(field) != header.get(field):
                raise ResultsFileError(
                    f"{self.path} holds another evaluation ({field}: {first.get(field)!r}, "
                    f"now {header.get(field)!r}); give another --results file, or delete it "
                    "to start over"
                )
        for raw in lines[1:]:
            line = _parse(raw)  # a line cut short by a kill is skipped
            if line is None:
                continue
            key = str(line.get("key"))
            if line.get("kind") == "sent":
                self._sent.add(key)
            elif line.get("kind") in ("answer", "failed"):
                answer = Answer.from_json(line["answer"])
                self.earlier += answer.cost_usd or 0
                self._sent.discard(key)
                if line["kind"] == "answer":
                    self._answers[key] = answer
        self.resent = len(self._sent - self._answers.keys())
        self._sent.clear()

    @property
    def kept(self) -> int:
        """Answers in the file (read back instead of sent when asked again)."""
        return len(self._answers)

    @property
    def spent(self) -> Decimal:
        """Everything this evaluation has cost so far, earlier runs included."""
        return self.earlier + self.paid

    def known(self, model: str, messages: list[dict[str, Any]], max_tokens: int | None) -> bool:
        return call_key(model, messages, max_tokens) in self._answers

    async def __call__(
        self, model: str, messages: list[dict[str, Any]], max_tokens: int | None
    ) -> Answer:
        key = call_key(model, messages, max_tokens)
        kept = self._answers.get(key)
        if kept is not None:
            self.resumed += 1
            return kept
        self._write({"kind": "sent", "key": key, "model": model})
        answer = await self._call(model, messages, max_tokens)
        self.calls += 1
        self.paid += answer.cost_usd or 0
        if answer.status in _TRANSIENT:  # asked again next run; what it cost is counted
            self._write({"kind": "failed", "key": key, "model": model, "answer": answer.as_json()})
        else:
            self._answers[key] = answer
            self._write({"kind": "answer", "key": key, "model": model, "answer": answer.as_json()})
        return answer

    def _write(self, line: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(line) + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
