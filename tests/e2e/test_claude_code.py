"""Claude Code (npm ``@anthropic-ai/claude-code``, non-interactive ``claude -p``) through tiergate,
against loopback fakes of both upstream formats.

Claude Code runs as a user would run it: its own default model (no ``--model``), then
``--model auto`` (a tiergate route); a throwaway ``HOME``; ``ANTHROPIC_BASE_URL`` at tiergate
and a dummy key; every telemetry, update and other non-essential call turned off. The fake
upstream plays the model and scripts its tool calls: ``Write`` (a file must appear on disk) and
``Read`` of a PDF (the PDF's bytes must reach the upstream: an Anthropic ``document`` block, or
an OpenAI ``file`` part).

Nothing may leave loopback. Where ``unshare -n`` works, Claude Code runs in a network namespace
that has only ``lo``, reaching tiergate through a Unix-socket relay (``tests.support.relay``):
any other connection fails. Either way, the fake must have seen every model call.

The npm package's native binary comes from its platform package on npm (``npm ci`` in
``tests/e2e/claude_code``, run by ``scripts/test.sh``); without it these tests are skipped.
"""

from __future__ import annotations

import base64
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.script import Reply, ToolCall
from tests.fakes.upstream import FakeUpstream
from tests.support.pdf import one_page_pdf
from tests.support.relay import UnixToTcp

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(__file__).parent / "claude_code" / "node_modules" / "@anthropic-ai"
# Claude Code's default model in the pinned release (tests/e2e/claude_code/package.json).
DEFAULT_MODEL = "claude-opus-5-5"
NETNS_PORT = 18765  # tiergate's port as seen from inside the namespace (the relay's)
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "DISABLE_COST_WARNINGS": "1",
    "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
    "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
}


def _binary() -> Path | None:
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    if sys.platform != "linux" or machine is None:
        return None
    native = PACKAGE_DIR / f"claude-code-linux-{machine}" / "claude"
    return native if native.is_file() and os.access(native, os.X_OK) else None


CLAUDE = _binary()
pytestmark = pytest.mark.skipif(
    CLAUDE is None, reason="Claude Code not installed: npm ci --prefix tests/e2e/claude_code"
)


def _netns_works() -> bool:
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


NETNS = _netns_works()


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    work: Path


@pytest.fixture
def claude(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """``claude(gateway_url, prompt, *flags)`` in a fresh working directory and HOME."""
    relays: list[UnixToTcp] = []

    def run(gateway: str, prompt: str, *flags: str, work: Path | None = None) -> Run:
        assert CLAUDE is not None
        work = work or tmp_path / "work"
        work.mkdir(exist_ok=True)
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "ANTHROPIC_BASE_URL": gateway,
            "ANTHROPIC_API_KEY": "sk-ant-dummy-client-key",
            "PYTHONPATH": str(ROOT),
            **QUIET,
        }
        command = [str(CLAUDE), "-p", prompt, "--allowedTools", "Write,Read", *flags]
        if NETNS:
            socket_path = str(tmp_path / f"gateway{len(relays)}.sock")
            relays.append(UnixToTcp(socket_path, int(gateway.rsplit(":", 1)[1])))
            env["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{NETNS_PORT}"
            netns = ["-m", "tests.support.relay", "netns", socket_path, str(NETNS_PORT)]
            command = ["unshare", "-n", sys.executable, *netns, "--", *command]
        done = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=180
        )
        return Run(done.returncode, done.stdout, done.stderr, work)

    yield run
    for relay in relays:
        relay.close()


def _settings(upstream: FakeUpstream) -> dict[str, Any]:
    """Every ``claude-*`` id to the fake (a family deployment), and a route ``auto``."""
    if upstream.dialect == "anthropic":
        family = {"provider": "anthropic", "base_url": upstream.url}
        routed = {"name": "haiku", "model": "claude-haiku-4-5", **family}
    else:
        family = {
            "provider": "openai",
            "base_url": upstream.url + "/v1",
            "upstream_model": "gpt-4o",  # Claude Code on another vendor's model
        }
        routed = {"name": "gpt", "model": "gpt-5.4", **family}
        routed.pop("upstream_model")
    return {
        "deployments": [
            {"name": "family", "model": "claude-*", "api_key": "sk-upstream", **family},
            {**routed, "api_key": "sk-upstream"},
        ],
        "routes": {"auto": {"default": routed["model"]}},
        "retry": {"max_retries": 0},
    }


