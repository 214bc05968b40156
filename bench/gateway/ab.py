"""Before/after for a hot-path change: tiergate at another commit, tiergate now and the bare
pass-through, measured in alternating short windows on the pinned core.

``run.py`` drives each target for several seconds in turn; on this shared machine the speed of
the core itself drifts by up to 1.6x over minutes, which swamps a 10% change. Here every round
drives each target for ``--window`` seconds back to back, so paired windows see the same
machine (each round starting with the next target, so none always runs first or after the
same neighbour), and the figure compared is CPU time per request of the target's process tree
(wrk's rps follows it: the target saturates its core). It prints each target's median and minimum,
and the median over rounds of each target's CPU relative to the first target's in that round;
then the same for wrk's requests/s (and, with ``--ttfb N``, each target's streaming time to
first byte over N sequential requests per round).

    .venv/bin/python bench/gateway/ab.py --baseline 3d600e6 --rounds 10

``--baseline`` checks that commit out into a git worktree under ``bench/_work/`` and runs its
``tiergate`` package (through PYTHONPATH) with this checkout's virtualenv and config.
``--variant NAME`` (repeatable) adds tiergate with one part of its pipeline switched off
(``ablate/NAME/``, see its README), which prices that part end to end:

    .venv/bin/python bench/gateway/ab.py --variant no-log --variant no-record --rounds 10

``--pyreqwest-passthrough`` adds the pass-through on tiergate's own upstream client (the
default one, the reference issue 7 names, uses aiohttp). ``--loaded-passthrough`` adds a
control: the pass-through with tiergate's whole app built in its process but unused, which
tells the cost of the process's size from that of the work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import targets as tg

ABLATIONS = Path(__file__).resolve().parent / "ablate"


def _worktree(commit: str) -> Path:
    path = tg.WORK / f"tiergate-{commit}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), commit],
            cwd=tg.ROOT,
            check=True,
            capture_output=True,
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="git commit of the 'before' tiergate")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--window", type=float, default=2.5, help="seconds of wrk per window")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument(
        "--ttfb",
        type=int,
        default=0,
        metavar="N",
        help="also time N sequential streaming requests per target per round (first byte)",
    )
    parser.add_argument(
        "--pyreqwest-passthrough",
        action="store_true",
        help="also run the pass-through on pyreqwest, tiergate's upstream client",
    )
    parser.add_argument(
        "--loaded-passthrough",
        action="store_true",
        help="also run the pass-through with tiergate's app built in its process "
        "(ablate/loaded-passthrough)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        choices=sorted(p.name for p in ABLATIONS.iterdir() if p.is_dir()),
        help="also run tiergate with this part switched off (ablate/NAME)",
    )
    args = parser.parse_args()

    os.sched_setaffinity(0, {1})
    upstream_url = "http://127.0.0.1:9100"
    runs: list[tuple[str, tg.Target]] = []
    if args.baseline:
        before = tg.tiergate("tiergate-before", 9330, upstream_url, 1, "0")
        before.env["PYTHONPATH"] = str(_worktree(args.baseline))
        runs.append((f"tiergate@{args.baseline}", before))
    runs.append(("tiergate", tg.tiergate("tiergate", 9300, upstream_url, 1, "0")))
    for i, variant in enumerate(args.variant, start=1):
        ablated = tg.tiergate(f"tiergate-{variant}", 9300 + i, upstream_url, 1, "0")
        ablated.env["PYTHONPATH"] = str(ABLATIONS / variant)
        runs.append((f"tiergate {variant}", ablated))
    passthrough = tg.passthrough(9200, upstream_url, "aiohttp")
    passthrough.cores = "0"
    runs.append(("passthrough", passthrough))
    if args.pyreqwest_passthrough:
        same_client = tg.passthrough(9202, upstream_url, "pyreqwest", name="passthrough-pyreqwest")
        same_client.cores = "0"
        runs.append(("passthrough pyreqwest", same_client))
    if args.loaded_passthrough:
        loaded = tg.passthrough(9201, upstream_url, "aiohttp", name="passthrough-loaded")
        loaded.cores = "0"
        loaded.env["PYTHONPATH"] = f"{ABLATIONS / 'loaded-passthrough'}{os.pathsep}{tg.ROOT}"
        runs.append(("passthrough loaded", loaded))

    logs = Path(tempfile.mkdtemp(prefix="tiergate-ab-"))
    upstream = tg.upstream(9100, "1")
    cpu: dict[str, list[float]] = {name: [] for name, _ in runs}
    rps: dict[str, list[float]] = {name: [] for name, _ in runs}
    ttfb: dict[str, list[float]] = {name: [] for name, _ in runs}
    try:
        upstream.start(logs)
        upstream.wait_healthy(20)
        for _, target in runs:
            target.start(logs)
        for _, target in runs:
            target.wait_healthy()
            body, headers = target.body(args.stream), target.all_headers()
            loadgen.run_wrk(target.url, body, headers, args.concurrency, 2, 1)  # warm-up
        for round_no in range(args.rounds):
            # Each round starts one target later: no target always follows the same one.
            shift = round_no % len(runs)
            for name, target in runs[shift:] + runs[:shift]:
                body, headers = target.body(args.stream), target.all_headers()
                before_s = target.cpu_seconds() or 0.0
                result = loadgen.run_wrk(
                    target.url, body, headers, args.concurrency, args.window, 1
                )
                used = (target.cpu_seconds() or 0.0) - before_s
                if result.errors or not result.requests:
                    raise RuntimeError(f"{name}: {result.errors} errors; see {logs}")
                cpu[name].append(used * 1e6 / result.requests)
                rps[name].append(result.rps)
                if args.ttfb:
                    timed = loadgen.measure_ttfb(
                        target.url, target.body(True), target.all_headers(), args.ttfb
                    )
                    if timed.errors:
                        raise RuntimeError(f"{name}: {timed.errors} TTFB errors; see {logs}")
                    ttfb[name].append(timed.ttfb_p50_ms)
    finally:
        for _, target in runs:
            target.stop()
        upstream.stop()

    first = runs[0][0]
    mode = f"{'sse' if args.stream else 'json'} c={args.concurrency}"
    print(f"CPU us per request, {mode}, {args.rounds} rounds of {args.window:g} s windows")
    print("| target | median | min | vs " + first + " (median of per-round ratios) | rounds |")
    print("|---|---|---|---|---|")
    for name, values in cpu.items():
        paired = statistics.median(v / b for v, b in zip(values, cpu[first], strict=True))
        rounds = " ".join(f"{v:.0f}" for v in values)
        print(
            f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} | "
            f"{paired:.3f} | {rounds} |"
        )
    print(f"\nrequests/s (wrk), {mode}")
    print("| target | median | max | vs " + first + " (median of per-round ratios) | rounds |")
    print("|---|---|---|---|---|")
    for name, values in rps.items():
        paired = statistics.median(v / b for v, b in zip(values, rps[first], strict=True))
        rounds = " ".join(f"{v:.0f}" for v in values)
        print(
            f"| {name} | {statistics.median(values):.0f} | {max(values):.0f} | "
            f"{paired:.3f} | {rounds} |"
        )
    if args.ttfb:
        print(f"\nstreaming TTFB p50 ms, {args.ttfb} sequential requests per round")
        print("| target | median | min | rounds |")
        print("|---|---|---|---|")
        for name, values in ttfb.items():
            rounds = " ".join(f"{v:.3f}" for v in values)
            print(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {rounds} |")
    if "passthrough" in cpu:
        for name, values in cpu.items():
            if name != "passthrough":
                ratio = statistics.median(
                    p / v for p, v in zip(cpu["passthrough"], values, strict=True)
                )
                print(
                    f"{name}: rps a quiet core would give, as a share of the pass-through: "
                    f"{ratio:.2f}"
                )


if __name__ == "__main__":
    main()
