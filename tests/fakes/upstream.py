"""``FakeUpstream``: one fake provider API served by a real uvicorn on 127.0.0.1.

Why a real server: the gateway's own HTTP client, connection pool, timeouts and SSE parsing are
part of what is tested; a mock transport would skip them. The server runs in a background
thread with its own event loop, so it serves sync and async clients alike, and it can be
stopped ("dead": connections refused) and restarted on the same port for circuit-breaker
probes.

Thread safety: the script and the request log are touched from the server thread and the test
thread, always under ``_lock``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Literal

import uvicorn

from tests.fakes import anthropic_app, openai_app
from tests.fakes.http import Drop, Receive, RecordedRequest, Scope, Send, read_request
from tests.fakes.script import Fail, Reply, Step, ToolCall

Dialect = Literal["anthropic", "openai"]
DEFAULT_MODELS = {
    "anthropic": ("claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"),
    "openai": ("gpt-4o-mini", "gpt-4o"),
}


class _HideScriptedDrops(logging.Filter):
    """uvicorn logs every app exception; a scripted ``Drop`` is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], Drop))


logging.getLogger("uvicorn.error").addFilter(_HideScriptedDrops())


class FakeUpstream:
    """A scriptable fake of one provider's HTTP API (an ASGI app plus its server)."""

    def __init__(
        self,
        dialect: Dialect,
        *,
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        port: int = 0,
    ) -> None:
        self.dialect = dialect
        self._handler = anthropic_app.handle if dialect == "anthropic" else openai_app.handle
        self._initial = (api_key, tuple(models or DEFAULT_MODELS[dialect]))
        # None accepts any non-empty key; a string must match exactly.
        self.api_key: str | None = api_key
        self.models: list[str] = list(self._initial[1])
        # What to do when the script is empty; None means echo (``Reply()``).
        self.default: Step | None = None
        # When the script is empty: the step for this request body, chosen by the test (a
        # fake model whose answer depends on the prompt, e.g. right on some kinds, wrong on
        # others). Runs on the server thread.
        self.responder: Callable[[dict[str, Any]], Step] | None = None
        # Batch APIs (``anthropic_batches.py``, ``openai_batches.py``): batches and uploaded
        # files by id, and how many times a batch is retrieved unfinished before it ends.
        self.batches: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.deleted: list[str] = []  # batches (Anthropic) or files (OpenAI), in order
        self.batch_looks_before_end = 1
        self._script: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # --- scripting -----------------------------------------------------------------------
    def script(self, *steps: Step) -> FakeUpstream:
        """Queue steps; each generation request (not count_tokens / models) takes one."""
        with self._lock:
            self._script.extend(steps)
        return self

    def reply(self, text: str | None = None, **fields: Any) -> FakeUpstream:
        return self.script(Reply(text=text, **fields))

    def tool_call(
        self, name: str, arguments: dict[str, Any] | None = None, **fields: Any
    ) -> FakeUpstream:
        return self.script(Reply(tool_calls=(ToolCall(name, arguments or {}),), **fields))

    def fail(self, status: int, message: str = "scripted failure", **fields: Any) -> FakeUpstream:
        return self.script(Fail(status, message, **fields))

    def next_step(self, body: dict[str, Any] | None = None) -> Step:
        with self._lock:
            if self._script:
                return self._script.popleft()
            responder = self.responder
        if responder is not None and body is not None:
            return responder(body)
        return self.default or Reply()

    @property
    def pending(self) -> int:
        """Scripted steps not used yet."""
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        """Forget script, requests and per-test settings (keeps the server running)."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
        self.api_key, models = self._initial
        self.models = list(models)
        self.default = None
        self.responder = None
        self.batches.clear()
        self.files.clear()
        self.deleted.clear()
        self.batch_looks_before_end = 1

    # --- what the gateway sent -----------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise AssertionError(f"the fake {self.dialect} upstream received no request")
            return self._requests[-1]

    # --- ASGI ----------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        with self._lock:
            self._requests.append(request)
        await self._handler(self, request, send)

    # --- server lifecycle ----------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """Base URL without ``/v1`` (the Anthropic SDK's convention; OpenAI adds ``/v1``)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def alive(self) -> bool:
        return self._server is not None

    def start(self) -> FakeUpstream:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=5,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"fake-{self.dialect}-{self._port}",
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                sock.close()
                raise RuntimeError(f"fake {self.dialect} upstream did not start")
            time.sleep(0.005)
        self._server, self._thread, self._socket = server, thread, sock
        return self

    def stop(self) -> None:
        """Stop serving: new connections are refused, open ones are closed."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server, self._thread, self._socket = None, None, None

    def restart(self) -> FakeUpstream:
        """Stop, then serve again on the same port."""
        self.stop()
        return self.start()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
