"""Batch jobs: many requests submitted at once, run in the background through the gateway's own
pipeline (routing, budgets, executor, request log), their results kept for the caller.

``jobs`` is the stored state (shared by replicas through the store), ``runner`` the loop that
works through it, ``files`` the uploaded input files; ``upstream_store`` and ``upstream_relay``
hand items to providers' own batch APIs and bring their answers back. The item states are
``wire/batch_states.py``'s. The HTTP endpoints are ``server/batch_anthropic.py`` and
``server/batch_openai.py``; one item through the request pipeline is ``gateway/batch_items.py``.
"""

from tiergate.batch.files import FileStore, StoredFile
from tiergate.batch.jobs import Item, ItemRow, Job, JobStore
from tiergate.batch.runner import Answered, BatchRunner, ItemResult, Relayed

__all__ = [
    "Answered",
    "BatchRunner",
    "FileStore",
    "Item",
    "ItemResult",
    "ItemRow",
    "Job",
    "JobStore",
    "Relayed",
    "StoredFile",
]