@pytest.fixture(params=["anthropic", "openai"])
def upstream(
    request: pytest.FixtureRequest,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> FakeUpstream:
    return anthropic_upstream if request.param == "anthropic" else openai_upstream


@pytest.fixture
def gateway_for(make_gateway: Callable[..., str]) -> Callable[[FakeUpstream], str]:
    def make(upstream: FakeUpstream) -> str:
        return make_gateway(**_settings(upstream))

    return make


def _generation_calls(upstream: FakeUpstream) -> list[dict[str, Any]]:
    path = "/v1/messages" if upstream.dialect == "anthropic" else "/v1/chat/completions"
    calls = [r for r in upstream.requests if r.path.split("?")[0] == path]
    return [c.json for c in calls]


def _logged(data_dir: Path, count: int) -> list[tuple[Any, ...]]:
    """The gateway's request-log rows (requested model, model, status, cost), once ``count``
    have landed (the log writes in batches)."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(data_dir / "tiergate.db") as db:
            rows = db.execute(
                "SELECT requested_model, model, status, cost_pusd FROM requests ORDER BY ts_ms"
            ).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _explain(run: Run, upstream: FakeUpstream) -> str:
    seen = [(r.method, r.path) for r in upstream.requests]
    return (
        f"exit {run.returncode}\nstdout: {run.stdout[-2000:]}\n"
        f"stderr: {run.stderr[-3000:]}\nupstream saw: {seen}"
    )


MODES = {"default": (), "route": ("--model", "auto")}


@pytest.mark.parametrize("mode", list(MODES))
def test_claude_code_writes_a_file(
    mode: str,
    upstream: FakeUpstream,
    gateway_for: Callable[[FakeUpstream], str],
    claude: Callable[..., Run],
    tmp_path: Path,
) -> None:
    target = tmp_path / "work" / "hello.txt"
    upstream.script(
        Reply(
            tool_calls=(
                ToolCall("Write", {"file_path": str(target), "content": "hi from tiergate\n"}),
            )
        ),
        Reply(text="I wrote hello.txt for you."),
    )
    run = claude(gateway_for(upstream), "Write 'hi from tiergate' to hello.txt", *MODES[mode])
    assert run.returncode == 0, _explain(run, upstream)
    assert target.read_text() == "hi from tiergate\n"
    assert "I wrote hello.txt for you." in run.stdout
    calls = _generation_calls(upstream)
    assert len(calls) == 2 and upstream.pending == 0, _explain(run, upstream)
    first, second = calls
    if upstream.dialect == "anthropic":
        expected = DEFAULT_MODEL if mode == "default" else "claude-haiku-4-5-20251001"
        assert first["model"] == expected
        results = [
            b
            for m in second["messages"]
            if isinstance(m["content"], list)
            for b in m["content"]
            if b.get("type") == "tool_result"
        ]
    else:
        assert first["model"] == ("gpt-4o" if mode == "default" else "gpt-5.4")
        results = [m for m in second["messages"] if m["role"] == "tool"]
    assert len(results) == 1, _explain(run, upstream)
    # Each call logged and priced: claude-opus-5-5 is in the catalog, the route's models too.
    rows = _logged(tmp_path, 2)
    requested = DEFAULT_MODEL if mode == "default" else "auto"
    assert [(r[0], r[2]) for r in rows] == [(requested, 200)] * 2
    assert all(r[3] is not None and r[3] > 0 for r in rows), rows
    if mode == "default" and upstream.dialect == "anthropic":
        # What broke Claude Code before: a system message inside the conversation, passed on.
        assert any(m["role"] == "system" for m in first["messages"])
    if upstream.dialect == "anthropic":
        # anthropic-beta / anthropic-version: the client's, to the Anthropic upstream only.
        sent = upstream.requests[-1]
        assert sent.header("anthropic-beta") and sent.header("anthropic-version")
    else:
        assert all(r.header("anthropic-beta") is None for r in upstream.requests)


@pytest.mark.parametrize("mode", list(MODES))
def test_claude_code_reads_a_pdf(
    mode: str,
    upstream: FakeUpstream,
    gateway_for: Callable[[FakeUpstream], str],
    claude: Callable[..., Run],
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    pdf = one_page_pdf("The secret word is marmalade.")
    (work / "report.pdf").write_bytes(pdf)
    upstream.script(
        Reply(tool_calls=(ToolCall("Read", {"file_path": str(work / "report.pdf")}),)),
        Reply(text="The secret word in report.pdf is marmalade."),
    )
    run = claude(gateway_for(upstream), "What is the secret word in report.pdf?", *MODES[mode])
    assert run.returncode == 0, _explain(run, upstream)
    assert "marmalade" in run.stdout
    calls = _generation_calls(upstream)
    assert len(calls) == 2 and upstream.pending == 0, _explain(run, upstream)
    encoded = base64.b64encode(pdf).decode()
    second = calls[1]
    if upstream.dialect == "anthropic":
        documents = [
            d
            for m in second["messages"]
            if isinstance(m["content"], list)
            for b in m["content"]
            if b.get("type") == "tool_result"
            for d in b.get("content") or []
            if isinstance(d, dict) and d.get("type") == "document"
        ]
        assert [d["source"]["data"] for d in documents] == [encoded], _explain(run, upstream)
    else:
        files = [
            p["file"]
            for m in second["messages"]
            if isinstance(m.get("content"), list)
            for p in m["content"]
            if p.get("type") == "file"
        ]
        assert [f["file_data"] for f in files] == [f"data:application/pdf;base64,{encoded}"], (
            _explain(run, upstream)
        )


@pytest.mark.skipif(not NETNS, reason="unshare -n is not available here")
def test_inside_the_namespace_only_the_gateway_is_reachable(gateway: str, tmp_path: Path) -> None:
    """What makes "no request leaves loopback" a fact rather than a hope: from where Claude
    Code runs, an outside address is unreachable and the relayed gateway answers."""
    probe = (
        "import socket, urllib.request\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 443), timeout=3)\n"
        "    print('outside: reached')\n"
        "except OSError as exc:\n"
        "    print('outside: unreachable', exc.errno)\n"
        f"url = 'http://127.0.0.1:{NETNS_PORT}/health'\n"
        "print('gateway:', urllib.request.urlopen(url, timeout=10).status)\n"
    )
    socket_path = str(tmp_path / "probe.sock")
    relay = UnixToTcp(socket_path, int(gateway.rsplit(":", 1)[1]))
    try:
        netns = ["-m", "tests.support.relay", "netns", socket_path, str(NETNS_PORT)]
        command = ["unshare", "-n", sys.executable, *netns, "--", sys.executable, "-c", probe]
        done = subprocess.run(
            command,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        relay.close()
    assert done.returncode == 0, done.stderr
    assert "outside: unreachable" in done.stdout and "gateway: 200" in done.stdout


def test_claude_code_on_an_agent_loop_route(
    anthropic_upstream: FakeUpstream,
    make_gateway: Callable[..., str],
    claude: Callable[..., Run],
    tmp_path: Path,
) -> None:
    """A multi-step file task on ``type: agent_loop``: the planning turn on the strong model,
    the tool-loop turns on the cheap one, and the cheap model's invalid tool call (``Write``
    without ``content``) escalated to the strong model within the same turn."""
    strong, cheap = "claude-opus-4-7", "claude-haiku-4-5"
    deployment = {"provider": "anthropic", "base_url": anthropic_upstream.url, "api_key": "k"}
    gateway = make_gateway(
        deployments=[
            {"name": "opus", "model": strong, **deployment},
            {"name": "haiku", "model": cheap, **deployment},
        ],
        routes={"agent": {"type": "agent_loop", "agent_loop": {"strong": strong, "cheap": cheap}}},
    )
    work = tmp_path / "work"
    notes, summary = work / "notes.txt", work / "summary.txt"
    anthropic_upstream.script(
        Reply(tool_calls=(ToolCall("Write", {"file_path": str(notes), "content": "a, b\n"}),)),
        Reply(tool_calls=(ToolCall("Read", {"file_path": str(notes)}),)),
        Reply(tool_calls=(ToolCall("Write", {"file_path": str(summary)}),)),  # no content
        Reply(tool_calls=(ToolCall("Write", {"file_path": str(summary), "content": "2\n"}),)),
        Reply(text="Wrote notes.txt and summary.txt."),
    )
    run = claude(
        gateway, "Write notes.txt, then count its items into summary.txt", "--model", "agent"
    )
    assert run.returncode == 0, _explain(run, anthropic_upstream)
    assert notes.read_text() == "a, b\n" and summary.read_text() == "2\n"
    assert "Wrote notes.txt and summary.txt." in run.stdout
    models = [c["model"] for c in _generation_calls(anthropic_upstream)]
    opus, haiku = "claude-opus-4-7", "claude-haiku-4-5-20251001"
    assert models == [opus, haiku, haiku, opus, haiku], _explain(run, anthropic_upstream)
    rows = _agent_rows(tmp_path, 4)
    assert [r[0] for r in rows] == [strong, cheap, strong, cheap]
    reasons = [r[1] for r in rows]
    assert reasons[0] == "agent loop: planning turn (new user instruction)"
    assert all(r.startswith("agent loop: tool-loop turn") for r in reasons[1:]), reasons
    assert [r[2] for r in rows] == [1, 1, 2, 1]  # the escalated turn: two attempts
    trace_ids = {r[3] for r in rows}
    assert len(trace_ids) == 1 and next(iter(trace_ids)).startswith("conv_")
    with sqlite3.connect(tmp_path / "tiergate.db") as db:
        refused = db.execute(
            "SELECT model, outcome, error FROM attempts WHERE outcome = 'validator_failed'"
        ).fetchall()
    assert [(m, o) for m, o, _ in refused] == [(cheap, "validator_failed")]
    assert "tool_args: Write arguments invalid" in refused[0][2]
    # The conversation's total against all turns on the strong model.
    cost = sum(r[4] for r in rows)
    all_strong = sum(r[5] for r in rows)
    assert 0 < cost < all_strong


def _agent_rows(data_dir: Path, count: int) -> list[tuple[Any, ...]]:
    """(model, reason, attempts, trace_id, cost_pusd, baseline_pusd) per logged turn."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(data_dir / "tiergate.db") as db:
            rows = db.execute(
                "SELECT model, reason, attempts, trace_id, cost_pusd, baseline_pusd "
                "FROM requests ORDER BY ts_ms"
            ).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)
