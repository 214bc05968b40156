"""``tiergate cost project`` and ``import-prices`` through click's CliRunner."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tiergate.catalog import load_catalog
from tiergate.cli.cost import cost as cost_cli
from tiergate.config import Settings, load_settings
from tiergate.cost import cost_of
from tiergate.types import Usage

EXAMPLE = [
    *["project", "--model", "claude-haiku-4-5", "--model", "claude-sonnet-4-6"],
    *["--model", "claude-opus-4-7", "--requests-per-day", "500", "--input-tokens", "800"],
    *["--output-tokens", "50"],
]


def test_issue_example_json_to_the_cent() -> None:
    result = CliRunner().invoke(cost_cli, [*EXAMPLE, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["model"], r["daily_usd"], r["daily_usd_exact"]) for r in rows] == [
        ("claude-haiku-4-5", 0.525, "0.525"),
        ("claude-sonnet-4-6", 1.575, "1.575"),
        ("claude-opus-4-7", 2.625, "2.625"),
    ]
    assert [r["monthly_usd_exact"] for r in rows] == ["15.75", "47.25", "78.75"]
    assert all(r["days_per_month"] == 30 and r["priced"] for r in rows)


def test_table_is_side_by_side_and_unwrapped() -> None:
    result = CliRunner().invoke(cost_cli, EXAMPLE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    haiku = next(line for line in lines if "claude-haiku-4-5" in line)
    assert "$0.00105" in haiku and "$0.525" in haiku and "$15.75" in haiku
    assert any("$1.575" in line and "claude-sonnet-4-6" in line for line in lines)
    assert any("$2.625" in line and "claude-opus-4-7" in line for line in lines)
    assert "month = 30 days" in result.output


def test_cache_batch_and_unpriced_flags() -> None:
    args = [
        *["project", "--model", "sonnet", "--model", "haiku", "--model", "deepseek-v4-flash"],
        *["--requests-per-day", "1000", "--input-tokens", "5000", "--output-tokens", "100"],
        *["--cached-prefix-tokens", "3000", "--cache-hit-rate", "0.9", "--json"],
    ]
    rows = json.loads(CliRunner().invoke(cost_cli, args).output)
    assert rows[0]["daily_usd_exact"] == "9.435" and rows[0]["cache_applied"]
    assert not rows[1]["cache_applied"]  # 3,000 < Haiku's 4,096 minimum
    assert rows[2]["daily_usd"] is None and rows[2]["priced"] is False
    batch = json.loads(CliRunner().invoke(cost_cli, [*EXAMPLE, "--batch", "--json"]).output)
    assert batch[0]["daily_usd_exact"] == "0.2625"
    table = CliRunner().invoke(cost_cli, args[:-1]).output
    assert "unpriced" in table and "no caching on claude-haiku-4-5" in table


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--cache-hit-rate", "1.5"], "between 0 and 1"),
        (["--cache-hit-rate", "lots"], "between 0 and 1"),
        (["--cache-hit-rate", "nan"], "between 0 and 1"),
        (["--cache-hit-rate", "sNaN"], "between 0 and 1"),
    ],
)
def test_bad_input_is_a_clean_error(extra: list[str], message: str) -> None:
    result = CliRunner().invoke(cost_cli, [*EXAMPLE, *extra])
    assert result.exit_code != 0 and message in result.output


def test_config_overrides_prices(tmp_path: Path) -> None:
    config = tmp_path / "tiergate.yaml"
    config.write_text(
        'models:\n  - id: claude-haiku-4-5\n    pricing: {input: "2", output: "10"}\n'
    )
    args = [
        *[*EXAMPLE[:3], "--requests-per-day", "500", "--input-tokens", "800"],
        *["--output-tokens", "50", "--config", str(config), "--json"],
    ]
    result = CliRunner().invoke(cost_cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["daily_usd_exact"] == "1.05"


def test_the_gateways_own_config_file_prices_the_projection(tmp_path: Path) -> None:
    """With no --config, $TIERGATE_CONFIG gives the prices, as it does to ``serve``."""
    config = tmp_path / "tiergate.yaml"
    config.write_text(
        'models:\n  - id: claude-haiku-4-5\n    pricing: {input: "2", output: "10"}\n'
    )
    args = [
        *[*EXAMPLE[:3], "--requests-per-day", "500", "--input-tokens", "800"],
        *["--output-tokens", "50", "--json"],
    ]
    result = CliRunner().invoke(cost_cli, args, env={"TIERGATE_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["daily_usd_exact"] == "1.05"


def test_import_prices_round_trips_into_the_catalog(tmp_path: Path) -> None:
    pytest.importorskip("genai_prices")
    out = tmp_path / "prices.yaml"
    result = CliRunner().invoke(cost_cli, ["import-prices", "--out", str(out), "--yes"])
    assert result.exit_code == 0, result.output
    assert "skipped deepseek-v4-flash: prices vary by time of day" in result.output
    entries = yaml.safe_load(out.read_text())["models"]
    by_id = {e["id"]: e for e in entries}
    assert by_id["claude-haiku-4-5"]["pricing"]["cache_write_1h"] == "2"
    catalog = load_catalog(load_settings(out, env={}).models)  # the output is valid config
    haiku = catalog.resolve("haiku")
    assert cost_of(Usage(input_tokens=800, output_tokens=50), haiku).usd == Decimal("0.00105")
    gpt = catalog.resolve("gpt-5.4")
    assert gpt.pricing is not None and gpt.pricing.long_context_threshold == 272_000
    assert gpt.price_source is not None and "genai-prices" in gpt.price_source


def test_import_prices_shows_what_would_change_before_writing(tmp_path: Path) -> None:
    """A config still at issue 3's gpt-5.4 figure ($2 / $8): the import says what it would
    change, rate by rate, and writes nothing when the answer is no."""
    pytest.importorskip("genai_prices")
    config = tmp_path / "tiergate.yaml"
    config.write_text(
        'models:\n  - id: gpt-5.4\n    pricing: {input: "2", output: "8", cache_read: "0.20"}\n'
    )
    out = tmp_path / "prices.yaml"
    args = ["import-prices", "--model", "gpt-5.4", "--config", str(config), "--out", str(out)]
    refused = CliRunner().invoke(cost_cli, args, input="n\n")
    assert refused.exit_code != 0 and not out.exists()
    assert "gpt-5.4:" in refused.output
    assert "standard.input: 2 -> 2.5" in refused.output
    assert "standard.output: 8 -> 15" in refused.output
    assert "long_context.threshold_tokens: (none) -> 272000" in refused.output
    accepted = CliRunner().invoke(cost_cli, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert yaml.safe_load(out.read_text())["models"][0]["pricing"]["input"] == "2.5"
    dry = CliRunner().invoke(cost_cli, [*args[:-2], "--dry-run"])
    assert dry.exit_code == 0 and "standard.input: 2 -> 2.5" in dry.output
    assert "models:" not in dry.output  # nothing written, not even to standard output


def test_import_keeps_the_catalogs_tier_geography_and_tool_rules() -> None:
    pytest.importorskip("genai_prices")
    from tiergate.cost.importer import import_prices

    entries = import_prices(load_catalog(), ["gpt-5.4", "claude-sonnet-4-6"]).entries
    by_id = {e["id"]: e["pricing"] for e in entries}
    assert by_id["gpt-5.4"]["service_tiers"] == {"priority": "2", "flex": "0.5"}
    assert by_id["claude-sonnet-4-6"]["inference_geo"] == {"us": "1.1"}
    assert by_id["claude-sonnet-4-6"]["server_tools"]["web_search"] == "10"
    assert by_id["claude-sonnet-4-6"]["server_tools"]["code_execution"] is None
    load_catalog(Settings.model_validate({"models": entries}).models)  # still valid config


def test_models_lists_the_catalog(tmp_path: Path) -> None:
    from tiergate.cli.models import models

    config = tmp_path / "tiergate.yaml"
    config.write_text(
        "credits:\n  baseline: claude-sonnet-4-6\n  usd_per_credit: '0.01'\n"
        "  multipliers: {claude-haiku-4-5: '0.3'}\n"
    )
    result = CliRunner().invoke(models, ["--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    listed = {m["id"]: m for m in json.loads(result.output)["models"]}
    gpt = listed["gpt-5.4"]
    assert gpt["pricing"]["standard"]["input"] == "2.5"
    assert gpt["pricing"]["standard"]["cache_read"] == "0.25"
    assert gpt["pricing"]["batch"]["output"] == "7.5"
    assert gpt["pricing"]["long_context"]["threshold_tokens"] == 272_000
    assert gpt["pricing"]["service_tiers"] == {"priority": "2", "flex": "0.5"}
    assert (gpt["context_window"], gpt["max_output"]) == (1_050_000, 128_000)
    assert gpt["price_source"] and gpt["price_as_of"] == "2026-12-05"
    assert listed["deepseek-v4-flash"]["pricing"] is None  # unpriced, never $0
    assert listed["claude-haiku-4-5"]["credit_multiplier"] == "0.3"
    assert listed["claude-sonnet-4-6"]["pricing"]["server_tools_per_1000"]["web_search"] == "10"
    table = CliRunner().invoke(models, [], env={"COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    assert "gpt-5.4" in table.output and "unpriced" in table.output
    assert ">272,000: $5/$22.5" in table.output
