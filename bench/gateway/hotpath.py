"""Profile tiergate's hot path under load: py-spy samples the pinned gateway while wrk drives it.

Starts the fake upstream and tiergate exactly as ``run.py`` does, loads it with wrk (c=16 by
default, non-streaming or ``--stream``), records with ``py-spy record --format raw`` and prints
the functions with the most samples, self (leaf) and inclusive, as a share of all samples and as
microseconds per request (samples x interval / requests served while sampling). A flame graph
(SVG) is written next to the raw stacks when ``--svg`` is given.

    .venv/bin/python bench/gateway/hotpath.py --duration 20 --concurrency 16
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import targets as tg

PY_SPY = tg.ROOT / ".venv" / "bin" / "py-spy"


def _py_spy(pid: int, rate: int, duration: float, output: Path, *extra: str) -> list[str]:
    """``py-spy record`` of one process for ``duration`` seconds into ``output``."""
    command = [str(PY_SPY), "record", "--pid", str(pid), "--rate", str(rate)]
    return [*command, "--duration", str(duration), "--output", str(output), *extra]


def _frame(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; keep function + short path.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _package(frame: str) -> str:
    path = frame.rpartition(" (")[2].rstrip(")")
    if path.startswith("tiergate/"):
        return "/".join(path.split("/")[:2])
    return path.split("/")[0] if "/" in path else path


def summarise(raw: Path, requests: int, rate: int, top: int) -> str:
    self_counts: collections.Counter[str] = collections.Counter()
    incl_counts: collections.Counter[str] = collections.Counter()
    roots: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()  # event loop, by leaf package
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        on_loop = frames[0].startswith("<module>")
        roots["event loop" if on_loop else "other threads"] += count
        if on_loop:
            packages[_package(frames[-1])] += count
        self_counts[frames[-1]] += count
        for name in set(frames):
            incl_counts[name] += count
    us_per_sample = 1e6 / rate
    lines = [
        f"{total} samples at {rate} Hz over {requests} requests "
        f"({total * us_per_sample / max(requests, 1):.0f} us of gateway CPU per request)"
    ]
    lines += [
        f"  {name}: {count * us_per_sample / max(requests, 1):.0f} us/request"
        for name, count in roots.most_common()
    ]
    loop_total = max(roots["event loop"], 1)
    lines.append("\nevent-loop time by the package of the running (leaf) function:")
    lines += [
        f"  {100 * count / loop_total:5.1f}%  {count * us_per_sample / requests:8.1f} us  {name}"
        for name, count in packages.most_common(12)
    ]
    for title, counter in (("self", self_counts), ("inclusive", incl_counts)):
        lines.append(f"\ntop {top} by {title} time:  share  us/request  function")
        for name, count in counter.most_common(top):
            lines.append(
                f"  {100 * count / total:5.1f}%  {count * us_per_sample / requests:8.1f}  {name}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", default=None, help="directory for raw stacks / svg")
    parser.add_argument("--svg", action="store_true")
    parser.add_argument(
        "--target",
        choices=["tiergate", "passthrough"],
        default="tiergate",
        help="profile the bare pass-through instead, to compare the shares of shared code",
    )
    args = parser.parse_args()

    os.sched_setaffinity(0, {1})
    out = Path(args.out or tempfile.mkdtemp(prefix="tiergate-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    upstream = tg.upstream(9100, "1")
    if args.target == "passthrough":
        gateway = tg.passthrough(9200, "http://127.0.0.1:9100", "aiohttp")
        gateway.cores = "0"
    else:
        gateway = tg.tiergate("tiergate-profile", 9300, "http://127.0.0.1:9100", 1, "0")
    try:
        upstream.start(out)
        upstream.wait_healthy(20)
        gateway.start(out)
        gateway.wait_healthy()
        assert gateway.proc is not None
        loadgen.run_wrk(
            gateway.url, gateway.body(args.stream), gateway.all_headers(), args.concurrency, 3, 1
        )  # warm-up
        raw = out / "tiergate.raw.txt"
        spy = subprocess.Popen(
            _py_spy(gateway.proc.pid, args.rate, args.duration, raw, "--format", "raw"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        result: list[loadgen.WrkResult] = []
        load = threading.Thread(
            target=lambda: result.append(
                loadgen.run_wrk(
                    gateway.url,
                    gateway.body(args.stream),
                    gateway.all_headers(),
                    args.concurrency,
                    args.duration,
                    1,
                )
            )
        )
        load.start()
        load.join()
        _, err = spy.communicate(timeout=60)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {err.decode()}")
        served = result[0].requests
        print(
            f"wrk c={args.concurrency} {'sse' if args.stream else 'json'}: "
            f"{result[0].rps:.0f} rps, p50 {result[0].p50_ms:.2f} ms (under py-spy)"
        )
        print(summarise(raw, served, args.rate, args.top))
        if args.svg:
            subprocess.run(
                _py_spy(gateway.proc.pid, args.rate, 5, out / "tiergate.svg", "--nonblocking"),
                check=False,
                capture_output=True,
            )
        print(f"\nraw stacks: {raw}")
    finally:
        gateway.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
