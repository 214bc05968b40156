"""The gateway is built once, whole, and never changed; the application runs without HTTP.

Why: callers reach the gateway's parts directly (no ``is None`` checks), which is safe only if
every part is there once the factory returns and nothing replaces one afterwards; and batch
items and evaluation calls run the pipeline in process, so loading it must not load the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from tiergate.config import load_settings
from tiergate.gateway.factory import build_gateway, prepare
from tiergate.gateway.gateway import Gateway
from tiergate.store.backend import open_store
from tiergate.store.location import store_url


async def test_build_gateway_returns_every_part_and_the_gateway_is_frozen(tmp_path: Path) -> None:
    settings = load_settings(None, env={"TIERGATE_DATA_DIR": str(tmp_path)})
    gateway = await build_gateway(settings)
    try:
        optional = {"families"}  # None: no deployment serves a family of model ids
        for part in dataclasses.fields(Gateway):
            if part.name not in optional:
                assert getattr(gateway, part.name) is not None, part.name
        with pytest.raises(dataclasses.FrozenInstanceError):
            gateway.store = gateway.store  # type: ignore[misc]
        assert gateway.routing_state() is gateway.states.current()
    finally:
        await gateway.aclose()


async def test_a_prepared_gateway_is_opened_as_it_was_prepared(tmp_path: Path) -> None:
    """``create_app`` checks the config with ``prepare``; start-up opens that same object."""
    prepared = prepare(load_settings(None, env={"TIERGATE_DATA_DIR": str(tmp_path)}))
    gateway = await build_gateway(prepared)
    try:
        assert gateway.policies is prepared.policies
        assert gateway.executor is prepared.executor
    finally:
        await gateway.aclose()


def test_the_pipeline_and_batch_items_load_no_http_server_code() -> None:
    code = (
        "import sys, tiergate.gateway.batch_items, tiergate.gateway.evaluation_calls;"
        "loaded = sorted(m for m in sys.modules if m.startswith('tiergate.server')"
        " or m.split('.')[0] in ('uvicorn', 'python_multipart'));"
        "print(','.join(loaded))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""


async def test_expired_stored_responses_are_pruned_by_the_store_holders_housekeeping(
    tmp_path: Path,
) -> None:
    """The gateway hands the pruning to its holder, whose ticks every replica runs (the last
    one as it lets go, at close)."""
    env = {"TIERGATE_DATA_DIR": str(tmp_path)}
    settings = load_settings(None, env=env, overrides={"responses": {"keep_days": 0.2 / 86_400}})
    gateway = await build_gateway(settings)
    try:
        await gateway.responses.save("resp_1", "acme", "m", [{"role": "user", "content": "hi"}])
        await asyncio.sleep(0.25)
        assert await gateway.store.fetchall("SELECT id FROM responses") == [("resp_1",)]
    finally:
        await gateway.aclose()
    store = await open_store(store_url(None, str(tmp_path)))
    try:
        assert await store.fetchall("SELECT id FROM responses") == []
    finally:
        await store.aclose()
