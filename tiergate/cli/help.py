"""Help text shared by the commands: each ends with an example (click's ``epilog``), kept
verbatim (``\\b`` stops click from re-wrapping it), and names its data formats."""

from __future__ import annotations

OUTCOME_DATA = (
    "\b\nDATA (JSONL, one prompt a line; every line names the same models):\n"
    '  {"prompt": "What is 2+2?", "outcomes": {"gpt-5.4": 1, "claude-haiku-4-5": 0}}\n'
    "  outcomes: each model's score on that prompt, 0/1 or graded (any range: --scale);\n"
    '  optional "id" is kept; optional "domain" (a topic label) trains a domain prior,\n'
    "  never a feature: routing decisions see the prompt alone (--no-domain-prior: unused)."
)


def examples(*commands: str, before: str = "") -> str:
    """An epilog: ``before`` (e.g. a data format), then the example commands, unwrapped."""
    block = "\b\nExample:\n" + "\n".join(f"  {c}" for c in commands)
    return f"{before}\n\n{block}" if before else block
