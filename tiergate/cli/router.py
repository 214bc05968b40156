"""``tiergate router``: train, evaluate and calibrate a learned router on outcome data, and
train / evaluate the answer validator of a cascade.

Thin commands over ``tiergate.evaluation`` and ``tiergate.routing.learned``. Results go to
stdout (JSON with ``--json``); progress bars and notes go to stderr, so scripts can pipe stdout.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from tiergate.cli.help import OUTCOME_DATA, examples
from tiergate.cli.router_from_log import from_log_options, train_from_log


def _say(message: str) -> None:
    click.echo(message, err=True)


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar with ETA on stderr, one line per step (folds, scoring, fitting)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    tasks: dict[str, Any] = {}

    def report(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bar.add_task(what, total=total)
        bar.update(tasks[what], completed=done, total=total)

    with bar:
        yield report


def _parse_scale(scale: str | None) -> tuple[float, float] | None:
    from tiergate.routing.learned import OutcomeDataError, parse_scale

    if scale is None:
        return None
    try:
        return parse_scale(scale)
    except OutcomeDataError as exc:
        raise click.BadParameter(str(exc), param_hint="--scale") from exc


def _load(data_path: str, weak: str | None, strong: str | None, scale: str | None = None) -> Any:
    from tiergate.routing.learned import OutcomeDataError, choose_pair, load_outcomes

    try:
        data = load_outcomes(data_path, _parse_scale(scale))
        pair = choose_pair(data, weak, strong)
    except OutcomeDataError as exc:
        raise click.ClickException(str(exc)) from exc
    if data.scale.inferred:
        _say(f"{data_path}: {data.scale.describe()}; give --scale MIN,MAX to set it")
    if pair.inferred:
        _say(
            f"weak model: {pair.weak} (mean {data.mean(pair.weak):.3f}), strong model: "
            f"{pair.strong} (mean {data.mean(pair.strong):.3f}); inferred from mean outcome, "
            "name them with --weak/--strong"
        )
    return data, pair


def _model_order(data: Any, pair: Any, models: str | None) -> tuple[str, ...]:
    """``--models a,b,c`` (cheapest first), or the pair alone."""
    if models is None:
        return (pair.weak, pair.strong)
    order = tuple(m.strip() for m in models.split(",") if m.strip())
    unknown = [m for m in order if m not in data.outcomes]
    if unknown or len(order) < 2 or len(set(order)) != len(order):
        raise click.BadParameter(
            f"name two or more different models of the data, cheapest first "
            f"(models: {', '.join(data.models)})",
            param_hint="--models",
        )
    return order


def _default_router_path() -> str | None:
    data_dir = os.environ.get("TIERGATE_DATA_DIR")
    return str(Path(data_dir) / "router.tgr") if data_dir else None


_pair_options = [
    click.option("--weak", help="The cheap model's name in the data (default: lowest mean)."),
    click.option("--strong", help="The strong model's name in the data (default: highest mean)."),
    click.option(
        "--scale",
        help="Outcome range MIN,MAX, e.g. 1,10 (default: [0, 1], else the data's own range).",
    ),
]

# Taken by several commands: declared once so that they read and behave the same in each.
_data_file = click.argument("data", type=click.Path(exists=True, dir_okay=False))
_json_flag = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
_seed_option = click.option(
    "--seed", default=0, show_default=True, help="Seed of the fold split and the fit."
)
_no_prior_flag = click.option(
    "--no-domain-prior",
    "no_domain_prior",
    is_flag=True,
    help="Ignore the data's 'domain' labels (by default they train a domain prior, "
    "docs/routing.md).",
)


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
@click.option("--features", default=None, help="Featuriser spec, e.g. 'tfidf:0.5+shape:0.5'.")
@click.option("--folds", default=5, show_default=True, help="CV folds for metrics (0 = none).")
@click.option("--strong-share", default=0.5, show_default=True, help="Initial threshold's share.")
@click.option("--models", help="Models to route between, cheapest first: a,b,c (default: pair).")
@_no_prior_flag
@_seed_option
@_with_pair
@from_log_options
def train(
    data: str | None,
    out: str,
    features: str | None,
    folds: int,
    strong_share: float,
    models: str | None,
    no_domain_prior: bool,
    seed: int,
    weak: str | None,
    strong: str | None,
    scale: str | None,
    from_log: bool,
    **log_options: Any,
) -> None:
    """Fit a router on DATA.jsonl (or, with --from-log, on a route's outcome rows in the
    store, then calibrate it) and write it to --out."""
    from tiergate.evaluation import train_router
    from tiergate.routing.learned import DEFAULT_SPEC, ModelPair

    if from_log or data is None:
        if data is not None:
            raise click.UsageError("give DATA.jsonl or --from-log, not both")
        if not from_log:
            raise click.UsageError("give DATA.jsonl, or --from-log --route R")
        train_from_log(out, features, folds, seed, weak, strong, **log_options)
        return
    outcomes, pair = _load(data, weak, strong, scale)
    order = _model_order(outcomes, pair, models)
    pair = ModelPair(order[0], order[-1], pair.inferred and models is None)
    spec = features or DEFAULT_SPEC
    _say(f"training {spec} on {len(outcomes)} prompts, models {' < '.join(order)}")
    try:
        with _progress() as progress:
            model = train_router(
                outcomes,
                pair,
                spec,
                folds=folds,
                strong_share=strong_share,
                seed=seed,
                progress=progress,
                models=order,
                domain_prior=not no_domain_prior,
            )
    except ValueError as exc:  # a bad featuriser spec, too few folds, a share outside 0..1
        raise click.ClickException(str(exc)) from exc
    model.save(out)
    metrics = model.header.get("metrics", {})
    _say(f"wrote {out}; {metrics.get('kind', '')} APGR (exact) {metrics.get('APGR_exact')}")


def _warn_overlap(found: int, total: int, what: str) -> None:
    if found:
        _say(
            f"warning: {found} of {total} prompts ({100 * found / total:.1f}%) are in {what}'s "
            "training data; figures on them are optimistic, evaluate on held-out prompts"
        )


@router.command(
    name="eval",
    epilog=examples(
        "tiergate router eval outcomes.jsonl --folds 5 --plot curve.png",
        "tiergate router eval heldout.jsonl --router router.tgr --json",
        "tiergate router eval --train mmlu.jsonl --test gsm8k.jsonl",
        before=OUTCOME_DATA,
    ),
)
@click.argument("data", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--router",
    "router_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A trained router file to score; without it, k-fold cross-validation on DATA.",
)
@click.option(
    "--train",
    "train_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Fit on this file and evaluate on --test (transfer).",
)
@click.option(
    "--test",
    "test_path",
    type=click.Path(exists=True, dir_okay=False),
    help="The data to evaluate on, with --train or --router.",
)
@click.option("--folds", default=5, show_default=True, help="k for cross-validation.")
@click.option("--features", default=None, help="Featuriser spec for cross-validation.")
@click.option("--models", help="Route among these models, cheapest first: a,b,c.")
@click.option("--costs", help="Relative per-call cost of each of --models (default 1,2,3...).")
@click.option(
    "--method",
    type=click.Choice(["exact", "decile"]),
    default="exact",
    show_default=True,
    help="Curve method for the headline figures (docs/routing.md: exact per prompt, or "
    "RouteLLM's decile thresholds).",
)
@_json_flag
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the curve as a PNG.")
@_no_prior_flag
@_seed_option
@_with_pair
def eval_command(
    data: str | None,
    router_path: str | None,
    train_path: str | None,
    test_path: str | None,
    folds: int,
    features: str | None,
    models: str | None,
    costs: str | None,
    method: str,
    as_json: bool,
    plot: str | None,
    no_domain_prior: bool,
    seed: int,
    weak: str | None,
    strong: str | None,
    scale: str | None,
) -> None:
    """APGR, CPT50, CPT80 on DATA: of --router, of k-fold cross-validation, or of a router
    fitted on --train and scored on --test (transfer to unlike prompts)."""
    from tiergate.evaluation import oof_qualities, plot_curves, report, score_prompts
    from tiergate.routing.learned import DEFAULT_SPEC, LearnedRouter, ModelPair, RouterFileError

    target = test_path or data
    if target is None or (test_path and data):
        raise click.UsageError("give DATA, or --test (with --train or --router)")
    if train_path and router_path:
        raise click.UsageError("give --train or --router, not both")
    if test_path and not (train_path or router_path):
        raise click.UsageError("--test needs --train or --router")
    spec = features or DEFAULT_SPEC
    with _progress() as progress:
        if router_path or train_path:
            if router_path:
                try:
                    model = LearnedRouter.load(router_path)
                except RouterFileError as exc:
                    raise click.ClickException(str(exc)) from exc
                where = f"router file {router_path}"
            else:
                assert train_path is not None
                source, source_pair = _load(train_path, weak, strong, scale)
                order = _model_order(source, source_pair, models)
                model = _fit_plain(source, order, spec, progress, not no_domain_prior)
                where = f"fitted on {train_path}"
            outcomes, pair = _load(
                target, weak or model.weak_model, strong or model.strong_model, scale
            )
            prompts = list(outcomes.prompts)
            _warn_overlap(
                model.overlap(prompts), len(set(p.strip() for p in prompts)), "the router"
            )
            missing = [m for m in model.models if m not in outcomes.outcomes]
            if missing:
                raise click.ClickException(f"models {missing} of the router are not in {target}")
            scores = score_prompts(model, prompts, progress)
            qualities = model.qualities(prompts) if len(model.models) > 2 else None
            order = model.models
            how = {"evaluation": where, "featuriser": model.spec, **_prior_note(model)}
        else:
            outcomes, pair = _load(target, weak, strong, scale)
            order = _model_order(outcomes, pair, models)
            pair = ModelPair(order[0], order[-1], pair.inferred)
            _say(f"{folds}-fold cross-validation of {spec} on {len(outcomes)} prompts")
            try:
                q = oof_qualities(
                    outcomes,
                    order,
                    spec,
                    folds=folds,
                    seed=seed,
                    progress=progress,
                    domain_prior=not no_domain_prior,
                )
            except ValueError as exc:
                raise click.ClickException(str(exc)) from exc
            scores = q[pair.strong] - q[pair.weak]
            qualities = q if len(order) > 2 else None
            how = {
                "evaluation": f"{folds}-fold cross-validation (out-of-fold)",
                "featuriser": spec,
                "domain_prior": _prior_plan(outcomes, no_domain_prior),
            }
    w, s = outcomes.outcomes[pair.weak], outcomes.outcomes[pair.strong]
    try:
        result = report(
            scores,
            w,
            s,
            method="decile" if method == "decile" else "exact",
            extra={**how, "weak": pair.weak, "strong": pair.strong},
        )
        if outcomes.scale.inferred or (outcomes.scale.low, outcomes.scale.high) != (0.0, 1.0):
            result["outcome_scale"] = outcomes.scale.describe()
        if qualities is not None:
            result["choice"] = _choice(qualities, outcomes, order, costs)
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


def _prior_plan(outcomes: Any, off: bool) -> str:
    """What cross-validation does with the data's domain labels, for the report."""
    labels = {d for d in outcomes.domains if d is not None}
    if off:
        return "off"
    if len(labels) < 2:
        return "none (the data names fewer than two domains)"
    return f"fitted per training fold ({len(labels)} domains in the data)"


