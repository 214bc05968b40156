"""Hostile input through the real gateway: never a 5xx, every request logged, tenants kept
apart. Each test reproduces a fault an adversarial run found (issue 19, items 3 and 7)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from click.testing import CliRunner

from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tiergate.store.backend import open_store

ADMIN = "admin-secret-for-tests"
BIG = 2**63 - 1


def admin(gateway: str, method: str, path: str, **body: Any) -> httpx.Response:
    return httpx.request(
        method, gateway + path, json=body or None, headers={"authorization": f"Bearer {ADMIN}"}
    )


def new_key(gateway: str, **fields: Any) -> dict[str, Any]:
    response = admin(gateway, "POST", "/admin/keys", **fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def rows_logged(database_url: str | None, data_dir: Path) -> int:
    async def count() -> int:
        store = await open_store(database_url or f"sqlite:///{data_dir / 'tiergate.db'}")
        try:
            rows = await store.fetchall("SELECT count(*) FROM requests")
            return int(rows[0][0])
        finally:
            await store.aclose()

    return asyncio.run(count())


def wait_for_rows(database_url: str | None, data_dir: Path, expected: int) -> int:
    deadline = time.monotonic() + 10
    while (seen := rows_logged(database_url, data_dir)) < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return seen


# --- item 3: tenant names -------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["", "*", " ", "a b", "a/b", "x\x00", "é", "a" * 65, 7])
def test_the_admin_api_refuses_a_tenant_name_outside_the_pattern(
    make_gateway: Callable[..., str], tenant: Any
) -> None:
    gateway = make_gateway(admin_key=ADMIN)
    response = admin(gateway, "POST", "/admin/keys", tenant=tenant)
    assert response.status_code == 400, response.text
    assert "tenant" in response.json()["error"]["message"]
    assert admin(gateway, "GET", "/admin/keys").json()["data"] == []


@pytest.mark.parametrize("tenant", ["", "*", "a b"])
def test_keys_create_refuses_a_tenant_name_outside_the_pattern(tmp_path: Path, tenant: str) -> None:
    from tiergate.cli.keys import keys

    done = CliRunner().invoke(
        keys, ["create", "--tenant", tenant], env={"TIERGATE_DATA_DIR": str(tmp_path)}
    )
    assert done.exit_code == 2, done.output
    assert "tenant name" in done.output
    assert not (tmp_path / "tiergate.db").exists() or sqlite3.connect(
        tmp_path / "tiergate.db"
    ).execute("SELECT count(*) FROM virtual_keys").fetchone() == (0,)


def test_a_stored_key_with_an_empty_tenant_cannot_read_every_tenant(
    make_gateway: Callable[..., str], tmp_path: Path
) -> None:
    """A key made before names were checked (tenant "") once read every tenant's report."""
    gateway = make_gateway(admin_key=ADMIN)
    acme = new_key(gateway, tenant="acme")
    legacy = new_key(gateway, tenant="legacy")
    with sqlite3.connect(tmp_path / "tiergate.db") as db:
        db.execute("UPDATE virtual_keys SET tenant = '' WHERE id = ?", (legacy["id"],))
    chat = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "x"}]}
    answered = httpx.post(gateway + "/v1/chat/completions", json=chat, headers=bearer(acme["key"]))
    assert answered.status_code == 200
    time.sleep(2.1)  # the key cache's ttl
    report = httpx.get(gateway + "/v1/tiergate/report", headers=bearer(legacy["key"]))
    assert report.status_code == 401, report.text
    assert "tenant" in report.json()["error"]["message"]


def test_a_batch_the_admin_made_is_not_visible_to_any_key(
    make_gateway: Callable[..., str],
) -> None:
    gateway = make_gateway(admin_key=ADMIN)
    batch = admin(
        gateway,
        "POST",
        "/v1/messages/batches",
        requests=[
            {
                "custom_id": "a",
                "params": {
                    "model": "claude-haiku-4-5",
                    "max_tokens": 5,
                    "messages": [{"role": "user", "content": "x"}],
                },
            }
        ],
    )
    assert batch.status_code == 200, batch.text
    star = admin(gateway, "POST", "/admin/keys", tenant="*")
    assert star.status_code == 400
    other = new_key(gateway, tenant="other")
    seen = httpx.get(
        f"{gateway}/v1/messages/batches/{batch.json()['id']}", headers=bearer(other["key"])
    )
    assert seen.status_code == 404
    gone = httpx.delete(
        f"{gateway}/v1/messages/batches/{batch.json()['id']}", headers=bearer(other["key"])
    )
    assert gone.status_code == 404


