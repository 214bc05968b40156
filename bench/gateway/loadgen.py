"""Load generation: wrk for throughput and latency, a first-byte client for streaming TTFB.

wrk measures whole responses, so a streaming run through wrk says nothing about time to first
byte; ``measure_ttfb`` sends N streaming requests one at a time on one kept-alive connection
and records when the response head arrives and when the first body chunk (the first SSE event)
does, plus when the stream ends. It runs in the runner's own process, which the runner pins to
the load core.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx responses + socket errors


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unrecognised wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read rps, the 50th/99th latency percentiles and error counts from ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return WrkResult(rps, p50, p99, requests, errors)


def _lua(body: str, headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
    lines += [f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def run_wrk(
    url: str,
    body: str,
    headers: dict[str, str],
    connections: int,
    duration: float,
    core: int | None,
) -> WrkResult:
    """One wrk run (one thread, ``connections`` keep-alive connections), pinned to ``core``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(body, headers))
    try:
        seconds = max(1, round(duration))  # wrk takes whole seconds only
        cmd = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            script.name,
            url,
        ]
        if core is not None:
            cmd = ["taskset", "-c", str(core), *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
        return parse_wrk(done.stdout)
    finally:
        Path(script.name).unlink(missing_ok=True)


@dataclass(frozen=True)
class TtfbResult:
    ttfb_p50_ms: float  # request sent -> first body chunk (first SSE event)
    ttfb_p99_ms: float
    total_p50_ms: float  # request sent -> end of stream
    errors: int


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _one_stream(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[float, float] | None:
    start = time.perf_counter()
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    lowered = head.lower()
    first: float | None = None
    if b"transfer-encoding: chunked" in lowered:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
            if first is None:
                first = time.perf_counter()
    else:
        found = re.search(rb"content-length:\s*(\d+)", lowered)
        length = int(found.group(1)) if found else 0
        if length:
            chunk = await reader.read(length)
            first = time.perf_counter()
            length -= len(chunk)
            if length:
                await reader.readexactly(length)
    end = time.perf_counter()
    if status != 200 or first is None:
        return None
    return (first - start) * 1000, (end - start) * 1000


async def _ttfb(
    host: str, port: int, path: str, body: str, headers: dict[str, str], requests: int
) -> TtfbResult:
    head = f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\n"
    head += f"content-length: {len(body.encode())}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = (head + "\r\n").encode() + body.encode()
    reader, writer = await asyncio.open_connection(host, port)
    firsts: list[float] = []
    totals: list[float] = []
    errors = 0
    try:
        for _ in range(requests):
            result = await asyncio.wait_for(_one_stream(reader, writer, raw), 30)
            if result is None:
                errors += 1
                continue
            firsts.append(result[0])
            totals.append(result[1])
    finally:
        writer.close()
    if not firsts:
        return TtfbResult(float("nan"), float("nan"), float("nan"), errors)
    return TtfbResult(
        statistics.median(firsts), _percentile(firsts, 0.99), statistics.median(totals), errors
    )


def measure_ttfb(url: str, body: str, headers: dict[str, str], requests: int) -> TtfbResult:
    """Sequential streaming requests on one connection; first-body-byte and total latencies."""
    match = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", url)
    if not match:
        raise ValueError(f"unsupported url {url!r}")
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    return asyncio.run(_ttfb(host, port, path, body, headers, requests))
