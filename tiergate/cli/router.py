"""``tiergate router``: train, evaluate and calibrate a learned router on outcome data.

Thin commands over ``tiergate.evaluation`` and ``tiergate.routing.learned``. Results go to
stdout (JSON with ``--json``); progress and notes go to stderr, so scripts can pipe stdout.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import click

from tiergate.cli.help import OUTCOME_DATA, examples
from tiergate.cli.router_from_log import from_log_options, train_from_log


def _say(message: str) -> None:
    click.echo(message, err=True)


def _load(data_path: str, weak: str | None, strong: str | None) -> Any:
    from tiergate.routing.learned import OutcomeDataError, choose_pair, load_outcomes

    try:
        data = load_outcomes(data_path)
        pair = choose_pair(data, weak, strong)
    except OutcomeDataError as exc:
        raise click.ClickException(str(exc)) from exc
    if pair.inferred:
        _say(
            f"weak model: {pair.weak} (mean {data.mean(pair.weak):.3f}), strong model: "
            f"{pair.strong} (mean {data.mean(pair.strong):.3f}); inferred from mean outcome, "
            "name them with --weak/--strong"
        )
    return data, pair


def _default_router_path() -> str | None:
    data_dir = os.environ.get("TIERGATE_DATA_DIR")
    return str(Path(data_dir) / "router.tgr") if data_dir else None


_pair_options = [
    click.option("--weak", help="The cheap model's name in the data (default: lowest mean)."),
    click.option("--strong", help="The strong model's name in the data (default: highest mean)."),
]


def _with_pair(func: Any) -> Any:
    for option in reversed(_pair_options):
        func = option(func)
    return func


@click.group(epilog=examples("tiergate router train outcomes.jsonl --out router.tgr"))
def router() -> None:
    """Learned router: train on outcome data, evaluate (APGR, CPT), calibrate the threshold."""


def _as_json(value: Any) -> str:
    """Strict JSON: a figure that is not a number (APGR when both models score the same is
    NaN) becomes null, since ``NaN`` is not JSON and breaks the scripts reading ``--json``."""

    def finite(item: Any) -> Any:
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {key: finite(v) for key, v in item.items()}
        if isinstance(item, list | tuple):
            return [finite(v) for v in item]
        return item

    return json.dumps(finite(value), indent=2, allow_nan=False)


@router.command(
    epilog=examples(
        "tiergate router train outcomes.jsonl --out router.tgr --weak claude-haiku-4-5 \\",
        "    --strong claude-sonnet-4-6",
        "tiergate router train --from-log --route support --since 30d --out router.tgr",
        before=OUTCOME_DATA,
    )
)
@click.argument("data", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Router file.")
@click.option("--features", default=None, help="Featuriser spec, e.g. 'tfidf:0.75+stats:0.25'.")
@click.option("--folds", default=5, show_default=True, help="CV folds for metrics (0 = none).")
@click.option("--strong-share", default=0.5, show_default=True, help="Initial threshold's share.")
@click.option("--seed", default=0, show_default=True, help="Seed of the fold split and the fit.")
@_with_pair
@from_log_options
def train(
    data: str | None,
    out: str,
    features: str | None,
    folds: int,
    strong_share: float,
    seed: int,
    weak: str | None,
    strong: str | None,
    from_log: bool,
    **log_options: Any,
) -> None:
    """Fit a router on DATA.jsonl (or, with --from-log, on a route's outcome rows in the
    store, then calibrate it) and write it to --out."""
    from tiergate.evaluation import train_router
    from tiergate.routing.learned import DEFAULT_SPEC

    if from_log or data is None:
        if data is not None:
            raise click.UsageError("give DATA.jsonl or --from-log, not both")
        if not from_log:
            raise click.UsageError("give DATA.jsonl, or --from-log --route R")
        train_from_log(out, features, folds, seed, weak, strong, **log_options)
        return
    outcomes, pair = _load(data, weak, strong)
    spec = features or DEFAULT_SPEC
    _say(f"training {spec} on {len(outcomes)} prompts")
    try:
        model = train_router(
            outcomes, pair, spec, folds=folds, strong_share=strong_share, seed=seed, progress=_say
        )
    except ValueError as exc:  # a bad featuriser spec, too few folds, a share outside 0..1
        raise click.ClickException(str(exc)) from exc
    model.save(out)
    metrics = model.header.get("metrics", {})
    _say(f"wrote {out}; {metrics.get('kind', '')} APGR (exact) {metrics.get('APGR_exact')}")


@router.command(
    name="eval",
    epilog=examples(
        "tiergate router eval outcomes.jsonl --folds 5 --plot curve.png",
        "tiergate router eval heldout.jsonl --router router.tgr --json",
        before=OUTCOME_DATA,
    ),
)
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--router", "router_path", type=click.Path(exists=True, dir_okay=False),
    help="A trained router file to score; without it, k-fold cross-validation on DATA.",
)  # fmt: skip
@click.option("--folds", default=5, show_default=True, help="k for cross-validation.")
@click.option("--features", default=None, help="Featuriser spec for cross-validation.")
@click.option(
    "--method", type=click.Choice(["exact", "decile"]), default="exact", show_default=True,
    help="Curve method for the headline figures (docs/routing.md: exact per prompt, or "
    "RouteLLM's decile thresholds).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the curve as a PNG.")
@click.option("--seed", default=0, show_default=True, help="Seed of the fold split and the fit.")
@_with_pair
def eval_command(
    data: str,
    router_path: str | None,
    folds: int,
    features: str | None,
    method: str,
    as_json: bool,
    plot: str | None,
    seed: int,
    weak: str | None,
    strong: str | None,
) -> None:
    """APGR, CPT50, CPT80 on DATA: of --router, or of k-fold cross-validation."""
    from tiergate.evaluation import oof_scores, plot_curves, report
    from tiergate.routing.learned import DEFAULT_SPEC, LearnedRouter, RouterFileError

    if router_path:
        try:
            model = LearnedRouter.load(router_path)
        except RouterFileError as exc:
            raise click.ClickException(str(exc)) from exc
        outcomes, pair = _load(data, weak or model.weak_model, strong or model.strong_model)
        scores = model.scores(list(outcomes.prompts))
        how = {"evaluation": f"router file {router_path}", "featuriser": model.spec}
    else:
        outcomes, pair = _load(data, weak, strong)
        spec = features or DEFAULT_SPEC
        _say(f"{folds}-fold cross-validation of {spec} on {len(outcomes)} prompts")
        try:
            scores = oof_scores(outcomes, pair, spec, folds=folds, seed=seed, progress=_say)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        how = {"evaluation": f"{folds}-fold cross-validation (out-of-fold)", "featuriser": spec}
    w, s = outcomes.outcomes[pair.weak], outcomes.outcomes[pair.strong]
    try:
        result = report(
            scores,
            w,
            s,
            method="decile" if method == "decile" else "exact",
            extra={**how, "weak": pair.weak, "strong": pair.strong},
        )
    except ValueError as exc:  # e.g. a featuriser whose scores are not finite
        raise click.ClickException(str(exc)) from exc
    unwritten: str | None = None
    if plot:
        try:
            plot_curves(plot, scores, w, s, label=how["featuriser"])
            _say(f"wrote {plot}")
        except OSError as exc:  # the figures still go out below; the command then fails
            unwritten = f"could not write {plot}: {exc}"
    if as_json:
        click.echo(_as_json(result))
    else:
        _print_table(result, how, pair, method)
    if unwritten is not None:
        raise click.ClickException(unwritten)


def _print_table(result: dict[str, Any], how: dict[str, str], pair: Any, method: str) -> None:
    """``router eval``'s human-readable answer: the three curves' figures, side by side."""
    rnd, orc = result["baselines"]["random"], result["baselines"]["oracle"]
    click.echo(f"{how['evaluation']}, {how['featuriser']}, {pair.weak} -> {pair.strong}")
    click.echo(f"{'':8}{'APGR':>8}{'CPT50%':>9}{'CPT80%':>9}   ({method} curve)")
    for name, row in (("router", result["by_method"]), ("random", rnd), ("oracle", orc)):
        click.echo(
            f"{name:8}{row[f'APGR_{method}']:8.3f}{row[f'CPT50_{method}']:9.1f}"
            f"{row[f'CPT80_{method}']:9.1f}"
        )
    other = "decile" if method == "exact" else "exact"
    click.echo(f"router APGR by the {other} method: {result['by_method'][f'APGR_{other}']:.3f}")


@router.command(
    epilog=examples(
        "tiergate router calibrate heldout.jsonl --router router.tgr --target-quality 0.78",
        "tiergate router calibrate heldout.jsonl --router router.tgr --strong-share 0.3",
        before=OUTCOME_DATA,
    )
)
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--router", "router_path", type=click.Path(dir_okay=False),
    help="The router file to update (default: $TIERGATE_DATA_DIR/router.tgr).",
)  # fmt: skip
@click.option("--target-quality", type=float, help="Mean outcome to reach, e.g. 0.78.")
@click.option("--strong-share", type=float, help="Share of calls for the strong model, 0..1.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def calibrate(
    data: str,
    router_path: str | None,
    target_quality: float | None,
    strong_share: float | None,
    as_json: bool,
) -> None:
    """Pick the threshold on DATA and store it in the router file."""
    from tiergate.evaluation import calibrate as do_calibrate
    from tiergate.routing.learned import LearnedRouter, RouterFileError

    if (target_quality is None) == (strong_share is None):
        raise click.UsageError("give exactly one of --target-quality or --strong-share")
    path = router_path or _default_router_path()
    if path is None:
        raise click.UsageError("no --router given and TIERGATE_DATA_DIR is not set")
    try:
        model = LearnedRouter.load(path)
    except RouterFileError as exc:
        raise click.ClickException(str(exc)) from exc
    outcomes, _ = _load(data, model.weak_model, model.strong_model)
    try:
        updated, measured = do_calibrate(
            model, outcomes, target_quality=target_quality, strong_share=strong_share
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if measured["on_training_data"]:
        _say("note: DATA is the training data; its scores are optimistic, prefer held-out data")
    updated.save(path)
    if as_json:
        click.echo(_as_json(measured))
    else:
        click.echo(
            f"threshold {measured['threshold']:.6f}: {100 * measured['strong_share']:.1f}% "
            f"strong calls, quality {measured['quality']:.4f} on {measured['n_prompts']} prompts; "
            f"saved to {path}"
        )
