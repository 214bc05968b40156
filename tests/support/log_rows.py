"""Reading what a test gateway wrote to its SQLite request log (under its data dir)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

REQUEST_COLUMNS = "status, error_class, input_tokens, output_tokens, cost_pusd, attempts"
ATTEMPT_COLUMNS = "n, tier, model, outcome, status, input_tokens, output_tokens, cost_pusd"


def logged(
    data_dir: Path, request_id: str, columns: str = REQUEST_COLUMNS, wait: float = 10.0
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The request's row (``columns``) and its attempt rows (``ATTEMPT_COLUMNS``, by ``n``),
    once the log's batch landed."""
    deadline = time.monotonic() + wait
    with sqlite3.connect(data_dir / "tiergate.db") as db:
        while True:
            row = db.execute(
                f"SELECT {columns} FROM requests WHERE id = ?", (request_id,)
            ).fetchone()
            if row is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        attempts = db.execute(
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE request_id = ? ORDER BY n",
            (request_id,),
        ).fetchall()
    assert row is not None, f"request {request_id} was never logged"
    return row, attempts
