"""pytest fixtures for the fake upstreams. Use from ``tests/conftest.py`` with
``from tests.fakes.fixtures import *`` (``__all__`` lists every fixture, the session-scoped
servers included).

The servers are session-scoped (one uvicorn start per run) and reset around each test, so a
test sees an empty script, an empty request log and the default settings. A test that stops
its upstream gets it restarted for the next test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.upstream import Dialect, FakeUpstream

__all__ = [
    "anthropic_upstream",
    "fake_anthropic_server",
    "fake_openai_server",
    "make_upstream",
    "openai_upstream",
]


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeUpstream]:
    with FakeUpstream("anthropic") as upstream:
        yield upstream


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as upstream:
        yield upstream


def _fresh(upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    upstream.reset()
    upstream.start()
    yield upstream
    upstream.start()  # a test that stopped it must not break the next one
    upstream.reset()


@pytest.fixture
def anthropic_upstream(fake_anthropic_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """The fake Anthropic Messages API, reset for this test. ``.url`` is the SDK base_url."""
    yield from _fresh(fake_anthropic_server)


@pytest.fixture
def openai_upstream(fake_openai_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """The fake OpenAI Chat Completions API, reset for this test (SDK base_url: url + /v1)."""
    yield from _fresh(fake_openai_server)


@pytest.fixture
def make_upstream() -> Iterator[Callable[..., FakeUpstream]]:
    """Start extra independent fakes (e.g. a second deployment for fail-over tests);
    all are stopped when the test ends."""
    started: list[FakeUpstream] = []

    def make(dialect: Dialect, **options: Any) -> FakeUpstream:
        upstream = FakeUpstream(dialect, **options).start()
        started.append(upstream)
        return upstream

    yield make
    for upstream in started:
        upstream.stop()
