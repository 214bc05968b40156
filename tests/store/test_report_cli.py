"""``tiergate report`` through click's CliRunner, against a seeded store of each kind."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.store.workload import HAIKU, SONNET
from tiergate.cli.report import report


async def _invoke(store_url: str, args: list[str], **env: str) -> Result:
    """Run the command in a thread: it calls asyncio.run itself, as it does from a shell."""
    runner = CliRunner()
    environment = {"TIERGATE_DATABASE_URL": store_url, **env}
    return await asyncio.to_thread(runner.invoke, report, args, env=environment)


@pytest.fixture
async def url(seeded: Any, store_url: str) -> str:
    return store_url


async def test_json_has_the_contract_keys_and_exact_figures(url: str) -> None:
    result = await _invoke(url, ["--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["requests"] == 12 and data["cost_usd"] == 0.0357
    assert data["totals"]["exact"]["savings_usd"] == "0.0105"
    assert {"by_day", "by_model", "by_tenant", "by_route", "by_route_model", "tiers"} <= set(data)


async def test_filters_and_csv(url: str) -> None:
    result = await _invoke(url, ["--csv", "--by", "tenant", "--since", "2025-11-25"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["tenant"], r["requests"], r["cost_usd"]) for r in rows] == [("globex", "4", "0.021")]
    scoped = json.loads((await _invoke(url, ["--json", "--tenant", "acme"])).output)
    assert scoped["requests"] == 8 and [t["tenant"] for t in scoped["by_tenant"]] == ["acme"]
    routed = json.loads((await _invoke(url, ["--json", "--route", "code"])).output)
    assert routed["requests"] == 4


async def test_tables_for_people(url: str) -> None:
    result = await _invoke(url, ["--by", "model"], COLUMNS="200")
    assert result.exit_code == 0, result.output
    assert "12 requests" in result.output and HAIKU in result.output
    days = await _invoke(url, ["--by", "day"])
    assert "2025-11-24" in days.output and "2025-11-25" in days.output


async def test_ab(url: str) -> None:
    result = await _invoke(url, ["--json", "--route", "triage", "--ab", f"{HAIKU},{SONNET}"])
    ab = json.loads(result.output)["ab"]
    assert (ab["a"]["model"], ab["b"]["model"], ab["delta"]["p50_ms"]) == (HAIKU, SONNET, 700.0)
    table = await _invoke(url, ["--route", "triage", "--ab", f"{HAIKU},{SONNET}"], COLUMNS="200")
    assert "A/B on route triage" in table.output and "$0.001050" in table.output
    bad = await _invoke(url, ["--ab", HAIKU])
    assert bad.exit_code == 2 and "two models" in bad.output


async def test_bad_since_is_a_usage_error(url: str) -> None:
    result = await _invoke(url, ["--since", "yesterday-ish"])
    assert result.exit_code == 2 and "span like 7d" in result.output


async def test_sqlite_in_the_data_dir_by_default(tmp_path: Any) -> None:
    result = await _invoke("", ["--json"], TIERGATE_DATA_DIR=str(tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["requests"] == 0
    assert (tmp_path / "tiergate.db").exists()


async def test_the_gateways_config_file_says_where_the_log_is(tmp_path: Any) -> None:
    """``TIERGATE_CONFIG``'s ``data_dir`` is where ``serve`` writes the log, so it is where
    ``report`` reads it (no TIERGATE_DATA_DIR needed)."""
    from tiergate.store.backend import open_store
    from tiergate.store.records import RequestRecord
    from tiergate.store.request_log import RequestLog

    logs = tmp_path / "logs"
    store = await open_store(f"sqlite:///{logs / 'tiergate.db'}")
    log = RequestLog(store)
    log.submit(RequestRecord(id="req_1", ts_ms=1_700_000_000_000, requested_model=HAIKU))
    await log.aclose()
    await store.aclose()
    config = tmp_path / "tiergate.yaml"
    config.write_text(f"data_dir: {logs}\n")
    elsewhere = tmp_path / "elsewhere"
    result = await _invoke(
        "", ["--json"], TIERGATE_CONFIG=str(config), XDG_DATA_HOME=str(elsewhere)
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["requests"] == 1
    assert not elsewhere.exists()


async def test_an_unusable_database_url_is_an_error_message_not_a_traceback() -> None:
    result = await _invoke("mysql://db/x", ["--json"])
    assert result.exit_code == 1
    assert "cannot read the request log: ConfigError: unsupported database URL" in result.output
    assert isinstance(result.exception, SystemExit)
