"""The evaluation summary for people: a terminal table (rich), a markdown report and its plot.

matplotlib is imported only when a report is written, with the Agg backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["markdown_report", "plot_quality_cost", "print_summary"]


def _money(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:,.4f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _interval(pair: list[float] | None, digits: int = 3) -> str:
    if not pair:
        return "-"
    return f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


def print_summary(summary: dict[str, Any], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    title = f"{summary['items']} of {summary['items_in_set']} items, scorer {summary['scorer']}"
    table = Table(title=title)
    for name in ("model", "quality", "95% CI", "errors", "cost / 1k req", "p50 ms", "p95 ms"):
        table.add_column(name, justify="left" if name == "model" else "right")
    chosen = summary["recommendation"].get("model")
    for row in summary["models"]:
        mark = " *" if row["model"] == chosen else ""
        table.add_row(
            row["model"] + mark,
            f"{row['quality']:.3f}",
            _interval(row["ci95"]),
            str(row["errors"]),
            _money(row["cost_per_1k_usd"]),
            _ms(row["latency_ms"]["p50"]),
            _ms(row["latency_ms"]["p95"]),
        )
    console.print(table)
    if summary["pairs"]:
        pairs = Table(title="paired, A against B")
        for name in ("A", "B", "n", "win", "tie", "loss", "A - B", "95% CI"):
            pairs.add_column(name, justify="left" if name in ("A", "B") else "right")
        for pair in summary["pairs"]:
            difference = pair["difference"]
            pairs.add_row(
                pair["a"],
                pair["b"],
                str(pair["n"]),
                str(pair["win"]),
                str(pair["tie"]),
                str(pair["loss"]),
                "-" if difference is None else f"{difference:+.3f}",
                _interval(pair["difference_ci95"]),
            )
        console.print(pairs)
    judge = summary.get("judge")
    if judge:
        console.print(_judge_line(judge))
    recommendation = summary["recommendation"]
    console.print(f"[bold]recommendation: {chosen}[/bold] - {recommendation['reason']}")
    console.print(f"rule: {recommendation['rule']} (delta {recommendation['delta']:g})")
    cost = summary["cost_usd"]
    console.print(
        f"cost: {_money(cost['total'])} in all ({_money(cost['this_run'])} this run); calls "
        f"sent {summary['calls']['sent']}, read back {summary['calls']['resumed']}"
    )
    if not summary["complete"]:
        console.print(
            f"[yellow]stopped ({summary['stopped']}) before the end: run the same "
            "command again to continue[/yellow]"
        )


def _judge_line(judge: dict[str, Any]) -> str:
    line = (
        f"judge {judge['cheap']}"
        + (f" -> {judge['strong']}" if judge["strong"] else "")
        + f": {judge['verdicts']} verdicts, {judge['escalated']} escalated, cost "
        + _money(judge["total_cost_usd"])
    )
    for name in ("agreement_on_audit", "final_vs_labels", "cheap_vs_labels"):
        figure = judge.get(name)
        if figure:
            line += f"; {name.replace('_', ' ')} {figure['agreement']:.3f} (n={figure['n']})"
    return line


def plot_quality_cost(summary: dict[str, Any], path: str | Path) -> None:
    """Quality (with its interval) against cost per 1,000 requests, one point per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    chosen = summary["recommendation"].get("model")
    for row in summary["models"]:
        cost = row["cost_per_1k_usd"] or 0.0
        low, high = row["ci95"]
        quality = row["quality"]
        label = row["model"] + (" (recommended)" if row["model"] == chosen else "")
        spread = [[max(0.0, quality - low)], [max(0.0, high - quality)]]
        axes.errorbar(
            [cost],
            [quality],
            yerr=spread,
            fmt="o" if row["model"] != chosen else "D",
            capsize=4,
            label=label,
        )
    axes.set_xlabel("cost per 1,000 requests (USD)")
    axes.set_ylabel("quality (mean score, 95% CI)")
    axes.set_title("Quality against cost")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown_report(summary: dict[str, Any], path: str | Path, plot_name: str | None) -> None:
    lines = [
        "# Evaluation report",
        "",
        f"Data: `{summary.get('data')}` ({summary['items']} of {summary['items_in_set']} items"
        f"{'' if summary['complete'] else ', stopped: ' + str(summary['stopped'])}); "
        f"scorer: {summary['scorer']}; run `{summary.get('run')}`.",
        "",
        "| model | quality | 95% CI | interval | errors | cost / 1k requests | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary["models"]:
        lines.append(
            f"| {row['model']} | {row['quality']:.3f} | {_interval(row['ci95'])} | "
            f"{row['interval']} | {row['errors']} | {_money(row['cost_per_1k_usd'])} | "
            f"{_ms(row['latency_ms']['p50'])} | {_ms(row['latency_ms']['p95'])} |"
        )
    if summary["pairs"]:
        lines += [
            "",
            "| A | B | n | win | tie | loss | A - B | 95% CI |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for pair in summary["pairs"]:
            difference = pair["difference"]
            lines.append(
                f"| {pair['a']} | {pair['b']} | {pair['n']} | {pair['win']} | {pair['tie']} | "
                f"{pair['loss']} | {'-' if difference is None else f'{difference:+.3f}'} | "
                f"{_interval(pair['difference_ci95'])} |"
            )
    recommendation = summary["recommendation"]
    lines += [
        "",
        f"**Recommendation: {recommendation.get('model')}**. {recommendation['reason']}.",
        "",
        f"Rule: {recommendation['rule']}; delta = {recommendation['delta']:g}.",
    ]
    if summary.get("judge"):
        lines += ["", _judge_line(summary["judge"]) + "."]
    cost = summary["cost_usd"]
    lines += ["", f"Cost: {_money(cost['total'])} (answers {_money(cost['answers'])})."]
    if plot_name:
        lines += ["", f"![quality against cost]({plot_name})"]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
