"""Take the next item of an async iterator now if it is ready, without waiting.

Why: an upstream usually delivers several SSE events in one network read, and the executor
hands them on one by one. Sending each as its own ASGI message costs a write (and a system
call) per event, the bulk of a streamed answer's gateway time. ``next_ready`` lets the stream
writer gather every event that is already decoded and send them in one write, then wait for the
network only when nothing is left.

How: ``__anext__()`` is started by hand. If it completes without suspending, the item was ready.
If it suspends (it awaits a future: more bytes from the upstream), ``Pending`` carries the
suspended coroutine and awaiting it continues exactly where it stopped, in the caller's task:
results and exceptions (cancellation included) are passed through as ``yield from`` would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Pending", "next_ready"]


class Pending(Generic[T]):
    """An ``__anext__()`` that suspended; await it (once) to get the item."""

    __slots__ = ("_step", "_yielded")

    def __init__(self, step: Generator[Any, Any, T], yielded: Any) -> None:
        self._step = step
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, T]:
        step, yielded = self._step, self._yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                step.close()
                raise
            except BaseException as exc:  # thrown in (cancellation too): hand it on
                try:
                    yielded = step.throw(exc)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
            else:
                try:
                    yielded = step.send(sent)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]

    def abandon(self, error: BaseException) -> None:
        """Unwind the suspended step with ``error`` (its ``finally`` blocks run) when it will
        never be awaited: the caller failed, or was cancelled, while this step was pending."""
        try:
            self._step.throw(error)
        except BaseException:  # the step ended (with this error or another): done
            return
        self._step.close()  # it awaited again while unwinding: stop it there


def next_ready(iterator: AsyncIterator[T]) -> tuple[bool, T | Pending[T]]:
    """``(True, item)`` when the next item was ready; ``(False, pending)`` when it was not.

    ``StopAsyncIteration`` (and any error the iterator raises before suspending) propagates
    from this call, as it would from ``await anext(iterator)``.
    """
    step = iterator.__anext__().__await__()
    try:
        yielded = step.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, Pending(step, yielded)
