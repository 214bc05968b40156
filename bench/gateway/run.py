"""Gateway overhead benchmark: tiergate beside LiteLLM, Portkey and a bare Python pass-through.

Every target sits in front of the same fake upstream (``upstream.py``) and is pinned to the
target core (``taskset -c 0``); the upstream, wrk and this runner share the load core (1). All
targets are started once and stay up; each round drives every target in turn, so a noisy
neighbour on this shared machine hits all of them alike, and each figure is the median over
rounds. Streaming runs use 20-chunk SSE responses; TTFB is measured separately (``loadgen``).

    .venv/bin/python bench/gateway/run.py                      # everything, 3 rounds of 10 s
    .venv/bin/python bench/gateway/run.py --targets tiergate,passthrough --concurrency 1,16 \
        --duration 5 --rounds 3 --no-stream                    # quick, while optimising
    .venv/bin/python bench/gateway/run.py --targets tiergate,tiergate-1m \
        --concurrency 1,16 --duration 10 --rounds 3            # empty vs 1M-row request log

Prints one table: rps, p50, p99, p50 added over calling the upstream directly, peak RSS of the
target's process tree, and tiergate's rps as a multiple of each row's; then issue 7's targets,
and issue 5's (``tiergate-1m`` within 5% of ``tiergate``) when both ran.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import targets as tg

ALL = [
    "direct",
    "passthrough",
    "passthrough-httpx",
    "passthrough-pyreqwest",
    "tiergate",
    "tiergate-1m",
    "tiergate-2w",
    "litellm",
    "portkey",
]


def build_targets(names: list[str], args: argparse.Namespace) -> list[tg.Target]:
    up = f"http://127.0.0.1:{args.upstream_port}"
    core = str(args.target_core)
    makers = {
        "direct": lambda: tg.direct(args.upstream_port),
        "passthrough": lambda: tg.passthrough(9200, up, args.passthrough_client),
        "passthrough-httpx": lambda: tg.passthrough(9201, up, "httpx", "passthrough-httpx"),
        "passthrough-pyreqwest": lambda: tg.passthrough(
            9202, up, "pyreqwest", "passthrough-pyreqwest"
        ),
        "tiergate": lambda: tg.tiergate("tiergate", 9300, up, 1, core),
        "tiergate-1m": lambda: tg.tiergate("tiergate-1m", 9320, up, 1, core, args.log_rows),
        "tiergate-2w": lambda: tg.tiergate(
            "tiergate-2w", 9310, up, 2, f"{args.target_core},{args.load_core}"
        ),
        "litellm": lambda: tg.litellm(9500, up),
        "portkey": lambda: tg.portkey(9400, up),
    }
    built = []
    for name in names:
        target = makers[name]()
        if name not in ("tiergate-2w", "direct"):
            target.cores = core
        built.append(target)
    return built


Row = dict[str, float]


def drive(target: tg.Target, stream: bool, conc: int, args: argparse.Namespace) -> Row:
    cpu_before = target.cpu_seconds()
    result = loadgen.run_wrk(
        target.url, target.body(stream), target.all_headers(), conc, args.duration, args.load_core
    )
    cpu_after = target.cpu_seconds()
    cpu_us = float("nan")
    if cpu_before is not None and cpu_after is not None and result.requests:
        cpu_us = (cpu_after - cpu_before) * 1e6 / result.requests
    return {
        "cpu_us": cpu_us,
        "rps": result.rps,
        "p50": result.p50_ms,
        "p99": result.p99_ms,
        "errors": result.errors,
        "requests": result.requests,
    }


def median_rows(rows: list[Row]) -> Row:
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def print_table(
    results: dict[str, dict[str, Row]],
    rss: dict[str, float | None],
    names: list[str],
    modes: list[str],
) -> list[str]:
    header = (
        "| target | run | rps | p50 ms | p99 ms | +p50 vs direct ms | peak RSS MB "
        "| tiergate rps / this | CPU us/request | errors |"
    )
    lines = [header, "|" + "---|" * 10]
    for mode in modes:
        for name in names:
            row = results.get(name, {}).get(mode)
            if row is None:
                continue
            base = results.get("direct", {}).get(mode)
            tgrow = results.get("tiergate", {}).get(mode)
            if mode.startswith("ttfb"):
                added = row["p50"] - base["p50"] if base else None
                lines.append(
                    f"| {name} | {mode} | - | {fmt(row['p50'], 3)} | "
                    f"{fmt(row['p99'], 3)} | {fmt(added, 3)} | {fmt(rss.get(name), 0)} "
                    f"| - | - | {int(row['errors'])} |"
                )
                continue
            added = row["p50"] - base["p50"] if base else None
            ratio = tgrow["rps"] / row["rps"] if tgrow and row["rps"] else None
            lines.append(
                f"| {name} | {mode} | {fmt(row['rps'], 0)} | {fmt(row['p50'], 3)} | "
                f"{fmt(row['p99'], 3)} | {fmt(added, 3)} | {fmt(rss.get(name), 0)} | "
                f"{fmt(ratio, 2)}x | {fmt(row.get('cpu_us'), 0)} | {int(row['errors'])} |"
            )
    print("\n".join(lines))
    return lines


def check_targets(results: dict[str, dict[str, Row]], rss: dict[str, float | None]) -> list[str]:
    """Issue 7's 'done when' figures, where the run measured them."""
    out: list[str] = []
    if "tiergate" in results:
        out.append("tiergate:")
        out += ["  " + line for line in _checks_for("tiergate", results, rss)]
    out += check_log_size(results)
    print("\n".join(out))
    return out


