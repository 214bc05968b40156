"""Control (bench only): the bare pass-through with tiergate's whole gateway built in its process.

``ab.py --loaded-passthrough`` starts a second pass-through with this directory on its
PYTHONPATH. It builds tiergate's app from the benchmark config (catalog, routes, providers,
store modules imported) and freezes it out of the collector, as ``tiergate serve`` does, then
serves plain pass-through traffic: the same heap and loaded code as tiergate, none of its
per-request work. If it cost as much more per request as tiergate does, the gap would be the
process's size (caches, collector); it does not (bench/results/history.md), so the gap is the
request path's own work.
"""

import gc
import os
from pathlib import Path

from tiergate.config import load_settings
from tiergate.gateway import log_rows, pipeline  # noqa: F401  (imported by a request)
from tiergate.server import app, chat  # noqa: F401  (imported by a request)
from tiergate.server.factory import create_app
from tiergate.store import sqlite_store  # noqa: F401

os.environ.setdefault("BENCH_UPSTREAM", "http://127.0.0.1:9100")
_CONFIG = Path(__file__).resolve().parents[2] / "tiergate.yaml"
_APP = create_app(load_settings(str(_CONFIG)))
gc.freeze()
