"""Ablation (bench only): tiergate without its after-response bookkeeping.

``ab.py --variant no-record``: the ``Recorder`` that turns a finished request into a log row
and metrics does nothing, so neither the record, the metrics nor the log write happen. The
difference to ``no-log`` is building the record plus the metrics.
"""

from tiergate.gateway.log_rows import Recorder

Recorder.__call__ = lambda self, trace: None  # type: ignore[method-assign]