def _checks_for(
    name: str, results: dict[str, dict[str, Row]], rss: dict[str, float | None]
) -> list[str]:
    out: list[str] = []
    t, d = results.get(name, {}), results.get("direct", {})

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    if "json c=1" in t and "json c=1" in d:
        added = t["json c=1"]["p50"] - d["json c=1"]["p50"]
        out.append(f"added p50 at c=1: {added:.3f} ms (target <= 0.5): {verdict(added <= 0.5)}")
    for peer, factor in (
        ("litellm", 40),
        ("portkey", 4),
        ("passthrough", 0.6),
        ("passthrough-httpx", 0.6),
        ("passthrough-pyreqwest", 0.6),
    ):
        row = results.get(peer, {}).get("json c=16")
        if row and "json c=16" in t:
            ratio = t["json c=16"]["rps"] / row["rps"]
            out.append(
                f"rps at c=16 vs {peer}: {ratio:.2f}x (target >= {factor}x): "
                f"{verdict(ratio >= factor)}"
            )
            cpu, peer_cpu = t["json c=16"].get("cpu_us"), row.get("cpu_us")
            if cpu and peer_cpu and cpu == cpu and peer_cpu == peer_cpu:
                out.append(
                    f"  CPU per request at c=16: {name} {cpu:.0f} us, {peer} {peer_cpu:.0f} us "
                    f"({peer_cpu / cpu:.2f}x: the rps ratio a quiet core would show)"
                )
    if "ttfb c=1" in t and "ttfb c=1" in d:
        added = t["ttfb c=1"]["p50"] - d["ttfb c=1"]["p50"]
        out.append(
            f"streaming TTFB added (p50): {added:.3f} ms (target <= 1): {verdict(added <= 1)}"
        )
    if rss.get(name) is not None:
        value = rss[name] or 0.0
        out.append(f"peak RSS: {value:.0f} MB (target <= 120): {verdict(value <= 120)}")
    return out


