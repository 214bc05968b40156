"""Config loading: validation errors name key and line; env substitution; the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiergate.config import load_settings
from tiergate.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiergate.yaml"
    path.write_text(text)
    return path


def test_no_config_serves_the_local_model_only() -> None:
    settings = load_settings(None, env={})
    assert [(d.name, d.model, d.provider) for d in settings.deployments] == [
        ("local", "local/smollm2-135m", "local")
    ]


def test_provider_keys_in_the_environment_add_cloud_deployments() -> None:
    settings = load_settings(None, env={"ANTHROPIC_API_KEY": "sk-ant-x"})
    anthropic = [d for d in settings.deployments if d.provider == "anthropic"]
    assert {d.model for d in anthropic} >= {"claude-haiku-4-5", "claude-sonnet-4-6"}
    assert all(d.api_key == "sk-ant-x" for d in anthropic)


def test_env_substitution_with_and_without_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deployments:\n"
        "  - name: a\n"
        "    model: claude-haiku-4-5\n"
        "    provider: anthropic\n"
        "    base_url: ${BASE:-http://127.0.0.1:9}\n"
        "    api_key: ${KEY}\n",
    )
    settings = load_settings(path, env={"KEY": "secret"})
    assert settings.deployments[0].api_key == "secret"
    assert settings.deployments[0].base_url == "http://127.0.0.1:9"


def test_missing_env_var_names_key_line_and_variable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "port: 8001\n"
        "deployments:\n"
        "  - name: a\n"
        "    model: claude-haiku-4-5\n"
        "    provider: anthropic\n"
        "    api_key: ${NOPE_KEY}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert "deployments.0.api_key" in message
    assert "line 6" in message
    assert "NOPE_KEY" in message


def test_wrong_type_names_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "host: 127.0.0.1\nport: eighty\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert "port (line 2)" in str(info.value)


def test_unknown_key_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deployments:\n"
        "  - name: a\n"
        "    model: local/smollm2-135m\n"
        "    provider: local\n"
        "    colour: blue\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert "deployments.0.colour (line 5)" in str(info.value)


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "port: 8001\n")
    assert load_settings(path, env={}, overrides={"port": 9000}).port == 9000
    assert load_settings(path, env={}, overrides={"port": None}).port == 8001


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "a: [1, 2\n"), env={})
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(write(tmp_path, "- 1\n- 2\n"), env={})


def test_duplicate_deployment_names(tmp_path: Path) -> None:
    text = "deployments:\n" + "".join(
        "  - {name: same, model: local/smollm2-135m, provider: local}\n" for _ in range(2)
    )
    with pytest.raises(ConfigError, match="used twice"):
        load_settings(write(tmp_path, text), env={})