def test_metrics_need_the_admin_key_or_the_metrics_token_once_keys_exist(
    make_gateway: Callable[..., str],
) -> None:
    gateway = make_gateway(admin_key=ADMIN, metrics_token="scrape-secret")
    assert httpx.get(gateway + "/metrics").status_code == 200  # open mode, on loopback
    key = new_key(gateway, tenant="acme")
    anonymous = httpx.get(gateway + "/metrics")
    assert anonymous.status_code == 401 and "metrics" in anonymous.text
    assert httpx.get(gateway + "/metrics", headers=bearer(key["key"])).status_code == 403
    assert httpx.get(gateway + "/metrics", headers=bearer("wrong")).status_code == 403
    assert httpx.get(gateway + "/metrics", headers=bearer("scrape-secret")).status_code == 200
    shown = httpx.get(gateway + "/metrics", headers=bearer(ADMIN))
    assert shown.status_code == 200 and "tiergate_" in shown.text


# --- item 7: no 5xx on bad input --------------------------------------------------------------


def test_a_non_ascii_authorization_header_is_a_401_not_a_500(
    make_gateway: Callable[..., str],
) -> None:
    gateway = make_gateway(admin_key=ADMIN)
    new_key(gateway, tenant="acme")
    body = orjson.dumps({"model": "gpt-5.4", "messages": [{"role": "user", "content": "x"}]})
    for value in ("Bearer tg-é".encode(), b"Bearer \xff\xfe", "Bearer ü".encode("latin-1")):
        for path in ("/v1/chat/completions", "/admin/keys", "/v1/batches"):
            response = httpx.request(
                "POST" if path != "/admin/keys" else "GET",
                gateway + path,
                content=body,
                headers=[(b"authorization", value), (b"content-type", b"application/json")],
            )
            assert response.status_code == 401, (path, value, response.text)


def test_a_non_ascii_admin_key_works_and_breaks_nothing(
    make_gateway: Callable[..., str],
) -> None:
    secret = "admin-ключ-ü"
    gateway = make_gateway(admin_key=secret)
    made = httpx.post(
        gateway + "/admin/keys",
        json={"tenant": "acme"},
        headers=[(b"authorization", b"Bearer " + secret.encode())],
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    chat = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "x"}]}
    for secret, status in ((key, 200), ("tg-wrong", 401)):
        answer = httpx.post(gateway + "/v1/chat/completions", json=chat, headers=bearer(secret))
        assert answer.status_code == status


def _nested_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def test_a_tool_schema_nested_126_levels_is_a_400(make_gateway: Callable[..., str]) -> None:
    gateway = make_gateway()
    deep = _nested_schema(126)
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="nested more than"):
        client.chat.completions.create(
            model="gpt-5.4",
            messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": deep}}],
        )
    answer = httpx.post(
        gateway + "/v1/messages",
        json={
            "model": "claude-haiku-4-5",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "f", "input_schema": deep}],
        },
    )
    assert answer.status_code == 400 and answer.json()["type"] == "error"
    # Tool-call arguments (a JSON string inside the JSON) are bounded the same way.
    arguments = orjson.dumps(_nested_schema(126)).decode()
    history = httpx.post(
        gateway + "/v1/chat/completions",
        json={
            "model": "gpt-5.4",
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": arguments},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c", "content": "ok"},
            ],
        },
    )
    assert history.status_code == 400, history.text
    # A schema of ordinary depth still works.
    fine = client.chat.completions.create(
        model="gpt-5.4",
        messages=[{"role": "user", "content": "x"}],
        tools=[{"type": "function", "function": {"name": "f", "parameters": _nested_schema(20)}}],
    )
    assert fine.choices


