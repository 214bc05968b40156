"""``tiergate eval``: offline evaluation of models or routes, and evaluation sets from traffic.

``eval run`` is a thin command over ``tiergate.evaluation.offline``, with every call made
through the gateway's own pipeline (``tiergate.gateway.evaluation_calls``); ``eval sample``
reads the request log. Results go to stdout (one JSON object with ``--json``); progress and
notes go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from tiergate.cli.help import examples
from tiergate.errors import ConfigError

EXIT_STOPPED = 3  # the run stopped before the end (budget or signal): run it again to go on


def _say(message: str) -> None:
    click.echo(message, err=True)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML config file, as for serve (default: $TIERGATE_CONFIG, else the embedded default).",
)


@click.group(
    name="eval",
    epilog=examples("tiergate eval run prompts.jsonl --models claude-haiku-4-5,gpt-5.4,auto"),
)
def eval_group() -> None:
    """Offline evaluation: run models over your prompts, score them, recommend one."""


def _settings(config_path: str | None) -> Any:
    from tiergate.config import load_settings

    try:
        return load_settings(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(
            "give two numbers, e.g. 0.3,0.7", param_hint="--judge-band"
        ) from None
    if not 0 <= low <= high <= 1:
        raise click.BadParameter("need 0 <= low <= high <= 1", param_hint="--judge-band")
    return low, high


@eval_group.command(
    name="run",
    epilog=examples(
        "tiergate eval run prompts.jsonl --models claude-haiku-4-5,gpt-5.4 --scorer exact",
        "tiergate eval run tickets.jsonl --models claude-haiku-4-5,claude-sonnet-4-6 \\",
        "    --scorer judge --judge claude-haiku-4-5 --strong-judge claude-sonnet-4-6 \\",
        "    --budget-usd 5 --report eval.md",
        before="\b\nDATA (JSONL, one item a line; docs/evaluation.md):\n"
        '  {"id": "t0", "prompt": "Reply with the code only.", "reference": "C5FECEB"}\n'
        '  {"id": "t1", "messages": [{"role": "user", "content": "..."}],\n'
        '   "reference": {"label": "bug"}}',
    ),
)
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--models", required=True, help="Comma-separated models or route names.")
@click.option(
    "--scorer",
    type=click.Choice(["exact", "contains", "regex", "json-field", "json-schema", "judge"]),
    default="exact",
    show_default=True,
    help="How an answer is scored against the item's reference (or by a judge model).",
)
@click.option("--pattern", help="regex scorer: the pattern (default: each line's reference).")
@click.option("--field", "field_path", help="json-field scorer: the field, a dotted path.")
@click.option(
    "--schema",
    type=click.Path(exists=True, dir_okay=False),
    help="json-schema scorer: a JSON Schema file (default: each line's reference).",
)
@click.option("--judge", "judge_model", help="judge scorer: the (cheap) grading model.")
@click.option("--strong-judge", help="judge scorer: the model for cases the judge is unsure of.")
@click.option(
    "--rubric",
    type=click.Path(exists=True, dir_okay=False),
    help="judge scorer: a text file the judge grades against.",
)
@click.option("--pairwise", is_flag=True, help="judge scorer: compare models' answers in pairs.")
@click.option(
    "--judge-band",
    default="0.3,0.7",
    show_default=True,
    help="Scores in this band count as unsure and go to --strong-judge.",
)
@click.option(
    "--judge-audit",
    default=0.1,
    show_default=True,
    help="Share of sure verdicts also graded by --strong-judge, to measure agreement.",
)
@click.option(
    "--delta",
    default=0.05,
    show_default=True,
    help="Quality a cheaper model may lose against the best (recommendation rule).",
)
@click.option("--concurrency", default=4, show_default=True, help="Items run at once.")
@click.option("--budget-usd", type=str, help="Stop cleanly before the evaluation costs more.")
@click.option("--max-tokens", type=int, help="max_tokens of every answer.")
@click.option(
    "--results",
    "results_path",
    type=click.Path(dir_okay=False),
    help="Results file; a run resumes from it (default: DATA's name + .results.jsonl).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Write a markdown report (and a PNG plot beside it).",
)
@click.option(
    "--outcomes",
    "outcomes_path",
    type=click.Path(dir_okay=False),
    help="Write per-prompt outcome rows for `tiergate router train`.",
)
@click.option("--route", help="The route these prompts belong to (outcome rows in the store).")
@click.option("--tenant", default="default", show_default=True, help="Tenant of the calls.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@_config_option
def run_command(**options: Any) -> None:
    """Run every prompt of DATA.jsonl through each model, score, and recommend one.

    Exit status 3 when the run stopped before the end (--budget-usd, or a signal); the same
    command continues it without paying any answer twice."""
    summary = asyncio.run(_run(**options))
    if options["as_json"]:
        click.echo(json.dumps(_finite(summary), indent=2, allow_nan=False))
    else:
        from tiergate.evaluation.offline.render import print_summary

        print_summary(summary)
    if not summary["complete"]:
        sys.exit(EXIT_STOPPED)


def _scorer(options: dict[str, Any], items: list[Any]) -> Any:
    from tiergate.evaluation.offline import make_scorer

    name = options["scorer"]
    schema = None
    if options["schema"]:
        try:
            schema = json.loads(Path(options["schema"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot read --schema: {exc}") from None
    needs_reference = (
        name in ("exact", "contains", "json-field")
        or (name == "regex" and not options["pattern"])
        or (name == "json-schema" and schema is None)
    )
    if needs_reference:
        missing = [item.id for item in items if item.reference is None]
        if missing:
            raise click.ClickException(
                f'the {name} scorer needs a "reference" on every line; {len(missing)} lines '
                f"have none (first: id {missing[0]!r})"
            )
    try:
        return make_scorer(
            name, pattern=options["pattern"], field=options["field_path"], schema=schema
        )
    except Exception as exc:  # a bad regex or schema: before anything is paid for
        raise click.ClickException(f"{name} scorer: {exc}") from None


def _judge(options: dict[str, Any], call: Any) -> Any:
    from tiergate.evaluation.offline import DistilledJudge, Judge
    from tiergate.evaluation.offline.judge import DEFAULT_RUBRIC

    rubric = DEFAULT_RUBRIC
    if options["rubric"]:
        rubric = Path(options["rubric"]).read_text(encoding="utf-8").strip()
    cheap = Judge(call, options["judge_model"], rubric)
    strong = Judge(call, options["strong_judge"], rubric) if options["strong_judge"] else None
    return DistilledJudge(
        cheap, strong, band=_band(options["judge_band"]), audit=options["judge_audit"]
    )


async def _run(**options: Any) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from tiergate.evaluation.offline import EvalDataError, EvalRun, RecordedCalls, load_items
    from tiergate.evaluation.offline.calls import ResultsFileError, read_header
    from tiergate.evaluation.offline.dataset import fingerprint
    from tiergate.evaluation.offline.outcomes import outcome_lines, outcome_rows
    from tiergate.evaluation.offline.render import markdown_report, plot_quality_cost
    from tiergate.evaluation.offline.summary import summarise
    from tiergate.gateway.evaluation_calls import GatewayCaller
    from tiergate.store.outcomes import OutcomeStore

    data = options["data"]
    models = [m.strip() for m in options["models"].split(",") if m.strip()]
    if len(set(models)) != len(models) or not models:
        raise click.BadParameter("name each model once", param_hint="--models")
    try:
        items = load_items(data)
    except EvalDataError as exc:
        raise click.ClickException(f"{data}: {exc}") from None
    scorer_name = options["scorer"]
    scorer = None if scorer_name == "judge" else _scorer(options, items)
    if scorer_name == "judge":  # checked before the results file is opened
        if not options["judge_model"]:
            raise click.UsageError("the judge scorer needs --judge MODEL")
        if not 0 <= options["judge_audit"] <= 1:
            raise click.BadParameter("a share between 0 and 1", param_hint="--judge-audit")
        _band(options["judge_band"])
    if options["pairwise"] and (scorer_name != "judge" or len(models) < 2):
        raise click.UsageError("--pairwise needs --scorer judge and at least two models")
    budget = None
    if options["budget_usd"] is not None:
        try:
            budget = Decimal(options["budget_usd"])
        except ArithmeticError:
            raise click.BadParameter("a number of US dollars", param_hint="--budget-usd") from None
    results = options["results_path"] or str(Path(data).with_suffix("")) + ".results.jsonl"
    header = read_header(results)
    run_id = header["run"] if header else secrets.token_hex(6)
    settings = _settings(options["config_path"])
    try:
        caller = GatewayCaller(settings, run_id, options["tenant"])
    except ConfigError as exc:
        raise click.ClickException(str(settings.locate(exc))) from None
    targets = models + [m for m in (options["judge_model"], options["strong_judge"]) if m]
    for name in targets:
        problem = caller.check_target(name)
        if problem:
            raise click.ClickException(problem)
    description = {
        "run": run_id,
        "data": fingerprint(items),
        "models": models,
        "scorer": scorer_name,
    }
    async with caller:
        try:
            calls = RecordedCalls(results, description, caller)
        except ResultsFileError as exc:
            raise click.ClickException(str(exc)) from None
        if header:
            _say(
                f"resuming run {run_id} from {results}: {calls.kept} answers kept, "
                f"${calls.spent:.4f} spent so far"
            )
        if calls.resent:
            _say(
                f"{calls.resent} calls were in flight when the last run was killed; their "
                "answers never came back, so they are sent again"
            )
        judge = _judge(options, calls) if scorer_name == "judge" else None
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[cost]}"),
            console=Console(stderr=True),
            disable=options["no_progress"],
            transient=False,
        )
        task = progress.add_task("evaluating", total=len(items), cost=f"${calls.spent:.4f}")

        def advance(done: int, spent: Decimal) -> None:
            progress.update(task, completed=done, cost=f"${spent:.4f}")

        run = EvalRun(
            items,
            models,
            calls,
            scorer=scorer,
            judge=judge,
            pairwise=options["pairwise"],
            concurrency=options["concurrency"],
            budget_usd=budget,
            max_tokens=options["max_tokens"],
            on_progress=advance,
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _stopper(loop, run, signum))
        try:
            with progress:
                result = await run.run()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            calls.close()
        route = options["route"] or _common(items, "route")
        rows = outcome_rows(result, models, run_id=run_id, route=route, tenant=options["tenant"])
        await OutcomeStore(caller.gateway.store).save(rows)
    summary = summarise(
        result,
        models,
        delta=options["delta"],
        scorer=scorer_name,
        extra={"run": run_id, "data": data, "results": results, "route": route},
    )
    if result.stopped == "budget":
        _say(
            f"stopped: the next item would take the cost past --budget-usd {budget} "
            f"(spent ${calls.spent:.4f})"
        )
    elif result.stopped:
        _say("stopped by a signal after the calls in flight finished")
    if options["outcomes_path"]:
        lines = outcome_lines(result, models, route)
        Path(options["outcomes_path"]).write_text(
            "".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8"
        )
        _say(f"wrote {len(lines)} outcome rows to {options['outcomes_path']}")
    if options["report_path"]:
        report = Path(options["report_path"])
        plot = report.with_suffix(".png")
        plot_quality_cost(summary, plot)
        markdown_report(summary, report, plot.name)
        _say(f"wrote {report} and {plot}")
    return summary


def _stopper(loop: asyncio.AbstractEventLoop, run: Any, signum: int) -> Any:
    def stop() -> None:
        if run.stopped is not None:  # a second signal: stop now, without waiting
            loop.remove_signal_handler(signum)
            signal.raise_signal(signum)
            return
        _say("stopping: the calls in flight finish and are kept (signal again to abort)")
        run.stop("signal")

    return stop


def _common(items: list[Any], key: str) -> str | None:
    values = {item.extra.get(key) for item in items}
    value = values.pop() if len(values) == 1 else None
    return value if isinstance(value, str) else None


@eval_group.command(
    name="sample",
    epilog=examples(
        "tiergate eval sample --route support --since 7d --size 200 --out support.jsonl",
        before="Output: JSONL in `eval run`'s DATA format (needs `log: {bodies: true}`).",
    ),
)
@click.option("--route", required=True, help="The route (or model requested) to sample.")
@click.option("--since", default="7d", show_default=True, help="Window: 7d, 24h, 30m, or a date.")
@click.option("--until", default=None, help="End of the window (default: now).")
@click.option("--tenant", default=None, help="Only this tenant's requests.")
@click.option("--size", default=200, show_default=True, help="How many requests to export.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random sample.")
@click.option(
    "--with-reference",
    is_flag=True,
    help="Use the logged answer as each line's reference (the served model's).",
)
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Output file (default stdout).")
@_config_option
def sample_command(**options: Any) -> None:
    """Export a random sample of a route's logged requests as an evaluation set."""
    from tiergate.cli.eval_sample import sample

    settings = _settings(options["config_path"])
    lines, notes = asyncio.run(
        sample(settings, **{k: v for k, v in options.items() if k not in ("config_path", "out")})
    )
    for note in notes:
        _say(note)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    if options["out"]:
        Path(options["out"]).write_text(text, encoding="utf-8")
        _say(f"wrote {len(lines)} lines to {options['out']}")
    else:
        click.echo(text, nl=False)
