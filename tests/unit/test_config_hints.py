"""Unknown config keys name the closest valid key and list the valid ones; the embedded
default serves ``auto`` over whatever is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiergate.config import load_settings
from tiergate.config.routes import RouteSpec
from tiergate.errors import ConfigError
from tiergate.server.factory import create_app


def _error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = tmp_path / "tiergate.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        create_app(load_settings(path, env=env or {"ANTHROPIC_API_KEY": "k"}))
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "key", "suggestion", "listed"),
    [
        ("prot: 9000\n", "prot (line 1)", "did you mean port", "database_url"),
        ("log:\n  bodys: true\n", "log.bodys (line 2)", "did you mean bodies", "flush_interval"),
        ("batch: {concurency: 3}\n", "batch.concurency", "did you mean concurrency", "max_tries"),
        (
            "deployments:\n  - {name: a, model: x, provider: local, timout: 3}\n",
            "deployments[0].timout",
            "did you mean timeout",
            "upstream_model",
        ),
    ],
)
def test_unknown_setting_suggests_and_lists_valid_keys(
    tmp_path: Path, text: str, key: str, suggestion: str, listed: str
) -> None:
    message = _error(tmp_path, text)
    assert key in message and suggestion in message and "Valid keys here:" in message
    assert listed in message
    assert "Extra inputs are not permitted" not in message


def test_unknown_route_keys_suggest_too(tmp_path: Path) -> None:
    rules = (
        "routes:\n  auto:\n    rules:\n      - when: {taks: x}\n        use: claude-haiku-4-5\n"
        "    default: claude-haiku-4-5\n"
    )
    message = _error(tmp_path, rules)
    assert "routes.auto.rules[0].when.taks (line 4): unknown key; did you mean task?" in message
    assert "has_images, has_tools" in message
    message = _error(tmp_path, "routes:\n  t:\n    ladr: [claude-haiku-4-5]\n")
    assert "did you mean ladder?" in message and "validators" in message
    validator = (
        "routes:\n  t:\n    ladder: [claude-haiku-4-5]\n"
        "    validators:\n      - {type: one_of, lables: [a]}\n"
    )
    message = _error(tmp_path, validator)
    assert "lables (line 5): unknown key; did you mean labels? Valid keys here: case_s" in message


def test_far_off_key_lists_valid_keys_without_a_guess(tmp_path: Path) -> None:
    message = _error(tmp_path, "zzzzqqq: 1\n")
    assert "did you mean" not in message and "unknown key. Valid keys here: admin_key" in message


def test_default_config_serves_auto_on_the_local_model() -> None:
    app = create_app(load_settings(env={}))
    assert "auto" in app.prepared.policies
    assert load_settings(env={}).routes["auto"] == RouteSpec(default="local/smollm2-135m")


def test_default_auto_goes_cheap_first_with_cloud_keys() -> None:
    settings = load_settings(env={"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"})
    auto = settings.routes["auto"]
    assert auto.default == "claude-haiku-4-5"
    assert {rule.use for rule in auto.rules} == {"claude-sonnet-4-6"}
    assert "auto" in create_app(settings).prepared.policies
    openai_only = load_settings(env={"OPENAI_API_KEY": "k"}).routes["auto"]
    assert openai_only.default == "gpt-5.4"


def test_a_config_file_keeps_its_own_routes(tmp_path: Path) -> None:
    path = tmp_path / "tiergate.yaml"
    path.write_text(
        "deployments:\n  - {name: l, model: local/smollm2-135m, provider: local}\n"
        "routes:\n  mine: {default: local/smollm2-135m}\n"
    )
    assert set(load_settings(path, env={}).routes) == {"mine"}
