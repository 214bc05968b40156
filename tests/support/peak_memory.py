"""The peak resident memory of another process, read from ``/proc`` (Linux only).

The memory tests run the gateway as a process of its own and read its peak from outside:
``tracemalloc`` in a process whose other threads allocate (uvicorn, the store's thread) can
crash the interpreter when it is stopped, and it misses what C extensions allocate.
"""

from __future__ import annotations

from pathlib import Path


def measurable() -> bool:
    """Whether this system exposes a process's peak memory (it does not outside Linux)."""
    return Path("/proc/self/status").exists()


def peak_kib(pid: int) -> int:
    """The process's peak resident set size (``VmHWM``) since it started, in KiB."""
    for entry in Path(f"/proc/{pid}/status").read_text().splitlines():
        if entry.startswith("VmHWM:"):
            return int(entry.split()[1])
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")