def test_max_tokens_at_the_int64_edge_is_a_400_for_limited_keys(
    make_gateway: Callable[..., str], database_url: str | None
) -> None:
    gateway = make_gateway(admin_key=ADMIN, database_url=database_url)
    budgeted = new_key(gateway, tenant="acme", budget_usd="10")
    limited = new_key(gateway, tenant="acme", tpm=1000000)
    for key in (budgeted, limited):
        for value in (BIG, BIG + 1, 2**31):
            openai_body = {
                "model": "gpt-5.4",
                "max_tokens": value,
                "messages": [{"role": "user", "content": "x"}],
            }
            response = httpx.post(
                gateway + "/v1/chat/completions", json=openai_body, headers=bearer(key["key"])
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == "max_tokens"
            anthropic_body = {**openai_body, "model": "claude-haiku-4-5"}
            response = httpx.post(
                gateway + "/v1/messages", json=anthropic_body, headers=bearer(key["key"])
            )
            assert response.status_code == 400, response.text
            responses_body = {"model": "gpt-5.4", "input": "x", "max_output_tokens": value}
            response = httpx.post(
                gateway + "/v1/responses", json=responses_body, headers=bearer(key["key"])
            )
            assert response.status_code == 400, response.text
        # The largest accepted value still reaches the budget check, not a server error.
        ok = httpx.post(
            gateway + "/v1/chat/completions",
            headers=bearer(key["key"]),
            json={
                "model": "gpt-5.4",
                "max_tokens": 2**31 - 1,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        assert ok.status_code in (200, 429), ok.text


def test_a_nul_byte_in_any_id_is_a_4xx_on_both_stores(
    make_gateway: Callable[..., str], database_url: str | None
) -> None:
    gateway = make_gateway(admin_key=ADMIN, database_url=database_url)
    key = new_key(gateway, tenant="acme")
    probes: list[tuple[str, str, Any]] = [
        ("GET", "/v1/batches/batch_%00x", None),
        ("POST", "/v1/batches/batch_%00x/cancel", None),
        ("GET", "/v1/files/file-%00x", None),
        ("GET", "/v1/files/file-%00x/content", None),
        ("DELETE", "/v1/files/file-%00x", None),
        ("GET", "/v1/messages/batches/msgbatch_%00x", None),
        ("GET", "/v1/messages/batches/msgbatch_%00x/results", None),
        ("GET", "/v1/messages/batches?after_id=%00", None),
        ("GET", "/v1/batches?after=%00", None),
        ("DELETE", "/admin/keys/key_%00", None),
        ("POST", "/admin/keys/key_%00/rotate", None),
        ("GET", "/admin/keys/key_%00/spend", None),
        ("GET", "/admin/keys?tenant=%00", None),
        ("GET", "/v1/tiergate/report?tenant=%00", None),
        ("GET", "/v1/tiergate/report?route=%00", None),
        ("GET", "/v1/tiergate/report?model=a%00", None),
        (
            "POST",
            "/v1/batches",
            {
                "input_file_id": "file-\x00",
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
            },
        ),
        ("POST", "/admin/keys", {"tenant": "acme", "name": "n\x00"}),
        ("POST", "/admin/keys", {"tenant": "acme", "models": ["gpt\x00"]}),
    ]
    for method, path, body in probes:
        for secret in (ADMIN, key["key"]):
            response = httpx.request(method, gateway + path, json=body, headers=bearer(secret))
            assert 400 <= response.status_code < 500, (method, path, response.text)
    upload = httpx.post(
        gateway + "/v1/files",
        headers=bearer(key["key"]),
        data={"purpose": "batch"},
        files={
            "file": (
                "in\x00.jsonl",
                b'{"custom_id": "a\\u0000b", '
                b'"method": "POST", "url": "/v1/chat/completions", '
                b'"body": {"model": "gpt-5.4", "messages": '
                b'[{"role": "user", "content": "x"}]}}\n',
            )
        },
    )
    assert upload.status_code == 200, upload.text
    made = httpx.post(
        gateway + "/v1/batches",
        headers=bearer(key["key"]),
        json={
            "input_file_id": upload.json()["id"],
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
    )
    assert made.status_code == 400 and "custom_id" in made.text


def test_every_request_is_logged_even_with_a_nul_model_or_a_huge_usage(
    make_gateway: Callable[..., str],
    openai_upstream: FakeUpstream,
    database_url: str | None,
    tmp_path: Path,
) -> None:
    gateway = make_gateway(database_url=database_url)
    sent = 0
    for model in ("gpt\x00-5.4", "\x00", "m" * 5000, "gpt-5.4"):
        body = {"model": model, "messages": [{"role": "user", "content": "x"}]}
        response = httpx.post(gateway + "/v1/chat/completions", json=body)
        assert response.status_code < 500, response.text
        sent += 1
    # An upstream reporting a usage whose cost no column can hold (2^62 output tokens).
    openai_upstream.script(
        Reply(text="ok", usage=FakeUsage(input_tokens=2**62, output_tokens=2**62))
    )
    response = httpx.post(
        gateway + "/v1/chat/completions",
        json={"model": "gpt-5.4", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 200, response.text
    sent += 1
    assert wait_for_rows(database_url, tmp_path, sent) == sent