def check_log_size(results: dict[str, dict[str, Row]]) -> list[str]:
    """Issue 5: with a million-row request log the gateway is within 5% of an empty log.
    Per mode, tiergate-1m over tiergate: rps ratio >= 0.95 and p50 ratio <= 1.05 (TTFB: p50
    only). Both ran in the same rounds, so the ratio is fair on this shared machine."""
    full, empty = results.get("tiergate-1m", {}), results.get("tiergate", {})
    out = []
    for mode, row in full.items():
        base = empty.get(mode)
        if base is None:
            continue
        p50 = row["p50"] / base["p50"] if base["p50"] else float("nan")
        parts, ok = [f"p50 {p50:.3f}x"], p50 <= 1.05
        if "rps" in row and base["rps"]:
            rps = row["rps"] / base["rps"]
            parts.insert(0, f"rps {rps:.3f}x")
            ok = ok and rps >= 0.95
        out.append(
            f"tiergate-1m / tiergate {mode}: {', '.join(parts)} "
            f"(target rps >= 0.95x, p50 <= 1.05x): {'PASS' if ok else 'MISS'}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(ALL))
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of unrecorded load")
    parser.add_argument("--no-stream", action="store_true", help="skip streaming runs")
    parser.add_argument("--ttfb-requests", type=int, default=300)
    parser.add_argument("--target-core", type=int, default=0)
    parser.add_argument("--load-core", type=int, default=1)
    parser.add_argument("--upstream-port", type=int, default=9100)
    parser.add_argument(
        "--passthrough-client", choices=["aiohttp", "httpx", "pyreqwest"], default="aiohttp"
    )
    parser.add_argument(
        "--log-rows",
        type=int,
        default=1_000_000,
        help="request-log rows tiergate-1m starts with (seeded once, cached)",
    )
    parser.add_argument("--json", dest="json_out", help="write all rounds and medians here")
    args = parser.parse_args()

    names = [n for n in args.targets.split(",") if n]
    unknown = set(names) - set(ALL)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {ALL}")
    if "direct" not in names:
        names.insert(0, "direct")  # the baseline for "added latency"
    concs = [int(c) for c in args.concurrency.split(",")]
    modes = [f"json c={c}" for c in concs]
    if not args.no_stream:
        modes += [f"sse c={c}" for c in concs] + ["ttfb c=1"]

    os.sched_setaffinity(0, {args.load_core})  # the runner (TTFB client) stays off the target core
    logs = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    upstream = tg.upstream(args.upstream_port, str(args.load_core))
    started: list[tg.Target] = [upstream]
    rounds: dict[str, dict[str, list[Row]]] = {}
    try:
        upstream.start(logs)
        upstream.wait_healthy(20)
        targets = build_targets(names, args)
        for target in targets:
            target.start(logs)
            started.append(target)
        for target in targets:
            target.wait_healthy()
            for stream in [False] if args.no_stream else [False, True]:
                if args.warmup > 0:
                    loadgen.run_wrk(
                        target.url,
                        target.body(stream),
                        target.all_headers(),
                        16,
                        args.warmup,
                        args.load_core,
                    )
        for r in range(args.rounds):
            for target in targets:
                per = rounds.setdefault(target.name, {})
                for mode in modes:
                    if mode.startswith("ttfb"):
                        t = loadgen.measure_ttfb(
                            target.url, target.body(True), target.all_headers(), args.ttfb_requests
                        )
                        row = {
                            "p50": t.ttfb_p50_ms,
                            "p99": t.ttfb_p99_ms,
                            "total_p50": t.total_p50_ms,
                            "errors": t.errors,
                        }
                    else:
                        conc = int(mode.split("=")[1])
                        row = drive(target, mode.startswith("sse"), conc, args)
                    per.setdefault(mode, []).append(row)
                    print(
                        f"round {r + 1} {target.name:12} {mode:9} "
                        + " ".join(f"{k}={v:.3f}" for k, v in row.items()),
                        file=sys.stderr,
                        flush=True,
                    )
        rss = {t.name: t.peak_rss_mb() for t in targets}
    finally:
        for target in reversed(started):
            target.stop()
    # Request-log rows each tiergate holds after the run: shows the log was written through.
    log_rows = {t.name: tg.count_log_rows(t.data_dir) for t in targets if t.data_dir}

    results = {
        name: {mode: median_rows(rows) for mode, rows in per.items()}
        for name, per in rounds.items()
    }
    print(
        f"\nmedians of {args.rounds} rounds, {args.duration:g} s per wrk run "
        f"(target core {args.target_core}; upstream, wrk and TTFB client on core "
        f"{args.load_core}; tiergate-2w on both)\n"
    )
    table = print_table(results, rss, names, modes)
    print()
    checks = check_targets(results, rss)
    for name, count in log_rows.items():
        print(
            f"{name} request log after the run: {count:,} rows"
            if count is not None
            else f"{name}: no request log"
        )
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "args": vars(args),
                    "rounds": rounds,
                    "medians": results,
                    "peak_rss_mb": rss,
                    "log_rows_after": log_rows,
                    "table": table,
                    "checks": checks,
                    "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
