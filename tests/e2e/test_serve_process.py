"""``tiergate serve`` (and uvicorn) as operators run them, in their own processes: open mode
never on a public socket, workers that end with their parent, slow clients cut off, and one
config for every command (issue 19, items 2, 9 and 10)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner

from tests.fakes.upstream import FakeUpstream

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERGATE_")}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    return {**env, "TIERGATE_DATA_DIR": str(tmp_path), **extra}


def write_config(tmp_path: Path, upstream: FakeUpstream, extra: str = "") -> Path:
    config = tmp_path / "tiergate.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'store'}\n"
        "deployments:\n"
        f"  - {{name: o, model: gpt-5.4, provider: openai, base_url: '{upstream.url}/v1', "
        "api_key: k}\n" + extra
    )
    return config


@contextmanager
def running(args: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[str]]:
    """A server process, once it answers ``/health`` on loopback; stopped afterwards."""
    server = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if httpx.get(f"http://{LOOPBACK}:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {server.communicate()[1]}")
            time.sleep(0.1)
        yield server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        with contextlib.suppress(ProcessLookupError):  # anything it left behind
            os.killpg(server.pid, signal.SIGKILL)


def refused(args: list[str], env: dict[str, str], wait: float = 40) -> str:
    """``args`` must end by themselves, refusing to serve; returns what they printed. Run in
    a session of their own, so that a failure kills every process they started."""
    server = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = server.communicate(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        output, _ = server.communicate()
        raise AssertionError(f"still serving after {wait} s: {output}") from None
    assert server.returncode != 0 or "start-up refused" in output, output
    return output


TIERGATE = [sys.executable, "-m", "tiergate.cli"]
UVICORN = [sys.executable, "-m", "uvicorn", "--factory", "tiergate.server.factory:create_app"]


# --- item 2: open mode only on loopback -------------------------------------------------------


def test_serve_with_workers_refuses_open_mode_on_a_public_address(tmp_path: Path) -> None:
    port = free_port()
    output = refused(
        [*TIERGATE, "serve", "--host", "0.0.0.0", "--port", str(port), "--workers", "2"],
        clean_env(tmp_path),
    )
    assert "no virtual keys exist" in output and "allow_open_remote" in output
    assert "serving on" not in output and "Traceback" not in output


@pytest.mark.parametrize("workers", [1, 2])
def test_uvicorn_factory_refuses_open_mode_on_a_public_address(
    tmp_path: Path, workers: int
) -> None:
    """uvicorn builds the app from the environment, which does not know ``--host``: the
    check reads the sockets the process listens on."""
    port = free_port()
    output = refused(
        [*UVICORN, "--host", "0.0.0.0", "--port", str(port), "--workers", str(workers)],
        clean_env(tmp_path),
    )
    assert "no virtual keys exist" in output


def test_open_mode_on_a_public_address_when_the_config_allows_it(tmp_path: Path) -> None:
    port = free_port()
    args = [*TIERGATE, "serve", "--host", "0.0.0.0", "--port", str(port), "--allow-open-remote"]
    with running(args, clean_env(tmp_path), port):
        assert httpx.get(f"http://{LOOPBACK}:{port}/metrics").status_code == 200


def test_a_connection_on_a_public_address_is_refused_while_open(tmp_path: Path) -> None:
    """Every connection that reached the gateway on a non-loopback address is refused while
    it runs open (here the server started on loopback, then a socket on another address is
    handed to it, as a supervisor with its own sockets would)."""
    from tiergate.gateway.auth import Authenticator, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    assert not is_loopback("::") and not is_loopback("example.com")
    import asyncio

    from tiergate.errors import PermissionDenied

    auth = Authenticator(None, None)
    assert asyncio.run(auth.authenticate({}, ("127.0.0.1", 8000))).tenant == "default"
    with pytest.raises(PermissionDenied, match="only on loopback"):
        asyncio.run(auth.authenticate({}, ("10.1.2.3", 8000)))
    allowed = Authenticator(None, None, allow_open_remote=True)
    assert asyncio.run(allowed.authenticate({}, ("10.1.2.3", 8000))).tenant == "default"


# --- item 9: workers die with their parent; slow clients are cut off ---------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_master_ends_its_workers(tmp_path: Path) -> None:
    port = free_port()
    args = [*TIERGATE, "serve", "--port", str(port), "--workers", "2"]
    with running(args, clean_env(tmp_path), port) as server:
        deadline = time.monotonic() + 20
        while len(workers := [p for p in _children(server.pid) if _alive(p)]) < 3:
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.2)  # uvicorn's resource tracker is a child too
        server.kill()
        server.wait()
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in workers):
            assert time.monotonic() < deadline, "workers outlived their master"
            time.sleep(0.2)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{LOOPBACK}:{port}/health", timeout=2)


def test_a_slow_client_is_disconnected(tmp_path: Path, openai_upstream: FakeUpstream) -> None:
    port = free_port()
    config = write_config(
        tmp_path, openai_upstream, "limits: {header_timeout_seconds: 1, body_timeout_seconds: 1}\n"
    )
    args = [*TIERGATE, "serve", "--config", str(config), "--port", str(port)]
    with running(args, clean_env(tmp_path), port):

        def held_for(payload: bytes, drip: bytes) -> float:
            """Seconds until the server closes a connection that sent ``payload`` and then
            one ``drip`` byte every 0.3 s (slowloris)."""
            started = time.monotonic()
            with socket.create_connection((LOOPBACK, port)) as conn:
                conn.sendall(payload)
                while time.monotonic() - started < 15:
                    try:
                        conn.sendall(drip)
                        conn.settimeout(0.3)
                        if conn.recv(1024) == b"":
                            break
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    else:  # an answer (a 4xx) is fine too, as long as it ends
                        pass
            return time.monotonic() - started

        assert held_for(b"", b"") < 4  # connected, sent nothing
        assert held_for(b"GET /health HTTP/1.1\r\n", b"X") < 4  # headers never end
        # On a kept-alive connection too: one request answered, the next one's headers stall.
        kept_alive = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\nGET /health HTTP/1.1\r\n"
        assert held_for(kept_alive, b"X") < 4
        body = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n"
        assert held_for(body, b"") < 4  # body stalls
        # A request that keeps to the bounds is answered.
        client = openai.OpenAI(base_url=f"http://{LOOPBACK}:{port}/v1", api_key="x")
        reply = client.chat.completions.create(
            model="gpt-5.4", messages=[{"role": "user", "content": "x"}]
        )
        assert reply.choices[0].message.content


# --- item 10: one config for every command ------------------------------------------------------


def test_keys_and_report_use_the_store_of_serve_config(
    tmp_path: Path, openai_upstream: FakeUpstream
) -> None:
    from tiergate.cli.keys import keys
    from tiergate.cli.report import report

    port = free_port()
    config = write_config(tmp_path, openai_upstream)
    env = clean_env(tmp_path / "elsewhere")  # the environment names another store
    args = [*TIERGATE, "serve", "--config", str(config), "--port", str(port)]
    with running(args, env, port):
        url = f"http://{LOOPBACK}:{port}/v1"
        chat = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "x"}]}
        assert httpx.post(url + "/chat/completions", json=chat).status_code == 200  # open
        runner = CliRunner()
        made = runner.invoke(
            keys,
            ["create", "--config", str(config), "--tenant", "acme", "--budget-usd", "100"],
            env={"TIERGATE_DATA_DIR": env["TIERGATE_DATA_DIR"], "TIERGATE_CONFIG": ""},
        )
        assert made.exit_code == 0, made.output
        secret = made.output.splitlines()[1]
        # The key landed in the gateway's store: the gateway is closed now.
        assert httpx.post(url + "/chat/completions", json=chat).status_code == 401
        answered = httpx.post(
            url + "/chat/completions", json=chat, headers={"authorization": f"Bearer {secret}"}
        )
        assert answered.status_code == 200
        listed = runner.invoke(
            keys,
            ["list", "--config", str(config)],
            env={"TIERGATE_DATA_DIR": env["TIERGATE_DATA_DIR"]},
        )
        assert "budget=$100/month" in listed.output and "E+" not in listed.output
        time.sleep(1)  # the request log's batch
        shown = runner.invoke(
            report,
            ["--config", str(config), "--json"],
            env={"TIERGATE_DATA_DIR": env["TIERGATE_DATA_DIR"]},
        )
        assert shown.exit_code == 0, shown.output
        assert '"requests":3' in shown.output.replace(" ", "")  # the 401 too
    # TIERGATE_CONFIG does the same as --config.
    listed = CliRunner().invoke(
        keys, ["list"], env={"TIERGATE_CONFIG": str(config), "TIERGATE_DATA_DIR": ""}
    )
    assert "tenant=acme" in listed.output


def test_serve_checks_the_config_before_saying_it_serves(
    tmp_path: Path, openai_upstream: FakeUpstream
) -> None:
    config = write_config(tmp_path, openai_upstream, "routes:\n  auto: {default: no-such-model}\n")
    for workers in ("1", "2"):
        done = subprocess.run(
            [
                *[*TIERGATE, "serve", "--config", str(config), "--port", str(free_port())],
                *["--workers", workers],
            ],
            env=clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert "no-such-model" in done.stderr and "serving on" not in done.stderr
