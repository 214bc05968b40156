"""Report bounds through the real gateway: one tenant's reports past its per-minute allowance
get a 429 with ``retry-after`` in the caller's format, and another tenant's are unaffected."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.test_tenancy import ADMIN, new_key


def test_a_tenants_reports_past_its_rate_get_429_and_others_do_not(
    make_gateway: Callable[..., str],
) -> None:
    url = make_gateway(admin_key=ADMIN, reports={"per_tenant_per_minute": 2})
    acme = {"authorization": f"Bearer {new_key(url, tenant='acme')['key']}"}
    globex = {"authorization": f"Bearer {new_key(url, tenant='globex')['key']}"}
    report = url + "/v1/tiergate/report"
    assert [httpx.get(report, headers=acme).status_code for _ in range(2)] == [200, 200]
    limited = httpx.get(report, headers=acme)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    error = limited.json()["error"]
    assert error["type"] == "rate_limit_error" and "2 reports a minute" in error["message"]
    assert httpx.get(report, headers=globex).status_code == 200