def _prior_note(model: Any) -> dict[str, str]:
    prior = model.domain_prior
    if prior is None:
        return {"domain_prior": "none (off, or fewer than two domains in the training data)"}
    return {"domain_prior": f"{len(prior.domains)} domains"}


def _fit_plain(
    source: Any, order: tuple[str, ...], spec: str, progress: Any, domain_prior: bool
) -> Any:
    from tiergate.routing.learned import fit_models

    progress(f"fitting on {len(source)} prompts", 0, 1)
    try:
        model = fit_models(
            list(source.prompts),
            source.outcomes,
            order,
            spec=spec,
            domains=source.domains,
            domain_prior=domain_prior,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    progress(f"fitting on {len(source)} prompts", 1, 1)
    return model


def _choice(qualities: Any, outcomes: Any, order: tuple[str, ...], costs: str | None) -> Any:
    from tiergate.evaluation import choice_report

    if costs is None:
        prices = [float(i + 1) for i in range(len(order))]
        _say(f"model costs not given (--costs): assuming {', '.join(f'{p:g}' for p in prices)}")
    else:
        try:
            prices = [float(c) for c in costs.split(",")]
        except ValueError:
            raise click.BadParameter("numbers separated by commas", param_hint="--costs") from None
    return choice_report(qualities, outcomes.outcomes, order, prices)


def _print_table(result: dict[str, Any], how: dict[str, str], pair: Any, method: str) -> None:
    """``router eval``'s human-readable answer: the three curves' figures, side by side."""
    rnd, orc = result["baselines"]["random"], result["baselines"]["oracle"]
    prior = f", domain prior: {how['domain_prior']}" if "domain_prior" in how else ""
    click.echo(f"{how['evaluation']}, {how['featuriser']}{prior}, {pair.weak} -> {pair.strong}")
    click.echo(f"{'':8}{'APGR':>8}{'CPT50%':>9}{'CPT80%':>9}   ({method} curve)")
    for name, row in (("router", result["by_method"]), ("random", rnd), ("oracle", orc)):
        click.echo(
            f"{name:8}{row[f'APGR_{method}']:8.3f}{row[f'CPT50_{method}']:9.1f}"
            f"{row[f'CPT80_{method}']:9.1f}"
        )
    other = "decile" if method == "exact" else "exact"
    click.echo(f"router APGR by the {other} method: {result['by_method'][f'APGR_{other}']:.3f}")
    if "outcome_scale" in result:
        click.echo(result["outcome_scale"])
    choice = result.get("choice")
    if choice:
        click.echo(
            f"cheapest good-enough model among {', '.join(choice['models'])} "
            f"(costs {', '.join(f'{c:g}' for c in choice['costs'])}): "
            f"APGR on the cost axis {choice['APGR_cost']:.3f}"
        )
        for point in choice["points"]:
            shares = ", ".join(f"{m} {100 * s:.0f}%" for m, s in point["model_shares"].items())
            click.echo(
                f"  cost {100 * point['cost_share']:.0f}%: "
                f"quality {point['quality']:.4f} ({shares})"
            )


@router.command(
    epilog=examples(
        "tiergate router calibrate heldout.jsonl --router router.tgr --target-quality 0.78",
        "tiergate router calibrate heldout.jsonl --router router.tgr --strong-share 0.3",
        before=OUTCOME_DATA,
    )
)
@_data_file
@click.option(
    "--router",
    "router_path",
    type=click.Path(dir_okay=False),
    help="The router file to update (default: $TIERGATE_DATA_DIR/router.tgr).",
)
@click.option("--target-quality", type=float, help="Mean outcome to reach, e.g. 0.78.")
@click.option("--strong-share", type=float, help="Share of calls for the strong model, 0..1.")
@click.option("--scale", help="Outcome range MIN,MAX (default: [0, 1], else the data's range).")
@_json_flag
def calibrate(
    data: str,
    router_path: str | None,
    target_quality: float | None,
    strong_share: float | None,
    scale: str | None,
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
    outcomes, _ = _load(data, model.weak_model, model.strong_model, scale)
    try:
        with _progress() as progress:
            updated, measured = do_calibrate(
                model,
                outcomes,
                target_quality=target_quality,
                strong_share=strong_share,
                progress=progress,
            )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if measured["on_training_data"]:
        _say("note: DATA is the training data; its scores are optimistic, prefer held-out data")
    else:
        _warn_overlap(measured["overlap_with_training"], measured["n_prompts"], "the router")
    updated.save(path)
    if as_json:
        click.echo(_as_json(measured))
    else:
        click.echo(
            f"threshold {measured['threshold']:.6f}: {100 * measured['strong_share']:.1f}% "
            f"strong calls, quality {measured['quality']:.4f} on {measured['n_prompts']} prompts; "
            f"saved to {path}"
        )


_ANSWER_DATA = (
    OUTCOME_DATA + "\n"
    '  plus "responses": {model: answer text} with the cheap model\'s answer on every line.'
)


@router.group(
    epilog=examples("tiergate router validator train gsm8k_outcomes.jsonl --out answers.tgv")
)
def validator() -> None:
    """Answer validator for cascades: learns from outcome files that carry `responses`."""


@validator.command(
    name="train",
    epilog=examples(
        "tiergate router validator train gsm8k_outcomes.jsonl --out answers.tgv",
        before=_ANSWER_DATA,
    ),
)
@_data_file
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="Validator file."
)
@click.option("--folds", default=5, show_default=True, help="CV folds for metrics (0 = none).")
@click.option(
    "--escalation-share", default=0.3, show_default=True, help="Initial threshold's share."
)
@_seed_option
@_with_pair
def validator_train(
    data: str,
    out: str,
    folds: int,
    escalation_share: float,
    seed: int,
    weak: str | None,
    strong: str | None,
    scale: str | None,
) -> None:
    """Fit an answer validator on DATA.jsonl (the weak model's answers) and write it to --out."""
    from tiergate.evaluation import train_validator

    outcomes, pair = _load(data, weak, strong, scale)
    try:
        with _progress() as progress:
            model = train_validator(
                outcomes,
                pair,
                folds=folds,
                escalation_share=escalation_share,
                seed=seed,
                progress=progress,
            )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    model.save(out)
    metrics = model.header.get("metrics", {})
    _say(f"wrote {out}; {metrics.get('kind', '')} APGR (exact) {metrics.get('APGR_exact')}")


@validator.command(
    name="eval",
    epilog=examples(
        "tiergate router validator eval gsm8k_outcomes.jsonl --folds 5 --json",
        "tiergate router validator eval heldout.jsonl --validator answers.tgv",
        before=_ANSWER_DATA,
    ),
)
@_data_file
@click.option(
    "--validator",
    "validator_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A trained validator file to score; without it, k-fold cross-validation on DATA.",
)
@click.option("--folds", default=5, show_default=True, help="k for cross-validation.")
@click.option(
    "--method",
    type=click.Choice(["exact", "decile"]),
    default="exact",
    show_default=True,
    help="Curve method for the headline figures (docs/routing.md: exact per prompt, or "
    "RouteLLM's decile thresholds).",
)
@_json_flag
@_seed_option
@_with_pair
def validator_eval(
    data: str,
    validator_path: str | None,
    folds: int,
    method: str,
    as_json: bool,
    seed: int,
    weak: str | None,
    strong: str | None,
    scale: str | None,
) -> None:
    """The cascade on DATA: the weak model answers every prompt, the validator escalates.

    The curve's cost axis is the strong-call share; the cheap call is made on every prompt and
    the report says so (``cheap_call_share`` 1.0, ``calls_per_prompt`` = 1 + strong share).
    """
    from tiergate.evaluation import cheap_answers, oof_validator_scores, report
    from tiergate.routing.answer_checks import check_arithmetic, final_answer
    from tiergate.routing.learned import AnswerValidator, RouterFileError

    with _progress() as progress:
        if validator_path:
            try:
                model = AnswerValidator.load(validator_path)
            except RouterFileError as exc:
                raise click.ClickException(str(exc)) from exc
            outcomes, pair = _load(
                data, weak or model.cheap_model, strong or model.strong_model, scale
            )
            prompts = list(outcomes.prompts)
            _warn_overlap(
                model.overlap(prompts), len(set(p.strip() for p in prompts)), "the validator"
            )
            try:
                answers = cheap_answers(outcomes, pair.weak)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from exc
            scores = model.scores(prompts, answers)
            how = {"evaluation": f"validator file {validator_path}", "featuriser": "answer"}
        else:
            outcomes, pair = _load(data, weak, strong, scale)
            try:
                scores = oof_validator_scores(
                    outcomes, pair, folds=folds, seed=seed, progress=progress
                )
            except ValueError as exc:
                raise click.ClickException(str(exc)) from exc
            how = {
                "evaluation": f"{folds}-fold cross-validation (out-of-fold) of the cascade",
                "featuriser": "answer",
            }
    w, s = outcomes.outcomes[pair.weak], outcomes.outcomes[pair.strong]
    result = report(
        scores,
        w,
        s,
        method="decile" if method == "decile" else "exact",
        extra={**how, "weak": pair.weak, "strong": pair.strong},
    )
    answers = cheap_answers(outcomes, pair.weak)
    failed = [final_answer(a) is None or not check_arithmetic(a).ok for a in answers]
    share = sum(failed) / len(failed)
    quality = sum(s[i] if bad else w[i] for i, bad in enumerate(failed)) / len(failed)
    result["cheap_call_share"] = 1.0
    result["cost_axis"] = "strong-call share; the cheap model answers every prompt first"
    result["built_in_checks"] = {
        "rule": "escalate when no final answer is stated or an equation does not check out",
        "strong_share": round(share, 4),
        "quality": round(float(quality), 4),
    }
    if as_json:
        click.echo(_as_json(result))
    else:
        _print_table(result, how, pair, method)
        checks = result["built_in_checks"]
        click.echo(
            f"cheap calls: 100% of prompts; built-in checks alone escalate "
            f"{100 * checks['strong_share']:.1f}% for quality {checks['quality']:.4f}"
        )
