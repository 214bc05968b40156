"""Ablation (bench only): tiergate with its request log switched off.

``ab.py --variant no-log`` puts this directory on the gateway's PYTHONPATH, so Python imports
it at start-up. Each request's record is still built and counted in the metrics; it is never
queued, so no row tuples are made and nothing is written to SQLite. The difference to the full
pipeline is what the request log costs per request, end to end.
"""

from tiergate.store.request_log import RequestLog

RequestLog.submit = lambda self, record, attempts=(): None  # type: ignore[method-assign]
