"""The dashboard's data endpoints on both stores: spend and mix over time in buckets that
fit the range, and the requests behind a figure (filters, pages, tenant scope, errors in the
OpenAI shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.test_tenancy import ADMIN, new_key
from tests.fakes.script import Fail, FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tiergate.store.timeseries import choose_bucket

USAGE = FakeUsage(input_tokens=900, output_tokens=60)


def get(gateway: str, path: str, key: str = ADMIN, **params: Any) -> httpx.Response:
    return httpx.get(gateway + path, params=params, headers={"authorization": f"Bearer {key}"})


@pytest.fixture
def seeded(
    make_gateway: Callable[..., str],
    database_url: str | None,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> dict[str, Any]:
    gateway = make_gateway(admin_key=ADMIN, database_url=database_url)
    keys = {t: new_key(gateway, tenant=t)["key"] for t in ("acme", "globex")}
    anthropic_upstream.default = Reply(text="ok", usage=USAGE)
    openai_upstream.default = Reply(text="ok", usage=USAGE)
    for tenant, model, count in (("acme", "claude-haiku-4-5", 5), ("globex", "gpt-5.4", 3)):
        client = openai.OpenAI(base_url=gateway + "/v1", api_key=keys[tenant], max_retries=0)
        for _ in range(count):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "t"}])
    openai_upstream.script(Fail(500))
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=keys["globex"], max_retries=0)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "t"}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "t"}])
    return {"gateway": gateway, "keys": keys}


def test_timeseries_buckets_sum_to_the_report(seeded: dict[str, Any]) -> None:
    gateway = seeded["gateway"]
    series = get(gateway, "/v1/tiergate/timeseries", since="24h").json()
    assert series["bucket"] == "hour" and len(series["points"]) in (24, 25)
    totals = get(gateway, "/v1/tiergate/report", since="24h").json()["totals"]
    assert sum(p["requests"] for p in series["points"]) == totals["requests"] == 10
    assert sum(p["cost_usd"] for p in series["points"]) == pytest.approx(totals["cost_usd"])
    assert sum(p["baseline_usd"] for p in series["points"]) == pytest.approx(totals["baseline_usd"])
    mix = {model: sum(counts) for model, counts in series["mix"].items()}
    assert mix == {"claude-haiku-4-5": 5, "gpt-5.4": 3, "(no answer)": 2}
    assert series["rejected"] == 1  # the unknown model; the upstream 500 was tried
    minutes = get(gateway, "/v1/tiergate/timeseries", since="1h").json()
    assert minutes["bucket"] == "minute" and len(minutes["points"]) in (60, 61)
    days = get(gateway, "/v1/tiergate/timeseries", since="30d").json()
    assert days["bucket"] == "day"
    named = get(gateway, "/v1/tiergate/timeseries", since="6h", bucket="minute").json()
    assert named["bucket"] == "minute" and len(named["points"]) in (360, 361)
    too_fine = get(gateway, "/v1/tiergate/timeseries", since="30d", bucket="minute")
    assert too_fine.status_code == 400 and "narrow the range" in too_fine.text


def test_timeseries_is_tenant_scoped(seeded: dict[str, Any]) -> None:
    gateway, keys = seeded["gateway"], seeded["keys"]
    mine = get(gateway, "/v1/tiergate/timeseries", key=keys["acme"]).json()
    assert set(mine["mix"]) == {"claude-haiku-4-5"}
    other = get(gateway, "/v1/tiergate/timeseries", key=keys["acme"], tenant="globex")
    assert other.status_code == 403 and other.json()["error"]["type"]


def test_requests_list_filters_pages_and_scopes(seeded: dict[str, Any]) -> None:
    gateway, keys = seeded["gateway"], seeded["keys"]
    page = get(gateway, "/v1/tiergate/requests", model="claude-haiku-4-5", limit=2).json()
    seen = [row["id"] for row in page["data"]]
    while page["next"]:
        page = get(
            gateway, "/v1/tiergate/requests", model="claude-haiku-4-5", limit=2, before=page["next"]
        ).json()
        seen += [row["id"] for row in page["data"]]
    assert len(seen) == len(set(seen)) == 5
    errors = get(gateway, "/v1/tiergate/requests", outcome="error").json()["data"]
    assert len(errors) == 2 and all(r["status"] >= 400 for r in errors)
    (rejected,) = get(gateway, "/v1/tiergate/requests", outcome="rejected").json()["data"]
    assert rejected["attempts"] == 0 and rejected["requested_model"] == "nope"
    mine = get(gateway, "/v1/tiergate/requests", key=keys["acme"]).json()["data"]
    assert {r["tenant"] for r in mine} == {"acme"} and len(mine) == 5
    row = mine[0]
    assert row["cost_usd"] > 0 and row["model"] == "claude-haiku-4-5" and row["time"]
    other = get(gateway, "/v1/tiergate/requests", key=keys["acme"], tenant="globex")
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"outcome": "weird"}, "outcome"),
        ({"before": "x"}, "before"),
        ({"limit": "0"}, "limit"),
        ({"since": "yesterday"}, "not a date"),
    ],
)
def test_bad_filters_are_a_400_in_the_openai_shape(
    make_gateway: Callable[..., str], params: dict[str, str], param: str
) -> None:
    gateway = make_gateway()
    response = httpx.get(gateway + "/v1/tiergate/requests", params=params)
    assert response.status_code == 400
    assert param in response.json()["error"]["message"]
    bucket = httpx.get(gateway + "/v1/tiergate/timeseries", params={"bucket": "week"})
    assert bucket.status_code == 400 and "bucket" in bucket.json()["error"]["message"]


def test_the_dashboard_needs_nothing_from_elsewhere(make_gateway: Callable[..., str]) -> None:
    gateway = make_gateway()
    page = httpx.get(gateway + "/dashboard").text
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    script = httpx.get(gateway + "/dashboard/uplot.min.js")
    assert script.status_code == 200 and "uPlot" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(gateway + "/dashboard/uplot.min.css").status_code == 200


def test_bucket_choice_keeps_a_range_within_a_chart() -> None:
    hour, day = 3_600_000, 86_400_000
    assert choose_bucket(0, hour) == "minute"
    assert choose_bucket(0, day) == "hour"
    assert choose_bucket(0, 7 * day) == "hour"
    assert choose_bucket(0, 30 * day) == "day"
