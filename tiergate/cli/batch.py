"""``tiergate batch``: submit a batch job to a running gateway, watch it, fetch its results.

A client of the gateway's own batch APIs (Anthropic's Message Batches and OpenAI's Batch and
Files APIs), not an in-process runner: the items are run by the gateway's runners, which
share the work across replicas through the store and survive this command's exit, and they
are charged to the key given here, under its tenant, budget and rate limits, exactly as a
job created with either SDK. The command needs only the gateway's URL and a key, no database.

The progress bar's spend comes from the gateway's report (``/v1/tiergate/report``), read
every few polls: reports are rate-limited per tenant, batch status is not.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

DEFAULT_URL = "http://127.0.0.1:8000"
_ANTHROPIC = "/v1/messages/batches"
_OPENAI = "/v1/batches"
_ENDED = {"ended", "completed", "failed", "expired", "cancelled"}
_FORMATS = """\b
Input (JSONL, one request a line), either shape; the first line decides:
  Anthropic Message Batches: {"custom_id": "a1", "params": {"model": "auto",
      "max_tokens": 256, "messages": [{"role": "user", "content": "Hi"}]}}
  OpenAI Batch API:          {"custom_id": "a1", "method": "POST",
      "url": "/v1/chat/completions", "body": {"model": "auto", "messages": [...]}}
