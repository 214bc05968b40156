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
    # As in the shell, ``:-`` takes the default for a variable set but empty (a common
    # ``BASE=`` line in a .env file); a plain ``${KEY}`` keeps an empty value as it is.
    empty = load_settings(path, env={"KEY": "secret", "BASE": ""})
    assert empty.deployments[0].base_url == "http://127.0.0.1:9"


def test_a_config_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "tiergate.yaml"
    path.write_bytes(
        'host: 127.0.0.1\nroutes:\n  a:\n    description: "r\u00e9sum\u00e9"\n'.encode("latin-1")
    )
    with pytest.raises(ConfigError, match=r"is not UTF-8 \(line 4"):
        load_settings(path, env={})


def test_the_command_line_tools_use_the_store_serve_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config file's database_url beats TIERGATE_DATABASE_URL for ``serve``, so it does
    for ``keys`` and ``report`` too; a --database-url flag beats both."""
    from click.testing import CliRunner

    from tiergate.cli.keys import keys
    from tiergate.store.location import configured_store_url

    in_file, in_env = tmp_path / "file" / "tiergate.db", tmp_path / "env" / "tiergate.db"
    path = write(tmp_path, f"database_url: sqlite:///{in_file}\n")
    monkeypatch.setenv("TIERGATE_CONFIG", str(path))
    monkeypatch.setenv("TIERGATE_DATABASE_URL", f"sqlite:///{in_env}")
    assert load_settings().database_url == f"sqlite:///{in_file}"
    assert configured_store_url(None) == f"sqlite:///{in_file}"
    assert configured_store_url("sqlite:///flag.db") == "sqlite:///flag.db"
    made = CliRunner().invoke(keys, ["create", "--tenant", "acme"])
    assert made.exit_code == 0, made.output
    assert in_file.exists() and not in_env.exists()  # where `serve` will look for keys
    monkeypatch.delenv("TIERGATE_CONFIG")
    assert configured_store_url(None) == f"sqlite:///{in_env}"


def test_serve_with_workers_stops_on_a_config_error_instead_of_restarting_them(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    path = write(
        tmp_path,
        "routes:\n  tri:\n    ladder: [local/smollm2-135m, local/smollm2-135m]\n"
        "    validators: [{type: judge, model: nosuch, prompt: grade}]\n",
    )
    env = {**os.environ, "TIERGATE_DATA_DIR": str(tmp_path)}
    env.pop("TIERGATE_CONFIG", None)
    done = subprocess.run(
        [
            *[sys.executable, "-m", "tiergate.cli", "serve", "--config", str(path)],
            *["--port", "0", "--workers", "2"],
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "unknown model 'nosuch'" in done.stderr and "Traceback" not in done.stderr


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
    assert "deployments[0].api_key" in message
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
    assert "deployments[0].colour (line 5)" in str(info.value)


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


LOCAL = "deployments:\n  - {name: small, model: local/smollm2-135m, provider: local}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "deployments:\n"
            "  - {name: small, model: local/smollm2-135m, provider: local}\n"
            "  - name: cloud\n"
            "    model: claude-haiku-4-5\n"
            "    provider: anthropic\n"
            "    api_key: k\n",
            "deployments[1] (line 3): deployment 'cloud' needs a base_url",
        ),
        (
            LOCAL + "models:\n  - id: house-model\n    provider: x\n    context_window: 8\n",
            # A new model's missing field has no line of its own: its entry's.
            "models[0].max_output (line 4): model 'house-model' is not in the catalog",
        ),
        (
            LOCAL + "credits:\n  baseline: no-such-model\n",
            "credits.usd_per_credit (line 3): Field required",
        ),
        (
            LOCAL + "routes:\n  auto:\n    default: local/smollm2-135\n",
            "routes.auto.default (line 5): unknown model 'local/smollm2-135'",
        ),
        (
            LOCAL + "routes:\n  eu.triage:\n    ladder:\n      - local/smollm2-135m\n"
            "      - sonet\n",
            "routes.eu.triage.ladder[1] (line 7): unknown model 'sonet'",
        ),
        (
            LOCAL + "routes:\n  learn:\n    learned:\n      weak: local/smollm2-135m\n",
            # The missing key has no line: its parent's.
            "routes.learn.learned.router (line 5): Field required",
        ),
    ],
    ids=["deployment", "model", "credits", "route", "dotted-route-name", "missing-key"],
)
def test_errors_found_while_building_the_gateway_name_their_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Routes, deployments, models and credits are checked when the gateway is built from the
    settings, after the YAML is gone; the message still says which line to edit."""
    from tiergate.server.factory import create_app

    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        create_app(load_settings(path, env={}))
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_a_build_error_without_a_file_is_left_as_it_is() -> None:
    from tiergate.server.factory import create_app

    routes = {"auto": {"default": "nosuch"}}
    with pytest.raises(ConfigError) as info:
        create_app(load_settings(None, env={}, overrides={"routes": routes}))
    assert str(info.value).startswith("routes.auto.default: unknown model 'nosuch'")


def test_routes_and_credits_are_typed_and_checked_at_load(tmp_path: Path) -> None:
    """A bad route or credit plan stops ``load_settings`` itself, every problem with its key
    path and line; a good one is held as its spec, not as a dict."""
    from tiergate.config.credits import CreditsSpec
    from tiergate.config.routes import RouteSpec

    path = write(
        tmp_path,
        LOCAL + "routes:\n  auto:\n    ladder: [local/smollm2-135m]\n    max_cost_usd: -1\n"
        "    validators:\n      - {type: regex}\n"
        "credits:\n  baseline: x\n  usd_per_credit: 0\n  multipliers: {}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    lines = sorted(str(info.value).splitlines()[1:])
    assert lines == [
        "  credits.usd_per_credit (line 11): Input should be greater than 0",
        "  routes.auto.max_cost_usd (line 6): Input should be greater than 0",
        "  routes.auto.validators[0].regex.pattern (line 8): Field required",
    ]
    good = write(
        tmp_path,
        LOCAL + "routes:\n  auto: {ladder: [local/smollm2-135m]}\n"
        "credits: {baseline: x, usd_per_credit: '0.01', multipliers: {x: 1}}\n",
    )
    settings = load_settings(good, env={})
    assert isinstance(settings.routes["auto"], RouteSpec)
    assert settings.routes["auto"].ladder == ("local/smollm2-135m",)
    assert isinstance(settings.credits, CreditsSpec)


def test_a_build_error_carries_its_key_path_and_any_route_name_gets_its_line(
    tmp_path: Path,
) -> None:
    """The line comes from the error's structured ``loc``, so route names a key path written
    as text could not carry (spaces, ``: ``) still get theirs."""
    from tiergate.server.factory import create_app

    path = write(
        tmp_path,
        LOCAL + "routes:\n  'eu: triage (b)':\n    ladder:\n      - local/smollm2-135m\n"
        "      - sonet\n",
    )
    with pytest.raises(ConfigError) as info:
        create_app(load_settings(path, env={}))
    assert str(info.value) == (
        f"{path}: routes.eu: triage (b).ladder[1] (line 7): unknown model 'sonet'"
        + str(info.value).split("unknown model 'sonet'")[1]
    )
    with pytest.raises(ConfigError) as bare:
        create_app(load_settings(None, env={}, overrides={"routes": {"r x": {"ladder": ["s"]}}}))
    assert bare.value.loc == ("routes", "r x", "ladder", 0)
