"""Ids and names a client sends that reach the store: checked before they get there.

PostgreSQL's text type cannot hold a NUL character (the statement fails: a 500), so an id with
one is refused at the door. Ids the gateway itself hands out (batches, files, keys) are plain
ASCII: an id that cannot be one of them is a 404 or 400 without a store round trip.
"""

from __future__ import annotations

import re

from tiergate.errors import InvalidRequest

__all__ = ["ID_PATTERN", "check_text", "is_id"]

ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


def is_id(value: str) -> bool:
    """Whether ``value`` could be an id the gateway made."""
    return ID_PATTERN.fullmatch(value) is not None


def check_text(value: str, where: str) -> str:
    """``value`` if the store can keep it (no NUL), else a 400 naming ``where``."""
    if "\x00" in value:
        raise InvalidRequest(f"{where}: must not contain a NUL character", param=where)
    return value