"""


class GatewayClient:
    """The few HTTP calls the commands make, with the caller's key; errors are the
    gateway's own message, as a ``ClickException``."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url = url.rstrip("/")
        self.key = key

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> bytes:
        headers = {"anthropic-version": "2023-06-01"}
        if self.key:
            headers["authorization"] = f"Bearer {self.key}"
        if content_type:
            headers["content-type"] = content_type
        request = urllib.request.Request(self.url + path, body, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            problem = f"{method} {path}: {exc.code} {_message(exc.read())}"
            raise click.ClickException(problem) from None
        except urllib.error.URLError as exc:
            raise click.ClickException(
                f"cannot reach the gateway at {self.url} ({exc.reason}); is `tiergate serve` "
                "running, and is --url right?"
            ) from None

    def json(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        data = self.request(method, path, body, "application/json" if body else None)
        result: dict[str, Any] = json.loads(data)
        return result


def _message(body: bytes) -> str:
    try:
        error = json.loads(body).get("error", {})
        return str(error.get("message") or body.decode(errors="replace"))
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:500]


def _is_anthropic(batch_id: str) -> bool:
    return batch_id.startswith("msgbatch_")


def _status(client: GatewayClient, batch_id: str) -> dict[str, Any]:
    """One shape for both APIs: status, total, done, failed, ended, created (epoch s)."""
    if _is_anthropic(batch_id):
        job = client.json("GET", f"{_ANTHROPIC}/{batch_id}")
        counts = job["request_counts"]
        failed = counts["errored"] + counts["canceled"] + counts["expired"]
        total = failed + counts["succeeded"] + counts["processing"]
        ended = job["processing_status"] == "ended"
        status = job["processing_status"]
        created = job.get("created_at", "")
        return {
            "id": batch_id,
            "status": status,
            "total": total,
            "done": counts["succeeded"],
            "failed": failed,
            "ended": ended,
            "created": created,
        }
    job = client.json("GET", f"{_OPENAI}/{batch_id}")
    counts = job["request_counts"]
    return {
        "id": batch_id,
        "status": job["status"],
        "total": counts["total"],
        "done": counts["completed"],
        "failed": counts["failed"],
        "ended": job["status"] in _ENDED,
        "created": job.get("created_at"),
    }


def _since(created: Any) -> str:
    """The report's ``since`` for a job created at ``created`` (ISO text or epoch seconds)."""
    if isinstance(created, int | float):
        return datetime.fromtimestamp(created, UTC).isoformat()
    return str(created or "30d")


def _spend(client: GatewayClient, batch_id: str, created: Any) -> float | None:
    """What the job's answers have cost so far, from the report; None if it is not there."""
    query = urllib.parse.urlencode({"since": _since(created)})
    try:
        report = client.json("GET", f"/v1/tiergate/report?{query}")
    except click.ClickException:
        return None  # a report refused (rate limit) costs the bar its spend figure, not the run
    for job in report.get("batches", []):
        if job.get("id") == batch_id:
            return float(job.get("cost_usd") or 0)
    return None


def usd(value: float | None) -> str:
    """``-$0.86``, ``$0.0012``: the sign before the dollar, cents from a cent up."""
    if value is None:
        return "—"
    sign, size = ("-" if value < 0 else ""), abs(value)
    text = f"{size:,.2f}" if size >= 0.01 or size == 0 else f"{size:.2g}"
    return f"{sign}${text}"


def _read_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise click.ClickException(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(item, dict) or "custom_id" not in item:
            raise click.ClickException(f"{path}:{number}: each line is an object with custom_id")
        lines.append(item)
    if not lines:
        raise click.ClickException(f"{path}: no requests in it")
    return lines


def _submit(client: GatewayClient, path: Path) -> str:
    items = _read_lines(path)
    if "params" in items[0]:
        job = client.json("POST", _ANTHROPIC, {"requests": items})
        return str(job["id"])
    if "body" not in items[0]:
        raise click.ClickException(
            f"{path}:1: neither shape: an Anthropic line has `params`, an OpenAI line `body`"
        )
    boundary = secrets.token_hex(16)
    content = path.read_bytes()
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"'
            "\r\nContent-Type: application/jsonl\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    upload = json.loads(
        client.request("POST", "/v1/files", form, f"multipart/form-data; boundary={boundary}")
    )
    endpoint = str(items[0].get("url") or "/v1/chat/completions")
    job = client.json(
        "POST",
        _OPENAI,
        {"input_file_id": upload["id"], "endpoint": endpoint, "completion_window": "24h"},
    )
    return str(job["id"])


def _watch(client: GatewayClient, batch_id: str, interval: float) -> dict[str, Any]:
    """A progress bar (done, failed, spend, ETA) until the job ends; its last status."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    status = _status(client, batch_id)
    spend = _spend(client, batch_id, status["created"])
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TextColumn("spend {task.fields[spend]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(batch_id, total=status["total"], failed=0, spend=usd(spend))
        polls = 0
        while True:
            progress.update(
                task,
                completed=status["done"] + status["failed"],
                failed=status["failed"],
                spend=usd(spend),
            )
            if status["ended"]:
                break
            time.sleep(interval)
            polls += 1
            status = _status(client, batch_id)
            if polls % 5 == 0 or status["ended"]:
                spend = _spend(client, batch_id, status["created"])
        spend = _spend(client, batch_id, status["created"])
        progress.update(task, spend=usd(spend))
    status["spend_usd"] = spend
    return status


_URL = click.option(
    "--url",
    envvar="TIERGATE_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The gateway's base URL (env TIERGATE_URL).",
)
_KEY = click.option(
    "--key",
    envvar="TIERGATE_KEY",
    default=None,
    help="A tiergate key to run the job under (env TIERGATE_KEY); not needed when the gateway "
    "runs without keys on loopback.",
)


@click.group(
    epilog="\b\nExample:\n  tiergate batch submit requests.jsonl --key $TIERGATE_KEY\n"
    "  tiergate batch results msgbatch_01... --out results.jsonl"
)
def batch() -> None:
    """Batch jobs on a running gateway: submit, watch, fetch results, cancel (docs/batches.md).

    Items run through the same routing, key, budget and request log as live requests; the
    gateway does the work, so this command may exit and the job goes on.
    """


@batch.command(
    epilog=_FORMATS + "\b\nExample:\n  tiergate batch submit requests.jsonl "
    "--key tg-...   # waits with a progress bar\n"
    "  tiergate batch submit requests.jsonl --no-wait"
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_URL
@_KEY
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Show a progress bar (done, failed, spend, ETA) until the job ends; "
    "--no-wait prints the job id and returns.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1),
    default=2.0,
    show_default=True,
    help="Seconds between status polls while waiting.",
)
def submit(file: Path, url: str, key: str | None, wait: bool, interval: float) -> None:
    """Create a batch job from FILE (JSONL; Anthropic or OpenAI batch lines) and print its id."""
    client = GatewayClient(url, key)
    batch_id = _submit(client, file)
    click.echo(batch_id)
    if wait:
        status = _watch(client, batch_id, interval)
        click.echo(
            f"{status['status']}: {status['done']} done, {status['failed']} failed, "
            f"spend {usd(status['spend_usd'])}"
        )


@batch.command(
    epilog="\b\nExample:\n  tiergate batch status msgbatch_01... --watch\n"
    "  tiergate batch status batch_01... --json"
)
@click.argument("batch_id")
@_URL
@_KEY
@click.option("--watch", is_flag=True, help="Show a progress bar until the job ends.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the status as one JSON object (id, status, total, done, failed, ended, spend_usd).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1),
    default=2.0,
    show_default=True,
    help="Seconds between polls with --watch.",
)
def status(
    batch_id: str, url: str, key: str | None, watch: bool, as_json: bool, interval: float
) -> None:
    """How far job BATCH_ID is: done, failed, of how many, and what it has cost."""
    client = GatewayClient(url, key)
    if watch:
        shown = _watch(client, batch_id, interval)
    else:
        shown = _status(client, batch_id)
        shown["spend_usd"] = _spend(client, batch_id, shown["created"])
    if as_json:
        click.echo(json.dumps(shown))
    else:
        click.echo(
            f"{shown['id']}  {shown['status']}  {shown['done']}/{shown['total']} done  "
            f"{shown['failed']} failed  spend {usd(shown['spend_usd'])}"
        )


@batch.command(
    epilog="\b\nOutput: JSONL, one result a line, in the API's own shape "
    "(Anthropic: custom_id + result; OpenAI: custom_id + response / error).\n"
    "\b\nExample:\n  tiergate batch results msgbatch_01... --out out.jsonl"
)
@click.argument("batch_id")
@_URL
@_KEY
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the results to this file (JSONL), not standard output.",
)
def results(batch_id: str, url: str, key: str | None, out: Path | None) -> None:
    """The results of ended job BATCH_ID, one JSON line per request."""
    client = GatewayClient(url, key)
    if _is_anthropic(batch_id):
        data = client.request("GET", f"{_ANTHROPIC}/{batch_id}/results")
    else:
        job = client.json("GET", f"{_OPENAI}/{batch_id}")
        if job["status"] not in _ENDED:
            raise click.ClickException(f"{batch_id} is {job['status']}: no results yet")
        files = [job.get("output_file_id"), job.get("error_file_id")]
        data = b"".join(client.request("GET", f"/v1/files/{f}/content") for f in files if f)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        click.echo(f"{len(data.splitlines())} results written to {out}", err=True)


@batch.command(epilog="\b\nExample:\n  tiergate batch cancel msgbatch_01...")
@click.argument("batch_id")
@_URL
@_KEY
def cancel(batch_id: str, url: str, key: str | None) -> None:
    """Cancel job BATCH_ID: items not yet started are not run; those running finish."""
    client = GatewayClient(url, key)
    path = (
        f"{_ANTHROPIC}/{batch_id}/cancel"
        if _is_anthropic(batch_id)
        else f"{_OPENAI}/{batch_id}/cancel"
    )
    client.json("POST", path)
    shown = _status(client, batch_id)
    click.echo(f"{batch_id}  {shown['status']}  {shown['done']} done, {shown['failed']} failed")
