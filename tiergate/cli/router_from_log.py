"""``tiergate router train --from-log --route R``: train and calibrate, in one step, on the
outcome rows the store holds for a route (written by ``tiergate eval run``).

Kept apart from ``cli/router.py`` so that command stays a thin switch: ``train`` calls
``train_from_log`` when ``--from-log`` is given. The rows are split once (``--holdout``): the
router is trained (with k-fold metrics) on one part and its threshold calibrated on the
other, held out, so the calibration's figures are not the training data's flattering ones.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from typing import Any

import click

from tiergate.errors import ConfigError

_MIN_ROWS = 20


def from_log_options(func: Any) -> Any:
    """The options ``router train`` takes for ``--from-log``."""
    for option in reversed(
        [
            click.option(
                "--from-log",
                is_flag=True,
                help="Train on the outcome rows the store holds for --route.",
            ),
            click.option("--route", help="--from-log: the route whose outcome rows to use."),
            click.option("--since", default=None, help="--from-log: only rows since (7d, a date)."),
            click.option(
                "--holdout",
                default=0.3,
                show_default=True,
                help="--from-log: share of rows held out to calibrate the threshold.",
            ),
            click.option(
                "--target-quality",
                type=float,
                default=None,
                help="--from-log: mean outcome to reach (default: weak + 0.9 (strong - "
                "weak) on the held-out rows).",
            ),
            click.option(
                "--config",
                "config_path",
                type=click.Path(dir_okay=False),
                default=None,
                help="--from-log: config file, as for serve (finds the store).",
            ),
            click.option(
                "--json", "as_json", is_flag=True, help="--from-log: print one JSON object."
            ),
        ]
    ):
        func = option(func)
    return func


async def _rows(config_path: str | None, route: str, since: str | None) -> list[Any]:
    from tiergate.config import load_settings
    from tiergate.store.backend import open_store
    from tiergate.store.location import store_url
    from tiergate.store.outcomes import OutcomeStore, judged_rows
    from tiergate.store.reports import ReportFilter

    settings = load_settings(config_path)
    since_ms = ReportFilter.from_query({"since": since}).since_ms if since else None
    store = await open_store(store_url(settings.database_url, settings.data_dir))
    try:
        evaluated = await OutcomeStore(store).for_route(route, since_ms=since_ms)
        return evaluated + await judged_rows(store, route, since_ms=since_ms)
    finally:
        await store.aclose()


def _pair_lines(
    lines: list[dict[str, Any]], weak: str | None, strong: str | None
) -> tuple[list[dict[str, Any]], str, str]:
    """The lines that hold both models of the pair, reduced to those two. Unnamed, the pair
    comes from the models scored on the most prompts: the lowest mean outcome is the weak one,
    the highest the strong one (as ``choose_pair`` does for a file)."""
    present: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for line in lines:
        present.update(list(line["outcomes"]))
        for model, score in line["outcomes"].items():
            totals[model] += score
    most = max(present.values(), default=0)
    common = [m for m in present if present[m] == most] if most else []
    ranked = sorted(common, key=lambda m: (totals[m] / present[m], m))
    chosen_weak = weak or next((m for m in ranked if m != strong), None)
    chosen_strong = strong or next((m for m in reversed(ranked) if m != chosen_weak), None)
    if chosen_weak is None or chosen_strong is None or chosen_weak == chosen_strong:
        raise click.ClickException("no two models were scored on the same prompts")
    pair = (chosen_weak, chosen_strong)
    kept = [
        {**line, "outcomes": {m: line["outcomes"][m] for m in pair}}
        for line in lines
        if all(m in line["outcomes"] for m in pair)
    ]
    return kept, pair[0], pair[1]


def train_from_log(
    out: str,
    features: str | None,
    folds: int,
    seed: int,
    weak: str | None,
    strong: str | None,
    route: str | None,
    since: str | None,
    holdout: float,
    target_quality: float | None,
    config_path: str | None,
    as_json: bool,
) -> None:
    from tiergate.evaluation import calibrate, report, train_router
    from tiergate.evaluation.offline.outcomes import rows_to_lines
    from tiergate.routing.learned import DEFAULT_SPEC, choose_pair, parse_lines

    if not route:
        raise click.UsageError("--from-log needs --route R")
    if not 0 < holdout < 1:
        raise click.BadParameter("a share between 0 and 1", param_hint="--holdout")
    try:
        rows = asyncio.run(_rows(config_path, route, since))
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if not rows:
        raise click.ClickException(
            f"the store holds no outcome rows for route {route!r}; write some with "
            f"`tiergate eval run DATA.jsonl --models WEAK,STRONG --route {route}`, or judge "
            "its shadow pairs (a shadow with a judge, with log.bodies on for the prompts)"
        )
    lines, first, second = _pair_lines(rows_to_lines(rows), weak, strong)
    if len(lines) < _MIN_ROWS:
        raise click.ClickException(
            f"{len(lines)} prompts hold both {first} and {second}; "
            f"training and calibrating needs at least {_MIN_ROWS}"
        )
    random.Random(seed).shuffle(lines)
    cut = max(1, round(len(lines) * holdout))
    held, trained = lines[:cut], lines[cut:]
    train_data = parse_lines(json.dumps(line) for line in trained)
    held_data = parse_lines(json.dumps(line) for line in held)
    pair = choose_pair(train_data, weak, strong)
    sources = ", ".join(f"{n} {s}" for s, n in sorted(Counter(r.source for r in rows).items()))
    click.echo(
        f"{len(rows)} outcome rows of route {route!r} ({sources}): {len(trained)} "
        f"prompts to train, {len(held)} held out to calibrate; weak {pair.weak}, "
        f"strong {pair.strong}",
        err=True,
    )
    spec = features or DEFAULT_SPEC
    usable_folds = folds if len(trained) >= 2 * folds else 0
    try:
        model = train_router(train_data, pair, spec, folds=usable_folds, seed=seed)
        w, s = held_data.outcomes[pair.weak], held_data.outcomes[pair.strong]
        target = target_quality
        if target is None:
            target = float(w.mean() + 0.9 * (s.mean() - w.mean()))
        calibrated, measured = calibrate(model, held_data, target_quality=target)
        held_out = report(model.scores(list(held_data.prompts)), w, s)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    calibrated.save(out)
    result = {
        "router": out,
        "route": route,
        "weak": pair.weak,
        "strong": pair.strong,
        "rows": len(rows),
        "trained_on": len(trained),
        "held_out": len(held),
        "target_quality": target,
        "calibration": measured,
        "held_out_metrics": {key: held_out[key] for key in ("APGR", "CPT50", "CPT80", "method")},
        "held_out_random": held_out["baselines"]["random"]["APGR_exact"],
    }
    if as_json:
        from tiergate.cli.router import _as_json

        click.echo(_as_json(result))
        return
    apgr = held_out["APGR"]
    shown = "n/a (both models score the same)" if apgr != apgr else f"{apgr:.3f}"
    click.echo(
        f"wrote {out}: held-out APGR {shown} (random 0.5); threshold "
        f"{measured['threshold']:.4f} sends {100 * measured['strong_share']:.1f}% to "
        f"{pair.strong} for quality {measured['quality']:.3f} (target {target:.3f})"
    )
