"""A real tiergate server on loopback, configured to call the fake upstreams.

Models served:
- ``claude-haiku-4-5`` and ``claude-sonnet-4-6`` by the fake Anthropic API,
- ``gpt-5.4`` by the fake OpenAI API,
so every test can pick the client format and the upstream format independently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.store.conftest import _fresh_postgres_url
from tests.support.server import serve_app
from tiergate.config import Settings, load_settings
from tiergate.server.app import App
from tiergate.server.factory import create_app

__all__ = [
    "cli_report",
    "database_url",
    "gateway",
    "gateway_settings",
    "make_gateway",
    "unpriced_deployment",
]


def gateway_settings(
    anthropic: FakeUpstream,
    openai: FakeUpstream,
    data_dir: Path,
    **overrides: Any,
) -> Settings:
    raw: dict[str, Any] = {
        "deployments": [
            {
                "name": "anthropic-a",
                "model": "claude-haiku-4-5",
                "provider": "anthropic",
                "base_url": anthropic.url,
                "api_key": "sk-ant-upstream-secret",
            },
            {
                "name": "anthropic-sonnet",
                "model": "claude-sonnet-4-6",
                "provider": "anthropic",
                "base_url": anthropic.url,
                "api_key": "sk-ant-upstream-secret",
            },
            {
                "name": "openai-a",
                "model": "gpt-5.4",
                "provider": "openai",
                "base_url": openai.url + "/v1",
                "api_key": "sk-openai-upstream-secret",
            },
        ],
        "retry": {"max_retries": 0, "breaker_failures": 1000},
        "data_dir": str(data_dir),
    }
    raw.update(overrides)
    return load_settings(None, env={}, overrides=raw)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Run the test on both stores: None is the gateway's default (SQLite under its data
    dir), else a fresh PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield None
    else:
        yield from _fresh_postgres_url()


@pytest.fixture
def make_gateway(
    anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream, tmp_path: Path
) -> Iterator[Callable[..., str]]:
    """Start a gateway with settings overrides; returns its base URL."""
    stack: list[Any] = []

    def make(**overrides: Any) -> str:
        settings = gateway_settings(anthropic_upstream, openai_upstream, tmp_path, **overrides)
        app: App = create_app(settings)
        context = serve_app(app)
        url = context.__enter__()
        stack.append(context)
        return url

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def gateway(make_gateway: Callable[..., str]) -> str:
    return make_gateway()


def unpriced_deployment(openai: FakeUpstream) -> dict[str, Any]:
    """A deployment of ``deepseek-v4-flash``, which the catalog leaves unpriced on purpose."""
    return {
        "name": "ds",
        "model": "deepseek-v4-flash",
        "provider": "openai",
        "base_url": openai.url + "/v1",
        "api_key": "k",
    }


def cli_report(
    args: list[str], database_url: str | None, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """``tiergate report ARGS`` as a user runs it beside the gateway (same store, found through
    the environment), wide enough that table rows do not wrap; returns what it printed."""
    from click.testing import CliRunner

    from tiergate.cli.report import report

    if database_url is None:
        monkeypatch.setenv("TIERGATE_DATA_DIR", str(data_dir))
    else:
        monkeypatch.setenv("TIERGATE_DATABASE_URL", database_url)
    printed = CliRunner().invoke(report, args, env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    return printed.output
