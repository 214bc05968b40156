"""tiergate from Python: a small client for a running gateway, or one started in process.

Routes are chosen by model name, so any OpenAI or Anthropic SDK already reaches every route;
this client adds what those SDKs drop: the ``x-tiergate-*`` headers of an answer (its request
and trace ids, cost, the draft that won) and the trace read back with its total and its
all-on-the-strong-model counterfactual. ``serve`` runs a gateway inside this process (uvicorn on
a loopback port, in a background thread) for scripts and notebooks that have no gateway to
point at. Standard library HTTP only: importing ``tiergate`` pulls in nothing else.

    with tiergate.serve("tiergate.yaml") as gw:
        answer = gw.chat("research", "Compare A, B and C.")
        print(answer.text, answer.cost_usd, gw.trace(answer.trace_id)["baseline_cost_usd"])
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Answer", "Client", "GatewayHTTPError", "serve"]


class GatewayHTTPError(Exception):
    """The gateway answered with an error: its status and its OpenAI-shaped error body."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Answer:
    """One chat answer and what the gateway said about it."""

    text: str
    tool_calls: list[dict[str, Any]]
    request_id: str | None
    trace_id: str | None
    model: str | None  # the model that answered (the last call's, for a multi-call route)
    reason: str | None
    cost_usd: str | None
    draft_winner: int | None  # draft-then-review: which draft (1-based) won
    body: dict[str, Any] = field(repr=False)


class Client:
    def __init__(
        self, base_url: str = "http://127.0.0.1:8000", api_key: str = "", timeout: float = 300
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def chat(
        self,
        model: str,
        messages: str | list[dict[str, Any]],
        *,
        conversation: str | None = None,
        **params: Any,
    ) -> Answer:
        """``POST /v1/chat/completions`` on a model or route. ``messages`` may be one user
        prompt; ``conversation`` names an agent conversation (``x-tiergate-conversation``),
        else an agent-loop route derives it from the first user message."""
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        headers = {"x-tiergate-conversation": conversation} if conversation else {}
        body, answer_headers = self._send(
            "POST",
            "/v1/chat/completions",
            {"model": model, "messages": messages, **params},
            headers,
        )
        message = body["choices"][0]["message"]
        winner = answer_headers.get("x-tiergate-draft-winner")
        return Answer(
            text=message.get("content") or "",
            tool_calls=message.get("tool_calls") or [],
            request_id=answer_headers.get("x-tiergate-request-id"),
            trace_id=answer_headers.get("x-tiergate-trace-id"),
            model=answer_headers.get("x-tiergate-model"),
            reason=answer_headers.get("x-tiergate-reason"),
            cost_usd=answer_headers.get("x-tiergate-cost-usd"),
            draft_winner=int(winner) if winner else None,
            body=body,
        )

    def trace(self, trace_id: str) -> dict[str, Any]:
        """Every call logged under ``trace_id``, with ``cost_usd`` (their sum) and
        ``baseline_cost_usd`` (all of them on the route's strong model)."""
        body, _ = self._send("GET", f"/v1/tiergate/traces/{trace_id}", None, {})
        return body

    def _send(
        self, method: str, path: str, payload: Any, extra: Mapping[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        headers = {"content-type": "application/json", **extra}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer_headers = {k.lower(): v for k, v in response.headers.items()}
                return json.loads(response.read()), answer_headers
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            raise GatewayHTTPError(exc.code, body) from None


@contextmanager
def serve(
    config: str | Path | Mapping[str, Any] | None = None, *, api_key: str = ""
) -> Iterator[Client]:
    """A gateway in this process, on a free loopback port, for as long as the block runs;
    ``config`` is a config file or the same settings as a mapping."""
    import uvicorn

    from tiergate.config import load_settings
    from tiergate.server.factory import create_app

    if config is None or isinstance(config, str | Path):
        settings = load_settings(config)
    else:
        settings = load_settings(None, overrides=dict(config))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sock.close()
            raise RuntimeError("the in-process gateway did not start; see its log")
        time.sleep(0.01)
    try:
        yield Client(f"http://127.0.0.1:{port}", api_key)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
