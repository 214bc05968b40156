"""How long-running evaluation steps report progress: ``progress(what, done, total)``.

The library only counts; the command line draws it (a rich bar with ETA on stderr), and
library callers that pass nothing see nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def quiet(what: str, done: int, total: int) -> None:
    """The default: report nothing."""
    return None
