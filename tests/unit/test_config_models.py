"""``models:`` entries are typed settings: a wrong type or an unknown key stops
``load_settings`` with its key path and line, a good entry is held as a ``ModelEntry``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tiergate.catalog import load_catalog
from tiergate.config import load_settings
from tiergate.config.models import ModelEntry, PricingSpec
from tiergate.errors import ConfigError

LOCAL = "deployments:\n  - {name: small, model: local/smollm2-135m, provider: local}\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiergate.yaml"
    path.write_text(LOCAL + text)
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    """The lines of the error ``load_settings`` raises, after its first (the file's name)."""
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text), env={})
    return [line.strip() for line in str(info.value).splitlines()[1:]]


def test_a_valid_entry_is_held_typed_and_reaches_the_catalog(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "models:\n"
        "  - id: gpt-5.4\n"
        '    pricing: {input: "3", output: "15", batch: {input: "1.5", output: "7.5"}}\n'
        "  - id: house-model\n"
        "    provider: openai\n"
        "    context_window: 32768\n"
        "    max_output: 4096\n"
        "    aliases: [house]\n"
        "    capabilities: [tools]\n"
        "    pricing: null\n",
    )
    settings = load_settings(path, env={})
    changed, added = settings.models
    assert isinstance(changed, ModelEntry) and isinstance(changed.pricing, PricingSpec)
    assert changed.pricing.input == Decimal("3")
    assert changed.pricing.batch is not None and changed.pricing.batch.output == Decimal("7.5")
    assert changed.provider is None  # not given: the catalog's entry keeps its own
    assert added.capabilities == frozenset({"tools"}) and added.aliases == ("house",)
    catalog = load_catalog(settings.models)
    assert catalog.resolve("house").id == "house-model" and not catalog.resolve("house").priced
    gpt = catalog.resolve("gpt-5.4")
    assert gpt.pricing is not None and gpt.pricing.standard.per_million()["input"] == 3
    assert gpt.context_window == load_catalog().resolve("gpt-5.4").context_window


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "models:\n  - {id: a, provider: x, context_window: 8, max_output: 8}\n"
            "  - id: gpt-5.4\n    context_window: lots\n",
            "models[1].context_window (line 6): Input should be a valid integer",
        ),
        (
            "models:\n  - id: gpt-5.4\n    pricing:\n      input: 0.1\n      output: '1'\n",
            'models[0].pricing.input (line 6): write prices as quoted strings ("0.1")',
        ),
        (
            "models:\n  - id: gpt-5.4\n    pricing: {input: '2'}\n",
            "models[0].pricing.output (line 5): Field required",
        ),
        (
            "models:\n  - id: gpt-5.4\n    max_output: 0\n",
            "models[0].max_output (line 5): Input should be greater than 0",
        ),
        (
            "models:\n  - id: gpt-5.4\n    capabilities: [tools, telepathy]\n",
            "models[0].capabilities (line 5): unknown ['telepathy']; known: [",
        ),
        (
            "models:\n  - provider: openai\n",
            "models[0].id (line 4): Field required",
        ),
        (
            "models:\n  - gpt-5.4\n",
            "models[0] (line 4): Input should be a valid dictionary or instance of ModelEntry",
        ),
        (
            "models:\n  - id: gpt-5.4\n"
            "    pricing: {input: '1', output: '2', service_tiers: {flex: cheap}}\n",
            "models[0].pricing.service_tiers (line 5): flex: 'cheap' is not a price",
        ),
    ],
    ids=[
        "type",
        "float-price",
        "pricing-field",
        "bound",
        "capability",
        "no-id",
        "not-a-map",
        "text-multiplier",
    ],
)
def test_a_wrong_value_names_its_key_path_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    problems = _problems(tmp_path, text)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("text", "key", "suggestion", "listed"),
    [
        (
            "models:\n  - id: gpt-5.4\n    max_ouput: 100\n",
            "models[0].max_ouput (line 5)",
            "did you mean max_output?",
            "context_window",
        ),
        (
            "models:\n  - id: gpt-5.4\n    pricing: {input: '1', output: '2', cache_reed: '1'}\n",
            "models[0].pricing.cache_reed (line 5)",
            "did you mean cache_read or",
            "long_context",
        ),
    ],
)
def test_an_unknown_key_suggests_the_closest(
    tmp_path: Path, text: str, key: str, suggestion: str, listed: str
) -> None:
    (problem,) = _problems(tmp_path, text)
    assert problem.startswith(f"{key}: unknown key; {suggestion}"), problem
    assert "Extra inputs are not permitted" not in problem
    assert "Valid keys here:" in problem and listed in problem


def test_a_new_model_missing_a_field_names_its_line_when_the_gateway_is_built(
    tmp_path: Path,
) -> None:
    """Whether an id is new only the catalog knows: the gateway's build says which field the
    entry lacks, with the entry's line (the missing key has none of its own)."""
    from tiergate.server.factory import create_app

    path = _write(tmp_path, "models:\n  - id: house-model\n    provider: openai\n")
    settings = load_settings(path, env={})
    with pytest.raises(ConfigError) as info:
        create_app(settings)
    assert str(info.value).startswith(
        f"{path}: models[0].context_window (line 4): model 'house-model' is not in the "
        "catalog, so its entry adds a model and must give context_window, max_output"
    ), str(info.value)


def test_tiergate_models_names_the_line_of_an_entry_the_catalog_cannot_take(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from tiergate.cli.models import models

    path = _write(tmp_path, "models:\n  - id: gpt-5.4\n    aliases: [haiku]\n")
    result = CliRunner().invoke(models, ["--config", str(path)])
    assert result.exit_code != 0
    assert f"{path}: models[0].aliases (line 5): model 'gpt-5.4': name 'haiku'" in result.output
