"""Variant (bench only): tiergate with its after-response bookkeeping done in batches.

``ab.py --variant batched-record``: the ``Recorder`` queues each finished request and turns
the queue into log rows and metrics every 50 ms in one pass (~150 requests at a time under
wrk), instead of one request per loop turn. It asks whether running that code hot, many times
in a row, costs less than interleaving it with the request path (a cache effect that
``pipeline.py`` cannot see). It did not (bench/results/history.md), so tiergate does not do it.
"""

import asyncio

from tiergate.gateway.log_rows import Recorder

_record = Recorder.__call__
_pending: list = []


def _drain(recorder: Recorder) -> None:
    traces = _pending[:]
    _pending.clear()
    for trace in traces:
        _record(recorder, trace)


def _queued(self: Recorder, trace: object) -> None:
    if not _pending:
        asyncio.get_running_loop().call_later(0.05, _drain, self)
    _pending.append(trace)


Recorder.__call__ = _queued  # type: ignore[method-assign]
