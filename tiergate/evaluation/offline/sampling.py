"""An evaluation set from traffic: a random sample of a route's logged requests.

Only what the request log holds can be exported: prompts are stored only with body logging on
(``log.bodies``, off by default), and then already redacted (``tiergate.redaction``: emails,
phone numbers, card numbers and keys replaced by placeholders) as the text of the whole
request (system and messages joined). So the sample says what it could not take and what
was changed; it never reconstructs anything the log did not keep. Evaluation traffic
(``batch_id`` ``eval_...``) and failed requests are left out.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiergate.store.backend import Store
    from tiergate.store.reports import ReportFilter

__all__ = ["NoPromptsLogged", "Sample", "sample_requests"]

_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|API_KEY)\]")
_CHUNK = 500


class NoPromptsLogged(LookupError):
    """The window has requests but none with a stored prompt (body logging was off)."""


@dataclass
class Sample:
    lines: list[dict[str, Any]]
    matching: int  # requests of the route in the window
    without_prompt: int  # of those, how many have no stored prompt
    redacted: int  # sampled prompts holding a redaction placeholder

    def notes(self) -> list[str]:
        notes = [
            f"{self.matching} requests of the route in the window; sampled {len(self.lines)}.",
            "Prompts come from the request log as stored: redacted (emails, phone numbers, card "
            "numbers and API keys are placeholders) and flattened to one user message (system "
            "and turns joined).",
        ]
        if self.without_prompt:
            notes.append(
                f"{self.without_prompt} requests have no stored prompt (logged while "
                "log.bodies was off) and were skipped."
            )
        if self.redacted:
            notes.append(
                f"{self.redacted} sampled prompts hold a redaction placeholder; "
                "answers to them may differ from answers to the originals."
            )
        return notes


async def sample_requests(
    store: Store, filters: ReportFilter, size: int, *, seed: int = 0, with_reference: bool = False
) -> Sample:
    where, params = filters.where()
    where += " AND status = 200 AND (batch_id IS NULL OR batch_id NOT LIKE 'eval\\_%' ESCAPE '\\')"
    rows = await store.fetchall(
        f"SELECT id, prompt IS NOT NULL FROM requests WHERE {where} ORDER BY id", params
    )
    with_prompt = [row[0] for row in rows if row[1]]
    if rows and not with_prompt:
        raise NoPromptsLogged(
            f"the request log holds {len(rows)} requests of this route in the window, but no "
            "prompts: body logging is off (log.bodies: false, the default), so there is "
            "nothing to export. Turn on log.bodies (prompts are then stored redacted) and "
            "sample again once traffic has been logged."
        )
    chosen = sorted(random.Random(seed).sample(with_prompt, min(size, len(with_prompt))))
    lines: list[dict[str, Any]] = []
    for start in range(0, len(chosen), _CHUNK):
        part = chosen[start : start + _CHUNK]
        marks = ", ".join("?" for _ in part)
        fetched = await store.fetchall(
            "SELECT id, prompt, response, route, model, tenant FROM requests "
            f"WHERE id IN ({marks}) ORDER BY id",
            part,
        )
        for request_id, prompt, response, route, model, tenant in fetched:
            line: dict[str, Any] = {
                "id": request_id,
                "prompt": prompt,
                "route": route,
                "served_model": model,
                "tenant": tenant,
            }
            if with_reference and response is not None:
                line["reference"] = response
            lines.append(line)
    redacted = sum(1 for line in lines if _PLACEHOLDER.search(line["prompt"]))
    return Sample(lines, len(rows), len(rows) - len(with_prompt), redacted)
