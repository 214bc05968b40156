"""Usage an upstream did not report, estimated from what the gateway saw: never billed as $0.

An answer is billed from the usage its upstream reports. Three cases leave that short:

- an upstream that sends no usage at all (an OpenAI-compatible server that ignores
  ``stream_options.include_usage``, or a non-streamed answer without ``usage``): all zeros;
- a stream the upstream cuts (an error mid-stream): only what came before the cut, and OpenAI
  sends usage only at the end, so nothing;
- a stream the gateway stops (the client left, ``max_stream_seconds``): the same.

Each missing part is estimated with ``tiergate.tokens``: input from the request as sent,
output from the text, thinking and tool calls actually delivered. Reported figures are kept
wherever they exist; for a stream stopped early, the output is the larger of the reported count
and the estimate (a count reported before the cut is a floor, not the total). The request is
then marked *estimated*, in the log, the headers, the final stream event, reports and metrics.
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from tiergate.tokens import estimate_input_tokens, text_units, tokens_for_units
from tiergate.types import ChatRequest, ChatResponse, TextBlock, ThinkingBlock, ToolUseBlock, Usage


def response_units(response: ChatResponse) -> int:
    """Quarter tokens (``tiergate.tokens.text_units``) of a whole answer's content."""
    units = 0
    for block in response.content:
        if isinstance(block, TextBlock):
            units += text_units(block.text)
        elif isinstance(block, ThinkingBlock):
            units += text_units(block.thinking)
        elif isinstance(block, ToolUseBlock):
            units += text_units(block.name) + len(orjson.dumps(block.input))
    return units


def needs_estimate(usage: Usage) -> bool:
    """Whether ``usage`` lacks its input or output count (cheap: runs on every answer)."""
    return not usage.output_tokens or not usage.total_input()


def complete_usage(
    reported: Usage, request: ChatRequest, output_units: int, *, ended: bool
) -> tuple[Usage, bool]:
    """``reported`` with what is missing estimated, and whether anything was.

    ``output_units``: what was delivered, in quarter tokens. ``ended``: the upstream finished
    its answer, so a reported output count is the total; otherwise it is at most a floor."""
    usage = reported
    estimated = False
    if not usage.total_input():
        usage = replace(usage, input_tokens=estimate_input_tokens(request))
        estimated = True
    delivered = tokens_for_units(output_units)
    if not ended:
        if delivered > usage.output_tokens:
            usage = replace(usage, output_tokens=delivered)
        estimated = True  # the upstream's own final count never arrived
    elif not usage.output_tokens and delivered:
        usage = replace(usage, output_tokens=delivered)
        estimated = True
    return usage, estimated
